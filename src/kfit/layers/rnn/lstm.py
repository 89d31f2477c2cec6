"""`LSTMCell` and `LSTM`: long short-term memory with Keras's weights, gate order and defaults.

The gates are stacked along the last axis of `kernel (input_dim, 4*units)`,
`recurrent_kernel (units, 4*units)` and `bias (4*units,)` in the order input, forget, cell,
output (i, f, c, o), which is also torch's order (i, f, g, o). So `torch.nn.LSTM`'s
`weight_ih` is `kernel.T`, `weight_hh` is `recurrent_kernel.T`, and Keras's single bias is
torch's `bias_ih` with a zero `bias_hh`: `LSTM` runs whole sequences through torch's fused
kernel with the Keras weights (see `kfit.layers.rnn.rnn`).
"""

from __future__ import annotations

from typing import Any

import torch

from kfit import activations, initializers
from kfit.layers.rnn.recurrent_cell import (
    SIGMOID,
    TANH,
    CellAttribute,
    RecurrentCell,
    is_one_of,
)
from kfit.layers.rnn.rnn import BuiltinCellRNN, check_use_cudnn
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["LSTM", "LSTMCell"]


@register_keras_serializable(package="keras")
class LSTMCell(RecurrentCell):
    """One step of an LSTM, for `RNN` (the `LSTM` layer builds its own).

    With `z = x @ kernel + h @ recurrent_kernel + bias` split into `i, f, c~, o`:
    `c' = σ(f) * c + σ(i) * tanh(c~)` and `h' = σ(o) * tanh(c')` (σ is
    `recurrent_activation`, tanh is `activation`). The states are `[h, c]`; the output is `h`.

    Args:
        units: Size of the state and output.
        activation: Applied to the candidate and to the cell state. Default tanh.
        recurrent_activation: Applied to the gates. Default sigmoid.
        use_bias: Whether to add a bias.
        kernel_initializer: Default glorot-uniform.
        recurrent_initializer: Default orthogonal.
        bias_initializer: Default zeros.
        unit_forget_bias: Start the forget gate's bias at 1 (the other gates' at
            `bias_initializer`). Default True.
        kernel_regularizer: Penalty on `kernel`.
        recurrent_regularizer: Penalty on `recurrent_kernel`.
        bias_regularizer: Penalty on `bias`.
        kernel_constraint: Constraint on `kernel`.
        recurrent_constraint: Constraint on `recurrent_kernel`.
        bias_constraint: Constraint on `bias`.
        dropout: Fraction of the inputs dropped while training.
        recurrent_dropout: Fraction of the state dropped while training.
        seed: Seed of the dropout masks.
        **kwargs: `name`, `dtype`, `trainable`; Keras's `implementation` is accepted and
            ignored (both of its values compute the same).

    Example:
        >>> cell = LSTMCell(2)
        >>> cell.build((None, 3))
        >>> [tuple(w.shape) for w in cell.weights], cell.bias.tolist()
        ([(3, 8), (2, 8), (8,)], [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
        >>> h, (h_again, c) = cell(torch.ones(1, 3), [torch.zeros(1, 2), torch.zeros(1, 2)])
        >>> h.shape, c.shape
        (torch.Size([1, 2]), torch.Size([1, 2]))
    """

    gates = 4

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        unit_forget_bias: bool = True,
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
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [units, units]

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self._build_kernels(input_shape)
        initializer = self.bias_initializer
        if self.unit_forget_bias:
            base = initializers.get(initializer) or initializers.Zeros()
            units = self.units

            def forget_gate_ones(
                shape: Any, dtype: Any = None, device: Any = None
            ) -> torch.Tensor:
                ones = initializers.Ones()((units,), dtype=dtype)
                return torch.cat([base((units,), dtype=dtype), ones, base((2 * units,), dtype=dtype)])

            initializer = forget_gate_ones
        self._add_bias((4 * self.units,), initializer)

    def call(
        self, inputs: torch.Tensor, states: list[torch.Tensor], training: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h, c = states[0], states[1]
        x, h_in = self._dropped(inputs, h, training)
        z = self._gate_blocks(x, self.kernel) + self._gate_blocks(h_in, self.recurrent_kernel)
        if self.bias is not None:
            z = z + self.bias
        i, f, g, o = z.chunk(4, dim=-1)
        gate = self.recurrent_activation
        c = gate(f) * c + gate(i) * self.activation(g)
        h = gate(o) * self.activation(c)
        return h, [h, c]

    def fused_rnn_args(self, training: bool) -> tuple[str, list[torch.Tensor], bool] | None:
        """torch's LSTM weights (`kernel.T`, `recurrent_kernel.T`, `bias` and a zero second
        bias) when the cell is the standard one (tanh, sigmoid, no recurrent dropout while
        training), else None."""
        if (
            type(self).call is not LSTMCell.call
            or not is_one_of(self.activation, TANH)
            or not is_one_of(self.recurrent_activation, SIGMOID)
            or self._recurrent_dropout_active(training)
        ):
            return None
        weights = [self.kernel.t(), self.recurrent_kernel.t()]
        if self.bias is not None:
            weights += [self.bias, torch.zeros_like(self.bias)]
        return "lstm", weights, self.bias is not None

    def get_config(self) -> dict[str, Any]:
        return self._cell_config(
            after_activation={"recurrent_activation": activations.serialize(self.recurrent_activation)},
            after_use_bias={"unit_forget_bias": self.unit_forget_bias},
        )


@register_keras_serializable(package="keras")
class LSTM(BuiltinCellRNN):
    """Long short-term memory layer (Hochreiter & Schmidhuber, 1997), as Keras's `LSTM`.

    It holds an `LSTMCell` named `lstm_cell` as its `cell`, so its weights are
    `lstm/lstm_cell/kernel (input_dim, 4*units)`, `.../recurrent_kernel (units, 4*units)` and
    `.../bias (4*units,)`, exchanged with Keras unchanged through `get_weights`/`set_weights`.
    With the default activations it runs through torch's fused LSTM kernel, masks included.

    Args:
        units: Size of the output and states.
        activation: Default tanh.
        recurrent_activation: Default sigmoid.
        use_bias: Default True.
        kernel_initializer: Default glorot-uniform.
        recurrent_initializer: Default orthogonal.
        bias_initializer: Default zeros.
        unit_forget_bias: Start the forget gate's bias at 1. Default True.
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
        return_sequences: Return every step's output `(batch, time, units)`.
        return_state: Also return the final `h` and `c`: `[output, h, c]`.
        go_backwards: Read the sequence backwards (outputs in that order).
        stateful: Carry the final states into the next batch.
        unroll: Accepted as in Keras (runs step by step).
        use_cudnn: `"auto"` or True use torch's fused kernel when the configuration allows;
            False always runs step by step.
        **kwargs: `name`, `dtype`, `trainable`, `input_shape`, `zero_output_for_mask`.

    Example:
        >>> layer = LSTM(4, return_state=True, name="lstm")
        >>> output, h, c = layer(torch.ones(2, 5, 3))
        >>> output.shape, bool((output == h).all())
        (torch.Size([2, 4]), True)
        >>> [w.path for w in layer.weights]
        ['lstm/lstm_cell/kernel', 'lstm/lstm_cell/recurrent_kernel', 'lstm/lstm_cell/bias']
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
        unit_forget_bias: bool = True,
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
        use_cudnn: bool | str = "auto",
        **kwargs: Any,
    ) -> None:
        check_use_cudnn(use_cudnn)
        cell = LSTMCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            implementation=kwargs.pop("implementation", 2),
            **self.cell_options("lstm_cell", kwargs),
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
    unit_forget_bias = CellAttribute()
