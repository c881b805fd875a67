"""The few-shot protocol: training sizes x seeds x conditions, scored on the data left out.

For each training size and seed: draw a class-balanced training set; train the generators on
it alone (``learned_aug.fit``); train the classifier once per condition, from the same initial
weights, for the same number of steps on batches of the same size (``ClassifierRecipe``), and
keep its final weights; test on all the data not drawn. No image outside the training set
selects, stops or tunes anything, so the generators see exactly the images the classifier
trains on. Each cell also scores a logistic regression on the raw pixels of the training set:
a baseline condition below it is a broken baseline, which the report flags. Generators and
synthetic pools are cached per (size, seed) across conditions, and generators on disk too where
``run_protocol`` is given a ``cache`` folder (a rerun of the classifiers then fits none again).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.transforms import v2
from tqdm.auto import tqdm

from learned_aug import precision
from learned_aug.data import LabelledData, balanced_indices, load_dataset
from learned_aug.evaluation.augment import get_augment
from learned_aug.evaluation.classifier import (
    Augment,
    ClassifierRecipe,
    predict_logits,
    train_classifier,
)
from learned_aug.evaluation.conditions import (
    CONDITIONS,
    LEARNED,
    RECIPES,
    fit_recipe,
    online_augment,
    synthetic_pool,
)
from learned_aug.evaluation.metrics import pixel_baseline, scores
from learned_aug.evaluation.networks import default_classifier
from learned_aug.evaluation.teacher import fit_teacher
from learned_aug.loading import load_generator
from learned_aug.models import Generator
from learned_aug.rng import item_keys
from learned_aug.synthetic import Teacher
from learned_aug.training.diagnostics import (
    classification_scores,
    copy_distance,
    latent_activity,
)

DEFAULT_SIZES = (50, 100, 250, 500, 1000)
"""Training images per draw (class-balanced), the sizes ``EvaluationConfig`` runs by default."""

DEFAULT_CONDITIONS = (
    "none",
    "trivialaugment",
    "randaugment",
    "randaugment-views",
    "learned",
    "randaugment+learned",
)
"""What ``learned-aug evaluate`` compares on images: no augmentation, two conventional ones,
the compute-matched control, the default learned path alone and on top of RandAugment."""


def _augment_rng(seed: int) -> torch.Generator:
    """The conventional augmentation's random stream in the cell of ``seed``: one apart from
    the batches' and the learned transform's (both seeded with ``seed``)."""
    return torch.Generator().manual_seed(int(item_keys(seed, [1])[0]))


@dataclass
class EvaluationConfig:
    """Settings of the protocol.

    Args:
        sizes: total training images per draw, split evenly over the classes.
        seeds: the number of seeds (0..n-1) or the seeds themselves.
        conditions: keys of ``CONDITIONS``.
        recipe: how every classifier trains (steps, batch, optimizer), the same for every
            condition.
        generator_scale: multiplies every generator's step budget (quick runs use less).
        amp: train and test the classifier under bfloat16 autocast; None (default) turns it
            on where it is faster (``classifier_precision``): never on a CPU without
            AVX512-BF16/AMX, where it is slower.
        max_test: test on a class-balanced draw of at most this many of the examples left out
            (for quick exploration); None tests on all of them, as the protocol says.
        classifier: builds a fresh classifier for the training data; default ``ConvNet`` for
            images, ``TabularMLP`` for feature vectors.

    Example:
        >>> from learned_aug.evaluation import ClassifierRecipe, EvaluationConfig, run_protocol
        >>> recipe = ClassifierRecipe(min_steps=20, max_steps=20)
        >>> config = EvaluationConfig(sizes=(30,), seeds=1, conditions=("none",), recipe=recipe)
        >>> rows = run_protocol("wine", config, progress=False)
        >>> len(rows), rows[0].get("condition"), rows[0].get("steps")
        (1, 'none', 20)
    """

    sizes: Sequence[int] = DEFAULT_SIZES
    seeds: int | Sequence[int] = 5
    conditions: Sequence[str] = DEFAULT_CONDITIONS
    recipe: ClassifierRecipe = field(default_factory=ClassifierRecipe)
    generator_scale: float = 1.0
    amp: bool | None = None
    max_test: int | None = None
    classifier: Callable[[LabelledData], nn.Module] | None = None

    def __post_init__(self) -> None:
        unknown = [c for c in self.conditions if c not in CONDITIONS]
        if unknown:
            raise ValueError(f"conditions {unknown} are unknown; accepted: {sorted(CONDITIONS)}")
        if not self.sizes or any(int(s) < 1 for s in self.sizes):
            raise ValueError(f"sizes must be positive ints, got {list(self.sizes)!r}")
        if not self.seed_list:
            raise ValueError(
                f"seeds must be a positive count or a list of seeds, got {self.seeds!r}"
            )

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


class Cell:
    """One (size, seed): the training and test indices, and generators and pools built on
    first use, all from the training images alone (``train_index``; ``test_index`` is the
    rest, or a balanced draw of it with ``max_test``)."""

    def __init__(
        self,
        data: LabelledData,
        size: int,
        seed: int,
        config: EvaluationConfig,
        cache: Path | None = None,
    ):
        k = len(data.classes)
        per_class = size // k
        if per_class < 2:
            raise ValueError(
                f"training size {size} gives {per_class} example(s) per class for "
                f"{k} classes; use at least {2 * k}"
            )
        self.size, self.seed, self.config = size, seed, config
        self.train_index, self.test_index = balanced_indices(data.y, k, per_class, seed)
        if config.max_test is not None and config.max_test < len(self.test_index):
            keep = max(1, config.max_test // k)
            chosen, _ = balanced_indices(data.y[self.test_index], k, keep, seed)
            self.test_index = self.test_index[chosen]
        self.train, self.test = data.subset(self.train_index), data.subset(self.test_index)
        self.cache = cache
        self._generators: dict[str, Generator] = {}
        self._pools: dict[str, tuple[LabelledData, Tensor | None]] = {}
        self._quality: dict[str, dict[str, Any]] = {}
        self._teacher: Teacher | None = None
        self._pixel: float | None = None

    def pixel_baseline(self) -> float:
        """Macro F1 of a logistic regression on the raw pixels of the training images."""
        if self._pixel is None:
            self._pixel = pixel_baseline(self.train, self.test)
        return self._pixel

    def teacher(self) -> Teacher:
        """``fit_teacher`` on the training set: the classifier with RandAugment (images; none
        for feature vectors), under the protocol's classifier recipe."""
        if self._teacher is None:
            self._teacher = fit_teacher(
                self.train,
                augment="randaugment" if self.train.is_image else None,
                seed=self.seed,
                recipe=self.config.recipe,
                amp=bool(self.config.amp),
            )
        return self._teacher

    def generator(self, recipe: str) -> Generator:
        """The generator of ``RECIPES[recipe]`` trained on this cell's training set (once; with
        a ``cache`` folder, once for every run that finds it there)."""
        if recipe not in self._generators:
            folder = self.cached(recipe)
            if folder is not None and folder.is_dir():
                self._generators[recipe] = load_generator(folder)
                return self._generators[recipe]
            scale = self.config.generator_scale
            gen = fit_recipe(recipe, self.train, self.seed, scale)
            if folder is not None:  # written whole or not at all: a folder is renamed in
                partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
                shutil.rmtree(partial, ignore_errors=True)
                gen.save_pretrained(partial)
                os.replace(partial, folder)
            self._generators[recipe] = gen
        return self._generators[recipe]

    def cached(self, recipe: str) -> Path | None:
        """Where the cache keeps this cell's generator of ``recipe``: named by the recipe, size,
        seed, step scale and a digest of the recipe's settings and of the training images and
        labels, so a changed recipe or draw never finds an old generator."""
        if self.cache is None:
            return None
        digest = hashlib.sha256(repr(RECIPES[recipe]).encode())
        digest.update(f"{self.config.generator_scale!r}".encode())
        for t in (self.train.x, self.train.y):
            digest.update(t.contiguous().numpy().tobytes())
        name = f"{recipe}-n{self.size}-seed{self.seed}-{digest.hexdigest()[:16]}"
        return Path(self.cache) / name

    def pool(self, learned: str) -> tuple[LabelledData, Tensor | None]:
        """The learned condition's synthetic pool and, with a teacher, its soft targets."""
        if learned not in self._pools:
            spec = LEARNED[learned]
            gen = self.generator(spec.recipe)
            teacher = self.teacher() if spec.teacher else None
            pool, targets = synthetic_pool(spec, gen, self.train, self.seed, teacher)
            self._pools[learned] = pool, targets
            self._quality[learned] = self.quality(gen, pool)
        return self._pools[learned]

    def quality(self, gen: Generator, pool: LabelledData) -> dict[str, Any]:
        """What ``fit``'s quality report says (learned_aug.training.diagnostics), measured on the
        pool the classifier sees and on the test images the generator never saw: how often a
        classifier of the real training images names the samples' class, its accuracy on the
        test images, the Classification Accuracy Score (the same classifier trained on the
        pool alone, on the test images), active latent units, distance to the nearest
        training image."""
        found = latent_activity(gen, self.train)
        if len(self.train.classes) > 1:
            found.update(classification_scores(self.train, self.test, pool.x, pool.y))
        found.update(copy_distance(self.train, pool.x))
        return {
            "sample_accuracy": found.get("classifier_accuracy_samples"),
            "real_accuracy": found.get("classifier_accuracy_real_val"),
            "cas": found.get("cas"),
            "active_units": found.get("active_units"),
            "copy_ratio": found.get("copy_distance_ratio"),
        }

    def augment(self, name: str) -> Augment | None:
        """The condition's transform of each batch: the learned one, then the conventional.

        Each draws from a stream of its own: the batches (``train_classifier``'s ``seed``) are
        the same under every condition with the same batch plan.
        """
        cond = CONDITIONS[name]
        parts = []
        spec = LEARNED[cond.learned] if cond.learned else None
        if spec is not None and spec.mode == "transform":
            gen = self.generator(spec.recipe)
            parts.append(online_augment(spec, gen, self.train, self.seed))
        if cond.augment:
            parts.append(get_augment(cond.augment, rng=_augment_rng(self.seed)))
        return None if not parts else parts[0] if len(parts) == 1 else v2.Compose(parts)

    def run(self, name: str, build: Callable[[LabelledData], nn.Module]) -> dict[str, Any]:
        cond, cfg, start = CONDITIONS[name], self.config, time.perf_counter()
        spec = LEARNED[cond.learned] if cond.learned else None
        pooled = spec is not None and spec.mode == "pool"
        synthetic, targets = self.pool(cond.learned) if pooled else (None, None)
        augment = self.augment(name)
        torch.manual_seed(self.seed)  # the same initial weights under every condition
        result = train_classifier(
            build(self.train),
            self.train,
            cfg.recipe,
            augment=augment,
            synthetic=synthetic,
            synthetic_targets=targets,
            share=spec.share if pooled else 0.0,
            views=cond.views,
            seed=self.seed,
            amp=bool(cfg.amp),
        )
        pred = predict_logits(result.model, self.test.x, amp=bool(cfg.amp)).argmax(1)
        return {
            "size": self.size,
            "seed": self.seed,
            "condition": name,
            **scores(self.test.y, pred),
            "pixel_lr_f1": self.pixel_baseline(),
            "steps": result.steps,
            "batch_size": result.batch_size,
            "real_per_step": result.real_per_step,
            "images_per_step": result.images_per_step,
            "synthetic_per_step": result.synthetic_per_step,
            "final_loss": round(result.final_loss, 4),
            "n_test": len(self.test),
            "seconds": round(time.perf_counter() - start, 2),
            "precision": "bf16" if cfg.amp else "float32",
            **(self._quality[cond.learned] if pooled else {}),
        }


def _builder(config: EvaluationConfig) -> Callable[[LabelledData], nn.Module]:
    return config.classifier or default_classifier


def classifier_precision(config: EvaluationConfig, data: LabelledData) -> precision.PrecisionChoice:
    """Whether the protocol's classifier trains under bf16 autocast: ``config.amp`` when set,
    else where a few timed steps of that classifier say it is faster (``learned_aug.precision``)."""
    model = _builder(config)(data)
    device = next(model.parameters()).device
    batch = config.recipe.batch_size
    x, y = data.x[:batch], data.y[:batch]
    if data.is_image:
        model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    shape = "x".join(map(str, data.sample_shape))
    size = sum(p.numel() for p in model.parameters())
    return precision.choose_autocast(
        device,
        override=config.amp,
        workload=f"classifier {type(model).__name__} ({size} parameters) {shape} batch {batch}",
        make_step=precision.training_steps(
            model, lambda m: F.cross_entropy(m(x.to(device)).float(), y.to(device)), device.type
        ),
    )


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
    cache: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Run every (size, seed, condition) and return one record per run.

    Args:
        data: anything ``learned_aug.data.load_dataset`` takes (``"mnist-5k"``, an ImageFolder).
        config: the protocol's settings (default ``EvaluationConfig()``).
        progress: show a tqdm progress bar over the runs.
        on_run: called with each record as soon as it is done (to write it out as it goes).
        skip: ``(size, seed, condition)`` runs already done (to resume an interrupted grid).
        cache: a folder where each fitted generator is saved and found again by a later run
            on the same training images, recipe and step scale (one subfolder a generator,
            loaded with ``load_generator``); None fits every generator anew.

    Returns:
        Records with ``size``, ``seed``, ``condition``, ``macro_f1``, ``weighted_f1``,
        ``accuracy``, ``pixel_lr_f1`` (a logistic regression on the training images' pixels),
        what the classifier's training did (``steps``, ``batch_size``, ``real_per_step``,
        ``images_per_step``, ``synthetic_per_step``, ``final_loss``), ``n_test``, ``seconds``
        and ``precision`` (``"bf16"`` or ``"float32"``: how the classifier trained); a learned
        condition's records also hold its generator's quality report, measured on the pool:
        ``sample_accuracy`` (a classifier of the real training images names the samples'
        class), ``real_accuracy`` (the same classifier on the test images), ``cas`` (the
        Classification Accuracy Score: that classifier trained on the pool alone, on the test
        images), ``active_units`` and ``copy_ratio`` (see ``learned_aug.training.diagnostics``).
    """
    config = config or EvaluationConfig()
    data = load_dataset(data)
    _check_conditions(config.conditions, data)
    build = _builder(config)
    if config.amp is None:
        config = dataclasses.replace(config, amp=classifier_precision(config, data).enabled)
    total = len(config.sizes) * len(config.seed_list) * len(config.conditions)
    records: list[dict[str, Any]] = []
    with tqdm(total=total, desc="evaluate", unit="run", disable=not progress) as bar:
        for size in config.sizes:
            for seed in config.seed_list:
                cell = Cell(data, int(size), seed, config, None if cache is None else Path(cache))
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
