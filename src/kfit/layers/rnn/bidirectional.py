"""`Bidirectional`: an RNN layer run forwards and backwards over a sequence, outputs merged."""

from __future__ import annotations

from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable
from kfit.saving.serialization_lib import deserialize_keras_object, serialize_keras_object
from kfit.utils.errors import received

__all__ = ["Bidirectional"]

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _copy_named(layer: Layer, prefix: str, **changes: Any) -> Any:
    """A new layer from `layer`'s config, named `<prefix>_<name>`, with `changes` applied."""
    record = serialize_keras_object(layer)
    config = record["config"]
    config["name"] = f"{prefix}_{layer.name.removeprefix(prefix + '_')}"
    config.update(changes)
    return deserialize_keras_object(record)


@register_keras_serializable(package="keras")
class Bidirectional(Layer):
    """Runs a recurrent layer over the sequence forwards and a copy of it backwards, and merges
    the two outputs, as Keras's `Bidirectional`.

    The wrapped layer is copied from its config (fresh weights) into `forward_layer`, named
    `forward_<name>`, and, unless `backward_layer` is given, into `backward_layer`, named
    `backward_<name>`, with `go_backwards=True`. `weights` lists the forward layer's weights,
    then the backward layer's. With `return_sequences` the backward outputs are flipped back
    into time order before merging. When a mask is given, masked steps output zeros in both
    directions if the layer returns sequences (Keras sets `zero_output_for_mask` to
    `return_sequences` on both copies).

    Args:
        layer: The recurrent layer to wrap (LSTM, GRU, SimpleRNN, RNN).
        merge_mode: `"concat"` (default), `"sum"`, `"mul"`, `"ave"`, or None to return the
            two outputs as a list.
        weights: Initial weights (forward's, then backward's), set when the layer is built.
        backward_layer: The layer for the backward direction, with `go_backwards=True` and the
            same `return_sequences`, `return_state` and `stateful` as `layer`.
        **kwargs: `name`, `dtype`, `trainable`, `input_shape`.

    Call arguments:
        sequences: `(batch, time, features)`.
        initial_state: The forward layer's initial states followed by the backward layer's.
        mask: `(batch, time)` booleans, True for the steps to use.
        training: Passed to both layers.

    With `return_state=True` the call returns the merged output (two outputs for
    `merge_mode=None`), then the forward states, then the backward states: 5 tensors for an
    LSTM.

    Example:
        >>> from kfit.layers.rnn.lstm import LSTM
        >>> layer = Bidirectional(LSTM(4, name="lstm"), name="bidirectional")
        >>> layer(torch.ones(2, 5, 3)).shape
        torch.Size([2, 8])
        >>> [w.path for w in layer.weights][::3]
        ['bidirectional/forward_lstm/lstm_cell/kernel', 'bidirectional/backward_lstm/lstm_cell/kernel']
    """

    def __init__(
        self,
        layer: Layer,
        merge_mode: str | None = "concat",
        weights: list[Any] | None = None,
        backward_layer: Layer | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(layer, Layer):
            raise ValueError(
                "Expected `layer` to be a kfit layer, such as LSTM(32). "
                f"{received('layer', layer)} Wrap a recurrent layer."
            )
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(
                "Expected `backward_layer` to be a kfit layer or None. "
                f"{received('backward_layer', backward_layer)} Pass e.g. LSTM(32, go_backwards=True)."
            )
        if merge_mode not in _MERGE_MODES:
            raise ValueError(
                "Expected `merge_mode` to be one of 'concat', 'sum', 'mul', 'ave' or None. "
                f"{received('merge_mode', merge_mode)}"
            )
        super().__init__(**kwargs)
        forward = _copy_named(layer, "forward")
        backward = backward_layer or _copy_named(layer, "backward", go_backwards=True)
        if forward.go_backwards == backward.go_backwards:
            raise ValueError(
                "Expected the forward and backward layers to have different `go_backwards`. "
                f"Received: go_backwards={forward.go_backwards!r} (of type bool) for both. "
                "Give the backward layer go_backwards=True and the forward layer False."
            )
        for attribute in ("stateful", "return_sequences", "return_state"):
            if getattr(forward, attribute) != getattr(backward, attribute):
                raise ValueError(
                    f"Expected the forward and backward layers to have the same `{attribute}`. "
                    f"Received: {attribute}={getattr(forward, attribute)!r} (forward) and "
                    f"{getattr(backward, attribute)!r} (backward). Make them equal."
                )
        for direction in (forward, backward):
            if hasattr(direction, "zero_output_for_mask"):
                direction.zero_output_for_mask = direction.return_sequences
        self.forward_layer: Any = forward
        self.backward_layer: Any = backward
        self.merge_mode = merge_mode
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True
        # Its compute_mask only passes on or drops an incoming mask: with no masks in use,
        # calls skip the mask machinery.
        self._makes_masks = False
        self.__dict__["_initial_weights"] = weights
        if self._declared_input_shape is not None:
            self.build(self._declared_input_shape)
            self.built = True

    def build(self, sequences_shape: tuple[int | None, ...], initial_state_shape: Any = None) -> None:
        for direction in (self.forward_layer, self.backward_layer):
            if not direction.built:
                direction.build(sequences_shape)
                direction.built = True
        initial = self.__dict__.pop("_initial_weights", None)
        if initial:
            half = len(initial) // 2
            self.forward_layer.set_weights(initial[:half])
            self.backward_layer.set_weights(initial[half:])

    def compute_output_shape(self, sequences_shape: Any, initial_state_shape: Any = None) -> Any:
        shape = self.forward_layer.compute_output_shape(sequences_shape)
        states: tuple[Any, ...] = ()
        if self.return_state:
            shape, states = shape[0], tuple(shape[1:])
        if self.merge_mode == "concat":
            shape = (*shape[:-1], None if shape[-1] is None else shape[-1] * 2)
        outputs: tuple[Any, ...] = (shape, shape) if self.merge_mode is None else (shape,)
        if self.return_state:
            return (*outputs, *states, *states)
        return list(outputs) if self.merge_mode is None else shape

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        mask = previous_mask
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        output_mask = mask if self.return_sequences else None
        masks = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            states = len(self.forward_layer.state_size) + len(self.backward_layer.state_size)
            return masks + [None] * states
        return masks if self.merge_mode is None else output_mask

    def call(
        self,
        sequences: torch.Tensor,
        initial_state: Any = None,
        mask: torch.Tensor | None = None,
        training: bool | None = None,
    ) -> Any:
        forward_kwargs: dict[str, Any] = {"training": training}
        if mask is not None:
            forward_kwargs["mask"] = mask
        backward_kwargs = dict(forward_kwargs)
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_kwargs["initial_state"] = list(initial_state[:half])
            backward_kwargs["initial_state"] = list(initial_state[half:])
        y = self.forward_layer(sequences, **forward_kwargs)
        y_rev = self.backward_layer(sequences, **backward_kwargs)
        states: tuple[Any, ...] = ()
        if self.return_state:
            states = (*y[1:], *y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev.flip(1)
        if self.merge_mode == "concat":
            output: Any = torch.cat([y, y_rev], dim=-1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = [y, y_rev]
        if self.return_state:
            return (*output, *states) if self.merge_mode is None else (output, *states)
        return output

    @property
    def states(self) -> list[torch.Tensor] | None:
        """Both layers' carried states (forward's first) when stateful, else None."""
        forward, backward = self.forward_layer.states, self.backward_layer.states
        return [*forward, *backward] if forward and backward else None

    def reset_state(self) -> None:
        """Sets both layers' carried states back to zeros.

        Raises:
            AttributeError: if the layer is not stateful.
        """
        if not self.stateful:
            raise AttributeError(
                "Expected a stateful layer: only a Bidirectional wrapping a layer with "
                "stateful=True carries states to reset. Received: stateful=False (of type bool)."
            )
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self) -> None:
        """Same as `reset_state()`."""
        self.reset_state()

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["merge_mode"] = self.merge_mode
        config["layer"] = serialize_keras_object(self.forward_layer)
        config["backward_layer"] = serialize_keras_object(self.backward_layer)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        config = dict(config)
        config["layer"] = deserialize_keras_object(config["layer"])
        backward = config.pop("backward_layer", None)
        if backward is not None:
            config["backward_layer"] = deserialize_keras_object(backward)
        return cls(**config)
