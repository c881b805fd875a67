"""The conventional part of each condition: an augmentation of ``learned_aug.conventional``.

``AUGMENTS`` names, by the condition names results refer to (``aug``, ``randaugment``, ...),
an entry of the one registry of conventional augmentations, ``learned_aug.conventional
.CONVENTIONAL``, with its settings: ``aug`` is its ``affine`` (rotation 20 degrees, shifts 20%,
as Garay-Maestre et al.), ``ra-n<ops>-m<magnitude>`` RandAugment with other settings, and
``randaugment-tuned`` RandAugment with the settings chosen for the training size. Each is a
transform of the classifier's batch ``(x, y) -> (x, y)`` drawing per image from its own ``rng``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torchvision.transforms.v2 import Transform

from learned_aug.conventional import get_conventional

Rng = int | torch.Generator | None


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


def _conventional(name: str, **settings: Any) -> Callable[[int | None, Rng], Transform]:
    """A factory ``(size, rng) -> CONVENTIONAL[name](rng=rng, **settings)``."""
    return lambda size, rng: get_conventional(name, rng=rng, **settings)


def _tuned(size: int | None, rng: Rng) -> Transform:
    num_ops, magnitude = tuned_randaugment(size)
    return get_conventional("randaugment", rng=rng, num_ops=num_ops, magnitude=magnitude)


AUGMENTS: dict[str, Callable[[int | None, Rng], Transform]] = {
    "aug": _conventional("affine"),
    "trivialaugment": _conventional("trivialaugment"),
    "randaugment": _conventional("randaugment"),
    "randaugment-tuned": _tuned,
    **{
        name: _conventional("randaugment", num_ops=num_ops, magnitude=magnitude)
        for name, (num_ops, magnitude) in RANDAUGMENT_VARIANTS.items()
    },
}
"""The conventional part of a condition, by the condition's name: ``"aug"`` (the ``affine`` of
``CONVENTIONAL``: rotation 20 degrees, shifts 20%, as Garay-Maestre et al.), torchvision's
``TrivialAugmentWide`` and ``RandAugment`` (default settings; ``randaugment-tuned``: chosen per
training size; ``ra-n<ops>-m<magnitude>``: other settings). Each is a factory
``(training size, rng) -> transform``."""


def get_augment(name: str, size: int | None = None, *, rng: Rng = None) -> Transform:
    """The transform of the condition part ``name`` of ``AUGMENTS``, for ``size`` training
    images (only ``randaugment-tuned`` reads it), drawing from ``rng``.

    Example:
        >>> import torch
        >>> x, y = torch.rand(4, 1, 8, 8), torch.arange(4)
        >>> out, labels = get_augment("aug", rng=0)(x, y)
        >>> out.shape, torch.equal(labels, y)
        (torch.Size([4, 1, 8, 8]), True)
    """
    if name not in AUGMENTS:
        raise ValueError(f"augment must be one of {sorted(AUGMENTS)}, got {name!r}")
    return AUGMENTS[name](size, rng)
