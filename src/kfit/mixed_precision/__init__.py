"""Mixed precision, as Keras's `keras.mixed_precision`: float32 weights, half-precision compute.

`set_global_policy("mixed_bfloat16")` (or `"mixed_float16"`) makes the layers created afterwards
keep float32 weights and run their `call` in the half-precision type under `torch.autocast`;
a layer's `dtype=` argument takes a policy or its name, e.g. a float32 final `Activation`.
Under `"mixed_float16"`, `compile()` wraps the optimizer in a `LossScaleOptimizer`.

Example:
    >>> from kfit import mixed_precision
    >>> mixed_precision.set_global_policy("mixed_bfloat16")
    >>> policy = mixed_precision.global_policy()
    >>> policy.compute_dtype, policy.variable_dtype
    ('bfloat16', 'float32')
    >>> mixed_precision.set_global_policy("float32")
"""

from kfit.mixed_precision.policy import DTypePolicy, dtype_policy, set_dtype_policy
from kfit.optimizers.loss_scale_optimizer import LossScaleOptimizer

Policy = DTypePolicy
global_policy = dtype_policy
set_global_policy = set_dtype_policy

__all__ = [
    "DTypePolicy",
    "LossScaleOptimizer",
    "Policy",
    "dtype_policy",
    "global_policy",
    "set_dtype_policy",
    "set_global_policy",
]
