"""Partners for a VAE trained in pairs (``VAEConfig(partner=True)``, the DAGAN idea).

The encoder of such a VAE sees one image and its decoder reconstructs another image *of the
same class*, so that given an image it makes another member of that image's class (Antoniou,
Storkey and Edwards 2018, "Data Augmentation Generative Adversarial Networks"). ``Partners``
draws those other images: the rows of one split are grouped by class once, and each draw
gives every row a random other row of its group, without a Python loop over the rows.

What A tells of a random B is little more than its class, and a pixel likelihood averages
the rest: on 8x8 digits (60 epochs, unconditional) such a VAE decodes images close to its
class's mean image, with a tenth of the real within-class spread; DAGAN's adversarial loss is
what keeps its outputs sharp and varied.
"""

from __future__ import annotations

import torch
from torch import Tensor

from learned_aug.models import UNLABELLED, ClasswiseConfig, Generator


def trains_in_pairs(model: Generator) -> bool:
    """Whether ``fit`` trains ``model`` on pairs of same-class images (its config's
    ``partner``); a ValueError for a per-class generator whose members ask for it.

    Example:
        >>> from learned_aug import VAE, VAEConfig
        >>> trains_in_pairs(VAE(VAEConfig(image_size=(8, 8), latent_dim=2, partner=True)))
        True
    """
    config = model.config
    if isinstance(config, ClasswiseConfig) and config.member.get("partner"):
        raise ValueError(
            "partner=True is not supported with per_class=True (each member sees one class "
            "and its batched training reconstructs each image itself): train one generator, "
            "conditional or not, with partner=True, or leave partner out"
        )
    return bool(getattr(config, "partner", False))


class Partners:
    """For each row of a split, a random other row of its class (itself when it is alone).

    Rows labelled ``UNLABELLED`` (an unlabelled pool) have no class: each is its own partner.
    Draws take an explicit ``torch.Generator``, so a seeded run draws the same partners.

    Args:
        labels: ``(N,)`` class indices of the split's rows (``UNLABELLED`` for pool rows).

    Example:
        >>> import torch
        >>> partners = Partners(torch.tensor([0, 1, 0, 1, -1]))
        >>> partners.draw(torch.Generator().manual_seed(0)).tolist()
        [2, 3, 0, 1, 4]
    """

    def __init__(self, labels: Tensor):
        if not isinstance(labels, Tensor) or labels.dim() != 1 or labels.is_floating_point():
            raise ValueError(
                f"labels must be a 1-D integer tensor of class indices, got "
                f"{labels if not isinstance(labels, Tensor) else (labels.dtype, labels.shape)!r}"
            )
        labels = labels.detach().cpu().long()
        n = len(labels)
        # A pool row gets a class of its own (distinct negative keys): its group is itself.
        keys = torch.where(labels == UNLABELLED, -1 - torch.arange(n), labels)
        self.order = torch.argsort(keys, stable=True)  # the rows, grouped by class
        _, counts = torch.unique_consecutive(keys[self.order], return_counts=True)
        starts = counts.cumsum(0) - counts
        group = torch.repeat_interleave(torch.arange(len(counts)), counts)
        # Per row: where its group starts in ``order``, the group's size, its place in it.
        self.start = torch.empty(n, dtype=torch.long)
        self.size = torch.empty(n, dtype=torch.long)
        self.place = torch.empty(n, dtype=torch.long)
        self.start[self.order] = starts[group]
        self.size[self.order] = counts[group]
        self.place[self.order] = torch.arange(n) - starts[group]

    def __len__(self) -> int:
        return len(self.order)

    def draw(self, generator: torch.Generator) -> Tensor:
        """``(N,)`` the partner of every row: uniform among the other rows of its class."""
        others = self.size - 1
        # An offset in 1..size-1 from the row's own place: never itself when it has company.
        uniform = torch.rand(len(self), generator=generator, dtype=torch.float64)
        step = torch.minimum((uniform * others).long(), (others - 1).clamp_min(0))
        offset = step + (others > 0).long()
        return self.order[self.start + (self.place + offset) % self.size]
