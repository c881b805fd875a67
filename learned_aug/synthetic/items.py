"""What a SyntheticDataset item holds and how it is drawn: item ``i`` a pure function of
``(seed, i)`` (:func:`draw_items`), a label that names only the class the sample was made for,
and an item type that matches the real data it joins.

A synthetic sample next to real data in a ``ConcatDataset`` must never carry a class it was not
drawn for: a generator that cannot say which class a sample belongs to gets no labels at all
(``UNLABELLED``) or is refused. An unconditional generator that starts from the codes of a
labelled latent bank hands each sample the class of that code's real example; that label holds
only while the sample still looks like its source, so it is handed out only where the
generator's quality report says so (:data:`LABEL_TRUST`, :func:`check_inherited_labels`). Its
items must also collate with the real ones, so their type (tensor or PIL image, dtype, mode)
follows the real dataset's.
"""

from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from learned_aug.latent_bank import bank_of, quality_of
from learned_aug.models import Generator
from learned_aug.rng import ItemStreams, draw_alpha
from learned_aug.sampling import Latents
from learned_aug.strategies import Strategy

LABELS = ("balanced", "unlabelled")
UNLABELLED = -1
"""The target of every item of ``SyntheticDataset(..., labels="unlabelled")``: no class index,
so it cannot be taken for a class (``cross_entropy`` refuses it, ``ImageFolder`` has no folder
for it)."""
LABEL_TRUST = 0.5
"""The share of a classifier's skill above chance that an unconditional generator's samples must
keep for the classes they inherit from the latent bank to be handed out as labels.

Such a sample is labelled with the class of the real example whose bank code it starts from,
which is right only while the sample still looks like that example. ``fit``'s quality report
(``quality.json``) measures it: a classifier trained on the real training images names the
samples' class ``classifier_accuracy_samples`` of the time, and held-out real images'
``classifier_accuracy_real_val``. With K classes (chance 1/K) the labels are trusted when

    classifier_accuracy_samples >= 1/K + LABEL_TRUST * (classifier_accuracy_real_val - 1/K)

half-way from guessing to the real images. Measuring against the real images, not against
100%, does not blame the generator for the classifier's own mistakes; half-way leaves room for
samples less typical than real images (the variety augmentation is for) but not for samples
that lost most of their class. The bar always lies above chance and below the real images:
with 10 digit classes and 90% on real images it is 50%, the bar the project's own tests hold
the default recipe to; a collapsed generator measures about 10%, chance."""


class UncheckedLabelsWarning(UserWarning):
    """Samples take the classes of the bank codes they start from, and nothing checked them.

    Raised by ``SyntheticDataset`` for an unconditional generator without a quality report
    (``fit``'s ``quality.json``); turn it into an error to refuse such labels outright.

    Example:
        >>> import warnings
        >>> from learned_aug.synthetic import UncheckedLabelsWarning
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("error", UncheckedLabelsWarning)
        >>> issubclass(UncheckedLabelsWarning, UserWarning)
        True
    """


class CyclicLabels(Sequence[int]):
    """The labels 0, 1, ..., k-1, 0, 1, ... of ``n`` items, computed on demand, never stored."""

    def __init__(self, n: int, k: int):
        self.n, self.k = n, max(k, 1)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [j % self.k for j in range(*i.indices(self.n))]
        i = as_index(i)
        if not -self.n <= i < self.n:
            raise IndexError(f"index {i} out of range for {self.n} labels")
        return (i % self.n) % self.k

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str) or len(other) != self.n:
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CyclicLabels(n={self.n}, k={self.k})"


class ConstantLabels(CyclicLabels):
    """``n`` copies of one label (the targets of unlabelled samples), never stored."""

    def __init__(self, n: int, value: int):
        super().__init__(n, 1)
        self.value = value

    def __getitem__(self, i):  # type: ignore[override]
        picked = super().__getitem__(i)
        return [self.value] * len(picked) if isinstance(picked, list) else self.value

    def __repr__(self) -> str:
        return f"ConstantLabels(n={self.n}, value={self.value})"


def draw_items(
    model: Generator,
    strategy: Strategy,
    indices: Tensor,
    labels: Tensor | None,
    *,
    seed: int,
    attempt: int = 0,
) -> Tensor:
    """Generated items ``indices``, item ``i`` a pure function of ``(seed, i, attempt)``.

    What ``SyntheticDataset`` serves: each item draws its strength, its bank row (for a strategy
    that starts from a real example: of its class where the bank is labelled; ``strategy`` is
    bound, so it holds the bank) and its noise from its own counter-based stream, so it is the
    same whatever batch it is drawn in.
    """
    rngs = ItemStreams.for_items(seed, indices, attempt)
    alpha = draw_alpha(strategy.strength, len(indices), rngs)
    bank = strategy.bank
    if strategy.needs_source:
        if bank is None:
            raise ValueError(f"strategy {strategy.name!r} starts from bank codes: bind it first")
        rows = bank.pick(len(indices), labels, rngs)
        source = Latents(bank.codes[rows], None if bank.stds is None else bank.stds[rows])
    else:
        source = Latents(torch.empty(len(indices), 0))
    return strategy(model, source, labels, alpha, rngs).cpu()


def as_index(index: Any) -> int:
    """``index`` as an int; a float, a string or a bool is refused (a list would refuse it too)."""
    if not isinstance(index, bool):
        try:
            return operator.index(index)
        except TypeError:
            pass
    raise TypeError(
        f"SyntheticDataset indices must be integers, got {index!r} ({type(index).__name__})"
    )


def no_class_message(kind: str, strategy: str) -> str:
    """Why a generator of class ``kind`` gets no labels, and how to get some."""
    return (
        f"this {kind} cannot say which class a sample belongs to (it is "
        f"unconditional, and strategy {strategy!r} does not start from the codes of labelled "
        "examples), and a label it did not draw for would silently mislabel the sample next to "
        "real data. For labelled samples: train a class-aware generator (learned-aug fit "
        "--per-class or --conditional), start from a labelled latent bank "
        "(strategy='interpolate', 'noise' or 'reconstruct'), or let a classifier label them: "
        "filter=ClassifierFilter(classifier, relabel=True) (a class-aware generator's "
        "class_log_likelihood is the generative classifier). For unlabelled samples pass "
        "labels='unlabelled' (learned-aug "
        f"sample --unlabelled): every target is then {UNLABELLED}, which no class index equals"
    )


def label_source(generator: Generator, strategy: Strategy) -> str | None:
    """Who says which class a sample of ``generator`` drawn by ``strategy`` belongs to.

    ``"generator"``: a class-conditional or per-class generator draws the class it is asked for.
    ``"bank"``: an unconditional generator whose strategy starts from the codes of a labelled
    latent bank (its own, or the generator's): the class of that code's real example.
    ``None``: nobody (then only a classifier can label the samples).
    """
    if generator.conditional:
        return "generator"
    bank = strategy.bank if strategy.bank is not None else bank_of(generator)
    if strategy.uses_bank(True) and bank is not None and bank.labelled:
        return "bank"
    return None


def _number(report: dict[str, Any], key: str) -> float | None:
    value = report.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def label_bar(report: dict[str, Any], num_classes: int) -> tuple[float, float] | None:
    """``(classifier_accuracy_samples, the bar it must reach)`` of a quality report (see
    :data:`LABEL_TRUST`), or ``None`` where the report cannot judge the labels: it lacks the
    numbers, or its classifier does no better than chance on real images.

    Example:
        >>> label_bar({"classifier_accuracy_samples": 0.1, "classifier_accuracy_real_val": 0.9}, 10)
        (0.1, 0.5)
    """
    measured = _number(report, "classifier_accuracy_samples")
    real = _number(report, "classifier_accuracy_real_val")
    chance = 1.0 / max(num_classes, 1)
    if measured is None or real is None or real <= chance:
        return None
    return measured, chance + LABEL_TRUST * (real - chance)


LABEL_WAYS = (
    "For labelled samples: a class-conditional generator (what learned-aug fit trains by "
    "default; fit(..., config={'conditional': True})), one generator per class (learned-aug fit "
    "--per-class; fit(..., config={'per_class': True})), or a teacher classifier trained on the "
    "real images that labels each sample: filter=ClassifierFilter(classifier, relabel=True) "
    "(its hard class) or target_transform=Teacher(classifier) (soft labels; "
    "learned_aug.evaluation.fit_teacher trains one). For unlabelled "
    f"samples: labels='unlabelled' (learned-aug sample --unlabelled; every target {UNLABELLED})"
)
"""How to get samples whose labels can be trusted, told by every refusal and warning."""


def check_inherited_labels(generator: Generator, classes: list[str]) -> None:
    """Before an unconditional generator's samples take the classes of the bank codes they
    start from: refuse (``ValueError``) where its quality report (:func:`quality_of`) measured
    samples below :data:`LABEL_TRUST`'s bar, warn (:class:`UncheckedLabelsWarning`) where no
    report can judge them. Reads the attached report only: nothing is generated.
    """
    if len(classes) < 2:
        return  # one class: every label is right
    kind = type(generator).__name__
    report = quality_of(generator)
    bar = None if report is None else label_bar(report, len(classes))
    if bar is None:
        why = (
            "no quality report is attached to it (fit(..., out=...) measures one and attaches "
            "it; load_generator attaches the quality.json saved beside a generator)"
            if report is None
            else "its quality report does not measure them (no classifier_accuracy_samples "
            "beside a classifier_accuracy_real_val above chance)"
        )
        warnings.warn(
            f"the labels of this unconditional {kind}'s samples are unchecked: each is the class "
            "of the real example whose latent code the sample starts from, right only while "
            f"the sample still looks like it, and {why}. {LABEL_WAYS}",
            UncheckedLabelsWarning,
            stacklevel=3,
        )
        return
    measured, needed = bar
    if measured < needed:
        chance, real = 1.0 / len(classes), _number(report, "classifier_accuracy_real_val")
        raise ValueError(
            f"this unconditional {kind} labels each sample with the class of the real example "
            "whose latent code it starts from, but its quality report says the samples no "
            "longer look like their source: a classifier trained on the real training images "
            f"names that class for {measured:.1%} of them (classifier_accuracy_samples="
            f"{measured:.4g}), below the {needed:.1%} required (LABEL_TRUST: half-way from "
            f"chance, {chance:.1%}, to the classifier's {real:.1%} on held-out real images), so "
            f"the labels would silently be wrong. {LABEL_WAYS}"
        )


def resolve_labels(
    classes: list[str] | None, n: int, labels
) -> tuple[Tensor | CyclicLabels, list[str]]:
    """Per-item labels (known without generating) and class names; ``None`` classes: unlabelled."""
    if labels is None or (isinstance(labels, str) and labels in LABELS):
        return CyclicLabels(n, len(classes or [0])), list(classes or [])
    if isinstance(labels, str):
        raise ValueError(
            f"labels must be None, 'balanced', 'unlabelled' or a sequence of class indices, "
            f"got {labels!r}"
        )
    if classes is None:
        raise ValueError(
            "labels were given, but the generator is unconditional and the strategy does not "
            "start from labelled bank codes: it cannot draw given classes"
        )
    k = len(classes)
    labels = torch.as_tensor(labels, dtype=torch.long).flatten()
    if len(labels) != n:
        raise ValueError(f"labels must hold n={n} class indices, got {len(labels)}")
    if n and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(
            f"labels must lie in [0, {k - 1}] for classes {classes}, got "
            f"[{int(labels.min())}, {int(labels.max())}]"
        )
    return labels, classes


def match_like(like: Any, sample_shape: tuple[int, ...]) -> tuple[str, Any]:
    """``("tensor", dtype)`` or ``("pil", mode)``: what the first item of ``like`` holds."""
    if getattr(like, "transform", None) is not None or getattr(like, "transforms", None):
        raise ValueError(
            "SyntheticDataset.like matches the items of a dataset without a transform, but "
            f"this {type(like).__name__} has one, so its items show the transform's output: "
            "use SyntheticDataset(...) and pass it the same transform= (it then hands it PIL "
            "images, as torchvision datasets hand theirs)"
        )
    if len(like) == 0:
        raise ValueError(
            f"SyntheticDataset.like needs a dataset with items, got an empty {type(like).__name__}"
        )
    item = like[0]
    image = item[0] if isinstance(item, (tuple, list)) else item
    if isinstance(image, Image.Image):
        kind, shape = ("pil", image.mode), (image.height, image.width)
        made = tuple(sample_shape[1:])
    elif isinstance(image, Tensor):
        kind, shape, made = ("tensor", image.dtype), tuple(image.shape), tuple(sample_shape)
    else:
        raise TypeError(
            "SyntheticDataset.like needs a dataset of (image, label) items holding a PIL image "
            "or a tensor, "
            f"got {type(image).__name__}"
        )
    if shape != made:
        raise ValueError(
            f"the real dataset holds items of shape {shape}, but the generator makes samples of "
            f"shape {tuple(sample_shape)}: resize one side (learned-aug fit --image-size) or "
            "pass the same transform= to both datasets"
        )
    return kind


def check_like_classes(like: Any, classes: list[str]) -> None:
    """Refuse a ``like`` dataset whose class names differ from the samples' (labels would swap)."""
    theirs = getattr(like, "classes", None)
    if theirs is not None and classes and list(theirs) != list(classes):
        raise ValueError(
            f"the real dataset names its classes {list(theirs)}, the generator "
            f"{list(classes)}: label i "
            "would mean another class on each side; train the generator on the same classes "
            "in the same order"
        )


def convert(sample: Tensor, output: str, convert_to: Any = None) -> Any:
    """A float sample in [0, 1] as an item of type ``output`` (in ``like``'s dtype or mode)."""
    if output == "pil" and sample.dim() == 3:
        image = TF.to_pil_image(TF.to_dtype(sample.clamp(0, 1), torch.uint8, scale=True))
        return image if convert_to is None else image.convert(convert_to)
    if convert_to is None:
        return sample
    if sample.dim() != 3:  # a row of features
        return sample.to(convert_to)
    return TF.to_dtype(sample.clamp(0, 1), convert_to, scale=True)
