"""Teacher: soft labels for generated samples from a classifier of the real images.

He et al. (2023, "Is synthetic data from generative models ready for image recognition?")
label each synthetic sample with a classifier's softened prediction instead of (or mixed with)
the class it was drawn for: a sample that drifted towards another class then says so in its
target, and the classifier trained on it does not learn a wrong boundary from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from learned_aug.synthetic.filter import check_classifier, module_device


@dataclass
class Teacher:
    """Soft labels for generated samples from a classifier trained on the real images.

    Each sample's target is a probability vector over the K classes::

        hard_weight * one_hot(class drawn for) + (1 - hard_weight) * softmax(logits / temperature)

    It is the ``target_transform`` of a ``SyntheticDataset``
    (``SyntheticDataset(generator, n, target_transform=teacher)``), which hands it each batch of
    samples as they are generated, since it must see them. Where nobody can say which class a
    sample was drawn for (an unconditional generator whose bank labels are not trusted), the
    teacher's own prediction takes the hard part. Targets of this kind train with
    ``nn.CrossEntropyLoss`` as they are (it takes probabilities); give the real dataset
    ``target_transform=OneHot(K)`` so the two collate in one batch.
    ``learned_aug.evaluation.fit_teacher`` trains one on the real images, as the results page
    does (the default CNN with RandAugment).

    Args:
        classifier: maps a float batch (B, C, H, W) in [0, 1], at the generator's size, to
            logits (B, K).
        temperature: softens the teacher's prediction (He et al. use about 2); > 0.
        hard_weight: the share of the one-hot label in the target, in [0, 1] (0: the teacher's
            soft prediction alone, 1: the hard label alone).

    Example:
        >>> import torch
        >>> t = Teacher(lambda x: torch.tensor([[2.0, 0.0]] * len(x)), temperature=2.0)
        >>> t.targets(torch.rand(1, 1, 4, 4), torch.tensor([1]), 2).round(decimals=3)
        tensor([[0.3660, 0.6340]])
    """

    classifier: Callable[[Tensor], Tensor]
    temperature: float = 2.0
    hard_weight: float = 0.5

    def __post_init__(self) -> None:
        check_classifier(self.classifier)
        if not (isinstance(self.temperature, (int, float)) and self.temperature > 0) or (
            not math.isfinite(self.temperature)
        ):
            raise ValueError(f"temperature must be a finite number > 0, got {self.temperature!r}")
        if not 0.0 <= float(self.hard_weight) <= 1.0:
            raise ValueError(f"hard_weight must lie in [0, 1], got {self.hard_weight!r}")

    def __call__(self, label: int | Tensor) -> Tensor:
        raise TypeError(
            "a Teacher labels generated samples, which it must see: give it to "
            "SyntheticDataset(..., target_transform=teacher), and the real data "
            "target_transform=OneHot(num_classes)"
        )

    @torch.no_grad()
    def targets(self, samples: Tensor, labels: Tensor | None, num_classes: int) -> Tensor:
        """Soft targets ``(B, num_classes)`` of ``samples`` drawn for ``labels`` (None: the
        teacher's prediction is the hard part)."""
        device = module_device(self.classifier)
        logits = self.classifier(samples if device is None else samples.to(device))
        if not isinstance(logits, Tensor) or tuple(logits.shape) != (len(samples), num_classes):
            raise ValueError(
                f"the teacher must return logits ({len(samples)}, {num_classes}) for "
                f"{len(samples)} samples of {num_classes} classes, got "
                f"{tuple(getattr(logits, 'shape', ())) or type(logits).__name__}"
            )
        logits = logits.float().cpu()
        hard = logits.argmax(1) if labels is None else labels
        soft = (logits / self.temperature).softmax(dim=1)
        one_hot = F.one_hot(hard, num_classes).float()
        return self.hard_weight * one_hot + (1.0 - self.hard_weight) * soft


@dataclass(frozen=True)
class OneHot:
    """A target transform: a class index as a one-hot float vector of ``num_classes``.

    Give it to the real dataset (``target_transform=OneHot(K)``) that joins a
    ``SyntheticDataset`` with a ``Teacher``, so their targets collate into one ``(B, K)``
    batch; ``nn.CrossEntropyLoss`` takes such targets as they are.

    Example:
        >>> OneHot(3)(1)
        tensor([0., 1., 0.])
    """

    num_classes: int

    def __post_init__(self) -> None:
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int):
            raise TypeError(f"num_classes must be an int, got {self.num_classes!r}")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes}")

    def __call__(self, label: int | Tensor) -> Tensor:
        index = int(label)
        if not 0 <= index < self.num_classes:
            raise ValueError(
                f"label must lie in [0, {self.num_classes - 1}] for OneHot({self.num_classes}), "
                f"got {index}"
            )
        return F.one_hot(torch.tensor(index), self.num_classes).float()
