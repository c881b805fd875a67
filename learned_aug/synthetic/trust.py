"""The label-trust check: may an unconditional generator's samples keep the classes they
inherit from the latent bank?

An unconditional generator that starts from the codes of a labelled latent bank hands each
sample the class of that code's real example; that label holds only while the sample still
looks like its source, so it is handed out only where the generator's quality report says so
(:data:`LABEL_TRUST`, :func:`check_inherited_labels`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from learned_aug.models import Generator
from learned_aug.quality import quality_of
from learned_aug.synthetic.labels import UNLABELLED

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
with 10 classes and a classifier right on 90% of the real images it is 50%; the samples of a
collapsed generator, which carry no class, score at chance and are refused."""


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
