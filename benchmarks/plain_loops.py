"""The baseline: what a careful user writes by hand in torch, for each workload.

The loop shuffles each epoch (`randperm`, then `index_select` on tensors built once), keeps the
running loss and metric sums on the device, and reads them back once per epoch. Its optimizers
do Keras's maths with `torch._foreach_*` ops, op for op what a careful hand-written step does:
`KerasRMSprop` (epsilon inside the square root) and `KerasAdam` (epsilon added to the
uncorrected `sqrt(v)`, the bias corrections folded into the step size).

`torch.optim` is not the baseline: `torch.optim.Adam(foreach=True)` makes one more pass over
the parameters per step than Keras's maths needs (it divides `sqrt(v)` by the bias
correction), and every `torch.optim` step goes through its profiling and hook wrapper. The
suite times it as a separate side, `plain+torch.optim`, built with `torch_optimizer`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.nn import functional as F

from benchmarks.workloads import CNN_CHANNELS, EMBEDDING_DIM, LSTM_UNITS, VOCABULARY

__all__ = ["PLAIN_BUILDERS", "ConfusionLoop", "KerasAdam", "KerasRMSprop", "PlainLoop", "torch_optimizer"]


class KerasRMSprop:
    """RMSprop with Keras's update `w -= lr * g / sqrt(v + eps)`, as multi-tensor ops.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([10.0]))
        >>> opt = KerasRMSprop([w], lr=0.1)
        >>> w.grad = w.detach().clone()
        >>> opt.step()
        >>> round(w.item(), 6)
        9.683772
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 0.001, rho: float = 0.9, eps: float = 1e-7) -> None:
        self.params = list(params)
        self.lr, self.rho, self.eps = lr, rho, eps
        self.velocities = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        grads = [p.grad for p in self.params]
        torch._foreach_mul_(self.velocities, self.rho)
        torch._foreach_addcmul_(self.velocities, grads, grads, value=1.0 - self.rho)
        denominators = torch._foreach_add(self.velocities, self.eps)
        torch._foreach_sqrt_(denominators)
        torch._foreach_addcdiv_(self.params, grads, denominators, value=-self.lr)


class KerasAdam:
    """Adam with Keras's update `w -= lr * sqrt(1 - b2**t) / (1 - b1**t) * m / (sqrt(v) + eps)`.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
        >>> opt = KerasAdam([w], lr=0.1)
        >>> w.grad = torch.tensor([0.5, -2.0])
        >>> opt.step()
        >>> [round(x, 4) for x in w.detach().tolist()]
        [0.9, -0.9]
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        eps: float = 1e-7,
    ) -> None:
        self.params = list(params)
        self.lr, self.beta_1, self.beta_2, self.eps = lr, beta_1, beta_2, eps
        self.momentums = [torch.zeros_like(p) for p in self.params]
        self.velocities = [torch.zeros_like(p) for p in self.params]
        self.iterations = 0

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.iterations += 1
        t, b1, b2 = self.iterations, self.beta_1, self.beta_2
        alpha = self.lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        grads = [p.grad for p in self.params]
        torch._foreach_lerp_(self.momentums, grads, 1.0 - b1)
        torch._foreach_mul_(self.velocities, b2)
        torch._foreach_addcmul_(self.velocities, grads, grads, value=1.0 - b2)
        denominators = torch._foreach_sqrt(self.velocities)
        torch._foreach_add_(denominators, self.eps)
        torch._foreach_addcdiv_(self.params, self.momentums, denominators, value=-alpha)


def torch_optimizer(key: str, params: Iterable[torch.Tensor]) -> torch.optim.Optimizer:
    """The closest `torch.optim` optimizer to the workload's Keras optimizer (foreach).

    `torch.optim.RMSprop` puts epsilon outside the square root; `torch.optim.Adam` divides by
    the bias correction in a pass of its own. Same hyperparameters, about the same work.

    Example:
        >>> type(torch_optimizer("W2", torch.nn.Linear(2, 1).parameters())).__name__
        'Adam'
    """
    if key == "W1":
        return torch.optim.RMSprop(params, lr=0.1, alpha=0.9, eps=1e-7, foreach=True)
    return torch.optim.Adam(params, lr=1e-3, eps=1e-7, foreach=True)


LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class PlainLoop:
    """One epoch of hand-written training per `epoch()` call.

    Args:
        model: the torch module.
        optimizer: anything with `zero_grad(set_to_none=True)` and `step()`.
        loss_fn: `(pred, y) -> mean loss of the batch`.
        metric_fn: `(pred, y) -> sum of the metric over the batch` (a 0-d tensor).
        metric_name: the key of the metric in the returned logs.
        x, y: the whole data set (numpy or tensors); converted to tensors on `device` once.
        batch_size: rows per step.
        device: where to train.

    Example:
        >>> import numpy as np
        >>> x, y = np.ones((10, 3), "float32"), np.zeros(10, "float32")
        >>> net = torch.nn.Linear(3, 1)
        >>> loop = PlainLoop(net, KerasRMSprop(net.parameters()), lambda p, t: F.mse_loss(p.squeeze(1), t),
        ...                  lambda p, t: (p.squeeze(1) - t).abs().sum(), "mae", x, y, batch_size=4)
        >>> sorted(loop.epoch())
        ['loss', 'mae']
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: Any,
        loss_fn: LossFn,
        metric_fn: LossFn,
        metric_name: str,
        x: Any,
        y: Any,
        batch_size: int,
        device: str | torch.device = "cpu",
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.optimizer = optimizer
        self.loss_fn, self.metric_fn, self.metric_name = loss_fn, metric_fn, metric_name
        self.x = torch.as_tensor(x).to(self.device)
        self.y = torch.as_tensor(y).to(self.device)
        self.batch_size = batch_size

    @property
    def steps(self) -> int:
        return -(-self.x.shape[0] // self.batch_size)

    def epoch(self) -> dict[str, float]:
        model, optimizer, loss_fn, metric_fn = self.model, self.optimizer, self.loss_fn, self.metric_fn
        x, y, bs = self.x, self.y, self.batch_size
        n = x.shape[0]
        order = torch.randperm(n, device=self.device)
        loss_sum = torch.zeros((), device=self.device)
        metric_sum = torch.zeros((), device=self.device)
        model.train()
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            pred = model(xb)
            loss = loss_fn(pred, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                # Weighted by the batch's rows, so the epoch mean is exact for a short last batch.
                loss_sum.add_(loss.detach(), alpha=idx.shape[0])
                metric_sum.add_(metric_fn(pred.detach(), yb))
        # The one device->host read of the epoch.
        loss_total, metric_total = torch.stack((loss_sum, metric_sum)).tolist()
        return {"loss": loss_total / n, self.metric_name: metric_total / n}


def _mse(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(pred.squeeze(1), y)


def _abs_error_sum(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (pred.squeeze(1) - y).abs().sum()


def _hits(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(dim=1) == y).sum()


def plain_guide(x: Any, y: Any, batch_size: int, device: str | torch.device = "cpu",
                with_torch_optim: bool = False) -> PlainLoop:
    """W1 by hand: `nn.Linear(784, 1)`, Keras RMSprop(0.1), MSE, summed absolute error."""
    net = torch.nn.Linear(784, 1)
    opt = torch_optimizer("W1", net.parameters()) if with_torch_optim else KerasRMSprop(net.parameters(), lr=0.1)
    return PlainLoop(net, opt, _mse, _abs_error_sum, "mean_absolute_error", x, y, batch_size, device)


def plain_mlp(x: Any, y: Any, batch_size: int, device: str | torch.device = "cpu",
              with_torch_optim: bool = False) -> PlainLoop:
    """W2 by hand: `nn.Sequential` of Linear/ReLU, Keras Adam, `F.cross_entropy`, hit count."""
    net = torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 10),
    )
    opt = torch_optimizer("W2", net.parameters()) if with_torch_optim else KerasAdam(net.parameters())
    return PlainLoop(net, opt, F.cross_entropy, _hits, "accuracy", x, y, batch_size, device)


def plain_cnn(x: Any, y: Any, batch_size: int, device: str | torch.device = "cpu",
              with_torch_optim: bool = False) -> PlainLoop:
    """W4 by hand: the same convolutions as `build_cnn`, then `nn.Flatten` and `nn.Linear`."""
    c1, c2 = CNN_CHANNELS
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, c1, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(c1, c2, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(c2 * 5 * 5, 10),
    )
    opt = torch_optimizer("W4", net.parameters()) if with_torch_optim else KerasAdam(net.parameters())
    return PlainLoop(net, opt, F.cross_entropy, _hits, "accuracy", x, y, batch_size, device)


def plain_softmax(x: Any, y: Any, batch_size: int, device: str | torch.device = "cpu",
                  with_torch_optim: bool = False) -> PlainLoop:
    """W5 by hand: `nn.Linear(784, 10)`, Keras Adam, `F.cross_entropy`, hit count."""
    net = torch.nn.Linear(784, 10)
    opt = torch_optimizer("W5", net.parameters()) if with_torch_optim else KerasAdam(net.parameters())
    return PlainLoop(net, opt, F.cross_entropy, _hits, "accuracy", x, y, batch_size, device)


EPSILON = 1e-7  # Keras's fuzz factor, which its cross-entropies on probabilities clip by


def _bce_probabilities(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy(p.squeeze(1).clamp(EPSILON, 1 - EPSILON), y)


def _binary_hits(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((p.squeeze(1) > 0.5).to(y.dtype) == y).sum()


def _sparse_ce_probabilities(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.nll_loss(torch.log(torch.clamp(p / p.sum(1, keepdim=True), EPSILON, 1 - EPSILON)), y)


def plain_binary(x: Any, y: Any, batch_size: int, device: str | torch.device = "cpu",
                 with_torch_optim: bool = False) -> PlainLoop:
    """W6 by hand: `nn.Linear(784, 1)` and a sigmoid, Keras Adam, clipped BCE, hit count."""
    net = torch.nn.Sequential(torch.nn.Linear(784, 1), torch.nn.Sigmoid())
    opt = torch_optimizer("W6", net.parameters()) if with_torch_optim else KerasAdam(net.parameters())
    return PlainLoop(net, opt, _bce_probabilities, _binary_hits, "accuracy", x, y, batch_size, device)


def plain_softmax_probabilities(x: Any, y: Any, batch_size: int, device: str | torch.device = "cpu",
                                with_torch_optim: bool = False) -> PlainLoop:
    """W7 by hand: `nn.Linear(784, 10)` and a softmax, Keras Adam, clipped NLL, hit count."""
    net = torch.nn.Sequential(torch.nn.Linear(784, 10), torch.nn.Softmax(dim=1))
    opt = torch_optimizer("W7", net.parameters()) if with_torch_optim else KerasAdam(net.parameters())
    return PlainLoop(net, opt, _sparse_ce_probabilities, _hits, "accuracy", x, y, batch_size, device)


def _cce_probabilities(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -(y * torch.log(torch.clamp(p / p.sum(1, keepdim=True), EPSILON, 1 - EPSILON))).sum(1).mean()


def _one_hot_hits(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (p.argmax(1) == y.argmax(1)).sum()


def plain_one_hot(x: Any, y: Any, batch_size: int, device: str | torch.device = "cpu",
                  with_torch_optim: bool = False) -> PlainLoop:
    """W8 by hand: `nn.Linear(784, 10)` and a softmax, Keras Adam, clipped CCE, hit count."""
    net = torch.nn.Sequential(torch.nn.Linear(784, 10), torch.nn.Softmax(dim=1))
    opt = torch_optimizer("W8", net.parameters()) if with_torch_optim else KerasAdam(net.parameters())
    return PlainLoop(net, opt, _cce_probabilities, _one_hot_hits, "accuracy", x, y, batch_size, device)


class _MnistConvnet(torch.nn.Module):
    """W10's network on channels-last images, permuted to torch's NCHW once at the input.

    The permute is a view: the convolutions then run on channels_last memory, as a torch user
    feeding Keras-layout images would write it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3)
        self.conv2 = torch.nn.Conv2d(32, 64, 3)
        self.dropout = torch.nn.Dropout(0.5)
        self.dense = torch.nn.Linear(64 * 5 * 5, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout(torch.flatten(x, 1))
        return F.softmax(self.dense(x), dim=1)


def plain_mnist_convnet(x: Any, y: Any, batch_size: int, device: str | torch.device = "cpu",
                        with_torch_optim: bool = False) -> PlainLoop:
    """W10 by hand: the convnet above, Keras Adam, clipped CCE on one-hot targets, hit count."""
    net = _MnistConvnet()
    opt = torch_optimizer("W10", net.parameters()) if with_torch_optim else KerasAdam(net.parameters())
    return PlainLoop(net, opt, _cce_probabilities, _one_hot_hits, "accuracy", x, y, batch_size, device)


class _LstmClassifier(torch.nn.Module):
    """W11's network: nn.Embedding, nn.LSTM (batch first), the last hidden state, a sigmoid unit."""

    def __init__(self, vocabulary: int, embedding_dim: int, units: int) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(vocabulary, embedding_dim)
        self.lstm = torch.nn.LSTM(embedding_dim, units, batch_first=True)
        self.dense = torch.nn.Linear(units, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(self.embedding(x))
        return torch.sigmoid(self.dense(h[-1]))


def plain_lstm(x: Any, y: Any, batch_size: int, device: str | torch.device = "cpu",
               with_torch_optim: bool = False) -> PlainLoop:
    """W11 by hand: embedding, torch's fused LSTM, Keras Adam, clipped BCE, hit count."""
    net = _LstmClassifier(VOCABULARY, EMBEDDING_DIM, LSTM_UNITS)
    opt = torch_optimizer("W11", net.parameters()) if with_torch_optim else KerasAdam(net.parameters())
    return PlainLoop(net, opt, _bce_probabilities, _binary_hits, "accuracy", x, y, batch_size, device)


AUC_THRESHOLDS = 200  # Keras's AUC default


class ConfusionLoop(PlainLoop):
    """W12's hand loop: `PlainLoop` with accuracy, AUC, precision and recall kept on the device.

    Per step it updates what Keras's metrics need and nothing more: the hit count, a
    `(label, bucket)` histogram of the scores over AUC's 200 thresholds (one `bincount`),
    and the true positives, predicted positives and actual positives at 0.5 (shared by
    precision and recall). Everything is read back once per epoch, where the AUC is summed.

    Example:
        >>> import numpy as np
        >>> x, y = np.random.rand(8, 784).astype("float32"), np.eye(10, dtype="float32")[np.arange(8)]
        >>> sorted(plain_mlp_confusion(x, y, batch_size=4).epoch())
        ['AUC', 'Precision', 'Recall', 'accuracy', 'loss']
    """

    def epoch(self) -> dict[str, float]:
        model, optimizer, loss_fn = self.model, self.optimizer, self.loss_fn
        x, y, bs, dev = self.x, self.y, self.batch_size, self.device
        n, buckets = x.shape[0], AUC_THRESHOLDS - 1
        order = torch.randperm(n, device=dev)
        loss_sum = torch.zeros((), device=dev)
        hits = torch.zeros((), dtype=torch.int64, device=dev)
        histogram = torch.zeros(2 * buckets, dtype=torch.int64, device=dev)
        at_half = torch.zeros(3, dtype=torch.int64, device=dev)  # tp, predicted positive, positive
        model.train()
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            pred = model(xb)
            loss = loss_fn(pred, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                p = pred.detach()
                loss_sum.add_(loss.detach(), alpha=idx.shape[0])
                hits.add_((p.argmax(1) == yb.argmax(1)).sum())
                flat, positive = p.reshape(-1), yb.reshape(-1) > 0
                # Bucket b holds scores in (t_b, t_{b+1}] of thresholds [-eps, 1/199, ..., 1+eps].
                bucket = (flat.clamp(0, 1) * buckets).ceil().long().clamp_(min=1) - 1
                histogram.add_(torch.bincount(bucket + buckets * positive, minlength=2 * buckets))
                above = flat > 0.5
                at_half.add_(torch.stack(((above & positive).sum(), above.sum(), positive.sum())))
        # The one device->host read of the epoch.
        loss_total, hit_total, *rest = torch.cat((torch.stack((loss_sum, hits.double())),
                                                   histogram.double(), at_half.double())).tolist()
        negatives, positives = rest[:buckets], rest[buckets : 2 * buckets]
        tp_half, predicted, actual = rest[2 * buckets :]
        # Counts above each threshold: a reversed cumulative sum, and 0 above 1 + eps.
        tp = [*reversed([*itertools.accumulate(reversed(positives))]), 0.0]
        fp = [*reversed([*itertools.accumulate(reversed(negatives))]), 0.0]
        tpr = [v / tp[0] if tp[0] else 0.0 for v in tp]
        fpr = [v / fp[0] if fp[0] else 0.0 for v in fp]
        auc = sum((fpr[i] - fpr[i + 1]) * (tpr[i] + tpr[i + 1]) / 2 for i in range(buckets))
        return {"loss": loss_total / n, "accuracy": hit_total / n, "AUC": auc,
                "Precision": tp_half / predicted if predicted else 0.0,
                "Recall": tp_half / actual if actual else 0.0}


def plain_mlp_confusion(x: Any, y: Any, batch_size: int, device: str | torch.device = "cpu",
                        with_torch_optim: bool = False) -> PlainLoop:
    """W12 by hand: W2's network with a softmax, Keras Adam, clipped CCE on one-hot targets,
    and the confusion counts of `ConfusionLoop`."""
    net = torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 10), torch.nn.Softmax(dim=1),
    )
    opt = torch_optimizer("W12", net.parameters()) if with_torch_optim else KerasAdam(net.parameters())
    return ConfusionLoop(net, opt, _cce_probabilities, _one_hot_hits, "accuracy", x, y, batch_size, device)


PLAIN_BUILDERS: dict[str, Callable[..., PlainLoop]] = {
    "W1": plain_guide, "W2": plain_mlp, "W4": plain_cnn, "W5": plain_softmax, "W6": plain_binary,
    "W7": plain_softmax_probabilities, "W8": plain_one_hot,
    # W9 is W2 with the guide's custom train_step on kfit's side: the same hand loop.
    "W9": plain_mlp,
    "W10": plain_mnist_convnet, "W11": plain_lstm, "W12": plain_mlp_confusion,
}
