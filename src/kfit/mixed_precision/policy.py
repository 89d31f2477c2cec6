"""`DTypePolicy`: the pair of dtypes a layer computes in and stores its weights in.

Under `"mixed_float16"` or `"mixed_bfloat16"` a layer keeps float32 weights and computes in
the half-precision type: `Layer` casts its floating inputs to the compute dtype and runs `call`
under `torch.autocast` (see `kfit.layers.layer`). The global policy is what layers created
later take when their `dtype` argument is None.
"""

from __future__ import annotations

from typing import Any

import torch

from kfit.backend.config import floatx
from kfit.backend.dtypes import standardize_dtype, to_torch_dtype
from kfit.saving.object_registration import register_keras_serializable
from kfit.utils.errors import received

__all__ = ["DTypePolicy", "dtype_policy", "get", "layer_policy", "reset_dtype_policy", "set_dtype_policy"]

_MIXED = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}


@register_keras_serializable(package="keras")
class DTypePolicy:
    """A layer's compute dtype and variable dtype, named as Keras names them.

    Args:
        name: `"mixed_float16"` or `"mixed_bfloat16"` (compute in half precision, keep float32
            weights), or a dtype name such as `"float32"` (both dtypes the same). None takes
            the global policy's name.

    Example:
        >>> policy = DTypePolicy("mixed_bfloat16")
        >>> policy.compute_dtype, policy.variable_dtype, policy
        ('bfloat16', 'float32', <DTypePolicy "mixed_bfloat16">)
    """

    def __init__(self, name: str | None = None) -> None:
        if name is None:
            name = dtype_policy().name
        if not isinstance(name, str):
            raise TypeError(
                "Expected `name` to be a string such as 'mixed_float16' or 'float32'. "
                f"{received('name', name)} Pass the policy's name."
            )
        if name in _MIXED:
            compute, variable = _MIXED[name], "float32"
        else:
            try:
                compute = variable = standardize_dtype(name)
                to_torch_dtype(compute)
            except (TypeError, ValueError, KeyError, AttributeError):
                raise ValueError(
                    "Expected a policy name: 'mixed_float16', 'mixed_bfloat16' or a dtype name such "
                    f"as 'float32'. {received('name', name)} Check the spelling."
                ) from None
        self._name = name
        self._compute_dtype = compute
        self._variable_dtype = variable

    @property
    def name(self) -> str:
        """The policy's name, e.g. `"mixed_float16"`."""
        return self._name

    @property
    def compute_dtype(self) -> str:
        """The dtype a layer's inputs are cast to and its computations run in."""
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype a layer creates its weights in."""
        return self._variable_dtype

    @property
    def quantization_mode(self) -> None:
        """Always None: kfit has no quantized policies."""
        return None

    @property
    def is_mixed(self) -> bool:
        """Whether the compute dtype differs from the variable dtype (`torch.autocast` is used)."""
        return self._compute_dtype != self._variable_dtype

    def get_config(self) -> dict[str, Any]:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DTypePolicy:
        return cls(**config)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self._name}">'

    def __eq__(self, other: object) -> bool:
        return type(other) is DTypePolicy and other._name == self._name

    def __hash__(self) -> int:
        return hash(self._name)


# None until `set_dtype_policy` is called: the default policy then follows `floatx()`.
_global_policy: DTypePolicy | None = None


def set_dtype_policy(policy: DTypePolicy | str) -> None:
    """Sets the policy that layers created from now on take when their `dtype` is None.

    Args:
        policy: A `DTypePolicy` or a policy name (`"mixed_float16"`, `"mixed_bfloat16"`,
            `"float32"`, ...).

    Example:
        >>> set_dtype_policy("mixed_bfloat16")
        >>> dtype_policy().compute_dtype
        'bfloat16'
        >>> set_dtype_policy("float32")
    """
    global _global_policy
    if isinstance(policy, str):
        policy = DTypePolicy(policy)
    if not isinstance(policy, DTypePolicy):
        raise ValueError(
            "Expected `policy` to be a DTypePolicy or a policy name such as 'mixed_float16'. "
            f"{received('policy', policy)} Pass e.g. `set_dtype_policy('mixed_bfloat16')`."
        )
    _global_policy = policy


def reset_dtype_policy() -> None:
    """Forgets the policy set, so the global policy follows `floatx()` again (`clear_session`).

    Example:
        >>> set_dtype_policy("mixed_bfloat16")
        >>> reset_dtype_policy()
        >>> dtype_policy()
        <DTypePolicy "float32">
    """
    global _global_policy
    _global_policy = None


def dtype_policy() -> DTypePolicy:
    """The global policy: the one last set, else the policy named by `floatx()`.

    Example:
        >>> dtype_policy()
        <DTypePolicy "float32">
    """
    if _global_policy is not None:
        return _global_policy
    return DTypePolicy(floatx())


def get(identifier: Any) -> DTypePolicy:
    """A policy from a name, a `DTypePolicy`, its serialized dict, a dtype, or None (the global policy).

    Example:
        >>> get("mixed_float16").compute_dtype, get(torch.float64).name
        ('float16', 'float64')
    """
    if identifier is None:
        return dtype_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return DTypePolicy(identifier.get("config", identifier).get("name"))
    if isinstance(identifier, torch.dtype):
        return DTypePolicy(standardize_dtype(identifier))
    return DTypePolicy(identifier)


def layer_policy(dtype: Any) -> DTypePolicy | None:
    """The policy a layer's `dtype` argument asks for, or None for a layer without one.

    A layer keeps a plain dtype as it always has; it holds a policy when given one (or a
    mixed policy's name), or when its `dtype` is None and the global policy is not the default
    one (`floatx()`'s).
    """
    if isinstance(dtype, DTypePolicy):
        return dtype
    if isinstance(dtype, str) and dtype in _MIXED:
        return DTypePolicy(dtype)
    if dtype is None and _global_policy is not None and _global_policy != DTypePolicy(floatx()):
        return _global_policy
    return None
