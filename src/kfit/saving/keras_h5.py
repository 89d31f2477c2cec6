"""Keras 3's `.weights.h5` layout, so models of kfit layers exchange weight files with Keras.

Keras 3 stores a model's weights as HDF5 groups that follow the model's structure: the
model's own (usually empty) variables in `vars`, and each layer's variables in
`layers/<key>/vars/0`, `.../1`, ... in the layer's own order (trainable ones first).
`<key>` is not the layer's display name but its snake-cased class name, numbered per class
in `model.layers` order (`dense`, `dense_1`, `dropout`, ...), so two instances of one
architecture match. A layer's sublayers nest under the attribute that holds them
(`layers/lstm/cell/vars`, `layers/multi_head_attention/query_dense/vars`), and a nested
model under its own `layers/...`. kfit's `Sequential` and functional models name their
submodules the same way and kfit layers keep Keras's weight order, so for a model made only
of kfit layers `save_weights` writes this layout and `load_weights` reads it, in either
direction.

Only weights are exchanged: the `optimizer` group of a Keras file is ignored when reading,
and kfit writes none. bfloat16 weights are written as float32 (Keras reads them into its
own dtype). Models holding plain torch modules, and subclassed models, use kfit's own layout.
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


# One `vars` group: (its path in the file, the layer's name, [(state_dict key, tensor)]).
VarsGroup = tuple[str, str, list[tuple[str, torch.Tensor]]]


def keras_layer_names(module: torch.nn.Module) -> list[VarsGroup] | None:
    """For a `Sequential` or functional model of kfit layers, every `vars` group Keras writes.

    Returns None for any other module (those keep kfit's own layout).

    Example:
        >>> import kfit
        >>> model = kfit.Sequential([kfit.layers.Dense(2, input_dim=3), kfit.layers.Dense(1)])
        >>> for path, _, tensors in keras_layer_names(model):
        ...     print(path, [key for key, _ in tensors])
        vars []
        layers/dense/vars ['dense.kernel', 'dense.bias']
        layers/dense_1/vars ['dense_1.kernel', 'dense_1.bias']
        >>> keras_layer_names(torch.nn.Linear(2, 1)) is None
        True
    """
    # Found in the registry rather than imported: kfit.layers and kfit.models import
    # kfit.saving to register these classes.
    layer_cls = get_registered_object(f"{BUILTIN_PACKAGE}>Layer")
    if not _is_layer_model(module):
        return None
    if any(not isinstance(m, layer_cls) for m in module.modules()):
        return None
    keys: dict[int, str] = {}
    for key, tensor in module.state_dict(keep_vars=True).items():
        keys.setdefault(id(tensor), key)
    groups: list[VarsGroup] = []
    _walk(module, "", keys, groups)
    return groups


def _is_layer_model(module: Any) -> bool:
    # Sequential and functional models list their layers; a subclassed model does not.
    model_cls = get_registered_object(f"{BUILTIN_PACKAGE}>Model")
    return isinstance(module, model_cls) and getattr(module, "_lists_its_layers", False)


def _walk(layer: Any, path: str, keys: dict[int, str], groups: list[VarsGroup]) -> None:
    prefix = f"{path}/" if path else ""
    own = list(layer._own_weights())
    ordered = [w for trainable, w in own if trainable] + [w for trainable, w in own if not trainable]
    groups.append((f"{prefix}vars", layer.name, [(keys[id(w)], w) for w in ordered]))
    if _is_layer_model(layer):
        counts: dict[str, int] = {}
        for sub in layer.layers:
            base = to_snake_case(type(sub).__name__)
            count = counts.get(base, 0)
            counts[base] = count + 1
            _walk(sub, f"{prefix}layers/{base if count == 0 else f'{base}_{count}'}", keys, groups)
        return
    for attr, sub in layer._modules.items():
        if sub is not None:
            _walk(sub, f"{prefix}{attr}", keys, groups)


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
    names: list[VarsGroup],
    filepath: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Writes the layers' weights in Keras's layout, atomically.

    Args:
        module: The model the layers belong to.
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
        for path, name, tensors in names:
            variables = f.require_group(path)
            variables.attrs["name"] = name
            for index, (_, weight) in enumerate(tensors):
                value = weight.detach()
                if value.dtype == torch.bfloat16:
                    value = value.float()
                variables.create_dataset(str(index), data=to_host(value))
        if metadata:
            group = f.create_group("metadata")
            for key, text in metadata.items():
                group.attrs[key] = text


def load_keras_weights(
    module: torch.nn.Module, filepath: str | os.PathLike[str]
) -> dict[str, torch.Tensor]:
    """Reads a Keras-layout file into tensors named by `module`'s state_dict keys.

    Variables with no counterpart in `module` get names starting with `layers/`, so that
    `assign_tensors` reports them.

    Args:
        module: A `Sequential` or functional model of kfit layers.
        filepath: A `.weights.h5` file in Keras's layout.

    Raises:
        ValueError: If `module` is not such a model, or the file is damaged.

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
            "Expected a kfit Sequential or functional model made of kfit layers to read a weight "
            f"file in Keras's layout. Received: module of type {type(module).__name__} and "
            f"filepath={path!r} (of type str), a Keras-layout file. Load it into the model it "
            "was saved from, or save the weights with kfit from this model."
        )
    h5py = import_h5py()
    loaded: dict[str, torch.Tensor] = {}
    try:
        with h5py.File(path, "r") as f:
            known = set()
            for group_path, _, tensors in names:
                known.add(group_path)
                for index, array in _datasets(f.get(group_path), h5py).items():
                    key = tensors[index][0] if index < len(tensors) else f"{group_path}/{index}"
                    loaded[key] = torch.from_numpy(np.ascontiguousarray(array))
            for extra in _vars_groups(f, h5py):
                if extra not in known:
                    for index in _datasets(f.get(extra), h5py):
                        loaded[f"{extra}/{index}"] = torch.empty(0)
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


def _vars_groups(f: Any, h5py: Any) -> list[str]:
    """Paths of the `vars` groups under `layers/` (the optimizer's are not weights)."""
    found: list[str] = []

    def visit(name: str, obj: Any) -> None:
        if name.rsplit("/", 1)[-1] == "vars" and isinstance(obj, h5py.Group):
            found.append(name)

    layers = f.get("layers")
    if isinstance(layers, h5py.Group):
        layers.visititems(lambda name, obj: visit(f"layers/{name}", obj))
    return found
