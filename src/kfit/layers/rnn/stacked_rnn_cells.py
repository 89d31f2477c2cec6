"""`StackedRNNCells`: several cells run as one, each feeding its output to the next."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.layer import Layer, accepts_training
from kfit.saving.object_registration import register_keras_serializable
from kfit.saving.serialization_lib import deserialize_keras_object, serialize_keras_object
from kfit.utils.errors import received
from kfit.utils.naming import to_snake_case

__all__ = ["StackedRNNCells"]


def _sizes(state_size: Any) -> list[int]:
    return list(state_size) if isinstance(state_size, (list, tuple)) else [state_size]


@register_keras_serializable(package="keras")
class StackedRNNCells(Layer):
    """A stack of RNN cells that behaves as one cell: at each step the input goes through the
    first cell, whose output goes through the second, and so on.

    Its states are a list with one entry per cell (that cell's list of states), so
    `RNN(StackedRNNCells([...]), return_state=True)` returns the output and then one entry
    per cell. `RNN([cell_a, cell_b])` builds it for you.

    Args:
        cells: The cells, first to last.
        **kwargs: `name`, `dtype`, `trainable`.

    Example:
        >>> from kfit.layers.rnn.gru import GRUCell
        >>> from kfit.layers.rnn.lstm import LSTMCell
        >>> from kfit.layers.rnn.rnn import RNN
        >>> layer = RNN(StackedRNNCells([LSTMCell(4), GRUCell(3)]))
        >>> layer(torch.ones(2, 5, 6)).shape
        torch.Size([2, 3])
        >>> layer.cell.state_size
        [[4, 4], 3]
    """

    cells: list[Any]

    def __init__(self, cells: list[Any], **kwargs: Any) -> None:
        for cell in cells:
            if not callable(getattr(cell, "call", None)) or getattr(cell, "state_size", None) is None:
                raise ValueError(
                    "Expected every cell to have a `call(inputs, states)` method and a "
                    f"`state_size`. {received('cell', cell)} Pass RNN cells such as LSTMCell(32)."
                )
        super().__init__(**kwargs)
        # Each cell is a sublayer of its own, so its weights follow in order and their paths are
        # `<rnn>/stacked_rnn_cells/<cell name>/...`. The sublayer keys are Keras's `.weights.h5`
        # group names for a list of layers: `cells/<snake_case class name>`, numbered from the
        # second cell of a class on (`cells/lstm_cell`, `cells/lstm_cell_1`, `cells/gru_cell`).
        counts: dict[str, int] = {}
        for cell in cells:
            base = to_snake_case(type(cell).__name__)
            count = counts.get(base, 0)
            counts[base] = count + 1
            setattr(self, f"cells/{base if count == 0 else f'{base}_{count}'}", cell)
        self.__dict__["cells"] = list(cells)
        self._takes_training = [accepts_training(c.call) for c in cells]

    @property
    def state_size(self) -> list[Any]:
        return [c.state_size for c in self.cells]

    @property
    def output_size(self) -> int:
        last = self.cells[-1]
        size = getattr(last, "output_size", None)
        return size if size is not None else _sizes(last.state_size)[0]

    def get_initial_state(self, batch_size: int | None = None) -> list[Any]:
        """One entry per cell: that cell's initial states (a list), or a single tensor for
        cells whose `state_size` is an int and that have no `get_initial_state`."""
        states: list[Any] = []
        for cell in self.cells:
            make = getattr(cell, "get_initial_state", None)
            if make is not None:
                states.append(make(batch_size=batch_size))
            elif isinstance(cell.state_size, int):
                states.append(torch.zeros(batch_size or 1, cell.state_size))
            else:
                states.append([torch.zeros(batch_size or 1, s) for s in _sizes(cell.state_size)])
        return states

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell.build(input_shape)
                cell.built = True
            size = getattr(cell, "output_size", None)
            input_shape = (input_shape[0], size if size is not None else _sizes(cell.state_size)[0])

    def call(self, inputs: torch.Tensor, states: list[Any], training: bool = False) -> tuple[Any, Any]:
        new_states: list[Any] = []
        for cell, cell_states, takes_training in zip(self.cells, states, self._takes_training):
            nested = isinstance(cell_states, (list, tuple))
            cell_states = list(cell_states) if nested else [cell_states]
            kwargs = {"training": training} if takes_training else {}
            step = cell.call if isinstance(cell, Layer) else cell
            inputs, cell_states = step(inputs, cell_states, **kwargs)
            if not isinstance(cell_states, (list, tuple)):
                cell_states = [cell_states]
            new_states.append(cell_states[0] if len(cell_states) == 1 and not nested else list(cell_states))
        return inputs, new_states

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["cells"] = [serialize_keras_object(cell) for cell in self.cells]
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> StackedRNNCells:
        config = dict(config)
        cells = [deserialize_keras_object(c) for c in config.pop("cells")]
        return cls(cells, **config)
