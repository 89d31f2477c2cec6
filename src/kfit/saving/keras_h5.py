"""Keras 3's `.weights.h5` layout, so a `Sequential` of kfit layers exchanges weight files with Keras.

Keras 3 stores a model's weights as HDF5 groups that follow the model's structure: the
model's own (for a `Sequential`, empty) variables in `vars`, and each layer's variables in
`layers/<name>/vars/0`, `.../1`, ... in the order the layer created them. `<name>` is not the
layer's display name but its snake-cased class name, numbered per class in stack order
(`dense`, `dense_1`, `dropout`, ...), so two instances of one architecture match. kfit's
`Sequential` names its submodules the same way, and a kfit `Dense` stores its kernel
`(in, out)` then its bias, as Keras does; so for a `Sequential` made only of kfit layers,
`save_weights` writes this layout and `load_weights` reads it, in either direction.

Only weights are exchanged: the `optimizer` group of a Keras file is ignored when reading,
and kfit writes none. bfloat16 weights are written as float32 (Keras reads them into its
own dtype). Nested models are not covered; they use kfit's own layout.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from kfit.backend.conversion import to_host
from kfit.saving.atomic import atomic_path
from kfit.saving.h5_io import FORMAT, import_h5py
from kfit.saving.object_registration import BUILTIN_PACKAGE, get_registered_object
from kfit.utils.naming import to_snake_case

__all__ = ["is_keras_layout", "keras_layer_names", "load_keras_weights", "save_keras_weights"]


def keras_layer_names(module: torch.nn.Module) -> list[tuple[str, str, torch.nn.Module]] | None:
    """For a `Sequential` of kfit layers, `(Keras path name, submodule name, layer)` triples.

    Returns None for any other module (those keep kfit's own layout).

    Example:
        >>> import kfit
        >>> model = kfit.Sequential([kfit.layers.Dense(2, input_dim=3), kfit.layers.Dense(1)])
        >>> [(name, child) for name, child, _ in keras_layer_names(model)]
        [('dense', 'dense'), ('dense_1', 'dense_1')]
        >>> keras_layer_names(torch.nn.Linear(2, 1)) is None
        True
    """
    # Found in the registry rather than imported: kfit.layers and kfit.models import
    # kfit.saving to register these classes.
    layer_cls, model_cls, sequential_cls = (
        get_registered_object(f"{BUILTIN_PACKAGE}>{name}")
        for name in ("Layer", "Model", "Sequential")
    )
    if not isinstance(module, sequential_cls):
        return None
    layers = module.layers
    if any(not isinstance(layer, layer_cls) or isinstance(layer, model_cls) for layer in layers):
        return None
    children = {id(child): name for name, child in module.named_children()}
    counts: dict[str, int] = {}
    names = []
    for layer in layers:
        base = to_snake_case(type(layer).__name__)
        count = counts.get(base, 0)
        counts[base] = count + 1
        names.append((base if count == 0 else f"{base}_{count}", children[id(layer)], layer))
    return names


def is_keras_layout(filepath: str | os.PathLike[str]) -> bool:
    """Whether an HDF5 file has Keras's layout (`layers/...`) rather than kfit's tensor layout.

    Example:
        >>> import os, tempfile
        >>> from kfit.saving import h5_io
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "t.weights.h5")
        >>> h5_io.save_tensors(path, {"w": torch.zeros(1)})
        >>> is_keras_layout(path)
        False
        >>> folder.cleanup()
    """
    h5py = import_h5py()
    try:
        with h5py.File(filepath, "r") as f:
            return f.attrs.get("format") != FORMAT and isinstance(f.get("layers"), h5py.Group)
    except OSError:
        # Not readable as HDF5 at all: the kfit reader reports the damage with its context.
        return False


def save_keras_weights(
    module: torch.nn.Module,
    names: list[tuple[str, str, torch.nn.Module]],
    filepath: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Writes the layers' weights in Keras's layout, atomically.

    Args:
        module: The `Sequential` the layers belong to.
        names: `keras_layer_names(module)`.
        filepath: The `.weights.h5` file to create or replace.
        metadata: Optional strings, stored as attributes of a `metadata` group (Keras
            ignores it).

    Example:
        >>> import os, tempfile, h5py, kfit
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "m.weights.h5")
        >>> model = kfit.Sequential([kfit.layers.Dense(2, input_dim=3)])
        >>> save_keras_weights(model, keras_layer_names(model), path)
        >>> h5py.File(path)["layers/dense/vars/0"].shape
        (3, 2)
        >>> folder.cleanup()
    """
    h5py = import_h5py()
    with atomic_path(filepath) as tmp, h5py.File(tmp, "w") as f:
        f.create_group("vars").attrs["name"] = getattr(module, "name", type(module).__name__)
        layers_group = f.create_group("layers")
        for keras_name, _, layer in names:
            variables = layers_group.create_group(keras_name).create_group("vars")
            variables.attrs["name"] = layer.name
            for index, tensor in enumerate(layer.state_dict().values()):
                tensor = tensor.detach()
                if tensor.dtype == torch.bfloat16:
                    tensor = tensor.float()
                variables.create_dataset(str(index), data=to_host(tensor))
        if metadata:
            group = f.create_group("metadata")
            for key, value in metadata.items():
                group.attrs[key] = value


def load_keras_weights(
    module: torch.nn.Module, filepath: str | os.PathLike[str]
) -> dict[str, torch.Tensor]:
    """Reads a Keras-layout file into tensors named by `module`'s state_dict keys.

    Variables with no counterpart in `module` get names starting with `layers/`, so that
    `assign_tensors` reports them.

    Args:
        module: A `Sequential` of kfit layers.
        filepath: A `.weights.h5` file in Keras's layout.

    Raises:
        ValueError: If `module` is not a `Sequential` of kfit layers, or the file is damaged.

    Example:
        >>> import os, tempfile, kfit
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "m.weights.h5")
        >>> model = kfit.Sequential([kfit.layers.Dense(2, input_dim=3)])
        >>> save_keras_weights(model, keras_layer_names(model), path)
        >>> sorted(load_keras_weights(model, path))
        ['dense.bias', 'dense.kernel']
        >>> folder.cleanup()
    """
    path = os.fspath(filepath)
    names = keras_layer_names(module)
    if names is None:
        raise ValueError(
            "Expected a kfit Sequential made of kfit layers to read a weight file in Keras's "
            f"layout. Received: module of type {type(module).__name__} and filepath={path!r} "
            "(of type str), a Keras-layout file. Load it into the Sequential it was saved "
            "from, or save the weights with kfit from this model."
        )
    h5py = import_h5py()
    loaded: dict[str, torch.Tensor] = {}
    try:
        with h5py.File(path, "r") as f:
            layers_group = f["layers"]
            known = set()
            for keras_name, child, layer in names:
                known.add(keras_name)
                variables = layers_group.get(f"{keras_name}/vars")
                stored = _datasets(variables, h5py)
                keys = list(layer.state_dict())
                for index, array in stored.items():
                    name = f"{child}.{keys[index]}" if index < len(keys) else f"layers/{keras_name}/vars/{index}"
                    loaded[name] = torch.from_numpy(np.ascontiguousarray(array))
            for extra in layers_group:
                if extra not in known:
                    for index in _datasets(layers_group.get(f"{extra}/vars"), h5py):
                        loaded[f"layers/{extra}/vars/{index}"] = torch.empty(0)
    except (OSError, KeyError, RuntimeError) as e:
        raise ValueError(
            f"Could not read the Keras-layout HDF5 weight file: h5py failed with "
            f"{type(e).__name__}: {e}. Received: path={path!r} (of type str). The file is "
            "truncated or corrupt; save it again."
        ) from e
    return loaded


def _datasets(group: Any, h5py: Any) -> dict[int, np.ndarray]:
    """The numbered datasets of a `vars` group (none when the group is absent)."""
    if not isinstance(group, h5py.Group):
        return {}
    arrays = {}
    for key, dataset in group.items():
        if key.isdigit() and isinstance(dataset, h5py.Dataset):
            value = dataset[()]
            arrays[int(key)] = value if isinstance(value, np.ndarray) else np.array(value)
    return dict(sorted(arrays.items()))
