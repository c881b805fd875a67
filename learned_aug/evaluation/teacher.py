"""fit_teacher: the classifier of the real images that gives synthetic samples soft labels."""

from __future__ import annotations

from typing import Any

import torch

from learned_aug.data import load_dataset
from learned_aug.evaluation.augment import get_augment
from learned_aug.evaluation.classifier import ClassifierRecipe, train_classifier
from learned_aug.evaluation.networks import default_classifier
from learned_aug.rng import item_keys
from learned_aug.synthetic import Teacher


def fit_teacher(
    data: Any,
    *,
    augment: str | None = "randaugment",
    temperature: float = 2.0,
    hard_weight: float = 0.5,
    seed: int = 0,
    recipe: ClassifierRecipe | None = None,
    amp: bool = False,
) -> Teacher:
    """Train a teacher on real labelled data: the default classifier, trained with ``augment``
    (RandAugment by default) on all of ``data`` under the protocol's ``ClassifierRecipe``, as
    He et al. (2023) train theirs on the real images.

    Args:
        data: anything ``load_dataset`` takes (a ``LabelledData``, an ImageFolder, a name).
        augment: a key of ``learned_aug.evaluation.AUGMENTS``, or None for none.
        temperature: the teacher's softening of its predictions (see ``Teacher``).
        hard_weight: the one-hot label's share of each target (see ``Teacher``).
        seed: seeds the weights, the batches and the augmentation.
        recipe: the classifier's training settings (default ``ClassifierRecipe()``).
        amp: bfloat16 autocast while training (faster only on CPUs with AVX512-BF16/AMX).

    Returns:
        A ``Teacher`` holding the trained classifier (in eval mode, float32).

    Example:
        >>> from learned_aug import load_dataset
        >>> from learned_aug.evaluation import ClassifierRecipe, fit_teacher
        >>> recipe = ClassifierRecipe(min_steps=20, max_steps=20)
        >>> teacher = fit_teacher("wine", augment=None, recipe=recipe)
        >>> soft = teacher.targets(load_dataset("wine").x[:2], None, 3)
        >>> soft.shape, torch.allclose(soft.sum(1), torch.ones(2))
        (torch.Size([2, 3]), True)
    """
    data = load_dataset(data)
    if len(data.classes) < 2:
        raise ValueError(f"a teacher needs at least 2 classes, got {data.classes}")
    if augment is not None and not data.is_image:
        raise ValueError(
            f"augment={augment!r} transforms images, but the data are feature vectors of shape "
            f"{data.sample_shape}: pass augment=None"
        )
    rng = torch.Generator().manual_seed(int(item_keys(seed, [2])[0]))
    transform = None if augment is None else get_augment(augment, rng=rng)
    torch.manual_seed(seed)
    result = train_classifier(
        default_classifier(data), data, recipe, augment=transform, seed=seed, amp=amp
    )
    model = result.model.float().to(memory_format=torch.contiguous_format)
    return Teacher(model, temperature=temperature, hard_weight=hard_weight)
