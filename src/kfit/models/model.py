"""`Model`: a `torch.nn.Module` with Keras's training API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from kfit.layers.layer import Layer
from kfit.saving.object_registration import register_keras_serializable
from kfit.trainers.trainer import Trainer

__all__ = ["Model"]


@register_keras_serializable(package="keras")
class Model(Trainer, Layer):
    """A trainable model. Three ways to make one:

    - `Model(module)` wraps any `torch.nn.Module` (tuple inputs are passed as positional
      arguments and dict inputs as keyword arguments, as torch modules expect);
    - subclass it and define `call(self, inputs)` (add a `training` argument to receive the
      mode, as Keras passes it);
    - `kfit.Sequential([...])`.

    It is itself a `torch.nn.Module`: `parameters()`, `state_dict()`, `.to()` and hooks work.

    Example:
        >>> import numpy as np, kfit
        >>> class TwoLayer(kfit.Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden = kfit.layers.Dense(8, activation="relu")
        ...         self.out = kfit.layers.Dense(1)
        ...     def call(self, x):
        ...         return self.out(self.hidden(x))
        >>> model = TwoLayer()
        >>> model.compile(optimizer="adam", loss="mse")
        >>> _ = model.fit(np.ones((8, 4)), np.ones(8), verbose=0)
        >>> [w.shape for w in model.get_weights()]
        [(4, 8), (8,), (8, 1), (1,)]
        >>> wrapped = kfit.Model(torch.nn.Linear(4, 1))
        >>> wrapped.predict(np.ones((2, 4)), verbose=0).shape
        (2, 1)
    """

    # Keras paths do not include model names: a nested model's weights keep their own paths.
    _is_keras_model = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        module = None
        if args and isinstance(args[0], torch.nn.Module):
            module, args = args[0], args[1:]
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise TypeError(
                "Expected `Model(module)` or a subclass that defines `call`. Received: "
                f"positional arguments {args!r} / inputs/outputs keywords: the functional API "
                "(`Model(inputs, outputs)`) is not supported. Use `kfit.Sequential`, subclass "
                "`kfit.Model`, or wrap a torch module with `kfit.Model(module)`."
            )
        super().__init__(**kwargs)
        self._init_trainer()
        self._wrapped = module is not None
        if module is not None:
            self.module = module
        self.built = True

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._wrapped:
            raise NotImplementedError(
                f"Expected {type(self).__name__} to define `call(self, inputs)` (or `forward`). "
                "Received: a Model subclass without either. Define `call`, or wrap a module "
                "with `kfit.Model(module)`."
            )
        kwargs.pop("training", None)
        if isinstance(inputs, dict):
            return self.module(*args, **inputs, **kwargs)
        if isinstance(inputs, (tuple, list)):
            return self.module(*inputs, *args, **kwargs)
        return self.module(inputs, *args, **kwargs)

    def _is_built(self) -> bool:
        for m in self.modules():
            if isinstance(m, Layer) and not isinstance(m, Model) and not m.built:
                return False
        return not any(isinstance(p, torch.nn.parameter.UninitializedParameter) for p in self.parameters())

    def _expected_input_shape(self) -> tuple[int | None, ...] | None:
        return self._declared_input_shape

    def to(self, *args: Any, **kwargs: Any) -> Model:
        """Moves the model like `torch.nn.Module.to`; training then uses that device.

        Example:
            >>> import kfit, torch
            >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
            >>> model.to(torch.float64).layers[0].kernel.dtype
            torch.float64
        """
        result = super().to(*args, **kwargs)
        # `Module.to` takes the target device first or as `device=`, or a tensor whose device
        # it copies (first or as `tensor=`); a dtype alone leaves the device as it was.
        target = args[0] if args else kwargs.get("device", kwargs.get("tensor"))
        if isinstance(target, torch.Tensor):
            target = target.device
        if isinstance(target, (str, int, torch.device)):
            self._explicit_device = torch.device(target)
            self._device = self._explicit_device
        return result

    # ------------------------------------------------------------------ weights files
    def save_weights(self, filepath: str | Path, overwrite: bool = True) -> None:
        """Saves every weight to `.weights.h5` or `.safetensors`, atomically.

        Example:
            >>> import kfit, tempfile, os
            >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
            >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
            >>> model.save_weights(path)
            >>> model.load_weights(path)
        """
        from kfit.saving.weights import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def save(self, filepath: str | Path, overwrite: bool = True) -> None:
        """Saves the model to a `.keras` archive: config, weights and optimizer state, atomically.

        Load it back with `kfit.models.load_model(filepath)`.

        Example:
            >>> import kfit, tempfile, os
            >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
            >>> model.compile(optimizer="adam", loss="mse")
            >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
            >>> model.save(path)
            >>> type(kfit.models.load_model(path).optimizer).__name__
            'Adam'
        """
        from kfit.saving.model_io import save_model

        save_model(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: str | Path, skip_mismatch: bool = False) -> None:
        """Loads weights saved by `save_weights`; every shape is checked before any is changed."""
        from kfit.saving.weights import load_weights

        load_weights(self, filepath, strict=not skip_mismatch)

    # ------------------------------------------------------------------ summary
    def _summary_rows(self) -> list[tuple[str, str, int]]:
        return [
            (f"{getattr(m, 'name', name)} ({type(m).__name__})", "?", sum(p.numel() for p in m.parameters()))
            for name, m in self.named_children()
        ]

    def summary(self, print_fn: Any = None) -> None:
        """Prints the layers, their output shapes and parameter counts.

        Example:
            >>> import kfit
            >>> kfit.Sequential([kfit.layers.Dense(1, input_dim=784, name="dense")], name="seq").summary()
            Model: "seq"
            _________________________________________________________________
             Layer (type)                Output Shape              Param #
            =================================================================
             dense (Dense)               (None, 1)                 785
            =================================================================
            Total params: 785
            Trainable params: 785
            Non-trainable params: 0
            _________________________________________________________________
        """
        emit = print_fn or print
        rows = self._summary_rows()
        line = "_" * 65
        emit(f'Model: "{self.name}"')
        emit(line)
        emit(f" {'Layer (type)':<28}{'Output Shape':<26}Param #")
        emit("=" * 65)
        for i, (label, shape, count) in enumerate(rows):
            emit(f" {label:<28}{shape:<26}{count:,}".rstrip())
            if i < len(rows) - 1:
                emit("")
        emit("=" * 65)
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        emit(f"Total params: {total:,}")
        emit(f"Trainable params: {trainable:,}")
        emit(f"Non-trainable params: {total - trainable:,}")
        emit(line)
