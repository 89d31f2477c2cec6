"""The torch.distributed mechanics of data-parallel training: the process group, DDP, collectives.

kfit has no launcher and no communication layer of its own: `torchrun` starts the processes,
`torch.distributed` connects them and `DistributedDataParallel` averages the gradients. This
module holds the few collectives the trainer adds on top, each called at a point every rank
reaches in the same order (a collective that one rank skips would hang the others):

| collective | when | cost |
|---|---|---|
| `broadcast_module` | a fit begins | every parameter and buffer, once |
| `shared_seed` | a shuffling data adapter is built | one int |
| `reduce_metric_states` | logs are built: epoch end, validation end, a callback reading batch logs | one flat all-reduce of every metric state |
| `any_true` | after on_epoch_begin/on_epoch_end, and after batch hooks when a callback has some | one float |
| `gather_rows` | predict ends | the outputs, padded to the longest rank |
| `gather_bytes` | a backup is written | each rank's RNG states |
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.distributed as dist

__all__ = [
    "DataParallel",
    "active",
    "barrier",
    "get_rank",
    "get_world_size",
    "initialize",
    "is_distributed",
    "is_main_process",
]


def _torchrun_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def initialize(backend: str | None = None) -> None:
    """Joins the process group that `torchrun` describes in the environment, if not joined yet.

    `nccl` with one GPU per process (`LOCAL_RANK`) when CUDA is available, else `gloo`. `fit`,
    `evaluate` and `predict` call it by themselves under torchrun; a script may call it (or
    `torch.distributed.init_process_group`) first to use the group earlier.

    Example:
        >>> initialize()  # outside torchrun: nothing to join
        >>> is_distributed()
        False
    """
    if not dist.is_available() or dist.is_initialized() or _torchrun_world_size() <= 1:
        return
    if "MASTER_ADDR" not in os.environ:
        return  # WORLD_SIZE without a rendezvous address: not a torchrun launch
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    # The group kfit made is kfit's to close: left to the interpreter's teardown, the
    # communication threads can abort the process ("terminate called without an active
    # exception") after the script has finished.
    atexit.register(_destroy_group)


def _destroy_group() -> None:
    if dist.is_initialized():
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def is_distributed() -> bool:
    """Whether this process is one of several in an initialised process group.

    Example:
        >>> is_distributed()
        False
    """
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    """This process's rank (0 outside data-parallel training, or before the group exists).

    Under torchrun before the group is joined, the rank torchrun assigned (`RANK`).

    Example:
        >>> get_rank()
        0
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    if _torchrun_world_size() > 1:
        with contextlib.suppress(ValueError):
            return int(os.environ.get("RANK", "0"))
    return 0


def get_world_size() -> int:
    """The number of processes training together (1 outside data-parallel training).

    Example:
        >>> get_world_size()
        1
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def is_main_process() -> bool:
    """Whether this process writes files and prints: rank 0, or the only process.

    Example:
        >>> is_main_process()
        True
    """
    return get_rank() == 0


def barrier() -> None:
    """Waits until every rank reaches this point (nothing to wait for in one process).

    Example:
        >>> barrier()
    """
    if is_distributed():
        dist.barrier()


def active() -> DataParallel | None:
    """The data-parallel context for a fit, evaluate or predict; None in a single process.

    Joins torchrun's process group first when the script has not (see `initialize`).
    """
    initialize()
    if not is_distributed():
        return None
    return DataParallel()


class DataParallel:
    """The process group as the trainer uses it: rank, world size, device and collectives.

    Example:
        >>> active() is None  # one process: no context, the trainer's single-process path
        True
    """

    def __init__(self) -> None:
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.backend = str(dist.get_backend())
        # gloo reduces host tensors, nccl device tensors.
        if self.backend == "nccl":
            self.comm_device = torch.device("cuda", torch.cuda.current_device())
        else:
            self.comm_device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self) -> torch.device:
        """Where this rank trains: its `LOCAL_RANK` GPU under nccl, else the CPU."""
        if self.backend == "nccl":
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", torch.cuda.current_device())))
        return torch.device("cpu")

    def _to_comm(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor if tensor.device == self.comm_device else tensor.to(self.comm_device)

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Copies rank 0's parameters and buffers to every rank (models built differently agree)."""
        with torch.no_grad():
            for tensor in [*module.parameters(), *module.buffers()]:
                if isinstance(tensor, torch.nn.parameter.UninitializedParameter):
                    continue
                data = self._to_comm(tensor.detach())
                dist.broadcast(data, src=0)
                if data is not tensor:
                    tensor.copy_(data)

    def shared_seed(self) -> int:
        """A seed drawn on rank 0 from torch's RNG and given to every rank: one shuffle order."""
        seed = torch.randint(0, 2**62, (1,), dtype=torch.int64)
        seed = self._to_comm(seed)
        dist.broadcast(seed, src=0)
        return int(seed.item())

    @contextlib.contextmanager
    def reduce_metric_states(self, metrics: Sequence[Any]) -> Iterator[None]:
        """Inside the block, every metric holds the sum of its state over all ranks.

        Keras's metrics keep sums (totals, counts, confusion matrices), so the sum of the
        states is the state one process would have seen; results computed inside are the
        global ones, identical on every rank. The local states come back afterwards, so the
        running accumulation goes on undisturbed.
        """
        # get_state/set_state, the metrics' own protocol, also cover state kept off the
        # device (Mean counts unweighted samples on the host).
        local = [m.get_state() for m in metrics]
        entries = [(i, name, t) for i, state in enumerate(local) for name, t in state.items()]
        if not entries:
            yield
            return
        flat = torch.cat([self._to_comm(t.reshape(-1)).to(torch.float64) for _, _, t in entries])
        dist.all_reduce(flat)
        reduced: list[dict[str, torch.Tensor]] = [{} for _ in local]
        offset = 0
        for i, name, t in entries:
            n = t.numel()
            reduced[i][name] = flat[offset : offset + n].view(t.shape).to(device=t.device, dtype=t.dtype)
            offset += n
        for metric, state in zip(metrics, reduced):
            metric.set_state(state)
        try:
            yield
        finally:
            for metric, state in zip(metrics, local):
                metric.set_state(state)

    def mean_values(self, values: dict[str, Any]) -> dict[str, Any]:
        """The mean over ranks of each number in `values` (a custom step's own log values)."""
        keys = [k for k, v in values.items() if isinstance(v, (int, float, torch.Tensor)) and not isinstance(v, bool)]
        if not keys:
            return values
        flat = torch.tensor(
            [float(values[k].detach().float().mean()) if isinstance(values[k], torch.Tensor) else float(values[k])
             for k in keys],
            dtype=torch.float64,
        )
        flat = self._to_comm(flat)
        dist.all_reduce(flat)
        averaged = dict(values)
        for k, v in zip(keys, (flat / self.world_size).tolist()):
            averaged[k] = v
        return averaged

    def any_true(self, flag: bool) -> bool:
        """Whether `flag` is True on any rank (`stop_training` set on one rank stops them all)."""
        value = self._to_comm(torch.tensor([1.0 if flag else 0.0]))
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item() > 0)

    def all_gather_sizes(self, sizes: Sequence[int]) -> list[list[int]]:
        """Every rank's list of `sizes` (all ranks pass lists of the same length)."""
        local = self._to_comm(torch.tensor(list(sizes), dtype=torch.int64))
        gathered = [torch.empty_like(local) for _ in range(self.world_size)]
        dist.all_gather(gathered, local)
        return [g.tolist() for g in gathered]

    def gather_rows(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's `tensor` (same trailing shape; any number of rows), in rank order."""
        rows = self.all_gather_sizes([int(tensor.shape[0])])
        counts = [r[0] for r in rows]
        longest = max(counts)
        local = self._to_comm(tensor.detach())
        if local.shape[0] < longest:
            pad = local.new_zeros((longest - local.shape[0], *local.shape[1:]))
            local = torch.cat([local, pad])
        gathered = [torch.empty_like(local) for _ in range(self.world_size)]
        dist.all_gather(gathered, local.contiguous())
        return [g[:n].to(tensor.device) for g, n in zip(gathered, counts)]

    def gather_bytes(self, data: bytes) -> list[bytes]:
        """Every rank's `data`, in rank order (a backup's per-rank RNG states)."""
        buffer = torch.frombuffer(bytearray(data), dtype=torch.uint8) if data else torch.empty(0, dtype=torch.uint8)
        return [bytes(part.cpu().numpy().tobytes()) for part in self.gather_rows(buffer)]

    def broadcast_flag(self, flag: bool) -> bool:
        """Rank 0's `flag`, on every rank."""
        value = self._to_comm(torch.tensor([1.0 if flag else 0.0]))
        dist.broadcast(value, src=0)
        return bool(value.item() > 0)

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """`model` in `DistributedDataParallel` (which also broadcasts rank 0's weights)."""
        from torch.nn.parallel import DistributedDataParallel

        device = self.device()
        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def average_(self, tensors: Sequence[torch.Tensor]) -> None:
        """Replaces each tensor by its mean over the ranks, in place (one all-reduce)."""
        self.average_gradients(tensors)

    def average_gradients(self, grads: Sequence[torch.Tensor | None]) -> None:
        """Averages gradients over ranks in place: the DDP of a model's own `train_step`."""
        present = [g for g in grads if g is not None]
        if not present:
            return
        dtype = torch.float64 if any(g.dtype == torch.float64 for g in present) else torch.float32
        flat = torch.cat([self._to_comm(g.detach().reshape(-1)).to(dtype) for g in present])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        with torch.no_grad():
            for g in present:
                n = g.numel()
                g.copy_(flat[offset : offset + n].view(g.shape).to(g.dtype))
                offset += n
