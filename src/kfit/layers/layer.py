"""`Layer`: a `torch.nn.Module` that builds its weights from the first input it sees, as Keras does."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from kfit.backend.variables import Variable
from kfit.metrics.metric import Metric
from kfit.saving.object_registration import register_keras_serializable
from kfit.utils.naming import auto_name

__all__ = ["Layer"]


def accepts_training(fn: Any) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "training" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


@register_keras_serializable(package="keras")
class Layer(torch.nn.Module):
    """Base class of kfit layers: define `build(input_shape)` and `call(inputs)`.

    Weights are created by `build` the first time the layer is called (or at construction when
    `input_shape`/`input_dim` is given), on the device of that first input. `call` receives
    `training` when it declares that argument; by default it follows the module's train/eval mode.

    Example:
        >>> class Scale(Layer):
        ...     def build(self, input_shape):
        ...         self.scale = torch.nn.Parameter(torch.ones(input_shape[-1]))
        ...     def call(self, x):
        ...         return x * self.scale
        >>> layer = Scale()
        >>> layer(torch.ones(2, 3)).shape, layer.built
        (torch.Size([2, 3]), True)
    """

    def __init__(
        self,
        name: str | None = None,
        trainable: bool = True,
        dtype: Any = None,
        input_shape: Sequence[int | None] | None = None,
        input_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if kwargs:
            raise TypeError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                f"{sorted(kwargs)}. Check the spelling against the layer's signature."
            )
        self.name = name or auto_name(type(self).__name__)
        self.built = False
        self._trainable = trainable
        self._dtype = dtype
        self._call_takes_training = accepts_training(self.call)
        if input_dim is not None:
            input_shape = (input_dim,)
        # The full input shape (batch dimension first, None) when declared up front.
        self._declared_input_shape: tuple[int | None, ...] | None = (
            (None, *tuple(input_shape)) if input_shape is not None else None
        )

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for p in self.parameters():
            p.requires_grad_(self._trainable)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Creates the layer's weights. The default creates none."""

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__} must define `call(self, inputs)` (or `forward`) to be used "
            "as a layer."
        )

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._call_takes_training and kwargs.get("training") is None:
            kwargs["training"] = self.training
        return self.call(*args, **kwargs)

    def _build_from_input(self, inputs: Any) -> None:
        shape = _shape_of(inputs)
        # Recorded so that a saved model can rebuild lazily built layers from its config.
        self._build_input_shape = shape
        self.build(shape)
        self.built = True
        device = _device_of(inputs)
        if device is not None:
            self.to(device)
        if not self._trainable:
            for p in self.parameters():
                p.requires_grad_(False)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.built:
            self._build_from_input(args[0] if args else next(iter(kwargs.values())))
        if "training" not in kwargs:
            return super().__call__(*args, **kwargs)
        training = kwargs["training"] if self._call_takes_training else kwargs.pop("training")
        if training is None or bool(training) == self.training:
            return super().__call__(*args, **kwargs)
        # Keras hands `training` down to every nested layer (Dropout inside a block, say); in
        # torch that is the module mode, so the call runs in that mode and the old one returns.
        self.train(bool(training))
        try:
            return super().__call__(*args, **kwargs)
        finally:
            self.train(not training)

    def __setattr__(self, name: str, value: Any) -> None:
        # Keras tracks what a layer holds: its metrics are listed by `metrics` (and reset by
        # `fit`), and its variables learn their path.
        if isinstance(value, Metric):
            self.__dict__.setdefault("_metric_attributes", {})[name] = value
        else:
            # A metric replaced by something else is no longer the layer's.
            self.__dict__.get("_metric_attributes", {}).pop(name, None)
            if isinstance(value, Variable):
                value.set_path(f"{self.__dict__.get('name', type(self).__name__)}/{name}")
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        self.__dict__.get("_metric_attributes", {}).pop(name, None)
        super().__delattr__(name)

    @property
    def metrics(self) -> list[Metric]:
        """The metrics held as attributes of this layer and of its sublayers.

        Example:
            >>> import kfit
            >>> class Counting(Layer):
            ...     def __init__(self):
            ...         super().__init__()
            ...         self.calls = kfit.metrics.Sum(name="calls")
            ...     def call(self, x):
            ...         self.calls.update_state(1.0)
            ...         return x
            >>> [m.name for m in Counting().metrics]
            ['calls']
        """
        return self._tracked_metrics()

    def _tracked_metrics(self) -> list[Metric]:
        found = list(self.__dict__.get("_metric_attributes", {}).values())
        for module in self.children():
            # A nested model keeps its own metrics, as in Keras: it was compiled on its own.
            if isinstance(module, Layer) and not module._owns_its_metrics:
                found.extend(module._tracked_metrics())
        return found

    # Set by the trainer on models: their metrics are not a containing model's.
    _owns_its_metrics = False

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """Output shape for `input_shape`, by running the layer once on zeros of that shape."""
        shape = tuple(1 if d is None else d for d in input_shape)
        device = next((p.device for p in self.parameters()), None)
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                out = self(torch.zeros(shape, device=device))
        finally:
            self.train(was_training)
        return (input_shape[0], *tuple(out.shape[1:]))

    # Keras's weight API: numpy copies, in creation order.
    @property
    def weights(self) -> list[torch.Tensor]:
        return list(self.state_dict(keep_vars=True).values())

    @property
    def trainable_weights(self) -> list[torch.nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[torch.Tensor]:
        trainable = {id(p) for p in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    def get_weights(self) -> list[np.ndarray]:
        """Returns numpy copies of every weight, in the order `set_weights` expects."""
        return [w.detach().cpu().numpy().copy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Sets every weight from numpy arrays (or tensors), validated before any is changed."""
        targets = self.weights
        weights = list(weights)
        if len(weights) != len(targets):
            raise ValueError(
                f"Expected `weights` to be a list of {len(targets)} arrays for {self.name!r} "
                f"(shapes {[tuple(t.shape) for t in targets]}). Received: a list of "
                f"{len(weights)} arrays. Pass the list that `get_weights()` returns for the same "
                "architecture."
            )
        arrays = [np.asarray(w.detach().cpu() if isinstance(w, torch.Tensor) else w) for w in weights]
        for i, (t, a) in enumerate(zip(targets, arrays)):
            if tuple(t.shape) != a.shape:
                raise ValueError(
                    f"Expected weight {i} of {self.name!r} to have shape {tuple(t.shape)}. "
                    f"Received: an array of shape {a.shape}. Pass weights in the layout "
                    "`get_weights()` returns (a Dense kernel is (in, out), then its bias)."
                )
        with torch.no_grad():
            for t, a in zip(targets, arrays):
                t.copy_(torch.from_numpy(np.ascontiguousarray(a)).to(t.dtype))

    def count_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable}
        if self._declared_input_shape is not None:
            config["input_shape"] = list(self._declared_input_shape[1:])
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)


def _shape_of(inputs: Any) -> Any:
    if isinstance(inputs, torch.Tensor):
        return tuple(inputs.shape)
    if isinstance(inputs, dict):
        return {k: _shape_of(v) for k, v in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return type(inputs)(_shape_of(v) for v in inputs)
    return tuple(np.shape(inputs))


def _device_of(inputs: Any) -> torch.device | None:
    if isinstance(inputs, torch.Tensor):
        return inputs.device
    if isinstance(inputs, dict):
        inputs = list(inputs.values())
    if isinstance(inputs, (list, tuple)):
        for v in inputs:
            d = _device_of(v)
            if d is not None:
                return d
    return None
