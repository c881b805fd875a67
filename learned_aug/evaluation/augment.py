"""Conventional batch augmentations, the baselines learned augmentation is compared with.

Each is a function ``(x, y, generator) -> x`` on a float batch ``(B, C, H, W)`` in ``[0, 1]``
with its labels ``y`` that draws different parameters for every image.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms import v2

from learned_aug.conventional import apply_per_image, get_conventional
from learned_aug.evaluation.classifier import BatchAugment


def random_affine(
    x: Tensor, generator: torch.Generator, degrees: float = 20.0, translate: float = 0.2
) -> Tensor:
    """Rotate each image by U(-degrees, degrees) and shift it by up to ``translate`` of its size.

    The conventional augmentation of Garay-Maestre et al. (2019): rotation 20 degrees, width and
    height shifts 20%, in one batched ``grid_sample`` with zeros filled in.
    """
    b = len(x)
    angle = (torch.rand(b, generator=generator) * 2 - 1) * math.radians(degrees)
    shift = (torch.rand(b, 2, generator=generator) * 2 - 1) * translate * 2  # [-1, 1] coords
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    ).to(x)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)


def _per_image(transform: Callable[[Tensor], Tensor]) -> BatchAugment:
    """Apply a torchvision transform to each image separately (uint8, as it expects)."""

    def apply(x: Tensor, y: Tensor, generator: torch.Generator) -> Tensor:
        # torchvision draws from the global RNG; seed it from ours so runs replay exactly.
        torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
        return apply_per_image(transform, x)

    return apply


def compose(*augments: BatchAugment) -> BatchAugment:
    """Apply ``augments`` in order."""

    def apply(x: Tensor, y: Tensor, generator: torch.Generator) -> Tensor:
        for augment in augments:
            x = augment(x, y, generator)
        return x

    return apply


def _randaugment(num_ops: int = 2, magnitude: int = 9) -> Callable[..., BatchAugment]:
    return lambda size=None: _per_image(v2.RandAugment(num_ops=num_ops, magnitude=magnitude))


RANDAUGMENT_VARIANTS: dict[str, tuple[int, int]] = {
    "ra-n1-m9": (1, 9),
    "ra-n2-m5": (2, 5),
    "ra-n2-m14": (2, 14),
    "ra-n3-m9": (3, 9),
}
"""RandAugment ``(num_ops, magnitude)`` settings beside torchvision's default (2, 9), the
candidates ``randaugment-tuned`` chooses among per training size."""

TUNED_RANDAUGMENT: dict[int, tuple[int, int]] = {
    50: (3, 9),
    100: (2, 14),
    250: (2, 9),
    500: (2, 14),
}
"""Training size -> the RandAugment ``(num_ops, magnitude)`` chosen on MNIST-5k with tuning seed
5 (never reported) by :func:`choose_randaugment` over docs/results_tuning.csv (a test checks
they agree); other sizes take the nearest size's (in log scale)."""


def choose_randaugment(records: Sequence[Mapping[str, Any]]) -> dict[int, tuple[int, int]]:
    """Per training size, the RandAugment setting (torchvision's default or one of
    ``RANDAUGMENT_VARIANTS``) with the best mean macro F1 over the records' seeds.

    Example:
        >>> rows = [{"size": 50, "condition": "randaugment", "macro_f1": 0.7},
        ...         {"size": 50, "condition": "ra-n3-m9", "macro_f1": 0.8}]
        >>> choose_randaugment(rows)
        {50: (3, 9)}
    """
    settings = {"randaugment": (2, 9), **RANDAUGMENT_VARIANTS}
    chosen = {}
    for size in sorted({int(r["size"]) for r in records}):
        means = {}
        for name in settings:
            f1 = [
                float(r["macro_f1"])
                for r in records
                if int(r["size"]) == size and r["condition"] == name
            ]
            if f1:
                means[name] = sum(f1) / len(f1)
        if means:
            chosen[size] = settings[max(means, key=means.__getitem__)]
    return chosen


def tuned_randaugment(size: int | None) -> tuple[int, int]:
    """The ``(num_ops, magnitude)`` of ``randaugment-tuned`` for ``size`` training images.

    Example:
        >>> tuned_randaugment(None)
        (2, 9)
    """
    if size is None or not TUNED_RANDAUGMENT:
        return (2, 9)
    nearest = min(TUNED_RANDAUGMENT, key=lambda s: abs(math.log(s) - math.log(max(size, 1))))
    return TUNED_RANDAUGMENT[nearest]


AUGMENTS: dict[str, Callable[..., BatchAugment]] = {
    "aug": lambda size=None: lambda x, y, generator: random_affine(x, generator),
    "trivialaugment": lambda size=None: _per_image(get_conventional("trivialaugment")),
    "randaugment": _randaugment(),
    "randaugment-tuned": lambda size=None: _per_image(v2.RandAugment(*tuned_randaugment(size))),
    **{name: _randaugment(*setting) for name, setting in RANDAUGMENT_VARIANTS.items()},
}
"""Conventional augmentations by name: ``"aug"`` (rotation 20 degrees, shifts 20%, as
Garay-Maestre et al.), torchvision's ``TrivialAugmentWide`` and ``RandAugment`` (default
settings; ``randaugment-tuned``: chosen per training size; ``ra-n<ops>-m<magnitude>``: other
settings). Each is a factory taking the training size."""


def get_augment(name: str, size: int | None = None) -> BatchAugment:
    """The batch augmentation registered as ``name`` in ``AUGMENTS``, for ``size`` training
    images (only ``randaugment-tuned`` reads it)."""
    if name not in AUGMENTS:
        raise ValueError(f"augment must be one of {sorted(AUGMENTS)}, got {name!r}")
    return AUGMENTS[name](size=size)
