"""MixSampler: real and synthetic examples at a fixed share of every batch.

A shuffled ``DataLoader`` over ``ConcatDataset([real, synthetic])`` mixes by length: 50 real
images beside 5,000 synthetic ones make batches that are 99% synthetic, and the share changes
whenever either size does. ``MixSampler`` is a batch sampler that puts exactly
``round(batch_size * share)`` synthetic examples and the rest real ones in every batch, whatever
the two sizes, so what a classifier sees is what the evaluation protocol trains on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import ConcatDataset, Sampler

from learned_aug.rng import as_rng


class Passes:
    """Indices taken in turn from shuffled passes over ``n`` items (without replacement): each
    item is drawn once per pass; a batch that runs past the end of a pass continues in the
    next, reshuffled one."""

    def __init__(self, n: int, rng: torch.Generator):
        self.n, self.rng = n, rng
        self._left = torch.empty(0, dtype=torch.long)

    def take(self, k: int) -> torch.Tensor:
        parts = []
        while k:
            if not len(self._left):
                self._left = torch.randperm(self.n, generator=self.rng)
            parts.append(self._left[:k])
            self._left, k = self._left[k:], k - len(parts[-1])
        return torch.cat(parts) if parts else torch.empty(0, dtype=torch.long)


def _sizes(data: ConcatDataset | Sequence[int]) -> tuple[int, int]:
    if isinstance(data, ConcatDataset):
        sizes = [len(d) for d in data.datasets]
    else:
        sizes = [int(s) for s in data]
    if len(sizes) != 2 or min(sizes) < 0:
        raise ValueError(
            "data must be ConcatDataset([real, synthetic]) or the sizes (n_real, n_synthetic) "
            f"of its two parts, got {len(sizes)} part(s) of sizes {sizes}"
        )
    return sizes[0], sizes[1]


class MixSampler(Sampler[list[int]]):
    """Batches of indices into ``ConcatDataset([real, synthetic])`` with a fixed synthetic share.

    Every batch holds ``round(batch_size * share)`` synthetic examples and the rest real ones
    (real first); where the real part is smaller than its share of a batch, the batch shrinks
    to keep the share. Both parts are drawn without replacement, in shuffled passes that carry over
    from batch to batch and epoch to epoch, so every real image is seen once per epoch and every
    synthetic sample once per pass over the synthetic part. An epoch is
    ``ceil(n_real / real_per_batch)`` batches: one pass over the real images, as a plain
    shuffled ``DataLoader`` of ``real`` with batches of ``real_per_batch``. The order depends
    only on ``rng``; the sampler runs in the main process, so ``num_workers`` does not change
    it. Pass it as the ``batch_sampler`` of a ``DataLoader``.

    How many synthetic samples to draw: enough that a pass over them spans many epochs, so that
    a sample is rarely seen twice (the evaluation protocol's pool: ``LearnedSpec.pool``).

    Args:
        data: ``ConcatDataset([real, synthetic])``, or the sizes ``(n_real, n_synthetic)``.
        batch_size: examples per batch, real and synthetic together.
        share: the fraction of each batch that is synthetic, in [0, 1) (0.5, the default: as
            many synthetic as real examples; 0: real images alone).
        rng: an int seed or a ``torch.Generator`` for the order; None draws a seed from torch's
            global RNG (as ``RandomSampler`` does).

    Example:
        >>> import torch
        >>> from torch.utils.data import ConcatDataset, DataLoader, TensorDataset
        >>> real = TensorDataset(torch.zeros(10, 1), torch.zeros(10))
        >>> synthetic = TensorDataset(torch.ones(1000, 1), torch.ones(1000))
        >>> data = ConcatDataset([real, synthetic])
        >>> loader = DataLoader(data, batch_sampler=MixSampler(data, batch_size=4, share=0.5))
        >>> x, y = next(iter(loader))
        >>> y.tolist(), len(loader)
        ([0.0, 0.0, 1.0, 1.0], 5)
    """

    def __init__(
        self,
        data: ConcatDataset | Sequence[int],
        batch_size: int = 64,
        share: float = 0.5,
        *,
        rng: int | torch.Generator | None = None,
    ):
        self.n_real, self.n_synthetic = _sizes(data)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if isinstance(share, bool) or not 0.0 <= float(share) < 1.0:
            raise ValueError(f"share must be a fraction in [0, 1), got {share!r}")
        self.batch_size, self.share = batch_size, float(share)
        self.synthetic_per_batch = round(batch_size * self.share)
        self.real_per_batch = batch_size - self.synthetic_per_batch
        if self.real_per_batch < 1:
            raise ValueError(
                f"batch_size={batch_size} with share={share} leaves no real example per batch; "
                "use a larger batch_size or a smaller share"
            )
        if self.n_real < 1:
            raise ValueError("the real part of data is empty")
        if self.n_real < self.real_per_batch:  # a smaller batch keeps the share
            self.real_per_batch = self.n_real
            self.synthetic_per_batch = round(self.n_real * self.share / (1 - self.share))
        if self.synthetic_per_batch and self.n_synthetic < 1:
            raise ValueError(f"share={share} asks for synthetic examples, but that part is empty")
        if rng is None:
            rng = int(torch.empty((), dtype=torch.int64).random_().item())
        rng = as_rng(rng)
        self._real = Passes(self.n_real, rng)
        self._synthetic = Passes(max(self.n_synthetic, 1), rng)

    def __len__(self) -> int:
        return math.ceil(self.n_real / self.real_per_batch)

    def next_batch(self) -> list[int]:
        """The indices of the next batch: real ones, then synthetic ones (offset by n_real)."""
        real = self._real.take(self.real_per_batch)
        synthetic = self._synthetic.take(self.synthetic_per_batch) + self.n_real
        return torch.cat([real, synthetic]).tolist()

    def __iter__(self) -> Iterator[list[int]]:
        for _ in range(len(self)):
            yield self.next_batch()
