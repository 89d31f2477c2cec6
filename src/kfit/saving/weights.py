"""Weight files for torch modules (`.weights.h5` or `.safetensors`) and resumable state files.

Weights are a module's `state_dict()`: the keys are its entries' dotted names, so a file
can be loaded into any module with the same structure. A `Sequential` made of kfit layers
is the exception for `.weights.h5`: it uses Keras 3's layout (see `keras_h5`), so that the
file loads into the same architecture built in Keras, and Keras's files load into it.
Nothing here uses pickle, so loading a file from an untrusted source cannot run code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from kfit.saving import h5_io, keras_h5, legacy_h5, safetensors_io

__all__ = [
    "assign_tensors",
    "load_state",
    "load_weights",
    "module_state",
    "save_state",
    "save_weights",
]

SUPPORTED_EXTENSIONS = (".weights.h5", ".safetensors")
STATE_KEY = "kfit.state"

_FORMATS = {".weights.h5": h5_io, ".safetensors": safetensors_io}


def _format_for(filepath: Any) -> Any:
    """Returns the reader/writer module for `filepath`'s extension."""
    if isinstance(filepath, (str, os.PathLike)):
        path = os.fspath(filepath)
        for extension, module in _FORMATS.items():
            if isinstance(path, str) and path.endswith(extension):
                return module
    raise ValueError(
        f"Expected `filepath` to be a path ending in one of {SUPPORTED_EXTENSIONS}. "
        f"Received: filepath={filepath!r} (of type {type(filepath).__name__}). "
        "Rename it, e.g. 'model.weights.h5' or 'model.safetensors'."
    )


def check_overwrite(filepath: Any, overwrite: bool) -> None:
    """Raises before anything is written when `overwrite=False` and `filepath` exists."""
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(
            f"Expected `filepath` not to exist, since overwrite=False. Received: "
            f"filepath={filepath!r} (of type {type(filepath).__name__}), which exists. "
            "Pass overwrite=True or choose another path."
        )


def _check_module(module: Any) -> None:
    if not isinstance(module, torch.nn.Module):
        raise TypeError(
            "Expected `module` to be a torch.nn.Module (such as a kfit Model). Received: "
            f"module={module!r} (of type {type(module).__name__}). Pass the model itself."
        )


def module_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The module's state_dict entries as the live parameters and buffers, checked.

    This is what every kfit file holding a model's weights stores.

    Raises:
        TypeError: If an entry is not a tensor (a custom `get_extra_state()`).
        ValueError: If a lazy parameter is still uninitialised.

    Example:
        >>> sorted(module_state(torch.nn.Linear(2, 1)))
        ['bias', 'weight']
    """
    state = module.state_dict(keep_vars=True)
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"Expected every state_dict entry of `module` to be a tensor. Received: "
                f"{name}={value!r} (of type {type(value).__name__}), from a custom "
                "get_extra_state(). Store that state as tensors (buffers) instead."
            )
        if torch.nn.parameter.is_lazy(value):
            raise ValueError(
                f"Expected every weight of `module` to be initialised. Received: {name} is an "
                f"uninitialised lazy {type(value).__name__}. Build the model first, e.g. by "
                "calling it on a batch of inputs."
            )
    return state


def save_weights(
    module: torch.nn.Module,
    filepath: str | os.PathLike[str],
    overwrite: bool = True,
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Saves every entry of `module.state_dict()` to a weight file, atomically.

    The format follows the extension: `.weights.h5` (HDF5, needs h5py) or `.safetensors`.
    A `Sequential` of kfit layers is written to `.weights.h5` in Keras 3's layout, which
    Keras's `load_weights` reads.
    Weights on any device are copied to host memory; the file is written next to its
    target and renamed over it only when complete.

    Args:
        module: The model or layer whose weights to save.
        filepath: Where to write; must end in `.weights.h5` or `.safetensors`.
        overwrite: Whether to replace an existing file. When False and the file exists, an
            error is raised before anything is written.
        metadata: Optional string-to-string mapping stored in the file.

    Raises:
        ValueError: If the extension is not supported or a weight is uninitialised.
        FileExistsError: If `overwrite` is False and `filepath` exists.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "net.safetensors")
        >>> net = torch.nn.Linear(3, 1)
        >>> save_weights(net, path)
        >>> clone = torch.nn.Linear(3, 1)
        >>> load_weights(clone, path)
        >>> torch.equal(clone.weight, net.weight)
        True
        >>> folder.cleanup()
    """
    _check_module(module)
    backend = _format_for(filepath)
    check_overwrite(filepath, overwrite)
    state = module_state(module)
    keras_names = keras_h5.keras_layer_names(module) if backend is h5_io else None
    if keras_names is not None:
        keras_h5.save_keras_weights(module, keras_names, filepath, metadata)
        return
    backend.save_tensors(filepath, {name: value.detach() for name, value in state.items()}, metadata)


def _shape_text(shape: torch.Size) -> str:
    return str(tuple(shape))


def load_weights(
    module: torch.nn.Module,
    filepath: str | os.PathLike[str],
    strict: bool = True,
    by_name: bool = False,
) -> None:
    """Loads a weight file written by `save_weights` into `module`, in place.

    A `Sequential` of kfit layers also reads `.weights.h5` files written by Keras 3 for the
    same architecture (the file's optimizer variables are ignored). A `.h5` or `.hdf5` path
    is read as a Keras 2 HDF5 file, such as Keras's published pre-trained weights (see
    `legacy_h5`).

    The whole file is checked against the module before any weight changes, so a failed
    load leaves the module untouched. Values are copied into the existing parameters and
    buffers, which keep their identity, device and dtype (optimizers holding them stay
    valid).

    Args:
        module: The model or layer to load into.
        filepath: A `.weights.h5` or `.safetensors` file; for a model, also a legacy `.h5`.
        strict: When True, the file's names must match the module's exactly. When False,
            names present on one side only are skipped. Shapes must match either way, except
            in a legacy `.h5` file, where False skips mismatched weights with a warning.
        by_name: For a legacy `.h5` file only: match its layers to the model's by name
            instead of in order.

    Raises:
        FileNotFoundError: If `filepath` does not exist.
        ValueError: If the extension is not supported, the file is corrupt, or names or
            shapes do not match (all mismatches are listed).

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "net.weights.h5")
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2))
        >>> save_weights(net, path)
        >>> wider = torch.nn.Sequential(torch.nn.Linear(2, 3))
        >>> load_weights(wider, path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: ...0.weight: expected shape (3, 2), got shape (2, 2)...
        >>> folder.cleanup()
    """
    _check_module(module)
    if legacy_h5.is_legacy_path(filepath) and hasattr(module, "layers"):
        # Keras 2's `.h5` files (Keras's published pre-trained weights among them) are laid
        # out by layer, so only a model, which lists its layers, reads them.
        legacy_h5.load_legacy_weights(module, filepath, by_name=by_name, skip_mismatch=not strict)
        return
    if by_name:
        raise ValueError(
            "Expected `by_name` only with a legacy Keras '.h5' or '.hdf5' file. Received: "
            f"by_name=True with filepath={filepath!r} (of type {type(filepath).__name__}). "
            "Drop `by_name`: this format is matched by the model's structure."
        )
    backend = _format_for(filepath)
    if not os.path.isfile(filepath):
        raise FileNotFoundError(
            f"Expected `filepath` to name an existing weight file. Received: "
            f"filepath={filepath!r} (of type {type(filepath).__name__}), which does not "
            "exist. Check the path, or save the weights first with save_weights()."
        )
    if backend is h5_io and keras_h5.is_keras_layout(filepath):
        loaded = keras_h5.load_keras_weights(module, filepath)
    else:
        loaded, _ = backend.load_tensors(filepath)
    assign_tensors(module, loaded, os.fspath(filepath), strict=strict)


def assign_tensors(
    module: torch.nn.Module,
    loaded: Mapping[str, torch.Tensor],
    source: str,
    strict: bool = True,
) -> None:
    """Copies `loaded` into `module`'s state_dict entries, checking every name and shape first.

    The shared second half of `load_weights`, for callers that read the tensors themselves
    (a `.keras` archive, a training checkpoint). Nothing changes unless everything matches.

    Args:
        module: The model or layer to load into.
        loaded: State_dict names mapped to tensors (on any device; values are copied).
        source: Where the tensors came from, quoted in error messages.
        strict: When True, names must match exactly; when False, unmatched names are skipped.

    Raises:
        ValueError: If names or shapes do not match (all mismatches are listed).

    Example:
        >>> net = torch.nn.Linear(2, 1)
        >>> assign_tensors(net, {"weight": torch.ones(1, 2), "bias": torch.zeros(1)}, "memory")
        >>> net.weight.tolist()
        [[1.0, 1.0]]
    """
    _check_module(module)
    state = module_state(module)
    missing = [name for name in state if name not in loaded]
    unexpected = sorted(name for name in loaded if name not in state)
    mismatched = [
        f"  {name}: expected shape {_shape_text(state[name].shape)}, "
        f"got shape {_shape_text(loaded[name].shape)}"
        for name in state
        if name in loaded and state[name].shape != loaded[name].shape
    ]
    problems = []
    if mismatched:
        problems.append("Shape mismatches:\n" + "\n".join(mismatched))
    if strict and missing:
        problems.append("Missing from the file: " + ", ".join(missing))
    if strict and unexpected:
        problems.append("Not in the module: " + ", ".join(unexpected))
    if problems:
        hint = (
            "Load into a module built with the same layers and sizes"
            + (", or pass strict=False to skip unmatched names." if not mismatched else ".")
        )
        raise ValueError(
            "Expected the weight file to match `module`'s state_dict. Received: "
            f"filepath={source!r} (of type str) with:\n"
            + "\n".join(problems)
            + f"\n{hint}"
        )
    with torch.no_grad():
        for name, target in state.items():
            if name in loaded:
                target.copy_(loaded[name])


def _json_default(value: Any) -> Any:
    # Numpy scalars and arrays turn up in training state (e.g. a monitored best value);
    # converting them here saves every caller from doing it.
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _check_state_path(filepath: Any) -> str:
    if not isinstance(filepath, (str, os.PathLike)) or not os.fspath(filepath).endswith(
        ".safetensors"
    ):
        raise ValueError(
            "Expected `filepath` to be a path ending in '.safetensors'. Received: "
            f"filepath={filepath!r} (of type {type(filepath).__name__}). Rename it, e.g. "
            "'optimizer.safetensors'."
        )
    return os.fspath(filepath)


def save_state(
    filepath: str | os.PathLike[str],
    tensors: Mapping[str, torch.Tensor],
    json_state: Mapping[str, Any],
) -> None:
    """Saves tensors with arbitrary JSON-serialisable state in one safetensors file, atomically.

    Meant for state beyond the weights, such as optimizer slots (`tensors`) and step
    counters or callback progress (`json_state`). The JSON is stored as one string in the
    file's metadata, so other safetensors readers still open the file. Tuples come back as
    lists, numpy values as Python numbers, and `inf`/`nan` survive.

    Args:
        filepath: Where to write; must end in `.safetensors`.
        tensors: Names mapped to tensors (may be empty).
        json_state: A dict of JSON-serialisable values, nested freely.

    Raises:
        ValueError: If `filepath` does not end in `.safetensors`.
        TypeError: If `json_state` is not a dict or holds values JSON cannot represent.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "resume.safetensors")
        >>> save_state(path, {"m": torch.zeros(2)}, {"epoch": 4, "best": float("inf")})
        >>> tensors, state = load_state(path)
        >>> state, list(tensors)
        ({'epoch': 4, 'best': inf}, ['m'])
        >>> folder.cleanup()
    """
    path = _check_state_path(filepath)
    if not isinstance(json_state, Mapping):
        raise TypeError(
            "Expected `json_state` to be a dict. Received: "
            f"json_state={json_state!r} (of type {type(json_state).__name__}). "
            "Wrap the values in a dict, e.g. {'epoch': 3}."
        )
    try:
        text = json.dumps(dict(json_state), default=_json_default)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"Expected `json_state` to hold only JSON-serialisable values ({e}). Received: "
            f"json_state={json_state!r} (of type {type(json_state).__name__}). Convert "
            "tensors to Python numbers or pass them in `tensors` instead."
        ) from e
    safetensors_io.save_tensors(path, tensors, {STATE_KEY: text})


def load_state(
    filepath: str | os.PathLike[str],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Reads a file written by `save_state`.

    Args:
        filepath: A `.safetensors` file written by `save_state`.

    Returns:
        A pair `(tensors, json_state)`: CPU tensors by name and the decoded JSON state.

    Raises:
        FileNotFoundError: If `filepath` does not exist.
        ValueError: If the file is corrupt or was not written by `save_state`.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "opt.safetensors")
        >>> save_state(path, {}, {"iterations": 10, "slots": [["m", "v"]]})
        >>> load_state(path)
        ({}, {'iterations': 10, 'slots': [['m', 'v']]})
        >>> folder.cleanup()
    """
    path = _check_state_path(filepath)
    tensors, metadata = safetensors_io.load_tensors(path)
    if STATE_KEY not in metadata:
        raise ValueError(
            f"Expected a state file written by save_state(), whose metadata holds "
            f"{STATE_KEY!r}. Received: filepath={path!r} (of type str), whose metadata "
            f"keys are {sorted(metadata)}. Use load_tensors() or load_weights() for this file."
        )
    try:
        json_state = json.loads(metadata[STATE_KEY])
    except json.JSONDecodeError as e:
        raise ValueError(
            f"Could not decode the JSON state ({e}). Received: filepath={path!r} (of type "
            "str). The file is corrupt; save it again."
        ) from e
    return tensors, json_state
