"""`RecurrentCell`: what SimpleRNNCell, LSTMCell and GRUCell share.

A cell computes one time step: `call(inputs, states, training)` returns `(output, new_states)`.
The three built-in cells hold Keras's weights, `kernel (input_dim, gates*units)`,
`recurrent_kernel (units, gates*units)` and `bias`, with the same arguments (initializers,
regularizers, constraints, dropout rates, seed), so this base class holds those arguments, their
config entries and the initial state. It also answers, through `fused_rnn_args`, whether torch's
fused kernel (`kfit.backend.torch_compat.fused_rnn`) computes exactly what the cell computes,
and with which weights, so that an RNN layer can run a whole sequence in one call.

`CellAttribute` lets a layer (LSTM, GRU, SimpleRNN) read its cell's arguments as its own, as
Keras's layers do (`LSTM(4).units`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from kfit import activations, constraints, initializers, regularizers
from kfit.layers.layer import Layer
from kfit.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from kfit.saving.serialization_lib import serialize_keras_object
from kfit.utils.errors import received

__all__ = ["RELU", "SIGMOID", "TANH", "CellAttribute", "RecurrentCell", "is_one_of"]

# The activations torch's fused kernels apply, by their role in the cell.
TANH: tuple[Callable[..., Any], ...] = (activations.tanh, torch.tanh)
SIGMOID: tuple[Callable[..., Any], ...] = (activations.sigmoid, torch.sigmoid)
RELU: tuple[Callable[..., Any], ...] = (activations.relu, torch.relu)


def is_one_of(fn: Any, group: tuple[Callable[..., Any], ...]) -> bool:
    """Whether `fn` is one of the functions in `group` (by identity: any callable is allowed)."""
    return any(fn is member for member in group)


class CellAttribute:
    """A layer attribute read from the layer's `cell` (`LSTM.units` is `LSTM.cell.units`).

    Example:
        >>> class Outer:
        ...     units = CellAttribute()
        ...     def __init__(self, cell):
        ...         self.cell = cell
        >>> class Inner:
        ...     units = 4
        >>> Outer(Inner()).units
        4
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return getattr(obj.cell, self.name)


def _rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            f"Expected `{name}` to be a float between 0 and 1. {received(name, value)} "
            f"Pass the fraction of units to drop, e.g. {name}=0.2."
        )
    # Keras clips the rate to [0, 1] (and a rate of 1 drops nothing: the mask is never applied).
    return min(1.0, max(0.0, float(value)))


class RecurrentCell(Layer, DropoutRNNCell):
    """Base class of the built-in cells: arguments, weights config, state and dropout masks.

    Subclasses set `gates` (the number of `units`-wide blocks in the kernel), build their
    weights and define `call(inputs, states, training=False)`.

    Args:
        units: Size of the state (and output), a positive integer.
        activation: Activation of the candidate state (and output).
        use_bias: Whether the cell has a bias.
        kernel_initializer: Initializer of `kernel`, applied to the inputs.
        recurrent_initializer: Initializer of `recurrent_kernel`, applied to the state.
        bias_initializer: Initializer of `bias`.
        kernel_regularizer: Penalty on `kernel`.
        recurrent_regularizer: Penalty on `recurrent_kernel`.
        bias_regularizer: Penalty on `bias`.
        kernel_constraint: Constraint on `kernel`, applied after each update.
        recurrent_constraint: Constraint on `recurrent_kernel`.
        bias_constraint: Constraint on `bias`.
        dropout: Fraction of input units dropped while training (one mask per sequence).
        recurrent_dropout: Fraction of state units dropped while training.
        seed: Seed of the dropout masks.
        **kwargs: `name`, `dtype`, `trainable`.

    Example:
        >>> from kfit.layers.rnn.simple_rnn import SimpleRNNCell
        >>> cell = SimpleRNNCell(3)
        >>> cell.state_size, [s.shape for s in cell.get_initial_state(batch_size=2)]
        (3, [torch.Size([2, 3])])
    """

    gates = 1

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(
                f"Expected `units` to be a positive integer. {received('units', units)} "
                f"Pass the size of the state, e.g. {type(self).__name__}(32)."
            )
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = _rate("dropout", dropout)
        self.recurrent_dropout = _rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        # With recurrent dropout each gate gets its own masks (Keras's implementation 1).
        self.dropout_mask_count = self.gates if self.recurrent_dropout > 0 and self.gates > 1 else None
        self.state_size: int | list[int] = units
        self.output_size = units

    def _build_kernels(self, input_shape: tuple[int | None, ...]) -> None:
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"Expected the last dimension of the inputs of {type(self).__name__} to be "
                f"known. {received('input_shape', input_shape)} Give the input layer a "
                "feature size, e.g. Input((None, 8))."
            )
        width = self.gates * self.units
        self.kernel = self.add_weight(
            shape=(int(input_dim), width),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
            name="recurrent_kernel",
        )

    def _add_bias(self, shape: tuple[int, ...], initializer: Any) -> None:
        self.bias = (
            self.add_weight(
                shape=shape,
                initializer=initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )
            if self.use_bias
            else None
        )

    def _dropped(self, inputs: torch.Tensor, state: torch.Tensor, training: bool) -> tuple[Any, Any]:
        """The inputs and the state, each times its dropout mask (a list of per-gate copies when
        the cell draws one mask per gate), or unchanged outside training."""
        x: Any = inputs
        h: Any = state
        if training and 0.0 < self.dropout < 1.0:
            x = _apply(inputs, self.get_dropout_mask(inputs))
        if training and 0.0 < self.recurrent_dropout < 1.0:
            h = _apply(state, self.get_recurrent_dropout_mask(state))
        return x, h

    def _gate_blocks(self, x: Any, weight: torch.Tensor) -> torch.Tensor:
        """`x @ weight`, where `x` may hold one (dropped) copy per gate block of `weight`."""
        if not isinstance(x, list):
            return x @ weight
        blocks = weight.split(self.units, dim=1)
        return torch.cat([xi @ w for xi, w in zip(x, blocks)], dim=1)

    def get_initial_state(self, batch_size: int | None = None) -> list[torch.Tensor]:
        """Zero states, one `(batch_size, size)` tensor per entry of `state_size`."""
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        like = getattr(self, "kernel", None)
        dtype = like.dtype if like is not None else torch.get_default_dtype()
        device = like.device if like is not None else None
        return [torch.zeros((batch_size or 1, size), dtype=dtype, device=device) for size in sizes]

    def fused_rnn_args(self, training: bool) -> tuple[str, list[torch.Tensor], bool] | None:
        """`(mode, weights, has_biases)` for `torch_compat.fused_rnn` when torch's kernel
        computes this cell exactly, else None. The default: never."""
        return None

    def _recurrent_dropout_active(self, training: bool) -> bool:
        return training and 0.0 < self.recurrent_dropout < 1.0

    def get_config(self) -> dict[str, Any]:
        return self._cell_config()

    def _cell_config(
        self,
        after_activation: dict[str, Any] | None = None,
        after_use_bias: dict[str, Any] | None = None,
        after_dropout: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The shared arguments in Keras's config order, with a cell's own options inserted
        where Keras puts them (e.g. GRU's `reset_after` after the dropout rates)."""
        config = super().get_config()
        config.update(units=self.units, activation=activations.serialize(self.activation))
        config.update(after_activation or {})
        config["use_bias"] = self.use_bias
        config.update(after_use_bias or {})
        config.update(self._weights_config())
        config.update(dropout=self.dropout, recurrent_dropout=self.recurrent_dropout)
        config.update(after_dropout or {})
        config["seed"] = self.seed
        return config

    def _weights_config(self) -> dict[str, Any]:
        return {
            "kernel_initializer": _initializer_config(self.kernel_initializer),
            "recurrent_initializer": _initializer_config(self.recurrent_initializer),
            "bias_initializer": _initializer_config(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


def _initializer_config(initializer: Any) -> Any:
    # None stays None, and a plain function is saved by name, as Keras saves them.
    if initializer is None or isinstance(initializer, initializers.Initializer):
        return None if initializer is None else initializers.serialize(initializer)
    return serialize_keras_object(initializer)


def _apply(value: torch.Tensor, mask: torch.Tensor | list[torch.Tensor] | None) -> Any:
    if isinstance(mask, list):
        return [value * m for m in mask]
    return value if mask is None else value * mask
