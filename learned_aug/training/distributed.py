"""Multi-process training and sampling on PyTorch's own engine (torchrun, DDP, gloo / NCCL).

``fit`` trains with ``DistributedDataParallel`` whenever ``torch.distributed`` is initialised, or
when torchrun's environment (``WORLD_SIZE`` > 1) asks for it:

    torchrun --nproc-per-node 2 -m learned_aug.cli fit --data digits --out runs/ddp
    learned-aug fit --nproc 2 --data digits --out runs/ddp        # the same, launched for you

``batch_size`` stays the *global* batch: every step, each of the N processes takes its share of
the same shuffled batch (what a ``DistributedSampler`` does per epoch, done per step), and the
gradients are averaged so that N processes take the same optimizer steps as one process would.
Only rank 0 writes the run folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from learned_aug.models import VAE

# Generators whose loss uses every parameter in every step.
DENSE_MODELS: tuple[type[nn.Module], ...] = (VAE,)


def is_distributed() -> bool:
    """Whether this process is one of several in an initialised process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """The number of processes training together (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Whether this process writes files and prints: rank 0, or the only process."""
    return rank() == 0


def init_from_env(backend: str | None = None) -> bool:
    """Join the process group that torchrun describes in the environment.

    A no-op (returning whether training is distributed) when the group is already initialised
    or when ``WORLD_SIZE`` is unset or 1. ``backend`` None lets torch pick gloo for CPU tensors
    and NCCL for CUDA tensors.
    """
    if not dist.is_available() or dist.is_initialized():
        return is_distributed()
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    dist.init_process_group(backend=backend)
    return True


def cleanup() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every process (a no-op when not distributed)."""
    if is_distributed():
        dist.barrier()


def rank_device(device: torch.device) -> torch.device:
    """A bare ``cuda`` becomes this process's GPU (``LOCAL_RANK``) when distributed."""
    if device.type == "cuda" and device.index is None and is_distributed():
        local, visible = int(os.environ.get("LOCAL_RANK", "0")), torch.cuda.device_count()
        if local >= visible:  # NCCL cannot put two processes on one GPU
            raise ValueError(
                f"process {local} on this node needs a GPU of its own, but {visible} are "
                "visible: run at most that many processes per node, or pass device='cpu'"
            )
        return torch.device("cuda", local)
    return device


def shard_batch(batch: Tensor, rank: int, world: int) -> tuple[Tensor, int]:
    """This rank's rows of a global batch of indices, and how many of them count.

    Rows are dealt in turn (``batch[rank::world]``). A rank left without rows (a last batch
    smaller than ``world``) gets one stand-in row that counts 0, so that it still joins the
    gradient all-reduce; the loop weights its loss by 0.
    """
    if world == 1:
        return batch, len(batch)
    mine = batch[rank::world]
    return (mine, len(mine)) if len(mine) else (batch[:1], 0)


def all_reduce_sum(value: Tensor) -> Tensor:
    """Sum ``value`` over the processes, in place; returned unchanged when not distributed."""
    if is_distributed():
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value


def sum_over_ranks(values: dict[str, Any]) -> dict[str, float]:
    """Sum a dict of scalars over the processes (one collective for the whole dict)."""
    names = list(values)  # the same order in every process: they run the same code
    if not is_distributed():
        return {name: float(values[name]) for name in names}
    stacked = torch.tensor([float(values[name]) for name in names], dtype=torch.float64)
    stacked = all_reduce_sum(stacked.to(_collective_device())).cpu()
    return dict(zip(names, stacked.tolist(), strict=True))


def mean_over_ranks(local_mean: float, count: int) -> float:
    """The mean over all processes' rows, from each process's mean over its ``count`` rows."""
    if not is_distributed():
        return local_mean
    total = sum_over_ranks({"sum": local_mean * count if count else 0.0, "count": count})
    return total["sum"] / total["count"] if total["count"] else float("nan")


def _collective_device() -> torch.device:
    # NCCL reduces CUDA tensors only; gloo reduces CPU tensors.
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


class LossModule(nn.Module):
    """Adapter whose ``forward`` is a generator's ``loss``, so DDP can wrap it.

    DDP synchronises gradients only for computations that go through the wrapper's
    ``forward``; a generator's ``forward`` is not its loss, hence this adapter.

    Example:
        >>> from learned_aug import VAE, VAEConfig
        >>> vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, hidden_channels=(8,)))
        >>> LossModule(vae)(torch.rand(2, 1, 8, 8))["loss"].item() > 0
        True
    """

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, x: Tensor, labels: Tensor | None = None, *, kl_weight: float = 1.0, **kw):
        # kw: a partner-trained VAE's ``target`` (given only to a generator that takes it).
        return self.generator.loss(x, labels, kl_weight=kl_weight, **kw)


def loss_function(generator: nn.Module) -> Callable[..., dict[str, Tensor]]:
    """``generator.loss``, or, when distributed, the same loss through DDP.

    ``find_unused_parameters`` because the members of a ``ClasswiseGenerator`` whose class has
    no rows in a process's share of a batch take no part in that step; only models known to
    use every parameter in every step (the plain VAE) skip that extra graph traversal.
    """
    if not is_distributed():
        return generator.loss
    device = next(generator.parameters()).device
    ids = [device.index] if device.type == "cuda" else None
    dense = type(generator) in DENSE_MODELS
    return DistributedDataParallel(
        LossModule(generator), device_ids=ids, find_unused_parameters=not dense
    )


def shard_indices(n: int, index: int, count: int) -> range:
    """Items of shard ``index`` of ``count`` among ``n``: disjoint, together ``range(n)``."""
    return range(index, n, count)


def env_shard() -> tuple[int, int] | None:
    """``(RANK, WORLD_SIZE)`` when torchrun launched this process, else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])


def launch(nproc: int, argv: Sequence[str], module: str = "learned_aug.cli") -> int:
    """Run ``python -m module *argv`` in ``nproc`` processes under torchrun; its exit status.

    Example:
        >>> launch(2, ["fit", "--data", "digits", "--out", "runs/ddp"])  # doctest: +SKIP
        0
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be a positive int, got {nproc!r}")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        module,
        *argv,
    ]
    return subprocess.call(command)


def broadcast_flag(value: bool) -> bool:
    """Rank 0's ``value`` in every process (``value`` itself when not distributed), so that a
    choice made per machine (autocast) is the same in every process."""
    if not is_distributed():
        return bool(value)
    return bool(sum_over_ranks({"flag": float(value) if is_main() else 0.0})["flag"])
