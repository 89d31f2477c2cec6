"""`Layer`: a `torch.nn.Module` that builds its weights from the first input it sees, as Keras does.

Besides torch's module machinery a layer carries Keras's Layer API: `build(input_shape)` run
lazily, `add_weight`, weights listed trainable first, `add_loss` and `losses` (with weight and
activity regularizers), masks handed from layer to layer, `training` and `mask` call arguments,
and symbolic calls on `keras.Input` tensors (recorded by `kfit.layers.symbolic` for the
functional API).

What a call costs matters: a model calls each of its layers on every batch. A call that needs
none of the extras (a tensor argument, no keyword arguments, no masks, added losses or mixed
precision policies anywhere in the process, no activity regularizer) goes straight to
`torch.nn.Module.__call__`. Masks, added losses and mixed policies switch on process-wide the
first time any layer produces or holds one (`_CallState`), so models that never use them never
pay for them. Under a mixed policy (`kfit.mixed_precision`) a call casts its floating inputs to
the compute dtype and runs under `torch.autocast`, as Keras's layers autocast.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from kfit.backend.dtypes import to_torch_dtype
from kfit.backend.variables import Variable
from kfit.metrics.metric import Metric
from kfit.mixed_precision.policy import DTypePolicy, layer_policy
from kfit.saving.object_registration import register_keras_serializable
from kfit.utils.naming import auto_name

__all__ = ["Layer", "losses_in_use", "mixed_in_use"]


def accepts_training(fn: Any) -> bool:
    return _accepts(fn, "training")


def _accepts(fn: Any, argument: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return argument in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class _CallState:
    """Process-wide switches for the parts of a layer call that most models never use."""

    # Set once any layer has produced a mask: from then on calls read and attach masks.
    masking = False
    # Set once any layer has added a loss (or holds a regularizer): from then on the outermost
    # call clears the losses of the call before, as Keras does.
    losses = False
    # Depth of nested layer calls, counted while `losses` is on.
    depth = 0
    # Set once any layer holds a mixed dtype policy: from then on calls cast their inputs to
    # their compute dtype and switch `torch.autocast` as their policies say.
    mixed = False


def losses_in_use() -> bool:
    """Whether any layer in this process has added a loss or holds a regularizer.

    The built-in train step reads `model.losses` only when this is true.
    """
    return _CallState.losses


def mixed_in_use() -> bool:
    """Whether any layer in this process holds a mixed dtype policy.

    From then on layer calls cast their floating inputs and outputs as their policies say.
    """
    return _CallState.mixed


def _is_default(method: Callable[..., Any], name: str) -> bool:
    return getattr(method, "__func__", None) is getattr(Layer, name)


@register_keras_serializable(package="keras")
class Layer(torch.nn.Module):
    """Base class of kfit layers: define `build(input_shape)` and `call(inputs)`.

    Weights are created by `build` the first time the layer is called (or at construction when
    `input_shape`/`input_dim` is given), on the device of that first input. `call` receives
    `training` and `mask` when it declares those arguments; `training` follows the module's
    train/eval mode unless the caller passes it.

    Example:
        >>> class Scale(Layer):
        ...     def build(self, input_shape):
        ...         self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")
        ...     def call(self, x):
        ...         return x * self.scale
        >>> layer = Scale()
        >>> layer(torch.ones(2, 3)).shape, layer.built, layer.scale.name
        (torch.Size([2, 3]), True, 'scale')
    """

    def __init__(
        self,
        activity_regularizer: Any = None,
        trainable: bool = True,
        dtype: Any = None,
        autocast: bool = True,
        name: str | None = None,
        input_shape: Sequence[int | None] | None = None,
        input_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        batch_size = kwargs.pop("batch_size", None)
        kwargs.pop("input_length", None)  # Keras 2's Embedding argument, ignored by Keras 3 too
        if kwargs:
            raise TypeError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                f"{sorted(kwargs)}. Check the spelling against the layer's signature."
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(
                f"Expected `name` to be a string. Received: name={name!r} (of type "
                f"{type(name).__name__}). Pass a string such as 'dense_1', or leave it out."
            )
        self.name = name or auto_name(type(self).__name__)
        self.built = False
        # Keras calls a layer in inference mode unless told otherwise (`training=True`, or
        # inside `fit`, which switches the model to train mode and back). A torch module starts
        # in train mode, so a kfit layer starts in eval mode; `.train()` works as in torch.
        self.training = False
        self._trainable = trainable
        if isinstance(dtype, dict):
            # A serialized DTypePolicy, as Keras writes it in configs.
            dtype = dtype.get("config", {}).get("name", None)
        policy = layer_policy(dtype)
        if policy is not None:
            dtype = policy
            if policy.is_mixed:
                _CallState.mixed = True
        self._dtype = dtype
        self.autocast = autocast
        self._losses: list[torch.Tensor] = []
        self._call_takes_training = accepts_training(self.call)
        self._call_takes_mask = _accepts(self.call, "mask")
        # Keras: a layer that defines `compute_mask` supports masking; others may say so. Such
        # a layer can make a mask from nothing (Embedding), so its calls never skip masks.
        self._makes_masks = not _is_default(self.compute_mask, "compute_mask")
        self.supports_masking = self._makes_masks
        self.activity_regularizer = activity_regularizer
        if input_dim is not None:
            input_shape = (input_dim,)
        # The full input shape (batch dimension first) when declared up front.
        self._declared_input_shape: tuple[int | None, ...] | None = None
        if batch_input_shape is not None:
            self._declared_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._declared_input_shape = (batch_size, *tuple(input_shape))

    # ------------------------------------------------------------------ config attributes
    @property
    def activity_regularizer(self) -> Any:
        return self.__dict__.get("_activity_regularizer")

    @activity_regularizer.setter
    def activity_regularizer(self, value: Any) -> None:
        if value is not None:
            from kfit import regularizers

            value = regularizers.get(value)
            _CallState.losses = True
        self.__dict__["_activity_regularizer"] = value

    @property
    def dtype(self) -> str:
        """The dtype of the layer's weights, as Keras names it (`"float32"`)."""
        if isinstance(self._dtype, DTypePolicy):
            return self._dtype.variable_dtype
        if self._dtype is not None:
            return str(getattr(self._dtype, "name", self._dtype)).replace("torch.", "")
        return str(torch.get_default_dtype()).replace("torch.", "")

    @dtype.setter
    def dtype(self, value: Any) -> None:
        self._dtype = value

    @property
    def dtype_policy(self) -> DTypePolicy:
        """The layer's `DTypePolicy`: the one it was given, else the one its `dtype` names.

        Example:
            >>> Layer(dtype="float64").dtype_policy, Layer().compute_dtype
            (<DTypePolicy "float64">, 'float32')
        """
        return self._dtype if isinstance(self._dtype, DTypePolicy) else DTypePolicy(self.dtype)

    def _policy_name(self) -> str:
        # Not `dtype_policy.name`: a plain dtype (a lookup layer's "string", say) need not be a policy.
        return self._dtype.name if isinstance(self._dtype, DTypePolicy) else self.dtype

    @property
    def compute_dtype(self) -> str:
        """The dtype the layer's floating inputs are cast to and its computations run in."""
        return self._dtype.compute_dtype if isinstance(self._dtype, DTypePolicy) else self.dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype of the layer's weights (the same as `dtype`)."""
        return self.dtype

    @property
    def path(self) -> str:
        """Where the layer lives among layers (`"lstm/lstm_cell"`); its weights' paths extend it."""
        parent = self.__dict__.get("_parent_path")
        return self.name if parent is None else f"{parent}/{self.name}"

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        # Keras freezes every sublayer too; unfreezing restores each weight's own choice.
        value = bool(value)
        for module in self.modules():
            if isinstance(module, Layer):
                module.__dict__["_trainable"] = value
        for p in self.parameters():
            own = p.__dict__.get("_keras_trainable", True)
            p.requires_grad_(value and own)

    # ------------------------------------------------------------------ building
    def build(self, input_shape: Any) -> None:
        """Creates the layer's weights. The default creates none."""

    def _maybe_build(self, input_shape: Any) -> None:
        """Builds from a shape (a tuple, or a list/dict of tuples) unless already built."""
        if self.built:
            return
        self._build_input_shape = input_shape
        self.build(input_shape)
        self.built = True
        self._apply_trainable()

    def _build_from_input(self, inputs: Any) -> None:
        shape = _shape_of(inputs)
        # Recorded so that a saved model can rebuild lazily built layers from its config.
        self._build_input_shape = shape
        self.build(shape)
        self.built = True
        device = _device_of(inputs)
        # A sublayer first called inside a shape-inference run sees `meta` tensors: its weights
        # stay where they were made.
        if device is not None and device.type != "meta":
            self.to(device)
        self._apply_trainable()

    def _apply_trainable(self) -> None:
        if not self._trainable:
            for p in self.parameters():
                p.requires_grad_(False)

    def add_weight(
        self,
        shape: Sequence[int] | None = None,
        initializer: Any = None,
        dtype: Any = None,
        trainable: bool = True,
        autocast: bool = True,
        regularizer: Any = None,
        constraint: Any = None,
        aggregation: str = "none",
        overwrite_with_gradient: bool = False,
        name: str | None = None,
    ) -> Variable:
        """Creates a weight of this layer and returns it as a `kfit.Variable`.

        It is registered as a torch parameter under `name` (`variable` when unnamed, made unique
        within the layer), so `state_dict()` keys are Keras's weight names.

        Args:
            shape: The weight's shape; `()` (the default) is a scalar.
            initializer: Name, initializer object or callable. Default: glorot-uniform for
                floating weights, zeros otherwise (Keras's defaults).
            dtype: Torch dtype or its name; default: the layer's dtype.
            trainable: Whether optimizers update it (and gradients are recorded).
            autocast: Accepted for Keras compatibility.
            regularizer: Name or callable; its loss on the weight joins `layer.losses`.
            constraint: Name or callable; optimizers apply it after each update.
            aggregation: Accepted for Keras compatibility (`"none"`, `"mean"`, `"sum"`,
                `"only_first_replica"`).
            overwrite_with_gradient: Accepted for Keras compatibility; only False is supported.
            name: The weight's name: `v.name`, and the last part of `v.path`.

        Example:
            >>> layer = Layer(name="scale")
            >>> w = layer.add_weight(shape=(2,), initializer="ones", name="w")
            >>> w.path, w.numpy().tolist(), [k for k in layer.state_dict()]
            ('scale/w', [1.0, 1.0], ['w'])
        """
        from kfit import constraints, initializers, regularizers

        if overwrite_with_gradient:
            raise NotImplementedError(
                "Expected overwrite_with_gradient=False: kfit does not support weights that the "
                "gradient overwrites (Keras's float8 scaling). Received: overwrite_with_gradient=True."
            )
        wanted = dtype if dtype is not None else self._dtype
        wanted = getattr(wanted, "variable_dtype", wanted)
        torch_dtype = torch.get_default_dtype() if wanted is None else to_torch_dtype(getattr(wanted, "name", wanted))
        shape = tuple(int(d) for d in (shape or ()))
        if initializer is None:
            initializer = "glorot_uniform" if torch_dtype.is_floating_point else "zeros"
        init = initializers.get(initializer)
        values = init(shape, dtype=torch_dtype) if init is not None else torch.zeros(shape, dtype=torch_dtype)
        values = torch.as_tensor(values, dtype=torch_dtype).reshape(shape)
        device = next((p.device for p in self.parameters()), None)
        if device is not None:
            values = values.to(device)
        variable = Variable(values.clone(), requires_grad=bool(trainable) and torch_dtype.is_floating_point)
        variable.__dict__["_keras_trainable"] = bool(trainable)
        key = self._unique_weight_key(name or "variable")
        variable.__dict__["_keras_name"] = name or "variable"
        variable.__dict__["_keras_path"] = f"{self.path}/{name or 'variable'}"
        if regularizer is not None:
            variable.regularizer = regularizers.get(regularizer)
            _CallState.losses = True
        if constraint is not None:
            variable.constraint = constraints.get(constraint)
        if not self._trainable:
            variable.requires_grad_(False)
        self.register_parameter(key, variable)
        return variable

    def _unique_weight_key(self, name: str) -> str:
        key = name.replace(".", "_").replace("/", "_")
        taken = set(self._parameters) | set(self._buffers) | set(self._modules) | set(self.__dict__)
        taken |= set(dir(type(self)))
        if key not in taken:
            return key
        index = 1
        while f"{key}_{index}" in taken:
            index += 1
        return f"{key}_{index}"

    # ------------------------------------------------------------------ calling
    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__} must define `call(self, inputs)` (or `forward`) to be used "
            "as a layer."
        )

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._call_takes_training and kwargs.get("training") is None:
            kwargs["training"] = self.training
        return self.call(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # The common case costs one type check more than a torch module call.
        if (
            not kwargs
            and args
            and type(args[0]) is torch.Tensor
            and self.built
            and not self._makes_masks
            and not _CallState.masking
            and not _CallState.losses
            and not _CallState.mixed
        ):
            return super().__call__(*args)
        return self._keras_call(args, kwargs)

    def _keras_call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        from kfit.layers import symbolic

        if symbolic.any_symbolic(args, kwargs):
            return symbolic.symbolic_call(self, args, kwargs)
        if args:
            args = (_as_tensor(args[0]), *args[1:])
        first = args[0] if args else next(iter(kwargs.values()), None)
        if not self.built:
            self._build_from_input(first)
        previous_mask = kwargs.get("mask")
        if previous_mask is not None:
            _CallState.masking = True
        elif _CallState.masking:
            previous_mask = _mask_of(first)
            if previous_mask is not None and self._call_takes_mask:
                kwargs["mask"] = previous_mask
        if "mask" in kwargs and not self._call_takes_mask:
            kwargs.pop("mask")
        counting = _CallState.losses
        if counting:
            if _CallState.depth == 0:
                self._clear_losses()
            _CallState.depth += 1
        try:
            precision = self._enter_precision(first, args, kwargs) if _CallState.mixed else None
            if precision is None:
                outputs = self._call_in_mode(args, kwargs)
            else:
                args, kwargs, region, output_dtype = precision
                with region:
                    outputs = self._call_in_mode(args, kwargs)
                if output_dtype is not None:
                    # Keras computes every op in the compute dtype; torch promotes an op that
                    # mixes it with a float32 weight (a bias add, a norm's scale) to float32.
                    outputs = _cast_floating(outputs, output_dtype)
        finally:
            if counting:
                _CallState.depth -= 1
        regularizer = self.activity_regularizer
        if regularizer is not None:
            for output in _flat_tensors(outputs):
                # Keras divides the activity penalty by the batch size.
                self.add_loss(regularizer(output) / output.shape[0])
        if self._makes_masks or (self.supports_masking and _CallState.masking):
            mask = self.compute_mask(first, previous_mask)
            if mask is not None:
                _CallState.masking = True
                _attach_masks(outputs, mask)
        return outputs

    def _enter_precision(self, first: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Keras's autocasting, for a process that uses a mixed policy somewhere.

        Returns None when nothing changes, else `(args, kwargs, region, output_dtype)`: the
        floating inputs cast to the compute dtype (when `autocast` is on); the `torch.autocast`
        region that `call` runs in: on at the compute dtype for a mixed policy, off for any other
        policy (a float32 layer inside a mixed model computes in float32); and, for a layer
        (not a model) with a mixed policy, the dtype its floating outputs are cast to.

        On `meta` tensors (the functional API's shape inference) torch has no autocast: the
        inputs are cast to the variable dtype, which the meta weights have, and the outputs are
        cast as a real call's, so that a symbolic output gets the dtype a real one would.
        """
        device = _device_of(first)
        if device is None:
            return None
        try:
            compute: torch.dtype | None = to_torch_dtype(self.compute_dtype)
        except ValueError:  # a dtype torch has no type for, such as a lookup layer's "string"
            compute = None
        cast = self.autocast and compute is not None and compute.is_floating_point
        mixed = cast and isinstance(self._dtype, DTypePolicy) and self._dtype.is_mixed
        if device.type == "meta":
            if not cast or compute is None:
                return None
            output = compute if mixed and not _is_model(self) else None
            variable = to_torch_dtype(self.variable_dtype) if mixed else compute
            args, kwargs = _cast_floating(args, variable), _cast_floating(kwargs, variable)
            return args, kwargs, contextlib.nullcontext(), output
        enabled = torch.is_autocast_enabled(device.type)
        region: Any = None
        if mixed and not (enabled and torch.get_autocast_dtype(device.type) == compute):
            region = torch.autocast(device.type, dtype=compute)
        elif not mixed and enabled:
            region = torch.autocast(device.type, enabled=False)
        if cast and compute is not None:
            args = _cast_floating(args, compute)
            kwargs = _cast_floating(kwargs, compute)
        elif region is None:
            return None
        # A model's outputs are its layers' own (a float32 final layer's stay float32).
        output_dtype = compute if mixed and not _is_model(self) else None
        return args, kwargs, contextlib.nullcontext() if region is None else region, output_dtype

    def _call_in_mode(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
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

    # ------------------------------------------------------------------ functional API
    @property
    def input(self) -> Any:
        """The symbolic input(s) of the layer's first call on `keras.Input` tensors.

        Raises:
            AttributeError: when the layer was never called on symbolic tensors.
        """
        from kfit.layers import symbolic

        return symbolic.layer_input(self)

    @property
    def output(self) -> Any:
        """The symbolic output(s) of the layer's first call on `keras.Input` tensors.

        Example:
            >>> import kfit
            >>> inputs = kfit.Input(shape=(3,))
            >>> dense = kfit.layers.Dense(2)
            >>> dense(inputs).shape == dense.output.shape == (None, 2)
            True
        """
        from kfit.layers import symbolic

        return symbolic.layer_output(self)

    # ------------------------------------------------------------------ masks
    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        """The mask of the outputs; by default the input's mask, passed through.

        Example:
            >>> class ZeroIsPadding(Layer):
            ...     def call(self, x):
            ...         return x
            ...     def compute_mask(self, inputs, previous_mask=None):
            ...         return inputs != 0
            >>> ZeroIsPadding()(torch.tensor([[3, 0]]))._keras_mask.tolist()
            [[True, False]]
        """
        return previous_mask

    # ------------------------------------------------------------------ losses
    def add_loss(self, loss: Any) -> None:
        """Adds a loss tensor: it joins `losses`, and `fit` adds it to the training loss.

        Raises:
            ValueError: when `loss` is not a tensor.

        Example:
            >>> class Penalized(Layer):
            ...     def call(self, x):
            ...         self.add_loss(x.abs().sum())
            ...         return x
            >>> layer = Penalized()
            >>> _ = layer(torch.tensor([1.0, -2.0]))
            >>> [float(v) for v in layer.losses]
            [3.0]
        """
        if not isinstance(loss, torch.Tensor):
            raise ValueError(
                "Expected `loss` to be a tensor, such as `ops.sum(...)` of the layer's values. "
                f"Received: loss={loss!r} (of type {type(loss).__name__}). Convert it first, "
                "e.g. `self.add_loss(torch.as_tensor(value))`."
            )
        _CallState.losses = True
        self._losses.append(loss)

    def _may_add_losses(self) -> bool:
        """Whether this layer or a sublayer holds a regularizer or its `call` uses `add_loss`.

        Read before training starts, to tell a model that cannot have a loss without
        `compile(loss=...)` from one whose layers add their own (Keras trains those too).
        """
        for module in self.modules():
            if not isinstance(module, Layer):
                continue
            if module.activity_regularizer is not None or "add_loss" in _names_used(type(module).call):
                return True
            if any(p.__dict__.get("_keras_regularizer") is not None for p in module._parameters.values()):
                return True
        return False

    def _clear_losses(self) -> None:
        for module in self.modules():
            if isinstance(module, Layer) and module._losses:
                module._losses = []

    @property
    def losses(self) -> list[torch.Tensor]:
        """Added losses from the last call (this layer's, then its sublayers'), then the weight
        regularizers' losses, computed from the current weights."""
        found: list[torch.Tensor] = []
        for module in self.modules():
            if isinstance(module, Layer):
                found.extend(module._losses)
        for weight in self.weights:
            regularizer = weight.__dict__.get("_keras_regularizer")
            if regularizer is not None:
                found.append(regularizer(weight))
        return found

    # ------------------------------------------------------------------ tracking
    def __setattr__(self, name: str, value: Any) -> None:
        # Keras tracks what a layer holds: its metrics are listed by `metrics` (and reset by
        # `fit`), and its variables and sublayers learn their path.
        if isinstance(value, Metric):
            self.__dict__.setdefault("_metric_attributes", {})[name] = value
        else:
            # A metric replaced by something else is no longer the layer's.
            self.__dict__.get("_metric_attributes", {}).pop(name, None)
            if isinstance(value, Variable):
                params = self.__dict__.get("_parameters", {})
                registered = next((key for key, p in params.items() if p is value), None)
                if registered is not None and registered != name:
                    # `self.w = self.add_weight(name="kernel")`: already a parameter under its
                    # Keras name; registering it twice would list it twice in state_dict.
                    self.__dict__.pop(name, None)
                    object.__setattr__(self, name, value)
                    return
                if "_keras_path" not in value.__dict__:
                    value.set_path(f"{self.__dict__['name']}/{name}" if "name" in self.__dict__ else name)
            elif isinstance(value, Layer) and not _is_model(self) and "name" in self.__dict__:
                value._set_parent_path(self.path)
        super().__setattr__(name, value)

    def _set_parent_path(self, parent: str) -> None:
        self.__dict__["_parent_path"] = parent
        for key, p in self._parameters.items():
            if isinstance(p, Variable):
                p.__dict__["_keras_path"] = f"{self.path}/{p.__dict__.get('_keras_name', key)}"
        for child in self._modules.values():
            if isinstance(child, Layer) and not _is_model(child):
                child._set_parent_path(self.path)

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

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Output shape for `input_shape`, by running the layer once on zeros of that shape.

        Layers with a cheap formula override this; the functional API prefers those.
        """
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

    # ------------------------------------------------------------------ weights
    def _own_weights(self) -> Iterator[tuple[bool, torch.Tensor]]:
        """(trainable by its own choice, tensor) for the parameters and buffers set on this layer."""
        for p in self._parameters.values():
            if p is not None:
                yield p.__dict__.get("_keras_trainable", True), p
        for b in self._buffers.values():
            if b is not None:
                yield False, b

    @property
    def weights(self) -> list[torch.Tensor]:
        """Every weight, in Keras's order: this layer's trainable weights, its non-trainable
        ones, then each sublayer's `weights`.

        Example:
            >>> layer = Layer()
            >>> frozen = layer.add_weight(shape=(1,), trainable=False, name="frozen")
            >>> learned = layer.add_weight(shape=(1,), name="learned")
            >>> [w.name for w in layer.weights]
            ['learned', 'frozen']
        """
        found: list[torch.Tensor] = []
        seen: set[int] = set()
        own = list(self._own_weights())
        for trainable_first in (True, False):
            for trainable, w in own:
                if trainable == trainable_first and id(w) not in seen:
                    seen.add(id(w))
                    found.append(w)
        for child in self._sublayers():
            sub = child.weights if isinstance(child, Layer) else list(child.state_dict(keep_vars=True).values())
            for w in sub:
                if id(w) not in seen:
                    seen.add(id(w))
                    found.append(w)
        return found

    def _sublayers(self) -> list[torch.nn.Module]:
        """The direct sublayers whose weights follow this layer's own, in order."""
        return [m for m in self._modules.values() if m is not None]

    @property
    def variables(self) -> list[torch.Tensor]:
        return self.weights

    @property
    def trainable_weights(self) -> list[torch.Tensor]:
        return [w for w in self.weights if w.requires_grad]

    @property
    def trainable_variables(self) -> list[torch.Tensor]:
        return self.trainable_weights

    @property
    def non_trainable_weights(self) -> list[torch.Tensor]:
        return [w for w in self.weights if not w.requires_grad]

    @property
    def non_trainable_variables(self) -> list[torch.Tensor]:
        return self.non_trainable_weights

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
                # `ascontiguousarray` makes a 0-d array 1-d; the reshape restores scalars.
                t.copy_(torch.from_numpy(np.ascontiguousarray(a)).reshape(t.shape).to(t.dtype))

    def count_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": {"module": "keras", "class_name": "DTypePolicy",
                      "config": {"name": self._policy_name()}, "registered_name": None},
        }
        if self._declared_input_shape is not None:
            config["input_shape"] = list(self._declared_input_shape[1:])
        if self.activity_regularizer is not None:
            from kfit import regularizers

            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)


def _names_used(fn: Any) -> tuple[str, ...]:
    code = getattr(fn, "__code__", None)
    return code.co_names if code is not None else ()


def _is_model(layer: Any) -> bool:
    # Keras paths do not include model names: a nested model's weights keep their own paths.
    return getattr(layer, "_is_keras_model", False)


def _as_tensor(value: Any) -> Any:
    """NumPy arrays and Python numbers become tensors, as Keras converts a layer's inputs."""
    if isinstance(value, (list, tuple)) and not isinstance(value, torch.Size):
        converted = [_as_tensor(v) for v in value]
        if all(a is b for a, b in zip(converted, value)):
            return value
        return type(value)(converted) if type(value) in (list, tuple) else value
    if isinstance(value, dict):
        return {k: _as_tensor(v) for k, v in value.items()}
    if isinstance(value, (np.ndarray, np.generic, float, int)) and not isinstance(value, bool):
        array = np.asarray(value)
        tensor = torch.as_tensor(array)
        if tensor.is_floating_point() and tensor.dtype != torch.get_default_dtype():
            tensor = tensor.to(torch.get_default_dtype())
        return tensor
    return value


def _cast_floating(value: Any, dtype: torch.dtype) -> Any:
    """Floating tensors in `value` (nested in lists, tuples and dicts) cast to `dtype`, masks kept."""
    if isinstance(value, torch.Tensor):
        if not value.is_floating_point() or value.dtype == dtype:
            return value
        mask = getattr(value, "_keras_mask", None)
        cast = value.to(dtype)
        if mask is not None:
            cast._keras_mask = mask  # type: ignore[attr-defined]
        return cast
    if type(value) in (list, tuple):
        return type(value)(_cast_floating(v, dtype) for v in value)
    if type(value) is dict:
        return {k: _cast_floating(v, dtype) for k, v in value.items()}
    return value


def _mask_of(inputs: Any) -> Any:
    if isinstance(inputs, torch.Tensor):
        return getattr(inputs, "_keras_mask", None)
    if isinstance(inputs, (list, tuple)):
        masks = [getattr(v, "_keras_mask", None) if isinstance(v, torch.Tensor) else None for v in inputs]
        return None if all(m is None for m in masks) else masks
    return None


def _attach_masks(outputs: Any, mask: Any) -> None:
    if isinstance(outputs, torch.Tensor):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        if mask is not None:
            outputs._keras_mask = mask  # type: ignore[attr-defined]
        return
    if isinstance(outputs, (list, tuple)):
        masks = list(mask) if isinstance(mask, (list, tuple)) else [mask] * len(outputs)
        for out, m in zip(outputs, masks):
            if isinstance(out, torch.Tensor) and m is not None:
                out._keras_mask = m  # type: ignore[attr-defined]


def _flat_tensors(outputs: Any) -> list[torch.Tensor]:
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    if isinstance(outputs, (list, tuple)):
        return [t for v in outputs for t in _flat_tensors(v)]
    return []


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

