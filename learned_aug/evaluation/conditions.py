"""The conditions the protocol compares, in dict registries, and how each builds its stream.

A condition pairs an optional conventional augmentation (``AUGMENTS``) with an optional learned
one (``LEARNED``). A learned augmentation names a generator (``GENERATORS``: a ``Recipe``,
trained on the training set alone) and how it is used: ``"pool"`` mixes synthetic samples into
every batch, ``"transform"`` replaces real images by the generator's variations of them
(``LearnedAugment``). Add an entry to a registry to add a condition; ``aug+<name>``,
``trivialaugment+<name>`` and ``randaugment+<name>`` are registered with every learned one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from learned_aug.data import LabelledData
from learned_aug.evaluation.augment import RANDAUGMENT_VARIANTS
from learned_aug.models import Generator
from learned_aug.strategies import Interpolate, Strategy, as_strategy
from learned_aug.synthetic import ClassifierFilter, SyntheticDataset, Teacher
from learned_aug.training import DEFAULT_RECIPE, Recipe
from learned_aug.transforms import LearnedAugment

MODES = ("pool", "transform")


@dataclass(frozen=True)
class LearnedSpec:
    """A learned augmentation: which generator, how its latents are drawn, how they are mixed.

    Args:
        generator: a key of ``GENERATORS``.
        strategy: a ``Strategy`` with its strength (or a name in ``STRATEGIES`` for its
            defaults): for ``"pool"`` how ``SyntheticDataset`` draws (``Prior()``: the
            generator's own ``sample``; ``Posterior()``: the aggregate posterior; ``GMM()``,
            ...), for ``"transform"`` how ``LearnedAugment`` varies each image; ``None``: the
            default of ``SyntheticDataset`` / ``LearnedAugment``.
        pool: synthetic samples generated once per (size, seed), balanced over the classes:
            ``SyntheticDataset(generator, n=pool)`` as the README writes it.
        weight: weight of each synthetic row in the classifier loss.
        share: the synthetic fraction of every classifier batch (``MixSampler``; 0.5: as many
            synthetic as real examples).
        mode: ``"pool"`` or ``"transform"``.
        p: the probability that the transform replaces a real image.
        teacher: label the pool with a ``Teacher`` (``fit_teacher`` on the training set:
            the classifier with RandAugment) instead of hard classes (He et al. 2023).
        reject_below: with ``teacher``, redraw samples whose class the teacher gives less than
            this probability (``ClassifierFilter``), keeping the best of 10 tries.
        augment_synthetic: apply the condition's conventional augmentation to the synthetic
            rows as well as the real ones (False: to the real rows only).

    Example:
        >>> from learned_aug import Interpolate
        >>> from learned_aug.evaluation import LearnedSpec
        >>> LearnedSpec("cvae", Interpolate((0.0, 0.3)), mode="transform").p
        0.5
    """

    generator: str
    strategy: str | Strategy | None = "prior"
    pool: int = 5000
    weight: float = 1.0
    share: float = 0.5
    mode: str = "pool"
    p: float = 0.5
    teacher: bool = False
    reject_below: float | None = None
    augment_synthetic: bool = True

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

    Example:
        >>> from learned_aug.evaluation import CONDITIONS
        >>> CONDITIONS["aug+vae"]
        Condition(augment='aug', learned='vae')
    """

    augment: str | None = None
    learned: str | None = None


_PAPER_VAE = {"latent_dim": 3, "hidden_channels": (32, 64), "hidden_dim": 256}
_CVAE = {"conditional": True, "latent_dim": 8}
# The budget of the generators below: about 1,500 optimizer steps, at least 20 epochs (with
# one step an epoch on tiny sets, fewer stop a VAE long before it has learned).
_BUDGET = {"steps": 1500, "min_epochs": 20}
GENERATORS: dict[str, Recipe] = {
    # The default path: what `learned-aug fit --data D --out R` trains (learned_aug.training
    # .recipe.DEFAULT_RECIPE; its tabular recipe on feature vectors).
    "learned": DEFAULT_RECIPE,
    # Lighter generators for the same recipe, tuning candidates (1.69M parameters at 28x28 for
    # the default; 0.88M with a 128-wide hidden layer; 0.22M with half the channels as well).
    "learned-h128": DEFAULT_RECIPE.replace(config={**DEFAULT_RECIPE.config, "hidden_dim": 128}),
    "learned-light": DEFAULT_RECIPE.replace(
        config={**DEFAULT_RECIPE.config, "hidden_channels": (16, 32), "hidden_dim": 64}
    ),
    # The default recipe with the denoising VAE (Rajagopalan: trained augmented -> clean), a
    # tuning candidate; on grey images its RandAugment copies come with its own corruption.
    "learned-dvae": DEFAULT_RECIPE.replace(model="dvae", tabular=None, colour=None),
    # Garay-Maestre et al.: one VAE per class, latent size 3.
    "vae": Recipe("vae", {"per_class": True, **_PAPER_VAE}, **_BUDGET),
    # One class-conditional VAE over all classes: shares what digits have in common.
    "cvae": Recipe("vae", _CVAE, **_BUDGET),
    # The same, trained on the data and 4 copies of it under the paper's affine augmentation.
    "cvae-a": Recipe("vae", _CVAE, augment="affine", augment_copies=4, **_BUDGET),
    # The same, trained on the data and 4 RandAugment copies of it.
    "cvae-ra": Recipe("vae", _CVAE, augment="randaugment", augment_copies=4, **_BUDGET),
    # A VQ-VAE with a class-conditional prior over its codes (van den Oord et al.); fit trains
    # both stages, the prior for as many epochs as the autoencoder.
    "vqvae": Recipe("vqvae", {"codebook_size": 32}, steps=800, min_epochs=20),
    # A class-conditional MLP VAE for feature vectors (Iser 2023's tabular protocol).
    "tvae": Recipe("tabular-vae", {"conditional": True}, **_BUDGET),
}
"""Generators by name, each a ``Recipe``: a model, its settings and a step budget, trained on
a training set alone as ``learned-aug fit`` trains a recipe (``Recipe.fit``).

Example:
    >>> from learned_aug import Recipe
    >>> from learned_aug.evaluation import GENERATORS
    >>> GENERATORS["vae-b4"] = Recipe("vae", {"per_class": True, "beta": 4.0})
    >>> GENERATORS.pop("vae-b4").config["beta"]
    4.0
"""
LEARNED: dict[str, LearnedSpec] = {
    # The default path: SyntheticDataset(generator, n) with its default sampler.
    "learned": LearnedSpec("learned", None),
    # Variants of the default path, tuning candidates: other synthetic shares per batch, a
    # per-class Gaussian mixture over the bank's codes (Chadebec et al. 2022).
    "learned-s25": LearnedSpec("learned", None, share=0.25),
    "learned-s75": LearnedSpec("learned", None, share=0.75),
    "learned-gmm": LearnedSpec("learned", "gmm"),
    "learned-h128": LearnedSpec("learned-h128", None),
    "learned-light": LearnedSpec("learned-light", None),
    # Per-image variants (Trabucco et al. 2023, DA-Fusion): a real image is swapped, with
    # probability 0.5, for a draw from its own posterior, decoded (LearnedAugment).
    "learned-variants": LearnedSpec("learned", "posterior", mode="transform", p=0.5),
    # Soft labels from a teacher, the classifier trained on the real images with RandAugment
    # (He et al. 2023: temperature 2, mixed half and half with the hard label); "-f" also
    # redraws samples the teacher gives their class below 0.5. "-plain": the conventional
    # augmentation on the real rows only, not on the synthetic ones.
    "learned-teacher": LearnedSpec("learned", None, teacher=True),
    "learned-teacher-f": LearnedSpec("learned", None, teacher=True, reject_below=0.5),
    "learned-plain": LearnedSpec("learned", None, augment_synthetic=False),
    "learned-dvae": LearnedSpec("learned-dvae", None),
    "vae": LearnedSpec("vae", "prior"),
    "vae-post": LearnedSpec("vae", "posterior"),
    "cvae": LearnedSpec("cvae", "prior"),
    "cvae-post": LearnedSpec("cvae", "posterior"),
    "cvae-interp": LearnedSpec("cvae", Interpolate(0.5)),
    "cvae-gmm": LearnedSpec("cvae", "gmm"),
    "cvae-a": LearnedSpec("cvae-a", "prior"),
    "cvae-a-post": LearnedSpec("cvae-a", "posterior"),
    "cvae-a-post16": LearnedSpec("cvae-a", "posterior", share=1 / 3),
    "cvae-ra-post": LearnedSpec("cvae-ra", "posterior"),
    "cvae-ra-post16": LearnedSpec("cvae-ra", "posterior", share=1 / 3),
    "cvae-noise": LearnedSpec("cvae", "noise", mode="transform"),
    "cvae-interpolate": LearnedSpec("cvae", "interpolate", mode="transform"),
    "cvae-extrapolate": LearnedSpec("cvae", "extrapolate", mode="transform"),
    "vae-noise": LearnedSpec("vae", "noise", mode="transform"),
    "vqvae": LearnedSpec("vqvae", "prior"),
    "tvae": LearnedSpec("tvae", "prior"),
    "tvae-post": LearnedSpec("tvae", "posterior"),
}
PAIRED_AUGMENTS = ("aug", "trivialaugment", "randaugment", "randaugment-tuned")
"""The conventional parts (keys of ``AUGMENTS``) registered alone and under every learned one."""
CONDITIONS: dict[str, Condition] = {
    "none": Condition(),
    **{name: Condition(name) for name in PAIRED_AUGMENTS},
    **{name: Condition(name) for name in RANDAUGMENT_VARIANTS},
    **{name: Condition(None, name) for name in LEARNED},
    **{f"{aug}+{name}": Condition(aug, name) for aug in PAIRED_AUGMENTS for name in LEARNED},
}
"""Conditions by name: ``none``, ``aug`` (rotation 20 degrees, shifts 20%), ``trivialaugment``,
``randaugment``, each learned augmentation of ``LEARNED`` alone and on top of each conventional
one (``aug+<name>``, ``trivialaugment+<name>``, ``randaugment+<name>``)."""


def fit_generator(name: str, train: LabelledData, seed: int, scale: float = 1.0) -> Generator:
    """Train the generator ``GENERATORS[name]`` on ``train`` alone, exactly as
    ``learned-aug fit`` trains a recipe, with its step budget times ``scale``."""
    recipe = GENERATORS[name]
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
        gen, n, seed=seed, strategy=spec.strategy, filter=keep, teacher=teacher
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
