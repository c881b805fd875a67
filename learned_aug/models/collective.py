"""Collective operations for models trained by several processes (DistributedDataParallel).

State a model computes from data rather than learns by gradient (a VQ codebook's EMA counts,
a tabular VAE's feature scaling) must agree across replicas: these make it so, and do nothing in
a single process.
"""

from __future__ import annotations

import torch.distributed as dist
from torch import Tensor


def distributed() -> bool:
    """Whether this process is one of several (a process group is initialised)."""
    return dist.is_available() and dist.is_initialized()


def all_reduce(t: Tensor) -> Tensor:
    """Sum over the processes of a distributed run, so every replica keeps one codebook."""
    if distributed():
        dist.all_reduce(t)
    return t


def broadcast(t: Tensor) -> Tensor:
    """Rank 0's value for every replica (initialisation, restarts, feature scaling)."""
    if distributed():
        dist.broadcast(t, src=0)
    return t
