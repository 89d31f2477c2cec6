"""Data-parallel training under `torchrun`: the rank helpers a script or a callback needs.

Run the same script on N processes, and `fit`, `evaluate` and `predict` train data-parallel::

    torchrun --nproc_per_node=4 train.py                      # one machine, 4 processes
    torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d \\
        --rdzv_endpoint=host0:29500 train.py                   # two machines

kfit joins torchrun's process group by itself (nccl with one GPU per process, else gloo), or
uses the one the script made with `torch.distributed.init_process_group`. `batch_size` is the
global batch; every rank sees the same logs; files are written by rank 0. See
docs/distributed.md for what runs where and how to write a rank-aware callback.

Example:
    >>> import kfit
    >>> kfit.distribution.get_rank(), kfit.distribution.get_world_size()
    (0, 1)
    >>> kfit.distribution.is_main_process()
    True
"""

from kfit.backend.distributed import (
    barrier,
    get_rank,
    get_world_size,
    initialize,
    is_distributed,
    is_main_process,
)

__all__ = ["barrier", "get_rank", "get_world_size", "initialize", "is_distributed", "is_main_process"]
