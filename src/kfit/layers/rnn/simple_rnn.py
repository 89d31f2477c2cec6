"""`SimpleRNNCell` and `SimpleRNN`: the fully connected (Elman) recurrent layer, as in Keras.

`h' = activation(x @ kernel + bias + h @ recurrent_kernel)`. With tanh or relu that is torch's
`nn.RNN` with `weight_ih = kernel.T`, `weight_hh = recurrent_kernel.T` and a zero second bias,
so `SimpleRNN` runs through torch's fused kernel.
"""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.rnn.recurrent_cell import RELU, TANH, RecurrentCell, is_one_of
from kfit.layers.rnn.rnn import BuiltinCellRNN
from kfit.saving.object_registration import register_keras_serializable

__all__ = ["SimpleRNN", "SimpleRNNCell"]


@register_keras_serializable(package="keras")
class SimpleRNNCell(RecurrentCell):
    """One step of a fully connected RNN, for `RNN` (the `SimpleRNN` layer builds its own).

    Args:
        units: Size of the state and output.
        activation: Default tanh; None is linear.
        use_bias: Whether to add a bias.
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
        seed: Seed of the dropout masks.
        **kwargs: `name`, `dtype`, `trainable`.

    Example:
        >>> cell = SimpleRNNCell(2, kernel_initializer="ones", recurrent_initializer="zeros")
        >>> cell.build((None, 3))
        >>> h, _ = cell(torch.ones(1, 3), [torch.zeros(1, 2)])
        >>> [round(v, 4) for v in h.flatten().tolist()]
        [0.9951, 0.9951]
    """

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

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self._build_kernels(input_shape)
        self._add_bias((self.units,), self.bias_initializer)

    def call(
        self, inputs: torch.Tensor, states: Any, training: bool = False
    ) -> tuple[torch.Tensor, Any]:
        nested = isinstance(states, (list, tuple))
        h = states[0] if nested else states
        x, h_in = self._dropped(inputs, h, training)
        out = x @ self.kernel
        if self.bias is not None:
            out = out + self.bias
        out = self.activation(out + h_in @ self.recurrent_kernel)
        return out, [out] if nested else out

    def fused_rnn_args(self, training: bool) -> tuple[str, list[torch.Tensor], bool] | None:
        """torch's Elman RNN weights when the activation is tanh or relu and there is no
        recurrent dropout while training, else None."""
        if type(self).call is not SimpleRNNCell.call or self._recurrent_dropout_active(training):
            return None
        if is_one_of(self.activation, TANH):
            mode = "rnn_tanh"
        elif is_one_of(self.activation, RELU):
            mode = "rnn_relu"
        else:
            return None
        weights = [self.kernel.t(), self.recurrent_kernel.t()]
        if self.bias is not None:
            weights += [self.bias, torch.zeros_like(self.bias)]
        return mode, weights, self.bias is not None


@register_keras_serializable(package="keras")
class SimpleRNN(BuiltinCellRNN):
    """Fully connected RNN layer whose output is fed back as the next step's state, as Keras's
    `SimpleRNN`.

    It holds a `SimpleRNNCell` named `simple_rnn_cell` as its `cell`: weights
    `simple_rnn/simple_rnn_cell/kernel (input_dim, units)`, `.../recurrent_kernel (units, units)`
    and `.../bias (units,)`.

    Args:
        units: Size of the output and state.
        activation: Default tanh; None is linear.
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
        dropout: Fraction of the inputs dropped while training.
        recurrent_dropout: Fraction of the state dropped while training (runs step by step).
        return_sequences: Return every step's output.
        return_state: Also return the final state.
        go_backwards: Read the sequence backwards (outputs in that order).
        stateful: Carry the final state into the next batch.
        unroll: Accepted as in Keras (runs step by step).
        seed: Seed of the dropout masks.
        **kwargs: `name`, `dtype`, `trainable`, `input_shape`, `zero_output_for_mask`.

    Example:
        >>> layer = SimpleRNN(4, name="simple_rnn")
        >>> layer(torch.ones(2, 5, 3)).shape
        torch.Size([2, 4])
        >>> [w.path for w in layer.weights][0]
        'simple_rnn/simple_rnn_cell/kernel'
    """

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
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        cell = SimpleRNNCell(
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
            **self.cell_options("simple_rnn_cell", kwargs),
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

    def get_config(self) -> dict[str, Any]:
        # Keras's SimpleRNN config leaves the seed out (its cell's config has it).
        config = super().get_config()
        config.pop("seed", None)
        return config
