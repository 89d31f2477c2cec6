"""Training checkpoints: a model's weights, its optimizer's state and JSON progress in one file.

One `.safetensors` file (written by `save_state`, so atomically) holds everything needed to
continue training: tensors named `model/<state_dict key>` and `optimizer/<param index>/<slot>`,
and a JSON document with the optimizer's param groups and iteration count plus a free-form
`training_state` dict (epoch, batch, and whatever a resuming callback needs). Keeping it all
in one file means a crash can never leave weights from one step beside progress from another.

`optimizer_state` / `restore_optimizer_state` split an optimizer's `state_dict()` into tensors
and JSON and back; `.keras` archives use them too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from kfit.saving.weights import assign_tensors, load_state, module_state, save_state

__all__ = ["load_checkpoint", "optimizer_state", "restore_optimizer_state", "save_checkpoint"]

FORMAT = "kfit.checkpoint"
FORMAT_VERSION = 1
_MODEL = "model/"
_OPTIMIZER = "optimizer/"
_EXTRA = "extra/"


def optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Splits `optimizer.state_dict()` into tensors and a JSON-serialisable dict.

    Per-parameter tensors are named `"<param index>/<slot>"`; everything else (param groups,
    `iterations`, non-tensor per-parameter values) goes to the JSON side.

    Args:
        optimizer: Any `torch.optim.Optimizer`, kfit's included (built or not).

    Returns:
        A pair `(tensors, json_state)` that `restore_optimizer_state` accepts.

    Example:
        >>> from kfit.optimizers import SGD
        >>> opt = SGD(momentum=0.9)
        >>> opt.build([torch.nn.Parameter(torch.zeros(2))])
        >>> tensors, json_state = optimizer_state(opt)
        >>> list(tensors), json_state["iterations"]
        (['0/momentum'], 0)
    """
    tensors: dict[str, torch.Tensor] = {}
    json_state: dict[str, Any] = {}
    for key, value in optimizer.state_dict().items():
        if key != "state":
            json_state[key] = value
            continue
        others: dict[str, dict[str, Any]] = {}
        for index, slots in value.items():
            for slot, item in slots.items():
                if isinstance(item, torch.Tensor):
                    tensors[f"{index}/{slot}"] = item.detach()
                else:
                    others.setdefault(str(index), {})[slot] = item
        json_state["state"] = others
    return tensors, json_state


def restore_optimizer_state(
    optimizer: torch.optim.Optimizer,
    tensors: Mapping[str, torch.Tensor],
    json_state: Mapping[str, Any],
    source: str = "<memory>",
) -> None:
    """Loads what `optimizer_state` produced back into `optimizer`.

    A kfit optimizer that is not built yet keeps the state and applies it when it is built
    (so the slots land on the device the model trains on); a built one gets it now, moved to
    each parameter's device by `load_state_dict`.

    Args:
        optimizer: The optimizer to restore into; it must have been built (or will be built)
            with the same parameters, in the same order, as the saved one.
        tensors: The tensors from `optimizer_state`.
        json_state: The JSON side from `optimizer_state`.
        source: Where the state came from, quoted in error messages.

    Raises:
        ValueError: If the saved param groups do not match the optimizer's.

    Example:
        >>> from kfit.optimizers import Adam
        >>> w = torch.nn.Parameter(torch.zeros(2))
        >>> a = Adam(); a.build([w]); a.iterations.assign(3)
        >>> b = Adam(); b.build([w])
        >>> restore_optimizer_state(b, *optimizer_state(a))
        >>> int(b.iterations)
        3
    """
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        index, _, slot = name.partition("/")
        state.setdefault(int(index), {})[slot] = tensor
    for index, slots in json_state.get("state", {}).items():
        state.setdefault(int(index), {}).update(slots)
    state_dict = {key: value for key, value in json_state.items() if key != "state"}
    state_dict["state"] = state
    _check_groups(optimizer, state_dict, source)
    optimizer.load_state_dict(state_dict)


def save_checkpoint(
    filepath: str | os.PathLike[str],
    model: torch.nn.Module,
    training_state: Mapping[str, Any] | None = None,
    extra_tensors: Mapping[str, torch.Tensor] | None = None,
) -> None:
    """Saves `model`'s weights, its optimizer's state and `training_state` in one file, atomically.

    Args:
        filepath: Where to write; must end in `.safetensors`.
        model: The model; its `optimizer` attribute (if any, and not None) is saved too.
        training_state: JSON-serialisable progress, such as `{"epoch": 3, "batch": 0}`.
        extra_tensors: Tensors that go with `training_state` (RNG states, metric states),
            stored under `extra/<name>`; `load_checkpoint(..., extra_tensors={})` returns them.

    Raises:
        ValueError: If `filepath` does not end in `.safetensors`, or a weight is not built.
        TypeError: If `training_state` holds values JSON cannot represent.

    Example:
        >>> import os, tempfile
        >>> import kfit
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "ckpt.safetensors")
        >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        >>> model.compile(optimizer="adam", loss="mse")
        >>> save_checkpoint(path, model, {"epoch": 2})
        >>> load_checkpoint(path, model)
        {'epoch': 2}
        >>> folder.cleanup()
    """
    tensors = {_MODEL + name: value.detach() for name, value in module_state(model).items()}
    document: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "training_state": dict(training_state or {}),
        "optimizer": None,
    }
    optimizer = getattr(model, "optimizer", None)
    if isinstance(optimizer, torch.optim.Optimizer):
        slots, document["optimizer"] = optimizer_state(optimizer)
        tensors.update({_OPTIMIZER + name: value for name, value in slots.items()})
    for name, value in (extra_tensors or {}).items():
        tensors[_EXTRA + name] = value.detach().to("cpu").contiguous()
    save_state(filepath, tensors, document)


def load_checkpoint(
    filepath: str | os.PathLike[str],
    model: torch.nn.Module,
    extra_tensors: dict[str, torch.Tensor] | None = None,
) -> dict[str, Any]:
    """Restores a file written by `save_checkpoint` into `model` (and its optimizer).

    The whole file is read and checked against the model before any weight changes.

    Args:
        filepath: A `.safetensors` file written by `save_checkpoint`.
        model: A model with the same architecture (and optimizer) as the saved one.
        extra_tensors: A dict to receive the file's `extra_tensors`, or None.

    Returns:
        The saved `training_state` dict.

    Raises:
        FileNotFoundError: If `filepath` does not exist.
        ValueError: If the file is truncated, corrupt, not a checkpoint, or does not match
            the model; the message names the file.

    Example:
        >>> import os, tempfile
        >>> import kfit
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = os.path.join(folder.name, "ckpt.safetensors")
        >>> a = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        >>> save_checkpoint(path, a, {"epoch": 1})
        >>> b = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        >>> load_checkpoint(path, b)
        {'epoch': 1}
        >>> [bool((x == y).all()) for x, y in zip(a.get_weights(), b.get_weights())]
        [True, True]
        >>> folder.cleanup()
    """
    source = os.fspath(filepath)
    tensors, document = load_state(filepath)
    if document.get("format") != FORMAT or not isinstance(document.get("training_state"), dict):
        raise ValueError(
            f"Expected a training checkpoint written by save_checkpoint() (format {FORMAT!r}). "
            f"Received: filepath={source!r} (of type str), whose JSON has format "
            f"{document.get('format')!r}. Pass a checkpoint file, or use load_weights() for a "
            "weight file."
        )
    weights = {k[len(_MODEL):]: v for k, v in tensors.items() if k.startswith(_MODEL)}
    slots = {k[len(_OPTIMIZER):]: v for k, v in tensors.items() if k.startswith(_OPTIMIZER)}
    if extra_tensors is not None:
        extra_tensors.update({k[len(_EXTRA):]: v for k, v in tensors.items() if k.startswith(_EXTRA)})
    saved_optimizer = document.get("optimizer")
    optimizer = getattr(model, "optimizer", None)
    if not isinstance(optimizer, torch.optim.Optimizer) or saved_optimizer is None:
        assign_tensors(model, weights, source)
        return document["training_state"]
    # Checked up front so that a mismatch leaves the weights untouched too.
    _check_groups(optimizer, saved_optimizer, source)
    assign_tensors(model, weights, source)
    restore_optimizer_state(optimizer, slots, saved_optimizer, source)
    return document["training_state"]


def _check_groups(optimizer: torch.optim.Optimizer, saved: Mapping[str, Any], source: str) -> None:
    # An unbuilt kfit optimizer has no groups yet; torch checks them when it is built.
    saved_groups = [len(group["params"]) for group in saved.get("param_groups", [])]
    current_groups = [len(group["params"]) for group in optimizer.param_groups]
    if saved_groups and current_groups and saved_groups != current_groups:
        raise ValueError(
            "Expected the saved optimizer state to cover the optimizer's parameters. "
            f"Received: filepath={source!r} (of type str) with param groups of sizes "
            f"{saved_groups}, but the optimizer has groups of sizes {current_groups}. Restore "
            "into a model with the same architecture, compiled with the same optimizer."
        )
