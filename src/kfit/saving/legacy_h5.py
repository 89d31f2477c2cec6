"""Reading Keras 2's HDF5 weight files (`.h5`), the format of Keras's published pre-trained weights.

The layout is flat and keyed by layer name: the root (or the `model_weights` group of a whole
saved model) lists the model's layers in its `layer_names` attribute; each layer has a group
of that name whose `weight_names` attribute lists its arrays in Keras's legacy order (the
layer's trainable weights, then its non-trainable ones: a BatchNormalization's gamma, beta,
moving mean, moving variance). An attribute too long for one HDF5 header is split into
`layer_names0`, `layer_names1`, ... .

Like Keras's `load_weights`, a file is matched to a model either in order (the layers that
have weights, one after the other: the default) or by layer name (`by_name=True`). Every
array is read and checked before any weight changes, so a failed load leaves the model as it
was. Arrays are copied as they are: kfit layers store their kernels in Keras's layout
(a Conv2D kernel is (height, width, in, out), a Dense kernel (in, out)).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import torch

from kfit.saving.h5_io import import_h5py

__all__ = ["is_legacy_path", "load_legacy_weights"]

_TOP_LEVEL = "top_level_model_weights"


def is_legacy_path(filepath: Any) -> bool:
    """Whether `filepath` names a legacy Keras HDF5 file: `.h5` or `.hdf5`, but not `.weights.h5`.

    Example:
        >>> is_legacy_path("vgg16_weights.h5"), is_legacy_path("model.weights.h5")
        (True, False)
    """
    if not isinstance(filepath, (str, os.PathLike)):
        return False
    path = os.fspath(filepath)
    return isinstance(path, str) and path.endswith((".h5", ".hdf5")) and not path.endswith(".weights.h5")


def _attribute_list(group: Any, name: str) -> list[str]:
    """A list-valued attribute as strings, joined from its numbered chunks when it was split."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _has_layer_names(group: Any) -> bool:
    return "layer_names" in group.attrs or "layer_names0" in group.attrs


def _legacy_weights(layer: Any) -> list[torch.Tensor]:
    """A layer's weights in the legacy order: trainable ones first, then the others."""
    if hasattr(layer, "trainable_weights") and hasattr(layer, "non_trainable_weights"):
        return list(layer.trainable_weights) + list(layer.non_trainable_weights)
    # A plain torch module: its parameters, then its buffers.
    return list(layer.parameters()) + list(layer.buffers())


def _own_weights(module: Any) -> list[torch.Tensor]:
    """The model's own weights (not its layers'), in the legacy order."""
    own = list(module._own_weights()) if hasattr(module, "_own_weights") else []
    return [w for trainable, w in own if trainable] + [w for trainable, w in own if not trainable]


def _read_layer(root: Any, name: str, h5py: Any) -> list[np.ndarray]:
    group = root.get(name)
    if not isinstance(group, h5py.Group):
        raise KeyError(f"layer {name!r} is listed in `layer_names` but has no group")
    arrays = []
    for weight_name in _attribute_list(group, "weight_names"):
        dataset = group.get(weight_name)
        if not isinstance(dataset, h5py.Dataset):
            raise KeyError(f"weight {weight_name!r} of layer {name!r} has no dataset")
        arrays.append(np.asarray(dataset[()]))
    return arrays


def _read_file(path: str) -> tuple[list[tuple[str, list[np.ndarray]]], list[np.ndarray]]:
    """The file's layers, in order, with their arrays; and the model's own arrays."""
    h5py = import_h5py()
    try:
        with h5py.File(path, "r") as f:
            root = f
            if not _has_layer_names(f) and isinstance(f.get("model_weights"), h5py.Group):
                root = f["model_weights"]
            if not _has_layer_names(root):
                raise ValueError(
                    "Expected a Keras HDF5 weight file, whose root (or `model_weights` group) "
                    f"lists its layers in a `layer_names` attribute. Received: filepath={path!r} "
                    "(of type str), which has none. For a file written by save_weights(), use a "
                    "'.weights.h5' or '.safetensors' path."
                )
            layers = [(name, _read_layer(root, name, h5py)) for name in _attribute_list(root, "layer_names")]
            top = _read_layer(root, _TOP_LEVEL, h5py) if _TOP_LEVEL in root else []
    except (OSError, KeyError, RuntimeError) as e:
        raise ValueError(
            f"Could not read the Keras HDF5 weight file: h5py failed with {type(e).__name__}: {e}. "
            f"Received: filepath={path!r} (of type str). The file is truncated or corrupt; "
            "download or save it again."
        ) from e
    return layers, top


class _Plan:
    """The (weight, array) pairs to copy, and the problems found on the way."""

    def __init__(self, skip_mismatch: bool) -> None:
        self.skip_mismatch = skip_mismatch
        self.pairs: list[tuple[torch.Tensor, np.ndarray]] = []
        self.problems: list[str] = []

    def match(self, what: str, weights: list[torch.Tensor], arrays: list[np.ndarray]) -> None:
        if len(weights) != len(arrays):
            message = f"  {what}: expects {len(weights)} weight(s), the file has {len(arrays)}"
            if self.skip_mismatch:
                warnings.warn(f"Skipping {message.strip()}.", stacklevel=4)
            else:
                self.problems.append(message)
            return
        for index, (weight, array) in enumerate(zip(weights, arrays)):
            if tuple(weight.shape) != array.shape:
                message = (
                    f"  {what}, weight {index}: expects shape {tuple(weight.shape)}, the file has "
                    f"shape {array.shape}"
                )
                if self.skip_mismatch:
                    warnings.warn(f"Skipping {message.strip()}.", stacklevel=4)
                else:
                    self.problems.append(message)
                continue
            self.pairs.append((weight, array))


def load_legacy_weights(
    module: torch.nn.Module,
    filepath: str | os.PathLike[str],
    by_name: bool = False,
    skip_mismatch: bool = False,
    require_all: bool = False,
) -> None:
    """Loads a Keras 2 HDF5 weight file (`.h5`) into a kfit model, in place.

    Args:
        module: A kfit model (it lists its `layers`).
        filepath: The `.h5` or `.hdf5` file: weights only, or a whole saved model.
        by_name: When False, the model's layers that have weights are matched with the
            file's, in order, and their numbers must agree. When True, each file layer goes
            to the model's layers of the same name; model layers absent from the file are
            left as they are (unless `require_all`).
        skip_mismatch: Whether to skip, with a warning, layers whose number of weights
            differs (by name only) and weights whose shape differs, instead of raising.
        require_all: With `by_name`, whether every model layer that has weights must be
            found in the file.

    Raises:
        FileNotFoundError: If `filepath` does not exist.
        ValueError: If the file is not a Keras HDF5 weight file or does not match the model
            (every mismatch is listed). Nothing is changed then.

    Example:
        >>> import os, tempfile, h5py, numpy as np, kfit
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "dense.h5")
        >>> with h5py.File(path, "w") as f:
        ...     f.attrs["layer_names"] = [b"out"]
        ...     group = f.create_group("out")
        ...     group.attrs["weight_names"] = [b"out/kernel:0", b"out/bias:0"]
        ...     group["out/kernel:0"] = np.ones((2, 1), "float32")
        ...     group["out/bias:0"] = np.full((1,), 0.5, "float32")
        >>> x = kfit.Input((2,))
        >>> model = kfit.Model(x, kfit.layers.Dense(1, name="out")(x))
        >>> load_legacy_weights(model, path, by_name=True)
        >>> model.get_layer("out").bias.tolist()
        [0.5]
        >>> folder.cleanup()
    """
    path = os.fspath(filepath)
    if not isinstance(module, torch.nn.Module) or not hasattr(module, "layers"):
        raise TypeError(
            "Expected `module` to be a kfit model (Sequential, functional or subclassed), which "
            f"lists its layers. Received: module={module!r} (of type {type(module).__name__}). "
            "Load the file into the model it was saved from."
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Expected `filepath` to name an existing HDF5 weight file. Received: filepath={path!r} "
            "(of type str), which does not exist. Check the path."
        )
    file_layers, top = _read_file(path)
    plan = _Plan(skip_mismatch)
    listed: list[Any] = list(getattr(module, "layers", []))
    model_layers = [layer for layer in listed if _legacy_weights(layer)]
    if by_name:
        by_layer_name: dict[str, list[Any]] = {}
        for layer in model_layers:
            by_layer_name.setdefault(getattr(layer, "name", ""), []).append(layer)
        found = set()
        for name, arrays in file_layers:
            for layer in by_layer_name.get(name, []):
                found.add(name)
                plan.match(f"layer {name!r}", _legacy_weights(layer), arrays)
        missing = [name for name in by_layer_name if name not in found]
        if require_all and missing:
            plan.problems.append("  layers missing from the file: " + ", ".join(map(repr, missing)))
    else:
        weighted = [(name, arrays) for name, arrays in file_layers if arrays]
        if len(weighted) != len(model_layers):
            raise ValueError(
                f"Expected the file to hold weights for the model's {len(model_layers)} layers "
                f"that have weights. Received: filepath={path!r} (of type str), with weights for "
                f"{len(weighted)} layers. Load it into the architecture it was saved from, or "
                "pass by_name=True to match layers by name."
            )
        for index, ((name, arrays), layer) in enumerate(zip(weighted, model_layers)):
            what = f"layer #{index} ({getattr(layer, 'name', type(layer).__name__)!r}, {name!r} in the file)"
            plan.match(what, _legacy_weights(layer), arrays)
    if top:
        plan.match("the model's own weights", _own_weights(module), top)
    if plan.problems:
        raise ValueError(
            "Expected the HDF5 weight file to match the model. Received: "
            f"filepath={path!r} (of type str) with:\n" + "\n".join(plan.problems) + "\n"
            "Build the model with the same layers and sizes as the file's, or pass "
            "skip_mismatch=True to skip what does not match."
        )
    with torch.no_grad():
        for weight, array in plan.pairs:
            weight.copy_(torch.from_numpy(np.ascontiguousarray(array)).reshape(weight.shape))
