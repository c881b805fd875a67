"""SyntheticDataset: a map-style dataset of generated samples, like a torchvision dataset."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as TF
from tqdm.auto import tqdm

from learned_aug.data import write_csv
from learned_aug.dataset_items import (
    UNLABELLED,
    ConstantLabels,
    CyclicLabels,
    as_index,
    check_like_classes,
    convert,
    no_class_message,
    resolve_labels,
    resolve_output,
)
from learned_aug.functional import for_inference
from learned_aug.hub import find_bank, load_generator, resolve
from learned_aug.latent_bank import LatentBank
from learned_aug.models import Generator
from learned_aug.rng import check_alpha
from learned_aug.sampling import (
    ClassifierFilter,
    Strategy,
    StrategyFn,
    dataset_strategy,
    draw_items,
    get_strategy,
)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")


def safe_class_dir(root: Path, name: str) -> Path:
    """The folder of class ``name`` under ``root``; a name can never escape ``root``."""
    clean = _SAFE_NAME.sub("_", str(name)).strip(" .") or "_"
    folder = (root / clean).resolve()
    if folder.parent != root.resolve():
        raise ValueError(f"class name {name!r} would write outside {str(root)!r}")
    return folder


def class_dirs(root: Path, classes: Sequence[str]) -> list[Path]:
    """One safe folder per class; two classes that would share a folder are an error."""
    dirs, owner = [safe_class_dir(root, c) for c in classes], {}
    for name, folder in zip(classes, dirs, strict=True):
        if folder in owner:
            raise ValueError(
                f"classes {owner[folder]!r} and {name!r} would both be written to the folder "
                f"{folder.name!r} (class names are made safe for the file system); rename one"
            )
        owner[folder] = name
    return dirs


def _resolve_generator(generator: Generator | str | Path) -> tuple[Generator, str | None]:
    """The generator, and the folder or Hub id it was loaded from (where its bank may be)."""
    location = getattr(generator, "name_or_path", None)  # a loaded or fitted generator's folder
    if isinstance(generator, (str, Path)):
        location = resolve(generator)
        generator = load_generator(location)
    if not isinstance(generator, Generator):
        raise TypeError(
            f"generator must be a learned_aug Generator or a name, got {type(generator).__name__}"
        )
    return generator, location


def _find_bank(bank, location: str | None) -> LatentBank | None:
    """The bank given (or its path), else the one saved beside a named generator."""
    if isinstance(bank, (str, Path)):
        bank = LatentBank.load(bank)
    elif bank is None and location is not None:
        bank = find_bank(location)
    if bank is not None and not isinstance(bank, LatentBank):
        raise TypeError(f"bank must be a LatentBank, a path or None, got {type(bank).__name__}")
    return bank


def _check_bank(bank: LatentBank | None, strategy: Strategy) -> LatentBank | None:
    if bank is None and (strategy.needs_source or strategy.needs_bank):
        raise ValueError(
            f"strategy {strategy.name!r} starts from the codes of real examples and needs a "
            "latent bank: build one with learned_aug.build_latent_bank(generator_folder, data) "
            "or pass bank=..."
        )
    return bank


def _make_filter(classifier, threshold, relabel, max_tries, labelled) -> ClassifierFilter | None:
    if classifier is None:
        if relabel:
            raise ValueError("relabel=True needs a classifier to choose the labels")
        return None
    if not relabel and not labelled:
        raise ValueError(
            "filtering by class needs labelled samples, but this dataset's samples have no class "
            "(an unconditional generator): pass relabel=True to let the classifier label them"
        )
    return ClassifierFilter(classifier, float(threshold), bool(relabel), max_tries)


def _relabel_classes(generator: Generator, bank: LatentBank | None) -> list[str]:
    classes = generator.classes or (bank.classes if bank is not None else [])
    if not classes:
        raise ValueError(
            "relabel=True needs class names, but the generator has none (config.classes is "
            "empty): train it on labelled data"
        )
    return list(classes)


class SyntheticDataset(Dataset):
    """``n`` generated samples as ``(image, label)`` pairs, like a torchvision dataset.

    Item ``i`` is a pure function of ``(seed, i)``: identical in every worker, epoch and process,
    whatever the batch it is drawn in. Samples are generated in batches (a small chunk cache for
    ``dataset[i]``, one batched pass for the index lists a ``DataLoader`` asks for), so memory is
    O(chunk) whatever ``n``. ``targets``, ``classes`` and ``class_to_idx`` are known without
    generating anything.

    A label always names the class a sample was made for. A generator that cannot say (an
    unconditional one, with a strategy that does not start from labelled bank codes) is refused
    unless ``relabel=True`` lets a classifier label its samples, or ``labels="unlabelled"``
    asks for samples without a class (target ``-1``).

    Items join real data in a ``ConcatDataset`` with the defaults: without a ``transform`` they
    are float tensors CHW in [0, 1], like ``load_dataset``'s; with one, the transform gets PIL
    images, as a torchvision dataset's transform does (pass the same ``transform=`` to both).
    ``like=real`` matches ``real``'s items (tensor dtype or PIL mode, shape, class names).

    Args:
        generator: a Generator, or a name ``load_generator`` resolves.
        n: number of samples.
        labels: ``None`` / ``"balanced"`` (classes in turn), a sequence of n class indices, or
            ``"unlabelled"``: every target is ``-1`` (``UNLABELLED``), which no loss or folder
            takes for a class; ``classes`` is then empty.
        seed: the dataset's seed.
        transform: applied to each image (after conversion to ``output``).
        target_transform: applied to each label.
        output: ``"auto"`` (the default: ``"pil"`` when there is a ``transform``, else
            ``"tensor"``), ``"pil"`` or ``"tensor"`` (float CHW in [0, 1]).
        chunk_size: samples generated per batch for sequential access.
        strategy: how each sample is made (``learned_aug.sampling.STRATEGIES``). By default
            ``"posterior"`` where the generator's latent bank holds posterior standard deviations
            (``fit`` saves one with every run): a draw from q(z | x_i) of a random training
            example of the item's class, the aggregate posterior the results page measures;
            else ``"prior"`` (``generator.sample``). Others: ``"gmm"`` (a per-class Gaussian
            mixture over the codes), ``"reconstruct"``, ``"noise"``, ``"interpolate"``,
            ``"extrapolate"`` (see ``learned_aug.sampling.dataset_strategy``).
        strength: the strategy's alpha, a number or a ``(low, high)`` range drawn per item.
        bank: the latent bank (by default the one beside the generator: where a name points,
            or ``generator.name_or_path`` for one from ``load_generator`` or ``fit(out=...)``).
        strategy_kwargs: keyword arguments of the strategy (``k`` neighbours, ...).
        classifier: keep only samples this classifier (float batch -> logits) gives their class
            with probability ``>= threshold``, drawing again up to ``max_tries`` times (see
            ``ClassifierFilter``).
        threshold: the probability a kept sample needs.
        relabel: label each sample with the classifier's prediction instead (for unconditional
            generators); then ``targets`` generates every item once to know them.
        max_tries: draws per item at most when filtering.
        like: a dataset (without a transform) these samples will join: its first item sets the
            item type, dtype or PIL mode, and must have the generator's shape; its ``classes``,
            if it has them, must equal the generator's.

    Example:
        >>> from torch.utils.data import ConcatDataset, DataLoader
        >>> from learned_aug import LabelledData, SyntheticDataset, VAE, VAEConfig
        >>> gen = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, classes=["a", "b"], num_classes=2))
        >>> real = LabelledData(torch.rand(6, 1, 8, 8), torch.tensor([0, 1] * 3), ["a", "b"])
        >>> synthetic = SyntheticDataset(gen, n=10, seed=0, like=real)
        >>> image, label = synthetic[3]
        >>> image.shape, label, synthetic.classes
        (torch.Size([1, 8, 8]), 1, ['a', 'b'])
        >>> x, y = next(iter(DataLoader(ConcatDataset([real, synthetic]), batch_size=16)))
        >>> x.shape, y.tolist()[-4:]
        (torch.Size([16, 1, 8, 8]), [0, 1, 0, 1])
    """

    def __init__(
        self,
        generator: Generator | str,
        n: int,
        labels: str | Sequence[int] | Tensor | None = "balanced",
        seed: int = 0,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        output: str = "auto",
        chunk_size: int = 256,
        *,
        strategy: str | Strategy | StrategyFn | None = None,
        strength: float | tuple[float, float] | None = None,
        bank: LatentBank | str | Path | None = None,
        strategy_kwargs: dict[str, Any] | None = None,
        classifier: Callable[[Tensor], Tensor] | None = None,
        threshold: float = 0.5,
        relabel: bool = False,
        max_tries: int = 10,
        like: Any = None,
    ):
        generator, location = _resolve_generator(generator)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
        self.output, self._convert_to = resolve_output(
            output, like, transform, generator.sample_shape
        )
        self.generator = for_inference(generator)
        self.n, self.seed, self.chunk_size = n, int(seed), chunk_size
        self.transform, self.target_transform = transform, target_transform
        found = _find_bank(bank, location)
        self._strategy = get_strategy(
            dataset_strategy(generator, found) if strategy is None else strategy
        )
        self.strategy = self._strategy.name
        default = self._strategy.default_alpha or 0.0
        self.strength = check_alpha(strength if strength is not None else default, "strength")
        self.strategy_kwargs = dict(strategy_kwargs or {})
        self.bank = _check_bank(found, self._strategy)
        # Labels condition the generator, or pick the class of the bank codes a sample starts from.
        from_bank = self._strategy.needs_source or self._strategy.needs_bank
        self._conditioned = generator.conditional or bool(
            from_bank and self.bank is not None and self.bank.labelled
        )
        bank_classes = self.bank.classes if self.bank is not None else []
        known = (generator.classes or bank_classes) if self._conditioned else None
        self.filter = _make_filter(classifier, threshold, relabel, max_tries, self._conditioned)
        relabelled = self.filter is not None and self.filter.relabel
        self.unlabelled = isinstance(labels, str) and labels == "unlabelled"
        if self.unlabelled and relabelled:
            raise ValueError(
                "labels='unlabelled' asks for no labels, relabel=True for the "
                "classifier's: pass one of them"
            )
        if known is None and not (self.unlabelled or relabelled):
            raise ValueError(no_class_message(type(generator).__name__, self.strategy))
        self._labels, self.classes = resolve_labels(known, n, labels)
        if relabelled:
            self.classes = _relabel_classes(generator, self.bank)
        if self.unlabelled:
            self.classes = []
        if like is not None:
            check_like_classes(like, self.classes)
        self._relabelled: Tensor | None = None
        self._cache: OrderedDict[int, tuple[Tensor, Tensor]] = OrderedDict()

    @property
    def targets(self) -> Sequence[int]:
        """Each item's label, known without generating (computed on demand for balanced labels).

        With ``relabel=True`` the classifier chooses the labels, so this generates every item once.
        """
        if self.filter is not None and self.filter.relabel:
            if self._relabelled is None:
                parts = [
                    self._generate(range(s, min(s + self.chunk_size, self.n)))[1]
                    for s in range(0, self.n, self.chunk_size)
                ]
                self._relabelled = torch.cat(parts) if parts else torch.empty(0, dtype=torch.long)
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
        return draw_items(
            self.generator,
            self._strategy,
            indices,
            requested if self._conditioned else None,
            seed=self.seed,
            strength=self.strength,
            bank=self.bank,
            attempt=attempt,
            options=self.strategy_kwargs,
        )

    @torch.no_grad()
    def _generate(self, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        """Samples (float, in [0, 1]) and labels of ``indices``, in one batched pass."""
        indices = self._check_indices(indices)
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
        return samples, labels

    def generate(self, indices: Sequence[int]) -> Tensor:
        """The samples of ``indices`` as one float batch in [0, 1], in one batched pass."""
        return self._generate(indices)[0]

    def _check_indices(self, indices: Sequence[int] | Tensor) -> Tensor:
        """``indices`` as an int64 tensor of in-range non-negative indices (negative ones count
        from the end)."""
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
            self._cache[c] = self._generate(range(start, min(start + self.chunk_size, self.n)))
            while len(self._cache) > 2:
                self._cache.popitem(last=False)
        return self._cache[c]

    def _item(self, sample: Tensor, label: int) -> tuple[Any, Any]:
        image = convert(sample, self.output, self._convert_to)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        i = self._check_index(index)
        samples, labels = self._chunk(i // self.chunk_size)
        return self._item(samples[i % self.chunk_size], int(labels[i % self.chunk_size]))

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Any, Any]]:
        """A DataLoader's batch of indices, generated in one batched pass."""
        samples, labels = self._generate(indices)
        items = zip(samples.unbind(), labels.tolist(), strict=True)
        plain = self.output == "tensor" and self._convert_to is None
        if plain and self.transform is None and self.target_transform is None:
            return list(items)
        return [self._item(s, y) for s, y in items]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = OrderedDict()  # workers start with an empty cache
        return state

    def to_folder(
        self,
        root: str | Path,
        *,
        batch_size: int = 256,
        progress: bool = True,
        indices: Sequence[int] | None = None,
    ) -> Path:
        """Write the samples as an ImageFolder of PNGs: ``root/<class>/<index>.png``.

        ``indices`` writes only those items (a shard); file names are the item indices, so
        shards written by several processes fill one folder without clashes. Unlabelled
        samples go straight into ``root/``, in no class folder: ``ImageFolder`` refuses such a
        folder rather than give its images a class.
        """
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        dirs = class_dirs(root, self.classes)
        for d in dirs:
            d.mkdir(exist_ok=True)
        order = list(range(self.n)) if indices is None else self._check_indices(indices).tolist()
        width = max(len(str(self.n - 1)), 1)
        with tqdm(total=len(order), desc="sample", unit="img", disable=not progress) as bar:
            for start in range(0, len(order), batch_size):
                part = order[start : start + batch_size]
                samples, labels = self._generate(part)
                for i, sample, y in zip(part, samples, labels.tolist(), strict=True):
                    folder = root if y == UNLABELLED else dirs[y]
                    _save_png(sample, folder / f"{i:0{width}d}.png")
                bar.update(len(part))
        return root

    def to_csv(
        self,
        path: str | Path,
        *,
        batch_size: int = 256,
        progress: bool = True,
        indices: Sequence[int] | None = None,
    ) -> Path:
        """Write tabular samples as a CSV: the generator's columns, then the class name.

        Categorical columns are written by category name, so the file reloads with
        ``learned_aug.data.load_csv`` under the same schema.
        """
        if len(self.generator.sample_shape) != 1:
            raise ValueError("to_csv writes tabular samples; use to_folder for images")
        if self.unlabelled:
            raise ValueError(
                "to_csv writes a class column, and these samples are unlabelled "
                "(labels='unlabelled'): use a class-aware generator or relabel=True"
            )
        order = list(range(self.n)) if indices is None else self._check_indices(indices).tolist()
        rows, labels = [], []
        with tqdm(total=len(order), desc="sample", unit="row", disable=not progress) as bar:
            for start in range(0, len(order), batch_size):
                samples, ys = self._generate(order[start : start + batch_size])
                rows.append(samples)
                labels.append(ys)
                bar.update(len(samples))
        x = torch.cat(rows) if rows else torch.empty(0, *self.generator.sample_shape)
        y = torch.cat(labels) if labels else torch.empty(0, dtype=torch.long)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return write_csv(path, x, y, _columns(self.generator), self.classes)


def _columns(generator: Generator) -> list[dict[str, Any]]:
    """The column schema of a tabular generator (or of its per-class members)."""
    config = generator.config
    columns = getattr(config, "columns", None) or getattr(config, "member", {}).get("columns")
    if columns:
        return list(columns)
    return [{"name": f"feature_{i}"} for i in range(generator.sample_shape[0])]


def _save_png(sample: Tensor, path: Path) -> None:
    if sample.dim() != 3:
        raise ValueError(
            f"only image samples can be written as PNG, got shape {tuple(sample.shape)}"
        )
    image: Image.Image = TF.to_pil_image(TF.to_dtype(sample.clamp(0, 1), torch.uint8, scale=True))
    image.save(path)
