"""The conventional part of each condition: an augmentation of ``learned_aug.conventional``.

``AUGMENTS`` names, by the condition names results refer to, an entry of the one registry of
conventional augmentations, ``learned_aug.conventional.CONVENTIONAL``, with its settings. Each is
a transform of the classifier's batch ``(x, y) -> (x, y)`` drawing per image from its own
``rng``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torchvision.transforms.v2 import Transform

from learned_aug.conventional import get_conventional

Rng = int | torch.Generator | None


def _conventional(name: str, **settings: Any) -> Callable[[Rng], Transform]:
    """A factory ``rng -> CONVENTIONAL[name](rng=rng, **settings)``."""
    return lambda rng: get_conventional(name, rng=rng, **settings)


AUGMENTS: dict[str, Callable[[Rng], Transform]] = {
    "aug": _conventional("affine"),
    "flip": _conventional("flip"),
    "trivialaugment": _conventional("trivialaugment"),
    "randaugment": _conventional("randaugment"),
}
"""The conventional part of a condition, by the condition's name: ``"aug"`` (the ``affine`` of
``CONVENTIONAL``: rotation 20 degrees, shifts 20%, as Garay-Maestre et al.), ``"flip"``
(horizontal flips, for data whose mirror image is of the same class), torchvision's
``TrivialAugmentWide`` and ``RandAugment`` (default settings). Each is a factory
``rng -> transform``."""


def get_augment(name: str, *, rng: Rng = None) -> Transform:
    """The transform of the condition part ``name`` of ``AUGMENTS``, drawing from ``rng``.

    Example:
        >>> import torch
        >>> x, y = torch.rand(4, 1, 8, 8), torch.arange(4)
        >>> out, labels = get_augment("aug", rng=0)(x, y)
        >>> out.shape, torch.equal(labels, y)
        (torch.Size([4, 1, 8, 8]), True)
    """
    if name not in AUGMENTS:
        raise ValueError(f"augment must be one of {sorted(AUGMENTS)}, got {name!r}")
    return AUGMENTS[name](rng)
