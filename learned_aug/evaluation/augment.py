"""Conventional batch augmentations, the baselines learned augmentation is compared with.

Each is a function ``(x, y, generator) -> x`` on a float batch ``(B, C, H, W)`` in ``[0, 1]``
with its labels ``y`` that draws different parameters for every image.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

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


AUGMENTS: dict[str, Callable[[], BatchAugment]] = {
    "aug": lambda: lambda x, y, generator: random_affine(x, generator),
    "trivialaugment": lambda: _per_image(get_conventional("trivialaugment")),
    "randaugment": lambda: _per_image(get_conventional("randaugment")),
}
"""Conventional augmentations by name: ``"aug"`` (rotation 20 degrees, shifts 20%, as
Garay-Maestre et al.), torchvision's ``TrivialAugmentWide`` and ``RandAugment``."""


def get_augment(name: str) -> BatchAugment:
    """The batch augmentation registered as ``name`` in ``AUGMENTS``."""
    if name not in AUGMENTS:
        raise ValueError(f"augment must be one of {sorted(AUGMENTS)}, got {name!r}")
    return AUGMENTS[name]()
