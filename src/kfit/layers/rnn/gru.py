"""`GRUCell` and `GRU`: gated recurrent units with Keras's weights, gate order and defaults.

The gates are stacked along the last axis in the order update, reset, candidate (z, r, h):
`kernel (input_dim, 3*units)`, `recurrent_kernel (units, 3*units)`. With `reset_after=True`
(the default) the bias is `(2, 3*units)`: row 0 is added to the input projection, row 1 to the
state projection, and the reset gate multiplies the state's projection:
`h~ = tanh(x_h + r * (h @ R_h + b1_h))`, `h' = z * h + (1 - z) * h~`. That is torch's GRU
formula with the gate blocks in the order r, z, n, so `GRU` runs through torch's fused kernel
with the blocks reordered (a copy of the small weights at each call). With `reset_after=False`
the bias is `(3*units,)` and `h~ = tanh(x_h + (r * h) @ R_h)`, which torch has no kernel for.
"""

from __future__ import annotations

from typing import Any

import torch

from kfit import activations
from kfit.layers.rnn.recurrent_cell import (
    SIGMOID,
    TANH,
    CellAttribute,
    RecurrentCell,
    is_one_of,
)
from kfit.layers.rnn.rnn import BuiltinCellRNN, check_use_cudnn
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["GRU", "GRUCell"]


@register_keras_serializable(package="keras")
class GRUCell(RecurrentCell):
    """One step of a GRU, for `RNN` (the `GRU` layer builds its own).

    `z = σ(x_z + h_z)`, `r = σ(x_r + h_r)`, the candidate `h~` as in the module docstring,
    then `h' = z * h + (1 - z) * h~` (the update gate weighs the *old* state). One state, `h`,
    which is also the output.

    Args:
        units: Size of the state and output.
        activation: Applied to the candidate. Default tanh.
        recurrent_activation: Applied to the gates. Default sigmoid.
        use_bias: Whether to add biases.
        kernel_initializer: Default glorot-uniform.
        recurrent_initializer: Default orthogonal.
        bias_initializer: Default zeros.
        kernel_regularizer: Penalty on `kernel`.
        recurrent_regularizer: Penalty on `recurrent_kernel`.
        bias_regularizer: Penalty on `bias`.
        kernel_constraint: Constraint on `kernel`.
        recurrent_constraint: Constraint on `recurrent_kernel`.
        bias_constraint: Constraint on `bias`.
        dropout: Fraction of the inputs dropped while training.
        recurrent_dropout: Fraction of the state dropped while training.
        reset_after: Apply the reset gate after the state's projection (True, the default,
            with separate input and state biases) or before it (False).
        seed: Seed of the dropout masks.
        **kwargs: `name`, `dtype`, `trainable`; Keras's `implementation` is accepted and
            ignored.

    Example:
        >>> cell = GRUCell(2)
        >>> cell.build((None, 3))
        >>> [tuple(w.shape) for w in cell.weights]
        [(3, 6), (2, 6), (2, 6)]
        >>> h, (same,) = cell(torch.ones(1, 3), [torch.zeros(1, 2)])
        >>> h.shape, same is h
        (torch.Size([1, 2]), True)
    """

    gates = 3

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
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
        reset_after: bool = True,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("implementation", None)
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self._build_kernels(input_shape)
        shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        self._add_bias(shape, self.bias_initializer)

    def call(
        self, inputs: torch.Tensor, states: Any, training: bool = False
    ) -> tuple[torch.Tensor, Any]:
        nested = isinstance(states, (list, tuple))
        h = states[0] if nested else states
        x, h_in = self._dropped(inputs, h, training)
        units = self.units
        bias = self.bias
        x_all = self._gate_blocks(x, self.kernel)
        if bias is not None:
            x_all = x_all + (bias[0] if self.reset_after else bias)
        x_z, x_r, x_h = x_all.split(units, dim=-1)
        h_parts = h_in if isinstance(h_in, list) else [h_in] * 3
        gate = self.recurrent_activation
        if self.reset_after:
            h_all = self._gate_blocks(h_in, self.recurrent_kernel)
            if bias is not None:
                h_all = h_all + bias[1]
            h_z, h_r, h_h = h_all.split(units, dim=-1)
            z = gate(x_z + h_z)
            r = gate(x_r + h_r)
            candidate = self.activation(x_h + r * h_h)
        else:
            r_zr, r_h = self.recurrent_kernel[:, : 2 * units], self.recurrent_kernel[:, 2 * units :]
            h_zr = self._gate_blocks(h_parts[:2] if isinstance(h_in, list) else h_in, r_zr)
            h_z, h_r = h_zr.split(units, dim=-1)
            z = gate(x_z + h_z)
            r = gate(x_r + h_r)
            candidate = self.activation(x_h + (r * h_parts[2]) @ r_h)
        h = z * h + (1 - z) * candidate
        return h, [h] if nested else h

    def fused_rnn_args(self, training: bool) -> tuple[str, list[torch.Tensor], bool] | None:
        """torch's GRU weights (gate blocks reordered z,r,h -> r,z,n and transposed) when the
        cell is the standard one (tanh, sigmoid, `reset_after=True`, no recurrent dropout while
        training), else None."""
        if (
            type(self).call is not GRUCell.call
            or not self.reset_after
            or not is_one_of(self.activation, TANH)
            or not is_one_of(self.recurrent_activation, SIGMOID)
            or self._recurrent_dropout_active(training)
        ):
            return None
        units = self.units

        def reset_first(w: torch.Tensor) -> torch.Tensor:
            z, r, h = w.split(units, dim=-1)
            return torch.cat([r, z, h], dim=-1)

        weights = [reset_first(self.kernel).t(), reset_first(self.recurrent_kernel).t()]
        if self.bias is not None:
            bias = reset_first(self.bias)
            weights += [bias[0], bias[1]]
        return "gru", weights, self.bias is not None

    def get_config(self) -> dict[str, Any]:
        return self._cell_config(
            after_activation={"recurrent_activation": activations.serialize(self.recurrent_activation)},
            after_dropout={"reset_after": self.reset_after},
        )


@register_keras_serializable(package="keras")
class GRU(BuiltinCellRNN):
    """Gated recurrent unit layer (Cho et al., 2014), as Keras's `GRU`.

    It holds a `GRUCell` named `gru_cell` as its `cell`: weights
    `gru/gru_cell/kernel (input_dim, 3*units)`, `.../recurrent_kernel (units, 3*units)` and
    `.../bias (2, 3*units)` (`(3*units,)` with `reset_after=False`). With the default
    activations and `reset_after=True` it runs through torch's fused GRU kernel, masks included.

    Args:
        units: Size of the output and state.
        activation: Default tanh.
        recurrent_activation: Default sigmoid.
        use_bias: Default True.
        kernel_initializer: Default glorot-uniform.
        recurrent_initializer: Default orthogonal.
        bias_initializer: Default zeros.
        kernel_regularizer: Penalty on the kernel.
        recurrent_regularizer: Penalty on the recurrent kernel.
        bias_regularizer: Penalty on the bias.
        activity_regularizer: Penalty on the output.
        kernel_constraint: Constraint on the kernel.
        recurrent_constraint: Constraint on the recurrent kernel.
        bias_constraint: Constraint on the bias.
        dropout: Fraction of the inputs dropped while training (same units at every step).
        recurrent_dropout: Fraction of the state dropped while training (runs step by step).
        seed: Seed of the dropout masks.
        return_sequences: Return every step's output.
        return_state: Also return the final state: `[output, h]`.
        go_backwards: Read the sequence backwards (outputs in that order).
        stateful: Carry the final state into the next batch.
        unroll: Accepted as in Keras (runs step by step).
        reset_after: See `GRUCell`. Default True.
        use_cudnn: `"auto"` or True use torch's fused kernel when the configuration allows;
            False always runs step by step.
        **kwargs: `name`, `dtype`, `trainable`, `input_shape`, `zero_output_for_mask`.

    Example:
        >>> layer = GRU(4, return_sequences=True)
        >>> layer(torch.ones(2, 5, 3)).shape
        torch.Size([2, 5, 4])
        >>> [tuple(w.shape) for w in layer.weights]
        [(3, 12), (4, 12), (2, 12)]
    """

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        reset_after: bool = True,
        use_cudnn: bool | str = "auto",
        **kwargs: Any,
    ) -> None:
        check_use_cudnn(use_cudnn)
        cell = GRUCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            reset_after=reset_after,
            seed=seed,
            implementation=kwargs.pop("implementation", 2),
            **self.cell_options("gru_cell", kwargs),
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self._set_use_cudnn(use_cudnn)

    recurrent_activation = CellAttribute()
    reset_after = CellAttribute()
