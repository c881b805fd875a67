"""The conditions the protocol compares, in dict registries, and how each builds its batches.

A condition pairs an optional conventional augmentation (``AUGMENTS``) with an optional learned
one (``LEARNED``). A learned augmentation names the recipe of its generator (``RECIPES``: a
``Recipe``, trained on the training set alone) and how the generator is used: ``"pool"`` mixes
synthetic samples into every batch, ``"transform"`` replaces real images by the generator's
variations of them (``LearnedAugment``). ``randaugment-views`` is the compute-matched control of
a learned pool: its batch holds as many real images as a half-synthetic batch, and the other
half are more RandAugment views of them. ``register_learned`` adds a learned augmentation and
its conditions (research variants live in benchmarks/, which registers them).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from learned_aug.data import LabelledData
from learned_aug.evaluation.augment import AUGMENTS
from learned_aug.models import Generator
from learned_aug.strategies import Strategy, as_strategy
from learned_aug.synthetic import ClassifierFilter, SyntheticDataset, Teacher
from learned_aug.training import DEFAULT_RECIPE, Recipe
from learned_aug.transforms import LearnedAugment

MODES = ("pool", "transform")


@dataclass(frozen=True)
class LearnedSpec:
    """A learned augmentation: which generator, how its latents are drawn, how they are mixed.

    Args:
        recipe: a key of ``RECIPES``, the recipe the generator is trained with.
        strategy: a ``Strategy`` with its strength (or a name in ``STRATEGIES`` for its
            defaults): for ``"pool"`` how ``SyntheticDataset`` draws (``Prior()``: the
            generator's own ``sample``; ``Posterior()``: the aggregate posterior; ``GMM()``,
            ...), for ``"transform"`` how ``LearnedAugment`` varies each image; ``None``: the
            default of ``SyntheticDataset`` / ``LearnedAugment``.
        pool: synthetic samples generated once per (size, seed), balanced over the classes:
            ``SyntheticDataset(generator, n=pool)`` as the README writes it.
        share: the synthetic fraction of every classifier batch (``MixSampler``; 0.5: as many
            synthetic as real examples).
        mode: ``"pool"`` or ``"transform"``.
        p: the probability that the transform replaces a real image.
        teacher: label the pool with a ``Teacher`` (``fit_teacher`` on the training set:
            the classifier with RandAugment) instead of hard classes (He et al. 2023).
        reject_below: with ``teacher``, redraw samples whose class the teacher gives less than
            this probability (``ClassifierFilter``), keeping the best of 10 tries.

    Example:
        >>> from learned_aug import Interpolate
        >>> from learned_aug.evaluation import LearnedSpec
        >>> LearnedSpec("learned", Interpolate((0.0, 0.3)), mode="transform").p
        0.5
    """

    recipe: str
    strategy: str | Strategy | None = "prior"
    pool: int = 5000
    share: float = 0.5
    mode: str = "pool"
    p: float = 0.5
    teacher: bool = False
    reject_below: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.reject_below is not None and not self.teacher:
            raise ValueError("reject_below filters by the teacher's score: set teacher=True")
        if self.strategy is not None:
            object.__setattr__(self, "strategy", as_strategy(self.strategy))


@dataclass(frozen=True)
class Condition:
    """One training condition: an optional conventional augmentation and learned one.

    Args:
        augment: the conventional part, a key of ``AUGMENTS`` (``"aug"``, ``"randaugment"``).
        learned: the learned part, a key of ``LEARNED``.
        views: augmented views of each real image per batch (2: the compute-matched control,
            whose batch holds as many real images as a half-synthetic one).

    Example:
        >>> from learned_aug.evaluation import CONDITIONS
        >>> CONDITIONS["randaugment+learned"]
        Condition(augment='randaugment', learned='learned', views=1)
    """

    augment: str | None = None
    learned: str | None = None
    views: int = 1


RECIPES: dict[str, Recipe] = {
    # The default path: what `learned-aug fit --data D --out R` trains (learned_aug.training
    # .recipe.DEFAULT_RECIPE; its tabular recipe on feature vectors).
    "learned": DEFAULT_RECIPE,
}
"""The recipes of the generators by name, each a ``Recipe``: a model, its settings and a step
budget, trained on a training set alone as ``learned-aug fit`` trains a recipe (``Recipe.fit``).

Example:
    >>> from learned_aug import Recipe
    >>> from learned_aug.evaluation import RECIPES
    >>> RECIPES["vae-b4"] = Recipe("vae", {"per_class": True, "beta": 4.0})
    >>> RECIPES.pop("vae-b4").config["beta"]
    4.0
"""
LEARNED: dict[str, LearnedSpec] = {
    # The default path: SyntheticDataset(generator, n) with its default sampler.
    "learned": LearnedSpec("learned", None),
}
"""Learned augmentations by name (``LearnedSpec``)."""
CONTROL = "randaugment-views"
"""The compute-matched control of ``randaugment+learned``: the same batch, its synthetic half
replaced by a second RandAugment view of each real image."""
CONDITIONS: dict[str, Condition] = {
    "none": Condition(),
    **{name: Condition(name) for name in AUGMENTS},
    CONTROL: Condition("randaugment", views=2),
}
"""Conditions by name: ``none``, each conventional augmentation of ``AUGMENTS`` alone, the
control ``randaugment-views``, and each learned augmentation of ``LEARNED`` alone and on top of
each conventional one (``randaugment+learned``, ...)."""


def register_learned(name: str, spec: LearnedSpec, recipe: Recipe | None = None) -> None:
    """Add the learned augmentation ``name`` (and its recipe under ``spec.recipe``, if
    ``recipe`` is given) with its conditions: ``name`` alone and ``<augment>+name`` for each
    conventional augmentation.

    Example:
        >>> from learned_aug.evaluation import AUGMENTS, CONDITIONS, LEARNED, LearnedSpec
        >>> from learned_aug.evaluation import register_learned
        >>> register_learned("learned-prior", LearnedSpec("learned", "prior"))
        >>> CONDITIONS["randaugment+learned-prior"].learned
        'learned-prior'
        >>> for key in ("learned-prior", *(f"{a}+learned-prior" for a in AUGMENTS)):
        ...     _ = CONDITIONS.pop(key)
        >>> _ = LEARNED.pop("learned-prior")
    """
    if recipe is not None:
        RECIPES[spec.recipe] = recipe
    if spec.recipe not in RECIPES:
        raise ValueError(
            f"{name!r} uses recipe {spec.recipe!r}, which is not in RECIPES "
            f"({sorted(RECIPES)}); pass it as recipe="
        )
    LEARNED[name] = spec
    CONDITIONS[name] = Condition(None, name)
    for augment in AUGMENTS:
        CONDITIONS[f"{augment}+{name}"] = Condition(augment, name)


register_learned("learned", LEARNED["learned"])


def fit_recipe(name: str, train: LabelledData, seed: int, scale: float = 1.0) -> Generator:
    """The generator of the recipe ``RECIPES[name]``, trained on ``train`` alone exactly as
    ``learned-aug fit`` trains a recipe, with its step budget times ``scale``."""
    recipe = RECIPES[name]
    return recipe.fit(train, scale=scale, seed=seed, device="cpu", progress=False).model


def synthetic_pool(
    spec: LearnedSpec,
    gen: Generator,
    train: LabelledData,
    seed: int,
    teacher: Teacher | None = None,
) -> tuple[LabelledData, Tensor | None]:
    """``spec.pool`` samples drawn once from a trained generator, as LabelledData (their hard
    classes) and, with a ``teacher``, their soft targets ``(n, K)``: a ``SyntheticDataset``
    with the spec's strategy over the latent bank of ``train`` (``fit`` attaches it to the
    generator it trains on ``train``), the teacher and its filter."""
    n = spec.pool
    keep = None
    if teacher is not None and spec.reject_below is not None:
        keep = ClassifierFilter(teacher.classifier, threshold=spec.reject_below)
    dataset = SyntheticDataset(
        gen, n, seed=seed, target_transform=teacher, strategy=spec.strategy, filter=keep
    )
    x, targets = dataset.generate(range(n))
    hard = torch.as_tensor(list(dataset.targets), dtype=torch.long)  # the one-hot part's class
    pool = LabelledData(x.clamp(0, 1) if train.is_image else x, hard, list(train.classes))
    return pool, (targets if teacher is not None else None)


def online_augment(
    spec: LearnedSpec, gen: Generator, train: LabelledData, seed: int
) -> LearnedAugment:
    """``LearnedAugment`` with ``spec``'s strategy (and the latent bank of ``train`` that
    ``fit`` attached, where it reads one), the transform of ``"transform"`` mode; it keeps the
    labels of the batch."""
    return LearnedAugment(gen, spec.strategy, p=spec.p, rng=seed)
