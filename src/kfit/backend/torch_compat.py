"""The one module that calls torch's private API, each call behind a public-named wrapper.

Everywhere else kfit uses public torch. A private call is kept here only where it measurably pays
on every training step, and each has a fallback built from public torch alone. Which branch a
wrapper takes is chosen once, at import, from what this torch provides; `use_private_kernels`
switches every wrapper to the other branch so tests can run both.

Call the wrappers through the module (`torch_compat.foreach_add_(...)`), or look them up when a
model is compiled, not at import: `use_private_kernels` rebinds the module's names, so a name
bound earlier keeps the branch it was bound to.

What is kept, and why (timings on CPU, small MLP, torch 2.13):

- Loss kernels (`mse_loss`, `l1_loss`, `huber_loss`, `binary_cross_entropy`,
  `cross_entropy`): `torch._C._nn.*` are the ops `torch.nn.functional` ends in. Called on
  tensors of one shape they skip the `broadcast_tensors` and `__torch_function__` checks of the
  `F` wrappers, about 2 us a step on a small model. Same kernel, so bitwise the same result.
- `foreach_*`: torch's multi-tensor ops (`torch._foreach_*`), one dispatch for a whole list of
  tensors instead of one per tensor (an Adam update of four tensors: 34 us, 51 us as a loop;
  on a GPU the loop launches a kernel per tensor). Torch has no public multi-tensor API.
- `fused_adam_`: `torch._fused_adam_`, 11 us against 38 us for the public
  `torch.optim.adam.adam(fused=True)`, which reaches the same kernel.
- `set_grad_enabled`: `torch._C._set_grad_enabled`, 0.14 us a call against 0.36 us for
  `torch.set_grad_enabled`; the optimizer calls it twice a step.
- `hooked_step`: reads torch's global step-hook tables and profiler flag so a step with no
  hooks skips torch's `profile_hook_step` wrapper: a plain SGD step of a small MLP takes
  6.3 us, 14.7 us inside the wrapper.
- `disabled_torch_function`: `torch._C._disabled_torch_function_impl`, what `nn.Parameter`
  uses to keep its ops as cheap as a plain tensor's (an in-place add: 1.1 us); the public
  fallback, a Python `__torch_function__` that unwraps the subclass, takes 4.8 us.

Example:
    >>> import torch
    >>> from kfit.backend import torch_compat
    >>> float(torch_compat.mse_loss(torch.tensor([1.0, 3.0]), torch.zeros(2)))
    5.0
    >>> with torch_compat.use_private_kernels(False):
    ...     float(torch_compat.mse_loss(torch.tensor([1.0, 3.0]), torch.zeros(2)))
    5.0
    >>> class Plain(torch.Tensor):
    ...     __torch_function__ = torch_compat.disabled_torch_function
    >>> type(torch.Tensor._make_subclass(Plain, torch.ones(2), False) + 1).__name__
    'Tensor'
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.autograd.profiler
import torch.nn.functional as F

# torch.optim deletes its submodules' names from its namespace, so `torch.optim.adam` and
# `torch.optim.optimizer` are reached through `from` imports.
from torch.optim import optimizer as _torch_optimizer
from torch.optim.adam import adam as _adam_functional

__all__ = [
    "binary_cross_entropy",
    "cross_entropy",
    "disabled_torch_function",
    "foreach_add",
    "foreach_add_",
    "foreach_addcdiv_",
    "foreach_addcmul_",
    "foreach_clamp_max_",
    "foreach_clamp_min",
    "foreach_copy_",
    "foreach_div",
    "foreach_div_",
    "foreach_lerp_",
    "foreach_maximum",
    "foreach_maximum_",
    "foreach_mul",
    "foreach_mul_",
    "foreach_norm",
    "foreach_reciprocal_",
    "foreach_sqrt",
    "foreach_sqrt_",
    "foreach_sub_",
    "foreach_zero_",
    "fused_adam_",
    "fused_adam_available",
    "hooked_step",
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "private_kernels_available",
    "set_grad_enabled",
    "use_private_kernels",
]

_MEAN = 1  # torch's reduction enum for "mean" (what `torch.nn._reduction.get_enum("mean")` gives)
_IGNORE_INDEX = -100  # `F.cross_entropy`'s default: no label is ignored unless it is -100

_nn = getattr(torch._C, "_nn", None)
_mse_native = getattr(_nn, "mse_loss", None)
_l1_native = getattr(_nn, "l1_loss", None)
_huber_native = getattr(_nn, "huber_loss", None)
_bce_native = getattr(_nn, "binary_cross_entropy", None)
_cross_entropy_native = getattr(_nn, "cross_entropy_loss", None)

# A private kernel, given to the `_<loss>_private(native)` builders only where this torch has it.
_Kernel = Callable[..., torch.Tensor]
_Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

# --------------------------------------------------------------------------------------
# Mean-reduced losses on `(y_pred, y_true)` of one shape (labels for `cross_entropy`).
# --------------------------------------------------------------------------------------


def _mse_private(native: _Kernel) -> _Loss:
    def mse_loss(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        return native(y_pred, y_true, _MEAN)

    return mse_loss


def _mse_public(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Mean squared error over every element of `y_pred` and `y_true` (one shape).

    Example:
        >>> float(mse_loss(torch.tensor([1.0, 3.0]), torch.zeros(2)))
        5.0
    """
    return F.mse_loss(y_pred, y_true)


def _l1_private(native: _Kernel) -> _Loss:
    def l1_loss(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        return native(y_pred, y_true, _MEAN)

    return l1_loss


def _l1_public(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over every element of `y_pred` and `y_true` (one shape).

    Example:
        >>> float(l1_loss(torch.tensor([1.0, -3.0]), torch.zeros(2)))
        2.0
    """
    return F.l1_loss(y_pred, y_true)


def _huber_private(native: _Kernel) -> Callable[..., torch.Tensor]:
    def huber_loss(y_pred: torch.Tensor, y_true: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
        return native(y_pred, y_true, _MEAN, delta)

    return huber_loss


def _huber_public(y_pred: torch.Tensor, y_true: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    """Mean Huber loss: quadratic within `delta` of the target, linear beyond.

    Example:
        >>> float(huber_loss(torch.tensor([0.5, 3.0]), torch.zeros(2), 1.0))
        1.3125
    """
    return F.huber_loss(y_pred, y_true, delta=delta)


def _bce_private(native: _Kernel) -> _Loss:
    def binary_cross_entropy(probabilities: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return native(probabilities, targets, None, _MEAN)

    return binary_cross_entropy


def _bce_public(probabilities: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of probabilities in [0, 1] against targets of the same shape.

    Clipping away from 0 and 1 (as Keras does) is the caller's job.

    Example:
        >>> round(float(binary_cross_entropy(torch.tensor([0.5]), torch.ones(1))), 4)
        0.6931
    """
    return F.binary_cross_entropy(probabilities, targets)


def _cross_entropy_private(native: _Kernel) -> _Loss:
    def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return native(logits, labels, None, _MEAN, _IGNORE_INDEX, 0.0)

    return cross_entropy


def _cross_entropy_public(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of `(batch, classes)` logits against int64 labels of shape `(batch,)`.

    Example:
        >>> round(float(cross_entropy(torch.zeros(1, 2), torch.tensor([1]))), 4)
        0.6931
    """
    return F.cross_entropy(logits, labels)


# --------------------------------------------------------------------------------------
# Multi-tensor ops: `foreach_<op>(tensors, *others, **kwargs)` applies `<op>` to every tensor,
# pairing it with the same position of each list in `others` (a scalar or 0-d tensor pairs with
# all). Names ending in `_` work in place and return the list they were given; the others return
# a new list. They take what torch's `torch._foreach_<op>` takes for these uses.
# --------------------------------------------------------------------------------------


def _tensor_maximum(tensor: torch.Tensor, other: torch.Tensor | float) -> torch.Tensor:
    if isinstance(other, torch.Tensor):
        return torch.maximum(tensor, other)
    return tensor.clamp_min(other)


# op -> the same op on one tensor, from torch's public API (the per-tensor fallback)
_FOREACH_OPS: dict[str, Callable[..., Any]] = {
    "add": torch.Tensor.add,
    "add_": torch.Tensor.add_,
    "addcdiv_": torch.Tensor.addcdiv_,
    "addcmul_": torch.Tensor.addcmul_,
    "clamp_max_": torch.Tensor.clamp_max_,
    "clamp_min": torch.Tensor.clamp_min,
    "copy_": torch.Tensor.copy_,
    "div": torch.Tensor.div,
    "div_": torch.Tensor.div_,
    "lerp_": torch.Tensor.lerp_,
    "maximum": _tensor_maximum,
    "maximum_": lambda tensor, other: torch.maximum(tensor, other, out=tensor),
    "mul": torch.Tensor.mul,
    "mul_": torch.Tensor.mul_,
    "norm": lambda tensor: torch.linalg.vector_norm(tensor),
    "reciprocal_": torch.Tensor.reciprocal_,
    "sqrt": torch.Tensor.sqrt,
    "sqrt_": torch.Tensor.sqrt_,
    "sub_": torch.Tensor.sub_,
    "zero_": torch.Tensor.zero_,
}


def _per_tensor(op: str) -> Callable[..., list[torch.Tensor]]:
    one = _FOREACH_OPS[op]
    in_place = op.endswith("_")

    def loop(tensors: list[torch.Tensor], *others: Any, **kwargs: Any) -> list[torch.Tensor]:
        columns = [o if isinstance(o, (list, tuple)) else [o] * len(tensors) for o in others]
        results = [one(t, *row, **kwargs) for t, *row in zip(tensors, *columns, strict=True)]
        return tensors if in_place else results

    loop.__name__ = loop.__qualname__ = f"foreach_{op}"
    loop.__doc__ = f"`{op}` on each tensor in turn; see `torch_compat`'s multi-tensor ops."
    return loop


foreach_add: Callable[..., list[torch.Tensor]]
foreach_add_: Callable[..., list[torch.Tensor]]
foreach_addcdiv_: Callable[..., list[torch.Tensor]]
foreach_addcmul_: Callable[..., list[torch.Tensor]]
foreach_clamp_max_: Callable[..., list[torch.Tensor]]
foreach_clamp_min: Callable[..., list[torch.Tensor]]
foreach_copy_: Callable[..., list[torch.Tensor]]
foreach_div: Callable[..., list[torch.Tensor]]
foreach_div_: Callable[..., list[torch.Tensor]]
foreach_lerp_: Callable[..., list[torch.Tensor]]
foreach_maximum: Callable[..., list[torch.Tensor]]
foreach_maximum_: Callable[..., list[torch.Tensor]]
foreach_mul: Callable[..., list[torch.Tensor]]
foreach_mul_: Callable[..., list[torch.Tensor]]
foreach_norm: Callable[..., list[torch.Tensor]]
foreach_reciprocal_: Callable[..., list[torch.Tensor]]
foreach_sqrt: Callable[..., list[torch.Tensor]]
foreach_sqrt_: Callable[..., list[torch.Tensor]]
foreach_sub_: Callable[..., list[torch.Tensor]]
foreach_zero_: Callable[..., list[torch.Tensor]]


# --------------------------------------------------------------------------------------
# Fused Adam. `torch._fused_adam_` updates parameters and both moments in one pass. The public
# route to the same kernel, `torch.optim.adam.adam(..., fused=True)`, first regroups the
# tensors by device and dtype and counts the step up on device: 38 us against the kernel's 11 us
# for a small MLP's four tensors on CPU.
# --------------------------------------------------------------------------------------

_fused_adam_native = getattr(torch, "_fused_adam_", None)


def fused_adam_available(device: torch.device) -> bool:
    """Whether `fused_adam_` can update tensors on `device` with this torch.

    Args:
        device: Where the parameters live.

    Returns:
        True when torch has a fused Adam kernel for that device type.

    Example:
        >>> fused_adam_available(torch.device("meta"))
        False
    """
    return _fused_adam_native is not None and device.type in ("cpu", "cuda")


def _fused_adam_private(native: Callable[..., Any]) -> Callable[..., None]:
    def fused_adam_(
        params: list[torch.Tensor],
        grads: list[torch.Tensor],
        exp_avgs: list[torch.Tensor],
        exp_avg_sqs: list[torch.Tensor],
        step: int,
        *,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
    ) -> None:
        # The kernel only reads the step, so one tensor serves every parameter.
        steps = [torch.tensor(float(step), device=params[0].device)] * len(params)
        native(
            params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, lr=lr,
            beta1=beta1, beta2=beta2, weight_decay=0.0, eps=eps, maximize=False,
        )

    return fused_adam_


def _fused_adam_public(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    exp_avgs: list[torch.Tensor],
    exp_avg_sqs: list[torch.Tensor],
    step: int,
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
) -> None:
    """One step of `torch.optim.Adam`'s update, in place, with the fused kernel.

    The update at step `step` (from 1) is torch's: `m = beta1 * m + (1 - beta1) * g`,
    `v = beta2 * v + (1 - beta2) * g**2`, then
    `w -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)`. No weight decay,
    no AMSGrad. Every tensor must be on one device (see `fused_adam_available`), with one
    dtype. Hand it row-major tensors: the CPU kernel copies any other layout to a row-major
    temporary and back (see `kfit.optimizers.adam`).

    Args:
        params: The parameters, updated in place.
        grads: Their gradients.
        exp_avgs: The first moments, updated in place.
        exp_avg_sqs: The second moments, updated in place.
        step: This step's number, from 1.
        lr: The learning rate.
        beta1: The first moment's decay.
        beta2: The second moment's decay.
        eps: Added to the bias-corrected `sqrt(v)`.

    Example:
        >>> w, m, v = torch.ones(2), torch.zeros(2), torch.zeros(2)
        >>> fused_adam_([w], [torch.ones(2)], [m], [v], 1, lr=0.1, beta1=0.9, beta2=0.999, eps=0.0)
        >>> [round(x, 6) for x in w.tolist()]
        [0.9, 0.9]
    """
    # The functional counts each step tensor up by one before the kernel reads it.
    steps = [torch.tensor(float(step - 1), device=params[0].device) for _ in params]
    _adam_functional(
        params, grads, exp_avgs, exp_avg_sqs, [], steps, fused=True, amsgrad=False,
        beta1=beta1, beta2=beta2, lr=lr, weight_decay=0.0, eps=eps, maximize=False,
    )


fused_adam_: Callable[..., None]


# --------------------------------------------------------------------------------------
# Grad mode. The optimizer switches grad mode off around its in-place updates. The setter
# `torch.no_grad()` ends in costs 0.14 us a call; `torch.set_grad_enabled(mode)`, which builds
# a context-manager object around it, 0.36 us; a `torch.no_grad()` block 1.5 us.
# --------------------------------------------------------------------------------------

_set_grad_enabled_native = getattr(torch._C, "_set_grad_enabled", None)


def _set_grad_enabled_public(mode: bool) -> None:
    """Turns autograd recording on or off for this thread, from now on (not a context manager).

    Example:
        >>> set_grad_enabled(False)
        >>> torch.is_grad_enabled()
        False
        >>> set_grad_enabled(True)
    """
    torch.set_grad_enabled(mode)  # the constructor switches the mode; the object is not needed


set_grad_enabled: Callable[[bool], None]


# --------------------------------------------------------------------------------------
# Optimizer step hooks. torch wraps every optimizer's `step` (`Optimizer.profile_hook_step`) in
# a profiler range and a walk over the global and per-optimizer hook tables. That costs 8 us a
# step even when no profiler runs, more than a small model's whole SGD update, so `hooked_step`
# reads the (private) tables and profiler flag first and enters torch's wrapper only when one
# of them is in use.
# --------------------------------------------------------------------------------------

_global_step_hooks = (
    getattr(_torch_optimizer, "_global_optimizer_pre_hooks", None),
    getattr(_torch_optimizer, "_global_optimizer_post_hooks", None),
)
# `_patch_step_function` is where torch honours the `hooked` mark that `hooked_step` sets.
_step_hooks_readable = (
    None not in _global_step_hooks
    and hasattr(torch.autograd.profiler, "_is_profiler_enabled")
    and hasattr(torch.optim.Optimizer, "_patch_step_function")
)
_private_enabled = True  # False while `use_private_kernels(False)` forces the public branches


def hooked_step(step: Callable[..., Any]) -> Callable[..., Any]:
    """Decorates an `Optimizer.step` with torch's step hooks and profiler range, entered when used.

    `register_step_pre_hook`, `register_step_post_hook`, the global
    `torch.optim.optimizer.register_optimizer_step_*_hook` hooks and the
    `Optimizer.step#<Class>.step` profiler label all behave as on a torch optimizer; a step
    with none of them in use skips torch's wrapper. Where this torch's hook tables cannot be
    read, `step` is returned as it is and torch wraps it itself.

    Args:
        step: The optimizer's `step(self, closure=None)`.

    Returns:
        The wrapped `step`.

    Example:
        >>> class Counting(torch.optim.SGD):
        ...     @hooked_step
        ...     def step(self, closure=None):
        ...         return "stepped"
        >>> opt = Counting([torch.nn.Parameter(torch.ones(1))], lr=0.1)
        >>> _ = opt.register_step_post_hook(lambda opt, args, kwargs: print("post hook"))
        >>> opt.step()
        post hook
        'stepped'
    """
    if not _step_hooks_readable:
        return step
    wrapped = torch.optim.Optimizer.profile_hook_step(step)
    pre_hooks, post_hooks = _global_step_hooks
    profiler = torch.autograd.profiler

    @functools.wraps(step)
    def maybe_hooked(self: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
        if (
            _private_enabled
            and not (pre_hooks or post_hooks or profiler._is_profiler_enabled)
            and not (self._optimizer_step_pre_hooks or self._optimizer_step_post_hooks)
        ):
            return step(self, *args, **kwargs)
        return wrapped(self, *args, **kwargs)

    # torch.optim.Optimizer wraps a class's `step` on construction unless it carries this mark.
    maybe_hooked.hooked = True  # type: ignore[attr-defined]
    return maybe_hooked


# --------------------------------------------------------------------------------------
# Tensor subclasses without `__torch_function__` dispatch. `nn.Parameter` opts out with
# `torch._C._disabled_torch_function_impl`, which torch recognises and skips, so an op on the
# subclass costs what it costs on a plain tensor. The public fallback unwraps the subclass's
# tensors before calling the op, at the price of a Python call per op.
# --------------------------------------------------------------------------------------


def _unwrap(value: Any, cls: type[torch.Tensor]) -> Any:
    if isinstance(value, cls):
        return value.as_subclass(torch.Tensor)
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v, cls) for v in value)
    return value


def _plain_torch_function(
    cls: type[torch.Tensor],
    func: Callable[..., Any],
    types: Any,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
) -> Any:
    """Runs `func` on plain tensors, so ops on the subclass return plain tensors."""
    args = _unwrap(args, cls)
    return func(*args, **{k: _unwrap(v, cls) for k, v in (kwargs or {}).items()})


disabled_torch_function: Any  # assign as a subclass's `__torch_function__`


# --------------------------------------------------------------------------------------
# Branch selection.
# --------------------------------------------------------------------------------------

# public name -> (private-branch implementation or None where this torch lacks it, public fallback)
_BRANCHES: dict[str, tuple[Any, Any]] = {
    "mse_loss": (_mse_private(_mse_native) if _mse_native else None, _mse_public),
    "l1_loss": (_l1_private(_l1_native) if _l1_native else None, _l1_public),
    "huber_loss": (_huber_private(_huber_native) if _huber_native else None, _huber_public),
    "binary_cross_entropy": (_bce_private(_bce_native) if _bce_native else None, _bce_public),
    "cross_entropy": (
        _cross_entropy_private(_cross_entropy_native) if _cross_entropy_native else None,
        _cross_entropy_public,
    ),
    **{
        f"foreach_{op}": (getattr(torch, f"_foreach_{op}", None), _per_tensor(op))
        for op in _FOREACH_OPS
    },
    "fused_adam_": (
        _fused_adam_private(_fused_adam_native) if _fused_adam_native else None,
        _fused_adam_public,
    ),
    "set_grad_enabled": (_set_grad_enabled_native, _set_grad_enabled_public),
    "disabled_torch_function": (
        getattr(torch._C, "_disabled_torch_function_impl", None),
        classmethod(_plain_torch_function),
    ),
}

# The public name shows the same documentation whichever branch it is bound to.
for _private, _public in _BRANCHES.values():
    if _private is not None and getattr(_private, "__module__", None) == __name__:
        _private.__doc__ = _public.__doc__


def private_kernels_available() -> dict[str, bool]:
    """Which wrappers this torch can serve from its private kernels.

    Returns:
        Each wrapper's name, mapped to whether its private branch exists in this torch.

    Example:
        >>> private_kernels_available()["mse_loss"] in (True, False)
        True
    """
    available = {name: private is not None for name, (private, _) in _BRANCHES.items()}
    return {**available, "hooked_step": _step_hooks_readable}


def _select(private: bool) -> None:
    global _private_enabled
    _private_enabled = private
    for name, (native, fallback) in _BRANCHES.items():
        globals()[name] = native if private and native is not None else fallback


@contextlib.contextmanager
def use_private_kernels(enabled: bool) -> Iterator[None]:
    """Routes every wrapper to torch's private kernels (where present) or to the public fallback.

    Meant for tests, which run both branches. Only lookups made inside the block see the switch:
    a wrapper bound to a name before it keeps its branch.

    Args:
        enabled: False forces the public fallback for every wrapper; True restores the private
            kernels that this torch has.

    Example:
        >>> from kfit.backend import torch_compat
        >>> add_ = torch_compat.foreach_add_
        >>> with torch_compat.use_private_kernels(False):
        ...     torch_compat.foreach_add_ is add_
        False
        >>> torch_compat.foreach_add_ is add_
        True
    """
    previous = _private_enabled
    _select(enabled)
    try:
        yield
    finally:
        _select(previous)


mse_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
l1_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
huber_loss: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]
binary_cross_entropy: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
cross_entropy: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
_select(True)


# --------------------------------------------------------------------------------------
# Fused recurrent layers. `torch.nn.LSTM`, `GRU` and `RNN` end in `torch._VF.lstm` (`gru`,
# `rnn_tanh`, `rnn_relu`): one call runs every time step in C++ (cuDNN on a GPU). kfit's
# recurrent layers keep Keras's weights and hand them over transposed. The public route is
# `torch.func.functional_call` on a weightless `nn.LSTM` (built on the meta device), which swaps
# the weights in and out of the module: about 60 us a call against the kernel alone (a
# B=8, T=5 LSTM forward: 140 us against 75 us); at B=64, T=50 both are lost in the 9 ms
# forward and backward.
# --------------------------------------------------------------------------------------

# kfit passes each layer's weights as separate tensors, so cuDNN copies them into one buffer at
# every call (a few kB for typical layers). torch would warn about that once a process; here it
# is by design, so that one message is filtered.
import warnings as _warnings  # noqa: E402

_warnings.filterwarnings(
    "ignore", message=".*RNN module weights are not part of single contiguous chunk", category=UserWarning
)

_FUSED_RNN_MODES = ("lstm", "gru", "rnn_tanh", "rnn_relu")
_vf = getattr(torch, "_VF", None)
_fused_rnn_natives: dict[str, Any] = {mode: getattr(_vf, mode, None) for mode in _FUSED_RNN_MODES}


def _fused_rnn_private(natives: dict[str, Callable[..., Any]]) -> Callable[..., Any]:
    def fused_rnn(
        mode: str,
        inputs: torch.Tensor,
        states: tuple[torch.Tensor, ...],
        weights: list[torch.Tensor],
        has_biases: bool,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        hx: Any = states if mode == "lstm" else states[0]
        output, *final = natives[mode](inputs, hx, weights, has_biases, 1, 0.0, True, False, True)
        return output, tuple(final)

    return fused_rnn


# (mode, input_size, hidden_size, has_biases) -> a torch module whose weights live on `meta`
_fused_rnn_templates: dict[tuple[str, int, int, bool], torch.nn.RNNBase] = {}


def _fused_rnn_template(mode: str, input_size: int, hidden_size: int, has_biases: bool) -> torch.nn.RNNBase:
    key = (mode, input_size, hidden_size, has_biases)
    module = _fused_rnn_templates.get(key)
    if module is None:
        kwargs: dict[str, Any] = {"bias": has_biases, "batch_first": True, "device": "meta"}
        if mode == "lstm":
            module = torch.nn.LSTM(input_size, hidden_size, **kwargs)
        elif mode == "gru":
            module = torch.nn.GRU(input_size, hidden_size, **kwargs)
        else:
            module = torch.nn.RNN(input_size, hidden_size, nonlinearity=mode[4:], **kwargs)
        _fused_rnn_templates[key] = module
    return module


def _fused_rnn_public(
    mode: str,
    inputs: torch.Tensor,
    states: tuple[torch.Tensor, ...],
    weights: list[torch.Tensor],
    has_biases: bool,
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Runs one batch-first layer of torch's fused LSTM, GRU or Elman RNN with the given weights.

    Args:
        mode: `"lstm"`, `"gru"`, `"rnn_tanh"` or `"rnn_relu"`.
        inputs: `(batch, time, features)`.
        states: The initial states, each `(1, batch, units)`: `(h, c)` for an LSTM, `(h,)`
            otherwise.
        weights: torch's layout: `weight_ih (gates*units, features)`,
            `weight_hh (gates*units, units)`, then `bias_ih` and `bias_hh` when `has_biases`.
        has_biases: Whether `weights` holds the two biases.

    Returns:
        The outputs `(batch, time, units)` and the final states, each `(1, batch, units)`.

    Example:
        >>> w_ih, w_hh = torch.eye(4, 2), torch.zeros(4, 1)
        >>> out, (h, c) = fused_rnn("lstm", torch.ones(1, 3, 2), (torch.zeros(1, 1, 1),) * 2,
        ...                         [w_ih, w_hh], False)
        >>> out.shape, h.shape
        (torch.Size([1, 3, 1]), torch.Size([1, 1, 1]))
    """
    from torch.func import functional_call

    units = weights[1].shape[1]
    module = _fused_rnn_template(mode, weights[0].shape[1], units, has_biases)
    names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"][: len(weights)]
    hx: Any = states if mode == "lstm" else states[0]
    output, final = functional_call(module, dict(zip(names, weights)), (inputs, hx))
    return output, tuple(final) if mode == "lstm" else (final,)


fused_rnn: Callable[..., tuple[torch.Tensor, tuple[torch.Tensor, ...]]]

_fused_rnn_native = (
    _fused_rnn_private(_fused_rnn_natives) if all(_fused_rnn_natives.values()) else None
)
if _fused_rnn_native is not None:
    _fused_rnn_native.__doc__ = _fused_rnn_public.__doc__
_BRANCHES["fused_rnn"] = (_fused_rnn_native, _fused_rnn_public)
__all__ += ["fused_rnn"]
_select(_private_enabled)
