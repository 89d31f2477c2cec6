"""`RNN`: runs a cell over the time axis, with Keras's masking, state and direction options.

The cell computes one step, `cell.call(inputs, states, training) -> (output, new_states)`, and
declares `state_size` (an int, or a list with one entry per state) and optionally
`output_size` and `get_initial_state(batch_size)`. `RNN` owns everything about time:

- the initial states (zeros from the cell, `initial_state=` of the call, or the states kept
  from the previous batch when `stateful=True`, until `reset_state()`);
- the direction (`go_backwards=True` reads the steps last to first and returns the outputs in
  that order, as Keras does);
- masks: a masked step leaves the states unchanged and repeats the previous output (zeros
  before the first valid step; zeros at every masked step with `zero_output_for_mask=True`);
- what comes back: the last output, or every output (`return_sequences`), then the final
  states (`return_state`);
- dropout masks: a cell with dropout draws its masks on the first step and reuses them for the
  whole sequence; the layer clears them after the call.

Nested cells (see `kfit.layers.rnn.nested`): the inputs may be a list, tuple or dict of
`(batch, time, ...)` sequences, and `state_size`/`output_size` may hold several entries and
multi-dimensional shapes (`[(10,), (20, 30)]`). The cell is built with the input shapes minus
the time axis, gets each step as the same nesting, and the outputs, sequences and states come
back nested as the cell returns them; one mask applies to every leaf. Such calls always take the
step loop, through a separate function chosen once per call.

Two ways to run the steps:

- torch's fused kernel, one call for the whole sequence (the speed of `torch.nn.LSTM`), when
  the cell's `fused_rnn_args(training)` says it computes the same thing: the built-in cells
  with their default activations (GRU with `reset_after=True`), no recurrent dropout while
  training (input dropout is applied to the whole sequence first), and `unroll=False`. Masks
  are handled exactly, without a loop (see `kfit.layers.rnn.fused`).
- otherwise a Python loop over the time steps, calling the cell at each.
"""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.layer import Layer, accepts_training
from kfit.layers.rnn.fused import run_fused
from kfit.layers.rnn.nested import (
    first_mask,
    first_shape,
    has_shape_leaf,
    is_nested,
    is_nested_shape,
    pack,
    run_nested,
    size_to_shapes,
    step_shapes,
    zeros_for_sizes,
)
from kfit.layers.rnn.recurrent_cell import CellAttribute
from kfit.layers.rnn.stacked_rnn_cells import StackedRNNCells
from kfit.layers.symbolic import flatten
from kfit.saving.object_registration import register_keras_serializable
from kfit.saving.serialization_lib import deserialize_keras_object, serialize_keras_object
from kfit.utils.errors import received

__all__ = ["RNN", "BuiltinCellRNN", "check_use_cudnn"]


def _flatten(structure: Any) -> list[Any]:
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _flatten(item)]
    return [structure]


def _map(fn: Any, structure: Any) -> Any:
    if isinstance(structure, (list, tuple)):
        return [_map(fn, item) for item in structure]
    return fn(structure)


def _keep_where(valid: torch.Tensor, new: Any, old: Any) -> Any:
    """`new` where the step is valid, `old` elsewhere, for nested lists of `(batch, ...)` tensors."""
    if isinstance(new, (list, tuple)):
        return [_keep_where(valid, n, o) for n, o in zip(new, old)]
    return torch.where(valid.view(-1, *([1] * (new.dim() - 1))), new, old)


@register_keras_serializable(package="keras")
class RNN(Layer):
    """Runs a recurrent cell over the time steps of a `(batch, time, features)` input.

    Args:
        cell: A cell (a layer with `call(inputs, states)` and `state_size`), or a list of cells,
            which are stacked with `StackedRNNCells`.
        return_sequences: Return the output of every step `(batch, time, units)` instead of
            the last one `(batch, units)`.
        return_state: Also return the final states, after the output.
        go_backwards: Read the sequence last step first; the outputs come back in that order.
        stateful: Start each batch from the final states of the previous one (same batch size
            each time) until `reset_state()`.
        unroll: Accepted as in Keras; the steps then always run through the Python loop.
        zero_output_for_mask: Output zeros at masked steps instead of the previous output.
        **kwargs: `name`, `dtype`, `trainable`, `activity_regularizer`, `input_shape`.

    Call arguments:
        sequences: `(batch, time, features)`, or a list, tuple or dict of `(batch, time, ...)`
            sequences for a cell that reads several inputs.
        initial_state: The initial states, a list in `state_size` order (a single tensor for
            one state); each entry nested as its state is.
        mask: `(batch, time)` booleans, True for the steps to use (for nested inputs, the
            first mask given; it applies to every input, state and output).
        training: Whether dropout is applied.

    Example:
        >>> from kfit.layers.rnn.lstm import LSTMCell
        >>> layer = RNN(LSTMCell(4, name="lstm_cell"), return_sequences=True, return_state=True,
        ...             name="rnn")
        >>> outputs, h, c = layer(torch.ones(2, 5, 3))
        >>> outputs.shape, h.shape, c.shape
        (torch.Size([2, 5, 4]), torch.Size([2, 4]), torch.Size([2, 4]))
        >>> [w.path for w in layer.weights]
        ['rnn/lstm_cell/kernel', 'rnn/lstm_cell/recurrent_kernel', 'rnn/lstm_cell/bias']
    """

    def __init__(
        self,
        cell: Any,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ) -> None:
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(list(cell))
        if not callable(getattr(cell, "call", None)) or getattr(cell, "state_size", None) is None:
            raise ValueError(
                "Expected `cell` to be an RNN cell: a layer with a `call(inputs, states)` method "
                f"and a `state_size` attribute. {received('cell', cell)} Pass e.g. "
                "LSTMCell(32), or give your cell those two members."
            )
        state_size = cell.state_size
        if not isinstance(state_size, (int, list, tuple)):
            raise ValueError(
                "Expected the cell's `state_size` to be an integer or a list of integers, one "
                f"per state. {received('state_size', state_size)} Set it in the cell's __init__."
            )
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        # Its compute_mask only passes on or drops an incoming mask: with no masks in use,
        # calls skip the mask machinery.
        self._makes_masks = False
        # LSTM and GRU turn this off for use_cudnn=False.
        self._allow_fused = True
        self._cell_takes_training = accepts_training(cell.call if isinstance(cell, Layer) else cell)
        self.__dict__["_states"] = None
        declared = self._declared_input_shape
        if declared is not None and not (self.stateful and declared[0] is None):
            self.build(declared)
            self.built = True

    @property
    def state_size(self) -> list[Any]:
        """The cell's state sizes, as a list (one entry per state)."""
        size = self.cell.state_size
        return [size] if isinstance(size, int) else list(size)

    # ------------------------------------------------------------------ shapes and masks
    def build(self, sequences_shape: tuple[int | None, ...], initial_state_shape: Any = None) -> None:
        if is_nested_shape(sequences_shape):
            self._build_nested(sequences_shape)
            return
        if len(sequences_shape) < 3:
            raise ValueError(
                f"Expected the input of {type(self).__name__} to have shape (batch, time, "
                f"features). {received('input_shape', tuple(sequences_shape))} Add a time "
                "axis, e.g. x[:, None, :] for sequences of one step."
            )
        if self.stateful and sequences_shape[0] is None:
            raise ValueError(
                "Expected a fixed batch size for a stateful RNN. "
                f"{received('input_shape', tuple(sequences_shape))} Pass batch_size= to Input()."
            )
        step_shape = (sequences_shape[0], *sequences_shape[2:])
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build(step_shape)
            self.cell.built = True

    def _build_nested(self, sequences_shape: Any) -> None:
        step_shape = step_shapes(sequences_shape, type(self).__name__)
        first = first_shape(step_shape)
        if self.stateful and first[0] is None:
            raise ValueError(
                "Expected a fixed batch size for a stateful RNN. "
                f"{received('input_shape', sequences_shape)} Pass batch_size= to Input()."
            )
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build(step_shape)
            self.cell.built = True

    def compute_output_shape(self, sequences_shape: Any, initial_state_shape: Any = None) -> Any:
        output_size = getattr(self.cell, "output_size", None)
        if (
            is_nested_shape(sequences_shape)
            or not isinstance(output_size, (int, type(None)))
            or has_shape_leaf(self.state_size)
        ):
            return self._nested_output_shape(sequences_shape, output_size)
        batch, length = sequences_shape[0], sequences_shape[1]
        if output_size is None:
            output_size = _flatten(self.state_size)[0]
        output_shape = (batch, length, output_size) if self.return_sequences else (batch, output_size)
        if not self.return_state:
            return output_shape
        states = [
            (batch, size) if isinstance(size, int) else [(batch, s) for s in _flatten(size)]
            for size in self.state_size
        ]
        return (output_shape, *states)

    def _nested_output_shape(self, sequences_shape: Any, output_size: Any) -> Any:
        """Output (and state) shapes of a cell with nested inputs, outputs or states."""
        first = first_shape(sequences_shape)
        batch, length = first[0], first[1]
        if output_size is None:
            output_size = self.state_size[0]
            while isinstance(output_size, (list, dict)):
                output_size = next(iter(output_size.values())) if isinstance(output_size, dict) else output_size[0]
        prefix = (batch, length) if self.return_sequences else (batch,)
        output_shape = size_to_shapes(output_size, prefix)
        if not self.return_state:
            return output_shape
        return (output_shape, *[size_to_shapes(size, (batch,)) for size in self.state_size])

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        mask = previous_mask
        if is_nested(inputs) or isinstance(mask, dict):
            mask = first_mask(mask)
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    # ------------------------------------------------------------------ states
    def get_initial_state(self, batch_size: int) -> list[Any]:
        """Zero states for `batch_size` sequences, from the cell when it says how."""
        make = getattr(self.cell, "get_initial_state", None)
        if make is not None:
            states = make(batch_size=batch_size)
            return list(states) if isinstance(states, (list, tuple)) else [states]
        if has_shape_leaf(self.state_size):
            return zeros_for_sizes(self.state_size, batch_size)
        return [torch.zeros(batch_size, size) for size in _flatten(self.state_size)]

    @property
    def states(self) -> list[torch.Tensor] | None:
        """The states a stateful layer carries into the next batch (None before the first)."""
        return self.__dict__["_states"]

    def reset_state(self) -> None:
        """Sets the carried states of a stateful layer back to zeros."""
        states = self.__dict__["_states"]
        if states is not None:
            self.__dict__["_states"] = [torch.zeros_like(s) for s in states]

    def reset_states(self) -> None:
        """Same as `reset_state()` (Keras keeps both names)."""
        self.reset_state()

    def _starting_states(self, initial_state: Any, x: torch.Tensor) -> list[Any]:
        batch = x.shape[0]
        if initial_state is not None:
            given = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            return _map(lambda s: torch.as_tensor(s).to(device=x.device, dtype=x.dtype), given)
        if self.stateful:
            carried = self.__dict__["_states"]
            if carried is None:
                carried = _flatten(self.get_initial_state(batch))
            elif carried[0].shape[0] != batch:
                raise ValueError(
                    "Expected the batch size of a stateful RNN to stay the same from batch to "
                    f"batch ({carried[0].shape[0]}). {received('batch_size', batch)} Use "
                    "batches of one size (drop the remainder), or a new layer for another size."
                )
            return _rebuild(self.get_initial_state(batch), iter(carried), x)
        states = self.get_initial_state(batch)
        return _map(lambda s: s if s.device == x.device and s.dtype == x.dtype else s.to(x.device, x.dtype), states)

    # ------------------------------------------------------------------ the call
    def call(
        self,
        sequences: torch.Tensor,
        initial_state: Any = None,
        mask: torch.Tensor | None = None,
        training: bool | None = None,
    ) -> Any:
        training = bool(training)
        if is_nested(sequences):
            return self._call_nested(sequences, initial_state, mask, training)
        cell = self.cell
        fused = None
        if self._allow_fused and not self.unroll and sequences.dim() == 3:
            fused_args = getattr(cell, "fused_rnn_args", None)
            fused = fused_args(training) if fused_args is not None else None
        x = sequences
        dtype = fused[1][0].dtype if fused is not None else self._compute_dtype()
        if x.dtype != dtype:
            # Keras casts the inputs to the layer's dtype (integer sequences included).
            x = x.to(dtype)
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        # The fused kernel starts from zeros by itself: no per-call states to build.
        plain_start = fused is not None and initial_state is None and not self.stateful
        states = None if plain_start else self._starting_states(initial_state, x)
        try:
            if fused is not None:
                mode, weights, has_biases = fused
                if training and 0.0 < cell.dropout < 1.0:
                    x = x * cell.get_dropout_mask(x[:, 0]).unsqueeze(1)
                if self.go_backwards:
                    x = x.flip(1)
                    mask = mask.flip(1) if mask is not None else None
                last, sequence, final_states = run_fused(
                    mode,
                    weights,
                    has_biases,
                    x,
                    states,
                    mask,
                    return_sequences=self.return_sequences,
                    zero_output_for_mask=self.zero_output_for_mask,
                    need_states=self.return_state or self.stateful,
                )
            else:
                last, sequence, final_states = self._loop(x, states, mask, training)
        finally:
            if training:
                # Dropout masks are drawn only while training; the next batch draws its own.
                _reset_dropout_masks(cell)
        if self.stateful:
            # Carried as values: gradients do not flow from one batch into the next.
            self.__dict__["_states"] = [s.detach() for s in _flatten(final_states)]
        output = sequence if self.return_sequences else last
        if self.return_state:
            return (output, *final_states)
        return output

    def _call_nested(self, sequences: Any, initial_state: Any, mask: Any, training: bool) -> Any:
        """`call` for nested inputs: always the step loop (the fused kernels take one tensor)."""
        dtype = self._compute_dtype()
        leaves = [leaf if leaf.dtype == dtype else leaf.to(dtype) for leaf in flatten(sequences)]
        if not leaves:
            raise ValueError(
                f"Expected {type(self).__name__} to get at least one input sequence. "
                f"{received('sequences', sequences)} Pass tensors of shape (batch, time, ...)."
            )
        x = pack(sequences, iter(leaves))
        step_mask = first_mask(mask)
        states = self._starting_states(initial_state, leaves[0])
        cell = self.cell
        call = cell.call if isinstance(cell, Layer) else cell
        if self._cell_takes_training:

            def step(inputs: Any, states: Any) -> Any:
                return call(inputs, states, training=training)
        else:
            step = call
        try:
            last, sequence, final_states = run_nested(
                step,
                x,
                states,
                step_mask,
                go_backwards=self.go_backwards,
                return_sequences=self.return_sequences,
                zero_output_for_mask=self.zero_output_for_mask,
                layer_name=type(self).__name__,
            )
        finally:
            if training:
                _reset_dropout_masks(cell)
        if self.stateful:
            self.__dict__["_states"] = [s.detach() for s in flatten(final_states)]
        output = sequence if self.return_sequences else last
        if self.return_state:
            return (output, *final_states)
        return output

    def _compute_dtype(self) -> torch.dtype:
        for p in self.cell.parameters() if isinstance(self.cell, torch.nn.Module) else ():
            if p.is_floating_point():
                return p.dtype
        return torch.get_default_dtype()

    def _loop(
        self, x: torch.Tensor, states: Any, mask: torch.Tensor | None, training: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, list[Any]]:
        cell = self.cell
        step = cell.call if isinstance(cell, Layer) else cell
        kwargs = {"training": training} if self._cell_takes_training else {}
        length = x.shape[1]
        times = range(length - 1, -1, -1) if self.go_backwards else range(length)
        if mask is not None:
            mask = mask.bool()
        outputs: list[torch.Tensor] = []
        previous: torch.Tensor | None = None
        for t in times:
            output, new_states = step(x[:, t], states, **kwargs)
            new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
            if mask is not None:
                valid = mask[:, t]
                new_states = _keep_where(valid, new_states, states)
                if self.zero_output_for_mask or previous is None:
                    previous = torch.zeros_like(output)
                output = _keep_where(valid, output, previous)
            states = new_states
            previous = output
            if self.return_sequences:
                outputs.append(output)
        if previous is None:
            raise ValueError(
                f"Expected at least one time step in the input of {type(self).__name__}. "
                f"{received('input_shape', tuple(x.shape))} Pass sequences of length >= 1."
            )
        sequence = torch.stack(outputs, dim=1) if self.return_sequences else None
        return previous, sequence, states

    # ------------------------------------------------------------------ config
    def _rnn_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            return_sequences=self.return_sequences,
            return_state=self.return_state,
            go_backwards=self.go_backwards,
            stateful=self.stateful,
            unroll=self.unroll,
            zero_output_for_mask=self.zero_output_for_mask,
        )
        return config

    def get_config(self) -> dict[str, Any]:
        config = self._rnn_config()
        config["cell"] = serialize_keras_object(self.cell)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RNN:
        config = dict(config)
        cell = deserialize_keras_object(config.pop("cell"))
        return cls(cell, **config)


def check_use_cudnn(use_cudnn: bool | str) -> bool | str:
    """`use_cudnn` of LSTM and GRU, checked: `"auto"`, True or False."""
    if use_cudnn not in ("auto", True, False):
        raise ValueError(
            f"Expected `use_cudnn` to be 'auto', True or False. {received('use_cudnn', use_cudnn)} "
            "Pass False to run step by step."
        )
    return use_cudnn


class BuiltinCellRNN(RNN):
    """Base of the layers that build their own cell (SimpleRNN, LSTM, GRU).

    The layer reads the cell's arguments as its own (`LSTM(4).units`), its config is the RNN
    options followed by the cell's arguments, and `from_config` passes that config back to the
    layer's constructor. A subclass declares its own constructor (Keras's signature), builds
    its cell with `cell_options(name, kwargs)` and adds its cell's extra arguments as
    `CellAttribute`s.
    """

    units = CellAttribute()
    activation = CellAttribute()
    use_bias = CellAttribute()
    kernel_initializer = CellAttribute()
    recurrent_initializer = CellAttribute()
    bias_initializer = CellAttribute()
    kernel_regularizer = CellAttribute()
    recurrent_regularizer = CellAttribute()
    bias_regularizer = CellAttribute()
    kernel_constraint = CellAttribute()
    recurrent_constraint = CellAttribute()
    bias_constraint = CellAttribute()
    dropout = CellAttribute()
    recurrent_dropout = CellAttribute()
    seed = CellAttribute()

    @staticmethod
    def cell_options(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The cell's `name`, and the layer's `dtype` and `trainable` from its `kwargs`."""
        return {"name": name, "dtype": kwargs.get("dtype"), "trainable": kwargs.get("trainable", True)}

    def _set_use_cudnn(self, use_cudnn: bool | str) -> None:
        self.use_cudnn = use_cudnn
        self._allow_fused = use_cudnn is not False

    def get_config(self) -> dict[str, Any]:
        """The RNN options, then the cell's arguments, with `activity_regularizer` where Keras
        puts it."""
        config = self._rnn_config()
        activity = config.pop("activity_regularizer", None)
        for key, value in self.cell.get_config().items():
            if key not in ("name", "trainable", "dtype", "input_shape"):
                config[key] = value
            if key == "bias_regularizer":
                config["activity_regularizer"] = activity
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RNN:
        return cls(**config)


def _rebuild(template: Any, leaves: Any, x: torch.Tensor) -> Any:
    """`template`'s nesting, filled with the next tensors of `leaves` (moved like `x`)."""
    if isinstance(template, (list, tuple)):
        return [_rebuild(item, leaves, x) for item in template]
    return next(leaves).to(x.device, x.dtype)


def _reset_dropout_masks(cell: Any) -> None:
    for c in cell.cells if isinstance(cell, StackedRNNCells) else [cell]:
        if hasattr(c, "reset_dropout_mask"):
            c.reset_dropout_mask()
            c.reset_recurrent_dropout_mask()
