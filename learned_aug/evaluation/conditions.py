"""The conditions the protocol compares, in dict registries, and how each builds its stream.

A condition pairs an optional conventional augmentation (``AUGMENTS``) with an optional learned
one (``LEARNED``). A learned augmentation names a generator (``GENERATORS``, trained on the
training set alone) and how it is used: ``"pool"`` mixes synthetic samples into every batch,
``"transform"`` replaces real images by the generator's variations of them (``LearnedAugment``).
Add an entry to a registry to add a condition; ``aug+<name>``, ``trivialaugment+<name>`` and
``randaugment+<name>`` are registered with every learned one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from learned_aug.conventional import CONVENTIONAL as CONVENTIONAL_COPIES
from learned_aug.data import LabelledData
from learned_aug.datasets import SyntheticDataset
from learned_aug.evaluation.augment import AUGMENTS, RANDAUGMENT_VARIANTS, get_augment
from learned_aug.evaluation.classifier import BatchAugment
from learned_aug.latent_bank import LatentBank
from learned_aug.models import Generator
from learned_aug.sampling import get_strategy
from learned_aug.training import DEFAULT_RECIPE, Recipe, fit, fit_vqvae
from learned_aug.transforms import LearnedAugment

MODES = ("pool", "transform")


@dataclass(frozen=True)
class GeneratorSpec:
    """How to train one generator on a training set.

    Args:
        model: registered model name (``"vae"``, ``"vqvae"``, ``"tabular-vae"``, ...).
        fit_kwargs: arguments of the trainer (``per_class``, ``conditional``, ``latent_dim``, ...).
        steps: target optimizer steps; epochs are ``steps`` / steps per epoch, within
            ``[min_epochs, max_epochs]``, so tiny and large training sets get similar budgets.
        augment_copies: train on the data plus this many copies under the conventional
            augmentation ``augment``, so the generator learns that variety.
        augment: the key of ``AUGMENTS`` that makes those copies (``"aug"``: rotation 20
            degrees, shifts 20%; ``"randaugment"``: torchvision's RandAugment).
        patience_steps: early-stopping patience in optimizer steps (at least 10 epochs): with
            one step per epoch on tiny sets, 10 epochs stop a VAE long before it has learned.
        trainer: a key of ``TRAINERS`` (``"fit"``; ``"vqvae"`` trains a VQ-VAE then its prior).

    Example:
        >>> from learned_aug.evaluation import GENERATORS, GeneratorSpec
        >>> GENERATORS["vae-b4"] = GeneratorSpec("vae", {"per_class": True, "beta": 4.0})
        >>> GENERATORS.pop("vae-b4").fit_kwargs["beta"]
        4.0
    """

    model: str = "vae"
    fit_kwargs: dict[str, Any] = field(default_factory=dict)
    steps: int = 1500
    min_epochs: int = 20
    max_epochs: int = 400
    augment_copies: int = 0
    augment: str = "aug"
    patience_steps: int = 300
    trainer: str = "fit"

    def __post_init__(self) -> None:
        if self.augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {sorted(AUGMENTS)}, got {self.augment!r}")


@dataclass(frozen=True)
class LearnedSpec:
    """A learned augmentation: which generator, how its latents are drawn, how they are mixed.

    Args:
        generator: a key of ``GENERATORS``.
        strategy: a key of ``learned_aug.sampling.STRATEGIES``: for ``"pool"`` how
            ``SyntheticDataset`` draws (``"prior"``: the generator's own ``sample``;
            ``"posterior"``: the aggregate posterior; ``"gmm"``, ...), for ``"transform"`` how
            ``LearnedAugment`` varies each image.
        alpha: the pool strategy's scale.
        pool: synthetic samples generated per class once per (size, seed).
        weight: weight of the synthetic part of the classifier loss.
        per_batch: synthetic samples per classifier step (None: as many as real ones).
        mode: ``"pool"`` or ``"transform"``.
        strength: the transform's strength range (None: the strategy's default).
        p: the probability that the transform replaces a real image.

    Example:
        >>> from learned_aug.evaluation import LearnedSpec
        >>> LearnedSpec("cvae", "interpolate", mode="transform", strength=(0.0, 0.3)).p
        0.5
    """

    generator: str
    strategy: str = "prior"
    alpha: float = 1.0
    pool: int = 500
    weight: float = 1.0
    per_batch: int | None = None
    mode: str = "pool"
    strength: tuple[float, float] | None = None
    p: float = 0.5

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")


@dataclass(frozen=True)
class Condition:
    """One training condition: an optional conventional augmentation and learned one.

    Example:
        >>> from learned_aug.evaluation import CONDITIONS
        >>> CONDITIONS["aug+vae"]
        Condition(augment='aug', learned='vae')
    """

    augment: str | None = None
    learned: str | None = None


def _train_fit(spec: GeneratorSpec, data: LabelledData, **kwargs: Any) -> Generator:
    return fit(spec.model, data, **kwargs).model


def _train_vqvae(spec: GeneratorSpec, data: LabelledData, **kwargs: Any) -> Generator:
    return fit_vqvae(data, prior_epochs=kwargs["epochs"], **kwargs).model


TRAINERS: dict[str, Callable[..., Generator]] = {"fit": _train_fit, "vqvae": _train_vqvae}

_PAPER_VAE = {"latent_dim": 3, "hidden_channels": (32, 64), "hidden_dim": 256}
_CVAE = {"conditional": True, "latent_dim": 8}
GENERATORS: dict[str, GeneratorSpec | Recipe] = {
    # The default path: what `learned-aug fit --data D --out R` trains (learned_aug.training
    # .recipe.DEFAULT_RECIPE; its tabular recipe on feature vectors).
    "learned": DEFAULT_RECIPE,
    # Lighter generators for the same recipe, tuning candidates (1.69M parameters at 28x28 for
    # the default; 0.88M with a 128-wide hidden layer; 0.22M with half the channels as well).
    "learned-h128": DEFAULT_RECIPE.replace(config={**DEFAULT_RECIPE.config, "hidden_dim": 128}),
    "learned-light": DEFAULT_RECIPE.replace(
        config={**DEFAULT_RECIPE.config, "hidden_channels": (16, 32), "hidden_dim": 64}
    ),
    # Garay-Maestre et al.: one VAE per class, latent size 3.
    "vae": GeneratorSpec("vae", {"per_class": True, **_PAPER_VAE}),
    # One class-conditional VAE over all classes: shares what digits have in common.
    "cvae": GeneratorSpec("vae", _CVAE),
    # The same, trained on the data and 4 conventionally augmented copies of it.
    "cvae-a": GeneratorSpec("vae", _CVAE, augment_copies=4),
    # The same, trained on the data and 4 RandAugment copies of it.
    "cvae-ra": GeneratorSpec("vae", _CVAE, augment_copies=4, augment="randaugment"),
    # A VQ-VAE with a class-conditional prior over its codes (van den Oord et al.).
    "vqvae": GeneratorSpec("vqvae", {"codebook_size": 32}, steps=800, trainer="vqvae"),
    # A class-conditional MLP VAE for feature vectors (Iser 2023's tabular protocol).
    "tvae": GeneratorSpec("tabular-vae", {"conditional": True}),
}
LEARNED: dict[str, LearnedSpec] = {
    # The default path: SyntheticDataset(generator, n) with its default sampler.
    "learned": LearnedSpec("learned", DEFAULT_RECIPE.strategy),
    # Variants of the default path, tuning candidates: fewer synthetic images per batch, a
    # per-class Gaussian mixture over the bank's codes (Chadebec et al. 2022).
    "learned-16": LearnedSpec("learned", DEFAULT_RECIPE.strategy, per_batch=16),
    "learned-8": LearnedSpec("learned", DEFAULT_RECIPE.strategy, per_batch=8),
    "learned-gmm": LearnedSpec("learned", "gmm"),
    "learned-h128": LearnedSpec("learned-h128", DEFAULT_RECIPE.strategy),
    "learned-light": LearnedSpec("learned-light", DEFAULT_RECIPE.strategy),
    # Per-image variants (Trabucco et al. 2023, DA-Fusion): a real image is swapped, with
    # probability 0.5, for a draw from its own posterior, decoded (LearnedAugment).
    "learned-variants": LearnedSpec("learned", "posterior", mode="transform", p=0.5),
    "vae": LearnedSpec("vae", "prior"),
    "vae-post": LearnedSpec("vae", "posterior"),
    "cvae": LearnedSpec("cvae", "prior"),
    "cvae-post": LearnedSpec("cvae", "posterior"),
    "cvae-interp": LearnedSpec("cvae", "interpolate", alpha=0.5),
    "cvae-gmm": LearnedSpec("cvae", "gmm"),
    "cvae-a": LearnedSpec("cvae-a", "prior"),
    "cvae-a-post": LearnedSpec("cvae-a", "posterior"),
    "cvae-a-post16": LearnedSpec("cvae-a", "posterior", per_batch=16),
    "cvae-ra-post": LearnedSpec("cvae-ra", "posterior"),
    "cvae-ra-post16": LearnedSpec("cvae-ra", "posterior", per_batch=16),
    "cvae-noise": LearnedSpec("cvae", "noise", mode="transform"),
    "cvae-interpolate": LearnedSpec("cvae", "interpolate", mode="transform"),
    "cvae-extrapolate": LearnedSpec("cvae", "extrapolate", mode="transform"),
    "vae-noise": LearnedSpec("vae", "noise", mode="transform"),
    "vqvae": LearnedSpec("vqvae", "prior"),
    "tvae": LearnedSpec("tvae", "prior"),
    "tvae-post": LearnedSpec("tvae", "posterior"),
}
CONVENTIONAL = ("aug", "trivialaugment", "randaugment", "randaugment-tuned")
CONDITIONS: dict[str, Condition] = {
    "none": Condition(),
    **{name: Condition(name) for name in CONVENTIONAL},
    **{name: Condition(name) for name in RANDAUGMENT_VARIANTS},
    **{name: Condition(None, name) for name in LEARNED},
    **{f"{aug}+{name}": Condition(aug, name) for aug in CONVENTIONAL for name in LEARNED},
}
"""Conditions by name: ``none``, ``aug`` (rotation 20 degrees, shifts 20%), ``trivialaugment``,
``randaugment``, each learned augmentation of ``LEARNED`` alone and on top of each conventional
one (``aug+<name>``, ``trivialaugment+<name>``, ``randaugment+<name>``)."""


def fit_generator(name: str, train: LabelledData, seed: int, scale: float = 1.0) -> Generator:
    """Train the generator ``GENERATORS[name]`` on ``train`` alone (a ``Recipe`` exactly as
    ``learned-aug fit`` trains it, with its step budget times ``scale``)."""
    spec = GENERATORS[name]
    common = {"seed": seed, "device": "cpu", "progress": False}
    if isinstance(spec, Recipe):
        return spec.fit(train, scale=scale, **common).model
    kwargs = dict(spec.fit_kwargs)
    batch_size = kwargs.pop("batch_size", 64)
    if spec.augment_copies and spec.augment in CONVENTIONAL_COPIES:  # as fit(augment=...) does
        kwargs.update(augment=spec.augment, augment_copies=spec.augment_copies)
    elif spec.augment_copies:
        rng = torch.Generator().manual_seed(seed)
        augment = get_augment(spec.augment)
        extra = [augment(train.x, train.y, rng) for _ in range(spec.augment_copies)]
        x, y = torch.cat([train.x, *extra]), train.y.repeat(spec.augment_copies + 1)
        train = LabelledData(x, y, list(train.classes))
    budget = Recipe(
        spec.model,
        augment=kwargs.get("augment"),  # copies made by fit count; those made above are in train
        augment_copies=spec.augment_copies,
        steps=spec.steps,
        min_epochs=spec.min_epochs,
        max_epochs=spec.max_epochs,
        patience_steps=spec.patience_steps,
    )
    epochs, patience = budget.budget(len(train), batch_size, scale=scale)
    return TRAINERS[spec.trainer](
        spec, train, epochs=epochs, batch_size=batch_size, patience=patience, **common, **kwargs
    )


def _bank_for(strategy: str, gen: Generator, train: LabelledData) -> LatentBank | None:
    needs = get_strategy(strategy)
    return LatentBank.build(gen, train) if needs.needs_source or needs.needs_bank else None


def synthetic_pool(spec: LearnedSpec, gen: Generator, train: LabelledData, seed: int):
    """``spec.pool`` samples per class drawn once from a trained generator, as LabelledData:
    a ``SyntheticDataset`` with the spec's strategy over the latent bank of ``train``."""
    n = spec.pool * len(train.classes)
    pool = SyntheticDataset(
        gen,
        n,
        seed=seed,
        output="tensor",
        strategy=spec.strategy,
        strength=spec.alpha,
        bank=_bank_for(spec.strategy, gen, train),
    )
    x, y = pool.generate(range(n)), torch.tensor(pool.targets, dtype=torch.long)
    return LabelledData(x.clamp(0, 1) if train.is_image else x, y, list(train.classes))


def online_augment(
    spec: LearnedSpec, gen: Generator, train: LabelledData, seed: int
) -> BatchAugment:
    """``LearnedAugment`` with ``spec``'s strategy as a batch augmentation that keeps labels."""
    bank = _bank_for(spec.strategy, gen, train) if get_strategy(spec.strategy).needs_bank else None
    transform = LearnedAugment(
        gen, spec.strategy, strength=spec.strength, p=spec.p, bank=bank, rng=seed
    )

    def apply(x: Tensor, y: Tensor, generator: torch.Generator) -> Tensor:
        with torch.no_grad():
            out, _ = transform(x, y)
        return out

    return apply
