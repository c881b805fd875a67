"""The labels of SyntheticDataset items: a label names only the class the sample was made for.

A synthetic sample next to real data in a ``ConcatDataset`` must never carry a class it was not
drawn for: who can say which class a sample belongs to (:func:`label_source`) decides whether
items get labels at all; a generator that cannot say gets none (``UNLABELLED``) or is refused
(:func:`no_class_message`). The per-item labels are known without generating
(:class:`CyclicLabels`, :func:`resolve_labels`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from learned_aug.latent_bank import bank_of
from learned_aug.models import Generator
from learned_aug.strategies import Strategy
from learned_aug.synthetic.items import as_index

LABELS = ("balanced", "unlabelled")
UNLABELLED = -1
"""The target of every item of ``SyntheticDataset(..., labels="unlabelled")``: no class index,
so it cannot be taken for a class (``cross_entropy`` refuses it, ``ImageFolder`` has no folder
for it)."""


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
