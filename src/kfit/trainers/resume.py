"""Exact resumption: capture and restore every RNG and the training state a backup needs.

`BackupAndRestore` saves, at a batch end, everything that decides what the rest of `fit`
computes: the RNG states (`capture_rng`), the data position (`EpochIterator.state()`), the
metric states and every callback's `get_state()`. A rerun restores them (`restore_rng`,
`EpochIterator.resume`, `ResumePoint`) and continues from the next batch, so the final
weights equal an uninterrupted run's bit for bit (on CPU; GPU kernels may add their own
non-determinism unless `torch.use_deterministic_algorithms(True)`).

Every state here is JSON plus tensors, never a pickle: `pack` moves the tensors of a
nested structure into a flat `{name: tensor}` dict (leaving `{"__tensor__": name}` markers)
so that the JSON side and the tensors side can go into one safetensors file; `unpack`
puts them back.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "ResumePoint",
    "capture_global_rng",
    "capture_rng",
    "get_callback_states",
    "global_rng_to_json",
    "pack",
    "restore_global_rng",
    "restore_rng",
    "set_callback_states",
    "unpack",
]

_TENSOR = "__tensor__"


# ------------------------------------------------------------------ JSON + tensors
def pack(value: Any, prefix: str, tensors: MutableMapping[str, torch.Tensor]) -> Any:
    """Returns `value` with each tensor moved into `tensors` (named `prefix/...`), JSON-able.

    Example:
        >>> tensors = {}
        >>> pack({"a": torch.zeros(2), "b": [1, 2]}, "s", tensors)
        {'a': {'__tensor__': 's/a'}, 'b': [1, 2]}
        >>> list(tensors)
        ['s/a']
    """
    if isinstance(value, torch.Tensor):
        tensors[prefix] = value.detach().to("cpu").contiguous()
        return {_TENSOR: prefix}
    if isinstance(value, Mapping):
        return {str(k): pack(v, f"{prefix}/{k}", tensors) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [pack(v, f"{prefix}/{i}", tensors) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def unpack(value: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """Inverts `pack`: puts the tensors back where the markers are.

    Example:
        >>> tensors = {}
        >>> unpack(pack({"a": torch.ones(1)}, "s", tensors), tensors)
        {'a': tensor([1.])}
    """
    if isinstance(value, dict):
        if set(value) == {_TENSOR}:
            return tensors[value[_TENSOR]]
        return {k: unpack(v, tensors) for k, v in value.items()}
    if isinstance(value, list):
        return [unpack(v, tensors) for v in value]
    return value


# ------------------------------------------------------------------ RNG
def capture_global_rng() -> dict[str, Any]:
    """The process-wide RNG states: Python's `random`, NumPy's global one, torch CPU and CUDA.

    Cheap (no conversion): the values are what the libraries return; `capture_rng` makes
    them JSON-able.
    """
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        # Only when CUDA is in use: initialising it just to read its states costs seconds.
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def global_rng_to_json(state: Mapping[str, Any]) -> dict[str, Any]:
    """`capture_global_rng()`'s states as JSON values and a uint8 tensor."""
    version, internal, gauss = state["python"]
    kind, keys, pos, has_gauss, cached = state["numpy"]
    out: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": state["torch"],
    }
    if "cuda" in state:
        out["cuda"] = list(state["cuda"])
    return out


def restore_global_rng(state: Mapping[str, Any]) -> None:
    """Restores what `capture_global_rng` (raw) or `capture_rng` (JSON-able) returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached)))
    torch.set_rng_state(torch.as_tensor(state["torch"], dtype=torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        cuda = list(state["cuda"])
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([torch.as_tensor(s, dtype=torch.uint8) for s in cuda])


class _NoSeedGenerator:
    """Stands for `SeedGenerator` while `kfit.random` is not imported: no instance exists then."""


def _seed_generator_type() -> Any:
    # Looked up rather than imported: `kfit.random` (and `kfit.ops` behind it) loads only when
    # a user imports it, which keeps `import kfit` fast.
    module = sys.modules.get("kfit.random.seed_generator")
    return getattr(module, "SeedGenerator", _NoSeedGenerator)


def _owned_generators(model: torch.nn.Module | None) -> list[tuple[str, torch.nn.Module, str, Any]]:
    """`(key, module, attribute, value)` for each generator a layer holds (or may create)."""
    if model is None:
        return []
    found = []
    for name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, (torch.Generator, _seed_generator_type())) or (
                value is None and attr == "_generator"
            ):
                found.append((f"{name}:{attr}", module, attr, value))
    return found


def capture_rng(model: torch.nn.Module | None = None) -> dict[str, Any]:
    """Every RNG state that decides what training draws next, as JSON values and tensors.

    The global states (Python, NumPy, torch CPU, each CUDA device in use) plus the
    `torch.Generator`s and `kfit.random.SeedGenerator`s held by `model`'s layers (a seeded
    Dropout's generator, say). `restore_rng` puts them back.

    Args:
        model: The model whose layers' generators to include, or None.

    Returns:
        A dict of JSON-able values and uint8 tensors (no pickle needed).

    Example:
        >>> state = capture_rng()
        >>> a = torch.rand(3)
        >>> restore_rng(state)
        >>> bool(torch.equal(a, torch.rand(3)))
        True
    """
    state = global_rng_to_json(capture_global_rng())
    layers: dict[str, Any] = {}
    seed_generator = _seed_generator_type()
    for key, _, _, value in _owned_generators(model):
        if isinstance(value, seed_generator):
            layers[key] = {"seed": value.seed, "counter": value.counter}
        elif isinstance(value, torch.Generator):
            layers[key] = {"device": str(value.device), "state": value.get_state()}
        else:
            layers[key] = None
    state["layers"] = layers
    return state


def restore_rng(state: Mapping[str, Any], model: torch.nn.Module | None = None) -> None:
    """Restores the RNG states `capture_rng` returned (the layers' ones into `model`).

    Example:
        >>> state = capture_rng()
        >>> a = float(torch.rand(()))
        >>> restore_rng(state); a == float(torch.rand(()))
        True
    """
    restore_global_rng(state)
    saved = state.get("layers", {})
    seed_generator = _seed_generator_type()
    for key, module, attr, value in _owned_generators(model):
        if key not in saved:
            continue
        entry = saved[key]
        if isinstance(value, seed_generator):
            value.seed, value.counter = int(entry["seed"]), int(entry["counter"])
        elif entry is None:
            # Not created yet at backup time: the layer creates it from its seed, as it did.
            setattr(module, attr, None)
        else:
            generator = value
            if not isinstance(generator, torch.Generator) or str(generator.device) != entry["device"]:
                generator = torch.Generator(device=entry["device"])
                setattr(module, attr, generator)
            generator.set_state(torch.as_tensor(entry["state"], dtype=torch.uint8))


# ------------------------------------------------------------------ callbacks
def get_callback_states(callbacks: Any) -> list[dict[str, Any]]:
    """`[{"class": name, "state": get_state()}]` for each callback of a `CallbackList`."""
    states = []
    for cb in getattr(callbacks, "callbacks", callbacks):
        get_state = getattr(cb, "get_state", None)
        states.append({"class": type(cb).__name__, "state": get_state() if callable(get_state) else {}})
    return states


def set_callback_states(callbacks: Any, states: list[dict[str, Any]]) -> None:
    """Calls `set_state` on each callback with the state saved for the same one.

    Callbacks are matched by class name and rank among those of that class (the second
    `ModelCheckpoint` gets the second saved `ModelCheckpoint`'s state), so that a callback
    added or removed elsewhere in the list shifts nothing. A callback whose saved state is
    empty (the default `get_state`) is left alone.
    """
    saved_by_class: dict[str, list[Any]] = {}
    for saved in states:
        saved_by_class.setdefault(saved["class"], []).append(saved["state"])
    seen: dict[str, int] = {}
    for cb in getattr(callbacks, "callbacks", callbacks):
        name = type(cb).__name__
        rank = seen[name] = seen.get(name, -1) + 1
        candidates = saved_by_class.get(name, [])
        set_state = getattr(cb, "set_state", None)
        if rank < len(candidates) and candidates[rank] and callable(set_state):
            set_state(candidates[rank])


# ------------------------------------------------------------------ resume point
@dataclass
class ResumePoint:
    """Where a restored backup resumes: handed by `BackupAndRestore` to `fit`.

    `batch` is the number of batches done in `epoch` (0: resume at the epoch's start).
    The other fields are what `fit` restores before the next batch.
    """

    epoch: int
    batch: int = 0
    iterator: dict[str, Any] | None = None
    rng: dict[str, Any] | None = None
    metrics: list[dict[str, Any]] | None = None
    callbacks: list[dict[str, Any]] | None = None
    stop_training: bool = False
    # Train batches since the interrupted fit began: what `Every(n)` batch filters count.
    batches_seen: int | None = None
