"""How a `kfit.ops` function joins a functional graph when it is called on symbolic inputs.

`keras.ops.mean(inputs)` on a `keras.Input` records a `Mean` step instead of computing; so do
kfit's ops, through `keras_op`: when an argument is a `KerasTensor`, the call goes to
`kfit.layers.symbolic.op_call`, which infers the output's shape by running the op on stand-in
tensors and records the op under Keras's class name, so a saved model names it as Keras does.
The check costs a few attribute lookups per call: no `KerasTensor` can exist before
`kfit.layers.symbolic` is imported, so until then nothing is inspected.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = ["keras_op"]

_F = TypeVar("_F", bound=Callable[..., Any])
_SYMBOLIC_MODULE = "kfit.layers.symbolic"


def _has_keras_tensor(values: Any, keras_tensor: type) -> bool:
    # Op arguments nest at most one level (`concatenate([x, y])`, `einsum("...", x, y)`).
    for value in values:
        if isinstance(value, keras_tensor):
            return True
        if isinstance(value, (list, tuple)) and any(isinstance(item, keras_tensor) for item in value):
            return True
    return False


def keras_op(fn: _F) -> _F:
    """Makes `fn` record itself in the functional graph when called on a `KerasTensor`.

    Example:
        >>> import torch
        >>> @keras_op
        ... def double(x):
        ...     return x * 2
        >>> double(torch.ones(2))
        tensor([2., 2.])
    """

    @functools.wraps(fn)
    def op(*args: Any, **kwargs: Any) -> Any:
        symbolic = sys.modules.get(_SYMBOLIC_MODULE)
        if symbolic is not None:
            keras_tensor = symbolic.KerasTensor
            if _has_keras_tensor(args, keras_tensor) or (kwargs and _has_keras_tensor(kwargs.values(), keras_tensor)):
                return symbolic.op_call(op, args, kwargs)
        return fn(*args, **kwargs)

    return cast(_F, op)
