"""LabelledData: real labelled data in memory, and the splits of the few-shot protocol.

Everything the loaders read ends up as a :class:`LabelledData`: float32 images ``(N, C, H, W)``
in ``[0, 1]`` (or raw tabular features ``(N, F)``), int64 labels and class names;
:func:`stratified_split` and :func:`balanced_subset` split it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import Dataset


@dataclass(eq=False, repr=False)
class LabelledData(Dataset[tuple[Tensor, int]]):
    """In-memory labelled data.

    Attributes:
        x: float32 tensor; images ``(N, C, H, W)`` with values in ``[0, 1]``, tabular ``(N, F)``
            raw floats. Other floating dtypes are converted to float32.
        y: int64 labels ``(N,)``; other integer dtypes are converted to int64.
        classes: class names; label ``i`` has name ``classes[i]``.
    """

    x: Tensor
    y: Tensor
    classes: list[str]

    def __post_init__(self) -> None:
        x, y, k = self.x, self.y, len(self.classes)
        if not isinstance(x, Tensor) or not isinstance(y, Tensor):
            raise TypeError(f"x and y must be tensors, got {type(x).__name__}, {type(y).__name__}")
        if x.dim() < 2 or not x.is_floating_point():
            raise ValueError(
                f"x must be a float tensor (N, C, H, W) or (N, F), got {x.dtype} of shape "
                f"{tuple(x.shape)} (scale uint8 images with x / 255)"
            )
        if y.dim() != 1 or y.is_floating_point() or y.is_complex():
            raise ValueError(f"y must be a 1-D integer tensor, got {y.dtype} {tuple(y.shape)}")
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)} labels")
        self.classes = [str(c) for c in self.classes]
        if not k or len(set(self.classes)) != k:
            raise ValueError(f"classes must be non-empty and unique, got {self.classes!r}")
        bad = y[(y < 0) | (y >= k)]
        if len(bad):
            raise ValueError(
                f"y must be in [0, {k}) (k = len(classes)), found label {bad[0].item()}"
            )
        self.x, self.y = x.to(torch.float32), y.to(torch.int64)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.x[i], int(self.y[i])

    def __repr__(self) -> str:
        shown = self.classes if len(self.classes) <= 10 else f"<{len(self.classes)} classes>"
        return f"LabelledData(n={len(self)}, sample_shape={self.sample_shape}, classes={shown})"

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample, ``x.shape[1:]``."""
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        """Whether samples are images, i.e. ``x`` is ``(N, C, H, W)``."""
        return self.x.dim() == 4

    @property
    def targets(self) -> list[int]:
        """Labels as a list of ints (torchvision's ``targets`` convention)."""
        return self.y.tolist()

    @property
    def class_to_idx(self) -> dict[str, int]:
        """Map from class name to label."""
        return {name: i for i, name in enumerate(self.classes)}

    def subset(self, indices: Tensor | Sequence[int]) -> LabelledData:
        """Select samples by integer indices or a boolean mask, keeping the same classes.

        Index selection copies: the result never aliases this dataset, so changing it cannot
        alter this one (nor a cached bundled dataset).
        """
        idx = torch.as_tensor(indices)
        idx = idx if idx.dtype == torch.bool else idx.to(torch.int64).reshape(-1)
        return LabelledData(self.x[idx], self.y[idx], list(self.classes))

    def class_counts(self) -> list[int]:
        """Number of samples per class, indexed by label (zero for absent classes)."""
        return torch.bincount(self.y, minlength=len(self.classes)).tolist()


def stratified_split(y: Tensor, val_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Split indices per class into train and validation sets.

    Each class gives ``round(val_fraction * count)`` (halves round up) samples to validation
    but always keeps at least one in train, so a single-example class goes entirely to train.

    Args:
        y: integer labels ``(N,)``.
        val_fraction: fraction in [0, 1) of each class to put in validation.
        seed: seed of the torch.Generator; the same seed gives the same split.

    Returns:
        ``(train_idx, val_idx)``: sorted, disjoint int64 index tensors covering ``range(N)``.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    y = torch.as_tensor(y).reshape(-1)
    rng = torch.Generator().manual_seed(seed)
    train, val = [torch.empty(0, dtype=torch.int64)], [torch.empty(0, dtype=torch.int64)]
    for label in torch.unique(y, sorted=True):
        idx = torch.nonzero(y == label).reshape(-1)
        idx = idx[torch.randperm(len(idx), generator=rng)]
        n_val = min(int(val_fraction * len(idx) + 0.5), len(idx) - 1)
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return torch.cat(train).sort().values, torch.cat(val).sort().values


def balanced_indices(
    y: Tensor, num_classes: int, per_class: int, seed: int
) -> tuple[Tensor, Tensor]:
    """The indices of ``per_class`` examples of every class, and of the rest, both sorted.

    Example:
        >>> import torch
        >>> chosen, rest = balanced_indices(torch.tensor([0, 0, 1, 1, 1]), 2, 1, seed=0)
        >>> len(chosen), sorted(chosen.tolist() + rest.tolist())
        (2, [0, 1, 2, 3, 4])
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    rng = torch.Generator().manual_seed(seed)
    mask = torch.zeros(len(y), dtype=torch.bool)
    for label in range(num_classes):
        idx = torch.nonzero(y == label).reshape(-1)
        mask[idx[torch.randperm(len(idx), generator=rng)[:per_class]]] = True
    return torch.nonzero(mask).reshape(-1), torch.nonzero(~mask).reshape(-1)


def balanced_subset(
    data: LabelledData, per_class: int, seed: int
) -> tuple[LabelledData, LabelledData]:
    """Choose ``per_class`` samples of every class (few-shot protocol) and keep the rest.

    Args:
        data: the labelled data; every class in ``data.classes`` needs ``per_class`` samples.
        per_class: number of samples to choose per class (>= 1).
        seed: seed of the torch.Generator; the same seed gives the same choice.

    Returns:
        ``(chosen, rest)``, both in the original order and with the same classes.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    counts = data.class_counts()
    short = [f"{c!r} has {n}" for c, n in zip(data.classes, counts, strict=True) if n < per_class]
    if short:
        raise ValueError(f"per_class={per_class} but class {', class '.join(short)} examples")
    chosen, rest = balanced_indices(data.y, len(data.classes), per_class, seed)
    return data.subset(chosen), data.subset(rest)
