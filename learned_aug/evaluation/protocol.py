"""The few-shot protocol: training sizes x seeds x conditions, scored on the data left out.

For each training size and seed (Garay-Maestre et al. 2019, generalised): draw a class-balanced
training set; train the generators on it alone (``learned_aug.fit``, 85/15 split, early
stopping); train the classifier once per condition, from the same initial weights; test on all
the data not drawn. Generators and synthetic pools are cached per (size, seed) across conditions.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from learned_aug.data import LabelledData, balanced_subset, load_dataset, stratified_split
from learned_aug.evaluation.augment import get_augment, random_affine
from learned_aug.evaluation.classifier import default_classifier, predict_logits, train_classifier
from learned_aug.evaluation.metrics import scores
from learned_aug.models import Generator


@dataclass(frozen=True)
class GeneratorSpec:
    """How to train one generator on a training set with ``learned_aug.fit``.

    Args:
        model: registered model name (``"vae"``, ``"vqvae"``, ``"tabular-vae"``, ...).
        fit_kwargs: arguments of ``fit`` (``per_class``, ``conditional``, ``latent_dim``, ...).
        steps: target optimizer steps; epochs are ``steps`` / steps per epoch, within
            ``[min_epochs, max_epochs]``, so tiny and large training sets get similar budgets.
        augment_copies: train on the data plus this many copies under the conventional
            augmentation (rotation 20 degrees, shifts 20%), so the generator learns that variety.
        patience_steps: early-stopping patience in optimizer steps (at least 10 epochs): with
            one step per epoch on tiny sets, 10 epochs stop a VAE long before it has learned.
    """

    model: str = "vae"
    fit_kwargs: dict[str, Any] = field(default_factory=dict)
    steps: int = 1500
    min_epochs: int = 20
    max_epochs: int = 400
    augment_copies: int = 0
    patience_steps: int = 300


@dataclass(frozen=True)
class LearnedSpec:
    """A learned augmentation: which generator, how its latents are drawn, how they are mixed.

    Args:
        generator: a key of ``GENERATORS``.
        strategy: a key of ``learned_aug.posterior.STRATEGIES`` (``"prior"`` is N(0, I)).
        alpha: the strategy's scale.
        pool: synthetic samples generated per class once per (size, seed).
        weight: weight of the synthetic part of the classifier loss.
        per_batch: synthetic samples per classifier step (None: as many as real ones).
    """

    generator: str
    strategy: str = "prior"
    alpha: float = 1.0
    pool: int = 500
    weight: float = 1.0
    per_batch: int | None = None


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


_PAPER_VAE = {"latent_dim": 3, "hidden_channels": (32, 64), "hidden_dim": 256}
GENERATORS: dict[str, GeneratorSpec] = {
    # Garay-Maestre et al.: one VAE per class, latent size 3.
    "vae": GeneratorSpec("vae", {"per_class": True, **_PAPER_VAE}),
    # One class-conditional VAE over all classes: shares what digits have in common.
    "cvae": GeneratorSpec("vae", {"conditional": True, "latent_dim": 8}),
    # The same, trained on the data and 4 conventionally augmented copies of it.
    "cvae-a": GeneratorSpec("vae", {"conditional": True, "latent_dim": 8}, augment_copies=4),
}
LEARNED: dict[str, LearnedSpec] = {
    "vae": LearnedSpec("vae", "prior"),
    "vae-post": LearnedSpec("vae", "posterior", alpha=1.0),
    "cvae": LearnedSpec("cvae", "prior"),
    "cvae-post": LearnedSpec("cvae", "posterior", alpha=1.0),
    "cvae-interp": LearnedSpec("cvae", "interpolate", alpha=0.5),
    "cvae-gmm": LearnedSpec("cvae", "gmm", alpha=1.0),
    "cvae-a": LearnedSpec("cvae-a", "prior"),
    "cvae-a-post": LearnedSpec("cvae-a", "posterior", alpha=1.0),
}
CONDITIONS: dict[str, Condition] = {
    "none": Condition(),
    "aug": Condition("aug"),
    "trivialaugment": Condition("trivialaugment"),
    "randaugment": Condition("randaugment"),
    **{name: Condition(None, name) for name in LEARNED},
    **{f"aug+{name}": Condition("aug", name) for name in LEARNED},
}
"""Conditions by name: ``none``, ``aug`` (rotation 20 degrees, shifts 20%), ``trivialaugment``,
``randaugment``, each learned augmentation of ``LEARNED`` alone and as ``aug+<name>``."""

PAPER_CONDITIONS = ("none", "vae", "aug", "aug+vae")
DEFAULT_SIZES = (50, 100, 250, 500, 1000)


@dataclass
class EvaluationConfig:
    """Settings of the protocol.

    Args:
        sizes: total training images per draw, split evenly over the classes.
        seeds: the number of seeds (0..n-1) or the seeds themselves.
        conditions: keys of ``CONDITIONS``.
        val_fraction: the classifier's stratified validation split of the training set.
        batch_size: real examples per classifier step.
        max_epochs: the classifier's most epochs.
        max_steps: the classifier's most optimizer steps (a compute cap).
        min_steps_per_epoch: classifier steps between validations on tiny training sets: with
            40 images a pass is 2 steps, and patience 10 would stop augmented training long
            before it pays off.
        patience: the classifier's early-stopping patience, in epochs.
        generator_scale: multiplies every generator's step budget (quick runs use less).
        bf16: train and test the classifier under bfloat16 autocast (about twice as fast on CPU).
        max_test: test on a class-balanced draw of at most this many of the examples left out
            (for quick exploration); None tests on all of them, as the protocol says.
        cnn_width: width of the default ``PaperCNN`` (1.0: the paper's 64/128 channels).
        classifier: builds a fresh classifier for the training data; default the paper's CNN
            (or an MLP for tabular data).
    """

    sizes: Sequence[int] = DEFAULT_SIZES
    seeds: int | Sequence[int] = 5
    conditions: Sequence[str] = PAPER_CONDITIONS
    val_fraction: float = 0.15
    batch_size: int = 32
    max_epochs: int = 200
    max_steps: int | None = 3000
    min_steps_per_epoch: int = 20
    patience: int = 10
    generator_scale: float = 1.0
    bf16: bool = True
    max_test: int | None = None
    cnn_width: float = 1.0
    classifier: Callable[[LabelledData], nn.Module] | None = None

    def __post_init__(self) -> None:
        unknown = [c for c in self.conditions if c not in CONDITIONS]
        if unknown:
            raise ValueError(f"conditions {unknown} are unknown; accepted: {sorted(CONDITIONS)}")
        if not self.sizes or any(int(s) < 1 for s in self.sizes):
            raise ValueError(f"sizes must be positive ints, got {list(self.sizes)!r}")

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


def fit_generator(name: str, train: LabelledData, seed: int, scale: float = 1.0) -> Generator:
    """Train the generator ``GENERATORS[name]`` on ``train`` alone."""
    from learned_aug.training import fit

    spec = GENERATORS[name]
    if spec.augment_copies:
        rng = torch.Generator().manual_seed(seed)
        extra = [random_affine(train.x, rng) for _ in range(spec.augment_copies)]
        x, y = torch.cat([train.x, *extra]), train.y.repeat(spec.augment_copies + 1)
        train = LabelledData(x, y, list(train.classes))
    kwargs = dict(spec.fit_kwargs)
    batch_size = kwargs.pop("batch_size", 64)
    steps_per_epoch = max(1, -(-round(len(train) * 0.85) // batch_size))
    epochs = int(min(spec.max_epochs, max(spec.min_epochs, spec.steps * scale / steps_per_epoch)))
    patience = max(10, -(-spec.patience_steps // steps_per_epoch))
    result = fit(
        spec.model,
        train,
        epochs=epochs,
        batch_size=batch_size,
        patience=patience,
        seed=seed,
        device="cpu",
        progress=False,
        **kwargs,
    )
    return result.model


def synthetic_pool(spec: LearnedSpec, gen: Generator, train: LabelledData, seed: int):
    """``spec.pool`` samples per class drawn once from a trained generator, as LabelledData."""
    from learned_aug.posterior import PosteriorSampler

    sampler = PosteriorSampler(gen, train, strategy=spec.strategy, alpha=spec.alpha)
    n = spec.pool * len(train.classes)
    rng = torch.Generator().manual_seed(seed)
    x, y = sampler.sample(n, generator=rng)
    return LabelledData(x.clamp(0, 1) if train.is_image else x, y, list(train.classes))


class _Cell:
    """One (size, seed): the split, and generators and pools built on first use."""

    def __init__(self, data: LabelledData, size: int, seed: int, config: EvaluationConfig):
        per_class = size // len(data.classes)
        if per_class < 2:
            raise ValueError(
                f"training size {size} gives {per_class} example(s) per class for "
                f"{len(data.classes)} classes; use at least {2 * len(data.classes)}"
            )
        self.size, self.seed, self.config = size, seed, config
        self.train, self.test = balanced_subset(data, per_class, seed)
        if config.max_test is not None and config.max_test < len(self.test):
            keep = max(1, config.max_test // len(data.classes))
            self.test = balanced_subset(self.test, keep, seed)[0]
        tr, va = stratified_split(self.train.y, config.val_fraction, seed)
        self.fit_part, self.val_part = self.train.subset(tr), self.train.subset(va)
        self._generators: dict[str, Generator] = {}
        self._pools: dict[str, LabelledData] = {}

    def pool(self, learned: str) -> LabelledData:
        if learned not in self._pools:
            spec = LEARNED[learned]
            if spec.generator not in self._generators:
                self._generators[spec.generator] = fit_generator(
                    spec.generator, self.train, self.seed, self.config.generator_scale
                )
            gen = self._generators[spec.generator]
            self._pools[learned] = synthetic_pool(spec, gen, self.train, self.seed)
        return self._pools[learned]

    def run(self, name: str, build: Callable[[LabelledData], nn.Module]) -> dict[str, Any]:
        cond, cfg, start = CONDITIONS[name], self.config, time.perf_counter()
        spec = LEARNED.get(cond.learned) if cond.learned else None
        synthetic = self.pool(cond.learned) if cond.learned else None
        torch.manual_seed(self.seed)  # the same initial weights under every condition
        result = train_classifier(
            build(self.fit_part),
            self.fit_part,
            self.val_part,
            augment=get_augment(cond.augment) if cond.augment else None,
            synthetic=synthetic,
            synthetic_weight=spec.weight if spec else 1.0,
            synthetic_per_batch=spec.per_batch if spec else None,
            batch_size=cfg.batch_size,
            max_epochs=cfg.max_epochs,
            max_steps=cfg.max_steps,
            min_steps_per_epoch=cfg.min_steps_per_epoch,
            patience=cfg.patience,
            seed=self.seed,
            bf16=cfg.bf16,
        )
        pred = predict_logits(result.model, self.test.x, bf16=cfg.bf16).argmax(1)
        return {
            "size": self.size,
            "seed": self.seed,
            "condition": name,
            **scores(self.test.y, pred),
            "best_epoch": result.best_epoch,
            "steps": result.steps,
            "n_test": len(self.test),
            "seconds": round(time.perf_counter() - start, 2),
        }


def _check_conditions(conditions: Sequence[str], data: LabelledData) -> None:
    """Refuse, before any training, conditions that cannot apply to ``data``."""
    if data.is_image:
        return
    visual = [c for c in conditions if CONDITIONS[c].augment]
    if visual:
        raise ValueError(
            f"conditions {visual} augment images, but the data are feature vectors of shape "
            f"{data.sample_shape}; use conditions without a conventional augmentation"
        )


def run_protocol(
    data: Any,
    config: EvaluationConfig | None = None,
    *,
    progress: bool = True,
    on_run: Callable[[dict[str, Any]], None] | None = None,
    skip: Collection[tuple[int, int, str]] = (),
) -> list[dict[str, Any]]:
    """Run every (size, seed, condition) and return one record per run.

    Args:
        data: anything ``learned_aug.data.load_dataset`` takes (``"mnist-5k"``, an ImageFolder).
        config: the protocol's settings (default ``EvaluationConfig()``).
        progress: show a tqdm progress bar over the runs.
        on_run: called with each record as soon as it is done (to write it out as it goes).
        skip: ``(size, seed, condition)`` runs already done (to resume an interrupted grid).

    Returns:
        Records with ``size``, ``seed``, ``condition``, ``macro_f1``, ``weighted_f1``,
        ``accuracy``, ``best_epoch``, ``steps``, ``n_test`` and ``seconds``.
    """
    config = config or EvaluationConfig()
    data = load_dataset(data)
    _check_conditions(config.conditions, data)
    build = config.classifier or functools.partial(default_classifier, width=config.cnn_width)
    total = len(config.sizes) * len(config.seed_list) * len(config.conditions)
    records: list[dict[str, Any]] = []
    with tqdm(total=total, desc="evaluate", unit="run", disable=not progress) as bar:
        for size in config.sizes:
            for seed in config.seed_list:
                cell = _Cell(data, int(size), seed, config)
                for name in config.conditions:
                    if (int(size), seed, name) in skip:
                        bar.update(1)
                        continue
                    bar.set_postfix(size=size, seed=seed, condition=name)
                    record = cell.run(name, build)
                    records.append(record)
                    if on_run is not None:
                        on_run(record)
                    bar.update(1)
    return records
