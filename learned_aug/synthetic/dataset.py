"""SyntheticDataset: a map-style dataset of generated samples, like a torchvision dataset."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from learned_aug.functional import for_inference
from learned_aug.latent_bank import bank_of
from learned_aug.models import Generator
from learned_aug.strategies import Strategy, as_strategy, dataset_strategy
from learned_aug.synthetic.filter import ClassifierFilter
from learned_aug.synthetic.items import as_index, draw_items
from learned_aug.synthetic.labels import (
    UNLABELLED,
    ConstantLabels,
    CyclicLabels,
    label_source,
    no_class_message,
    resolve_labels,
)
from learned_aug.synthetic.output import check_like_classes, convert, match_like
from learned_aug.synthetic.teacher import Teacher
from learned_aug.synthetic.trust import check_inherited_labels


def _check_generator(generator: Any) -> Generator:
    if isinstance(generator, str) or hasattr(generator, "__fspath__"):
        raise TypeError(
            f"generator must be a learned_aug Generator, got the name {str(generator)!r}: load "
            f"it first, SyntheticDataset(load_generator({str(generator)!r}), n)"
        )
    if not isinstance(generator, Generator):
        raise TypeError(
            f"generator must be a learned_aug Generator, got {type(generator).__name__}"
        )
    return generator


def _check_filter(value: Any, conditioned: bool) -> ClassifierFilter | None:
    if value is not None and not isinstance(value, ClassifierFilter):
        raise TypeError(
            f"filter must be a ClassifierFilter or None, got {type(value).__name__}: wrap a "
            "classifier as ClassifierFilter(classifier, threshold=0.5)"
        )
    if value is not None and not (value.relabel or conditioned):
        raise ValueError(
            "filtering by class needs labelled samples, but this dataset's samples have no class "
            "(an unconditional generator): pass ClassifierFilter(..., relabel=True) to let the "
            "classifier label them"
        )
    return value


_TRANSFORM_HINT = {
    "transform": "a function of the image, such as a torchvision transform",
    "target_transform": "a function of the label, or a Teacher for soft labels",
}


def _check_transforms(transform: Any, target_transform: Any, unlabelled: bool) -> None:
    for name, value in (("transform", transform), ("target_transform", target_transform)):
        if value is not None and not callable(value):
            raise TypeError(
                f"{name} must be callable or None ({_TRANSFORM_HINT[name]}), got "
                f"{type(value).__name__}"
            )
    if isinstance(transform, Teacher):
        raise TypeError(
            "transform got a Teacher, which labels samples: pass it as target_transform=teacher"
        )
    if isinstance(target_transform, Teacher) and unlabelled:
        raise ValueError(
            "labels='unlabelled' asks for no labels, target_transform=Teacher(...) for soft "
            "ones: pass one of them"
        )


class SyntheticDataset(Dataset):
    """``n`` generated samples as ``(image, label)`` pairs, like a torchvision dataset.

    Item ``i`` is a pure function of ``(seed, i)``: identical in every worker, epoch and process,
    whatever the batch it is drawn in. Samples are generated in batches (a small chunk cache of
    ``chunk_size`` samples for ``dataset[i]``, one batched pass for the index lists a
    ``DataLoader`` asks for), so memory is O(chunk) whatever ``n``. ``targets``, ``classes`` and
    ``class_to_idx`` are known without generating anything.

    A label always names the class a sample was made for. A generator that cannot say (an
    unconditional one, with a strategy that does not start from labelled bank codes) is refused
    unless a relabelling ``ClassifierFilter`` labels its samples, or ``labels="unlabelled"``
    asks for samples without a class (target ``-1``). An unconditional generator that starts
    from labelled bank codes (``Posterior``, its default with a bank) labels each sample with
    the class of the real example it starts from, which is right only while the sample still
    looks like it: the generator's quality report (``fit`` measures it, ``load_generator`` reads
    the ``quality.json`` beside it) must say so (``learned_aug.synthetic.trust.LABEL_TRUST``),
    else the dataset is refused, and without a report it warns that the labels are unchecked.
    Class-conditional and per-class generators draw the class they are asked for and are never
    checked. With a :class:`Teacher` (a classifier of the real images) as ``target_transform``
    every target is a soft probability vector instead (He et al. 2023), which labels any
    generator's samples.

    Items join real data in a ``ConcatDataset`` with the defaults: without a ``transform`` they
    are float tensors CHW in [0, 1], like ``load_dataset``'s; with one, the transform gets PIL
    images, as a torchvision dataset's transform does (pass the same ``transform=`` to both).
    :meth:`like` matches a real dataset's items (tensor dtype or PIL mode, shape, class names).
    :func:`learned_aug.synthetic.to_folder` / ``to_csv`` write the samples out.

    Args:
        generator: a trained Generator (``load_generator`` loads one by name, folder or Hub
            id, with the latent bank saved beside it).
        n: number of samples.
        labels: ``None`` / ``"balanced"`` (classes in turn), a sequence of n class indices, or
            ``"unlabelled"``: every target is ``-1`` (``UNLABELLED``), which no loss or folder
            takes for a class; ``classes`` is then empty. A class index is what a
            class-conditional or per-class generator draws; for an unconditional one it picks
            the class of the bank code a sample starts from, and is refused where the quality
            report says its samples no longer carry that class (``ValueError`` naming the
            measured accuracy and the bar).
        seed: the dataset's seed.
        transform: applied to each image (a PIL image; a tensor where ``like`` says so).
        target_transform: applied to each label; or a :class:`Teacher`, which turns each
            label into a float vector of ``len(classes)`` probabilities: the one-hot class the
            sample was drawn for (the teacher's prediction where the generator does not draw
            classes itself) mixed with the teacher's softened prediction of the sample. It
            sees the sample, so it acts where samples are generated (``generate`` returns its
            targets); ``targets`` still lists hard classes (that one-hot part). Give the real
            data ``target_transform=OneHot(len(classes))`` so the targets collate.
        strategy: how each sample is made: a ``Strategy`` (``Posterior(strength=0.5)``,
            ``GMM(components=5)``) or a name in ``STRATEGIES`` for its defaults. By default
            ``Posterior()`` where the generator's latent bank holds posterior standard
            deviations (``fit`` saves one with every run): a draw from q(z | x_i) of a random
            training example of the item's class, the aggregate posterior the results page
            measures; else ``Prior()`` (``generator.sample``); see
            :func:`~learned_aug.strategies.dataset_strategy`.
        filter: a :class:`ClassifierFilter`: keep only samples a classifier gives their class
            with enough probability (drawing again), or let it label them (``relabel=True``).

    Example:
        >>> from torch.utils.data import ConcatDataset, DataLoader
        >>> from learned_aug import LabelledData, SyntheticDataset, VAE, VAEConfig
        >>> config = VAEConfig(image_size=(8, 8), latent_dim=2, classes=["a", "b"],
        ...                    conditional=True)
        >>> gen = VAE(config)
        >>> real = LabelledData(torch.rand(6, 1, 8, 8), torch.tensor([0, 1] * 3), ["a", "b"])
        >>> synthetic = SyntheticDataset.like(real, gen, n=10, seed=0)
        >>> image, label = synthetic[3]
        >>> image.shape, label, synthetic.classes
        (torch.Size([1, 8, 8]), 1, ['a', 'b'])
        >>> x, y = next(iter(DataLoader(ConcatDataset([real, synthetic]), batch_size=16)))
        >>> x.shape, y.tolist()[-4:]
        (torch.Size([16, 1, 8, 8]), [0, 1, 0, 1])
    """

    chunk_size: int = 256
    """Samples generated at once for ``dataset[i]``."""
    cache_bytes: int = 256 * 2**20
    """The most memory the decoded chunks ``dataset[i]`` keeps take (at least two chunks): a
    ``MixSampler`` or a shuffled ``DataLoader`` reads items in random order, and a chunk
    dropped too soon is decoded again for each of its items. 5,000 samples of 3x64x64 fit."""

    def __init__(
        self,
        generator: Generator,
        n: int,
        labels: str | Sequence[int] | Tensor | None = "balanced",
        seed: int = 0,
        transform: Callable | None = None,
        target_transform: Callable | Teacher | None = None,
        *,
        strategy: str | Strategy | None = None,
        filter: ClassifierFilter | None = None,
    ):
        generator = _check_generator(generator)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        self.unlabelled = isinstance(labels, str) and labels == "unlabelled"
        _check_transforms(transform, target_transform, self.unlabelled)
        self.generator = for_inference(generator)
        self.n, self.seed = n, seed
        self.transform, self.target_transform = transform, target_transform
        # A Teacher needs the samples: it labels them as they are generated, not item by item.
        self.teacher = target_transform if isinstance(target_transform, Teacher) else None
        self._label_transform = None if self.teacher is not None else target_transform
        # What a torchvision dataset hands its transform (PIL), else collatable tensors.
        self.output, self._convert_to = ("pil" if transform is not None else "tensor"), None
        chosen = dataset_strategy(generator) if strategy is None else as_strategy(strategy)
        self.strategy = chosen.bind(generator, from_bank=True)
        # Labels condition the generator, or pick the class of the bank codes a sample starts from.
        source = label_source(generator, self.strategy)
        self._conditioned = source is not None
        bank = self.strategy.bank
        known = (generator.classes or bank.classes) if self._conditioned else None
        self.filter = _check_filter(filter, self._conditioned)
        relabelled = self.filter is not None and self.filter.relabel
        if self.unlabelled and relabelled:
            raise ValueError(
                "labels='unlabelled' asks for no labels, a relabelling ClassifierFilter for the "
                "classifier's: pass one of them"
            )
        taught = self.teacher is not None
        if known is None and not (self.unlabelled or relabelled or taught):
            raise ValueError(no_class_message(type(generator).__name__, self.strategy.name))
        self._labels, self.classes = resolve_labels(known, n, labels)
        if relabelled or (taught and not self.classes):
            self.classes = _relabel_classes(generator)
        if self.unlabelled:
            self.classes = []
        # Who gives a teacher's target its hard part: the generator that drew the class, a
        # relabelling filter, else the teacher itself (bank classes are not taken on trust).
        self._hard_given = source == "generator" or relabelled
        if source == "bank" and not (self.unlabelled or relabelled or taught):
            check_inherited_labels(generator, self.classes)
        self._relabelled: Tensor | None = None
        self._cache: OrderedDict[int, tuple[Tensor, Tensor]] = OrderedDict()

    @classmethod
    def like(cls, real: Any, generator: Generator, n: int, **kwargs: Any) -> SyntheticDataset:
        """Samples whose items match those of ``real`` (a dataset without a transform): the
        same item type (tensor dtype or PIL mode) and shape, and the same class names.

        ``kwargs`` go to ``SyntheticDataset`` (``seed``, ``strategy``, ...).

        Example:
            >>> from learned_aug import load_dataset, load_generator
            >>> real = load_dataset("mnist-5k")
            >>> synthetic = SyntheticDataset.like(real, load_generator("mnist-vae"), n=8)
            >>> image, label = synthetic[0]
            >>> image.dtype, synthetic.classes == real.classes
            (torch.float32, True)
        """
        dataset = cls(generator, n, **kwargs)
        dataset.output, dataset._convert_to = match_like(real, generator.sample_shape)
        check_like_classes(real, dataset.classes)
        return dataset

    @property
    def targets(self) -> Sequence[int]:
        """Each item's label, known without generating (computed on demand for balanced labels).

        With ``relabel=True`` the classifier chooses the labels, and with a teacher where the
        generator does not draw classes (the hard part of each soft target), so this generates
        every item once.
        """
        chosen = self.filter is not None and self.filter.relabel
        if chosen or (self.teacher is not None and not self._hard_given):
            if self._relabelled is None:
                empty = torch.empty(0, dtype=torch.long)
                self._relabelled = self._generate(range(self.n))[1] if self.n else empty
            return self._relabelled.tolist()
        if self.unlabelled:
            return ConstantLabels(self.n, UNLABELLED)
        return self._labels if isinstance(self._labels, CyclicLabels) else self._labels.tolist()

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return self.n

    def _requested(self, indices: Tensor) -> Tensor:
        if isinstance(self._labels, CyclicLabels):
            return indices % self._labels.k
        return self._labels[indices]

    def _attempt(self, indices: Tensor, attempt: int, requested: Tensor) -> Tensor:
        """One try at the samples of ``indices``: each drawn from its own (seed, i, try) stream."""
        labels = requested if self._conditioned else None
        return draw_items(
            self.generator, self.strategy, indices, labels, seed=self.seed, attempt=attempt
        )

    def generate(self, indices: Sequence[int] | Tensor) -> tuple[Tensor, Tensor]:
        """The samples (one float batch in [0, 1]) and labels of ``indices``, decoded in
        batches of ``chunk_size`` (20,000 samples of 64x64 in one pass would take tens of
        gigabytes), before any conversion or transform. The labels are class indices ``(B,)``,
        or with a ``Teacher`` (``target_transform``) its soft targets ``(B, len(classes))``."""
        samples, _, targets = self._generate(indices)
        return samples, targets

    @torch.no_grad()
    def _generate(self, indices: Sequence[int] | Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``generate``'s samples, each one's hard class and its target (the class, or a
        teacher's soft target)."""
        indices = self._index_tensor(indices)
        if len(indices) > self.chunk_size:
            parts = [self._generate(part) for part in indices.split(self.chunk_size)]
            return tuple(torch.cat([p[j] for p in parts]) for j in range(3))  # type: ignore[return-value]
        labels = self._requested(indices)
        samples = self._attempt(indices, 0, labels)
        if self.filter is not None:
            samples, labels = self.filter.apply(
                samples,
                labels,
                lambda rows, t: self._attempt(indices[rows], t, labels[rows]),
            )
        if self.unlabelled:  # the class a sample was drawn for is not reported
            labels = torch.full_like(labels, UNLABELLED)
        if self.teacher is None:
            return samples, labels, labels
        targets = self.teacher.targets(
            samples, labels if self._hard_given else None, len(self.classes)
        )
        if not self._hard_given:  # the teacher's prediction took the hard part
            labels = targets.argmax(1)
        return samples, labels, targets

    def check_indices(self, indices: Sequence[int] | Tensor) -> list[int]:
        """``indices`` as in-range non-negative indices (negative ones count from the end)."""
        return self._index_tensor(indices).tolist()

    def _index_tensor(self, indices: Sequence[int] | Tensor) -> Tensor:
        """``check_indices`` as an int64 tensor (what ``generate`` draws from)."""
        if isinstance(indices, Tensor) and not (
            indices.is_floating_point() or indices.is_complex() or indices.dtype == torch.bool
        ):
            idx = indices.to(torch.long).reshape(-1)
        else:
            idx = torch.tensor([as_index(i) for i in indices], dtype=torch.long)
        outside = (idx < -self.n) | (idx >= self.n)
        if bool(outside.any()):
            bad = int(idx[outside][0])
            raise IndexError(f"index {bad} out of range for a SyntheticDataset of n={self.n}")
        return torch.where(idx < 0, idx + self.n, idx)

    def _check_index(self, index: int) -> int:
        i = as_index(index)
        if not -self.n <= i < self.n:
            raise IndexError(f"index {i} out of range for a SyntheticDataset of n={self.n}")
        return i + self.n if i < 0 else i

    def _chunk(self, c: int) -> tuple[Tensor, Tensor]:
        if c not in self._cache:
            start = c * self.chunk_size
            self._cache[c] = self.generate(range(start, min(start + self.chunk_size, self.n)))
            chunk = sum(t.element_size() * t.nelement() for t in self._cache[c])
            keep = max(2, self.cache_bytes // max(chunk, 1))
            while len(self._cache) > keep:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(c)  # least recently used goes first
        return self._cache[c]

    def _item(self, sample: Tensor, label: int | Tensor) -> tuple[Any, Any]:
        image = convert(sample, self.output, self._convert_to)
        if self.transform is not None:
            image = self.transform(image)
        if self._label_transform is not None:
            label = self._label_transform(label)
        return image, label

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        i = self._check_index(index)
        samples, labels = self._chunk(i // self.chunk_size)
        return self._item(samples[i % self.chunk_size], _label(labels[i % self.chunk_size]))

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Any, Any]]:
        """A DataLoader's batch of indices, generated in one batched pass."""
        samples, labels = self.generate(indices)
        targets = labels.unbind() if labels.dim() == 2 else labels.tolist()
        items = zip(samples.unbind(), targets, strict=True)
        plain = self.output == "tensor" and self._convert_to is None
        if plain and self.transform is None and self._label_transform is None:
            return list(items)
        return [self._item(s, y) for s, y in items]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = OrderedDict()  # workers start with an empty cache
        return state


def _label(label: Tensor) -> int | Tensor:
    """An item's target: a class index, or a teacher's soft target as it is."""
    return label if label.dim() else int(label)


def _relabel_classes(generator: Generator) -> list[str]:
    bank = bank_of(generator)
    classes = generator.classes or (bank.classes if bank is not None else [])
    if not classes:
        raise ValueError(
            "a relabelling ClassifierFilter needs class names, but the generator has none "
            "(config.classes is empty): train it on labelled data"
        )
    return list(classes)
