"""Peers, each run only when it is installed: Keras 3 (torch backend), Lightning, Poutyne.

Keras runs the very model code kfit runs (`workloads.build_*`). Lightning and Poutyne train the
plain loops' torch modules the way their documentation shows: Lightning from a `DataLoader`
with `self.log(..., on_epoch=True)`, Poutyne from numpy arrays with a batch metric. Both get
`torch.optim` optimizers (`RMSprop(alpha=0.9, eps=1e-7)` has epsilon outside the square root,
unlike Keras, for the same work per step).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from benchmarks.measure import FitRunner, Runner
from benchmarks.plain_loops import PLAIN_BUILDERS, PlainLoop, torch_optimizer
from benchmarks.workloads import WORKLOADS

__all__ = ["PEERS", "available_peers", "make_peer_runner"]


def _keras() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    # Peers are compared on the CPU rows only; without this Keras would pick a GPU if present.
    os.environ.setdefault("KERAS_TORCH_DEVICE", "cpu")
    import keras

    if keras.config.backend() != "torch":
        raise RuntimeError(
            f"Expected Keras on the torch backend. Received: backend={keras.config.backend()!r}. "
            "Set KERAS_BACKEND=torch before Python starts."
        )
    return keras


def keras_runner(key: str, x: np.ndarray, y: np.ndarray, batch_size: int) -> Runner:
    """Keras 3 on torch, fitting the workload's model built with `keras`."""
    return FitRunner(WORKLOADS[key].build(_keras()), x, y, batch_size)


def _torch_parts(key: str, x: np.ndarray, y: np.ndarray, batch_size: int) -> PlainLoop:
    # The plain loop's module, loss and metric, so every peer trains the same network.
    return PLAIN_BUILDERS[key](x[:1], y[:1], batch_size)


class _LightningRunner:
    def __init__(self, key: str, x: np.ndarray, y: np.ndarray, batch_size: int) -> None:
        import pytorch_lightning as pl

        parts = _torch_parts(key, x, y, batch_size)
        net, loss_fn, metric_fn, metric_name = parts.model, parts.loss_fn, parts.metric_fn, parts.metric_name

        class Module(pl.LightningModule):
            def __init__(self) -> None:
                super().__init__()
                self.net = net

            def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
                xb, yb = batch
                pred = self.net(xb)
                loss = loss_fn(pred, yb)
                self.log("loss", loss, on_step=False, on_epoch=True, batch_size=len(xb))
                self.log(metric_name, metric_fn(pred.detach(), yb) / len(xb), on_step=False,
                         on_epoch=True, batch_size=len(xb))
                return loss

            def configure_optimizers(self) -> torch.optim.Optimizer:
                return torch_optimizer(key, self.parameters())

        self.pl = pl
        self.module = Module()
        dataset = torch.utils.data.TensorDataset(torch.as_tensor(x), torch.as_tensor(y))
        self.loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)

    def epoch(self) -> dict[str, float]:
        trainer = self.pl.Trainer(
            max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False,
        )
        trainer.fit(self.module, self.loader)
        return {k: float(v) for k, v in trainer.callback_metrics.items()}


class _PoutyneRunner:
    def __init__(self, key: str, x: np.ndarray, y: np.ndarray, batch_size: int) -> None:
        import poutyne

        parts = _torch_parts(key, x, y, batch_size)
        net = parts.model
        if key == "W1":
            # Poutyne's "mse" compares shapes as they are: give it (batch,) predictions.
            net = torch.nn.Sequential(net, torch.nn.Flatten(0))
            self.model = poutyne.Model(net, torch_optimizer(key, net.parameters()), "mse", batch_metrics=["l1"])
        elif key in ("W2", "W4", "W5", "W9"):
            self.model = poutyne.Model(net, torch_optimizer(key, net.parameters()), "cross_entropy",
                                       batch_metrics=["accuracy"])
        else:
            # Probabilities out of the network: the plain loop's loss, and its hit count as a mean.
            def accuracy(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
                return parts.metric_fn(pred, target) / len(target)

            self.model = poutyne.Model(net, torch_optimizer(key, net.parameters()), parts.loss_fn,
                                       batch_metrics=[accuracy])
        self.x, self.y, self.batch_size = x, y, batch_size

    def epoch(self) -> dict[str, float]:
        history = self.model.fit(self.x, self.y, batch_size=self.batch_size, epochs=1, verbose=False)
        return {k: float(v) for k, v in history[-1].items() if k not in ("epoch", "time")}


PEERS: dict[str, tuple[str, Callable[[str, np.ndarray, np.ndarray, int], Runner]]] = {
    "Keras": ("keras", keras_runner),
    "Lightning": ("pytorch_lightning", _LightningRunner),
    "Poutyne": ("poutyne", _PoutyneRunner),
}


def available_peers() -> dict[str, str | None]:
    """The version of each peer that can be imported, or None.

    Example:
        >>> sorted(available_peers())
        ['Keras', 'Lightning', 'Poutyne']
    """
    versions: dict[str, str | None] = {}
    for name, (module, _) in PEERS.items():
        if importlib.util.find_spec(module) is None:
            versions[name] = None
            continue
        if module == "keras":
            _keras()
        versions[name] = getattr(importlib.import_module(module), "__version__", "?")
    return versions


def make_peer_runner(name: str, key: str, x: np.ndarray, y: np.ndarray, batch_size: int) -> Runner:
    """The runner of peer `name` for workload `key`."""
    return PEERS[name][1](key, x, y, batch_size)
