"""`SwapEMAWeights`: evaluate and predict with the optimizer's moving average of the weights."""

from __future__ import annotations

from typing import Any

import torch

from kfit.callbacks.callback import Callback
from kfit.optimizers import Optimizer

__all__ = ["SwapEMAWeights"]

Logs = dict[str, Any]


class SwapEMAWeights(Callback):
    """Puts the optimizer's EMA weights into the model for evaluation and prediction.

    An optimizer created with `use_ema=True` keeps an exponential moving average (EMA) of the
    weights ("Polyak averaging"), which often generalizes better than the last weights. With
    this callback, `evaluate`, `predict` and `fit`'s validation run with the averaged weights;
    the trained weights are put back when they end, and training continues from them.

    With `swap_on_epoch=True` the averaged weights are also in the model from the end of each
    epoch until the next begins, so callbacks placed *after* this one in the list (e.g.
    `ModelCheckpoint`) save the averaged weights. Either way, `fit` ends with the averaged
    weights in the model (it calls `optimizer.finalize_variable_values()`, as in Keras).

    Until the optimizer has made a step there is no average yet, and nothing is swapped.
    While swapped, a copy of the trained weights is kept; the optimizer's averages are never
    modified by the callback.

    Args:
        swap_on_epoch: also swap around the end of each epoch (see above).

    Raises:
        ValueError: at `on_train_begin` (or the first evaluation or prediction) if the model's
            optimizer is not a kfit optimizer created with `use_ema=True`.

    Differences from Keras:
        - `on_predict_end` puts the trained weights back (Keras's condition is inverted, so
          they stayed swapped after `predict`).
        - Swapping uses a copy of the trained weights instead of exchanging them with the
          averages in place, so the optimizer's averages stay correct even if training stops
          early after an epoch-end swap (Keras then ends `fit` with the trained weights and
          corrupted averages).
        - Nothing is swapped before the first optimizer step (Keras swaps in the zero-filled
          averages).

    Example:
        >>> import numpy as np, kfit
        >>> from kfit.callbacks.swap_ema_weights import SwapEMAWeights
        >>> model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
        >>> model.compile(optimizer=kfit.optimizers.SGD(use_ema=True), loss="mse")
        >>> x, y = np.ones((8, 2)), np.ones(8)
        >>> history = model.fit(x, y, epochs=2, validation_data=(x, y), verbose=0,
        ...                     callbacks=[SwapEMAWeights()])
        >>> history.history["val_loss"][-1] == model.evaluate(x, y, verbose=0)
        True
    """

    def __init__(self, swap_on_epoch: bool = False) -> None:
        super().__init__()
        self.swap_on_epoch = bool(swap_on_epoch)
        # While the averages are in the model: the parameters, the trained values to put back,
        # and which hook swapped (only that hook's counterpart swaps back).
        self._params: list[torch.Tensor] = []
        self._trained: list[torch.Tensor] | None = None
        self._swapped_by = ""
        self._resumed = False

    def _ema_optimizer(self) -> Optimizer:
        optimizer = getattr(self.model, "optimizer", None)
        if not isinstance(optimizer, Optimizer) or not optimizer.use_ema:
            use_ema = getattr(optimizer, "use_ema", None)
            raise ValueError(
                "SwapEMAWeights needs a kfit optimizer created with `use_ema=True`, which keeps "
                f"a moving average of the weights. Received: use_ema={use_ema!r} on optimizer "
                f"{optimizer!r} (of type {type(optimizer).__name__}). Compile the model with e.g. "
                "`optimizer=kfit.optimizers.SGD(use_ema=True)`."
            )
        return optimizer

    @staticmethod
    def _has_average(optimizer: Optimizer) -> bool:
        # The average is taken after each step; before the first one it is all zeros.
        return optimizer.built and int(optimizer.iterations) > 0

    @torch.no_grad()
    def _swap_in(self, by: str) -> None:
        optimizer = self._ema_optimizer()
        if self._trained is not None or not self._has_average(optimizer):
            return
        params = [p for group in optimizer.param_groups for p in group["params"]]
        self._trained = [p.detach().clone() for p in params]
        # A swap happens a few times an epoch, so a per-tensor copy costs nothing noticeable.
        for param, average in zip(params, optimizer.ema_weights, strict=True):
            param.copy_(average)
        self._params = params
        self._swapped_by = by

    @torch.no_grad()
    def _swap_out(self, by: str) -> None:
        if self._trained is None or self._swapped_by != by:
            return
        for param, trained in zip(self._params, self._trained, strict=True):
            param.copy_(trained)
        self._params, self._trained, self._swapped_by = [], None, ""

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._ema_optimizer()
        if self._resumed:
            # set_state (BackupAndRestore) came first: the trained weights it restored go
            # back into the model when the next epoch begins.
            self._resumed = False
        else:
            self._params, self._trained, self._swapped_by = [], None, ""

    def get_state(self) -> dict[str, Any]:
        """The trained weights while the averages are in the model between epochs, else `{}`.

        With `swap_on_epoch=True`, a backup taken at an epoch end by a callback placed after
        this one holds the averaged weights as the model's; the trained weights the next
        epoch goes on from are these, as `{"trained_weights": {"0": tensor, ...}}` in the
        order of the optimizer's parameters.
        """
        if self._swapped_by != "epoch" or self._trained is None:
            return {}
        return {"trained_weights": {str(i): t for i, t in enumerate(self._trained)}}

    def set_state(self, state: dict[str, Any]) -> None:
        """Takes back the trained weights, to be put into the model when the next epoch begins."""
        weights = state.get("trained_weights")
        if weights is None:
            self._params, self._trained, self._swapped_by = [], None, ""
            self._resumed = True
            return
        params = [p for group in self._ema_optimizer().param_groups for p in group["params"]]
        if len(weights) != len(params):
            raise ValueError(
                f"Expected the trained weights of {len(params)} parameters (one per parameter "
                f"of the optimizer). Received: {len(weights)} tensors in "
                "state['trained_weights']. Resume with the same model and optimizer as the "
                "interrupted run."
            )
        self._trained = [
            weights[str(i)].to(device=p.device, dtype=p.dtype) for i, p in enumerate(params)
        ]
        self._params, self._swapped_by = params, "epoch"
        self._resumed = True

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        # Every on_train_begin of this fit has run: a later fit starts afresh again.
        self._resumed = False
        if self.swap_on_epoch:
            self._swap_out("epoch")

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.swap_on_epoch:
            self._swap_in("epoch")

    def on_train_end(self, logs: Logs | None = None) -> None:
        # `fit` has just put the averages into the model (`finalize_variable_values`), as Keras's
        # fit does: the trained weights kept since the last epoch end are not wanted back.
        self._params, self._trained, self._swapped_by = [], None, ""

    def on_test_begin(self, logs: Logs | None = None) -> None:
        self._swap_in("test")

    def on_test_end(self, logs: Logs | None = None) -> None:
        self._swap_out("test")

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        self._swap_in("predict")

    def on_predict_end(self, logs: Logs | None = None) -> None:
        self._swap_out("predict")
