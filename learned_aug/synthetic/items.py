"""What a SyntheticDataset item holds and how it is drawn: item ``i`` a pure function of
``(seed, i)`` (:func:`draw_items`), a label that names only the class the sample was made for,
and an item type that matches the real data it joins.

A synthetic sample next to real data in a ``ConcatDataset`` must never carry a class it was not
drawn for: a generator that cannot say which class a sample belongs to gets no labels at all
(``UNLABELLED``) or is refused. Its items must also collate with the real ones, so their type
(tensor or PIL image, dtype, mode) follows the real dataset's.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from learned_aug.models import Generator
from learned_aug.rng import ItemStreams, draw_alpha
from learned_aug.sampling import Latents
from learned_aug.strategies import Strategy

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
