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
from learned_aug.functional import for_inference
from learned_aug.hub import find_bank, load_generator, resolve
from learned_aug.latent_bank import LatentBank
from learned_aug.models import Generator
from learned_aug.rng import check_alpha
from learned_aug.sampling import ClassifierFilter, Strategy, StrategyFn, draw_items, get_strategy

OUTPUTS = ("pil", "tensor")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")


class CyclicLabels(Sequence[int]):
    """The labels 0, 1, ..., k-1, 0, 1, ... of ``n`` items, computed on demand, never stored."""

    def __init__(self, n: int, k: int):
        self.n, self.k = n, max(k, 1)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [j % self.k for j in range(*i.indices(self.n))]
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


def _resolve_labels(
    classes: list[str] | None, n: int, labels
) -> tuple[Tensor | CyclicLabels, list[str]]:
    """Per-item labels (known without generating) and class names; ``None`` classes: unlabelled."""
    if labels is None or (isinstance(labels, str) and labels == "balanced"):
        return CyclicLabels(n, len(classes or [0])), classes or ["synthetic"]
    if isinstance(labels, str):
        raise ValueError(
            f"labels must be None, 'balanced' or a sequence of class indices, got {labels!r}"
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


def _resolve_generator(generator: Generator | str | Path) -> tuple[Generator, str | None]:
    """The generator, and the folder or Hub id it was loaded from (where its bank may be)."""
    location = None
    if isinstance(generator, (str, Path)):
        location = resolve(generator)
        generator = load_generator(location)
    if not isinstance(generator, Generator):
        raise TypeError(
            f"generator must be a learned_aug Generator or a name, got {type(generator).__name__}"
        )
    return generator, location


def _resolve_bank(bank, location: str | None, strategy: Strategy) -> LatentBank | None:
    if isinstance(bank, (str, Path)):
        bank = LatentBank.load(bank)
    elif bank is None and location is not None:
        bank = find_bank(location)
    if bank is not None and not isinstance(bank, LatentBank):
        raise TypeError(f"bank must be a LatentBank, a path or None, got {type(bank).__name__}")
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

    Args:
        generator: a Generator, or a name ``load_generator`` resolves.
        n: number of samples.
        labels: ``None`` / ``"balanced"`` (classes in turn) or a sequence of n class indices.
        seed: the dataset's seed.
        transform: applied to each image (after conversion to ``output``).
        target_transform: applied to each label.
        output: ``"pil"`` (like torchvision datasets) or ``"tensor"`` (float CHW in [0, 1]).
        chunk_size: samples generated per batch for sequential access.
        strategy: how each sample is made (``learned_aug.sampling.STRATEGIES``): ``"prior"`` (the
            default: ``generator.sample``), or a strategy that starts from the code of a real
            example drawn from the latent bank (of the item's class when the bank is labelled):
            ``"reconstruct"``, ``"noise"``, ``"interpolate"``, ``"extrapolate"``.
        strength: the strategy's alpha, a number or a ``(low, high)`` range drawn per item.
        bank: the latent bank (found beside the generator when ``generator`` is a name).
        strategy_kwargs: keyword arguments of the strategy (``k`` neighbours, ...).
        classifier: keep only samples this classifier (float batch -> logits) gives their class
            with probability ``>= threshold``, drawing again up to ``max_tries`` times (see
            ``ClassifierFilter``).
        threshold: the probability a kept sample needs.
        relabel: label each sample with the classifier's prediction instead (for unconditional
            generators); then ``targets`` generates every item once to know them.
        max_tries: draws per item at most when filtering.

    Example:
        >>> from torch.utils.data import ConcatDataset
        >>> from learned_aug import SyntheticDataset, VAE, VAEConfig
        >>> gen = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, classes=["a", "b"], num_classes=2))
        >>> synthetic = SyntheticDataset(gen, n=10, seed=0)
        >>> image, label = synthetic[3]
        >>> image.size, label, synthetic.classes
        ((8, 8), 1, ['a', 'b'])
    """

    def __init__(
        self,
        generator: Generator | str,
        n: int,
        labels: str | Sequence[int] | Tensor | None = "balanced",
        seed: int = 0,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        output: str = "pil",
        chunk_size: int = 256,
        *,
        strategy: str | Strategy | StrategyFn = "prior",
        strength: float | tuple[float, float] | None = None,
        bank: LatentBank | str | Path | None = None,
        strategy_kwargs: dict[str, Any] | None = None,
        classifier: Callable[[Tensor], Tensor] | None = None,
        threshold: float = 0.5,
        relabel: bool = False,
        max_tries: int = 10,
    ):
        generator, location = _resolve_generator(generator)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
        self.generator = for_inference(generator)
        self.n, self.seed, self.output, self.chunk_size = n, int(seed), output, chunk_size
        self.transform, self.target_transform = transform, target_transform
        self._strategy = get_strategy(strategy)
        self.strategy = self._strategy.name
        default = self._strategy.default_alpha or 0.0
        self.strength = check_alpha(strength if strength is not None else default, "strength")
        self.strategy_kwargs = dict(strategy_kwargs or {})
        self.bank = _resolve_bank(bank, location, self._strategy)
        # Labels condition the generator, or pick the class of the bank codes a sample starts from.
        from_bank = self._strategy.needs_source or self._strategy.needs_bank
        self._conditioned = generator.conditional or bool(
            from_bank and self.bank is not None and self.bank.labelled
        )
        bank_classes = self.bank.classes if self.bank is not None else []
        known = (generator.classes or bank_classes) if self._conditioned else None
        self._labels, self.classes = _resolve_labels(known, n, labels)
        self.filter = _make_filter(classifier, threshold, relabel, max_tries, self._conditioned)
        if self.filter is not None and self.filter.relabel:
            self.classes = _relabel_classes(generator, self.bank)
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
        if self.filter is None:
            return samples, labels
        return self.filter.apply(
            samples,
            labels,
            lambda rows, t: self._attempt(indices[rows], t, labels[rows]),
        )

    def generate(self, indices: Sequence[int]) -> Tensor:
        """The samples of ``indices`` as one float batch in [0, 1], in one batched pass."""
        return self._generate(indices)[0]

    def _check_indices(self, indices: Sequence[int]) -> Tensor:
        """``indices`` as an int64 tensor of in-range non-negative indices (negative ones count
        from the end)."""
        idx = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        idx = torch.where(idx < 0, idx + self.n, idx)
        if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= self.n):
            bad = next(int(i) for i in indices if not -self.n <= int(i) < self.n)
            raise IndexError(f"index {bad} out of range for a SyntheticDataset of n={self.n}")
        return idx

    def _check_index(self, i: int) -> int:
        i = int(i)
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(f"index {i} out of range for a SyntheticDataset of n={self.n}")
        return i

    def _chunk(self, c: int) -> tuple[Tensor, Tensor]:
        if c not in self._cache:
            start = c * self.chunk_size
            self._cache[c] = self._generate(range(start, min(start + self.chunk_size, self.n)))
            while len(self._cache) > 2:
                self._cache.popitem(last=False)
        return self._cache[c]

    def _item(self, sample: Tensor, label: int) -> tuple[Any, Any]:
        image: Any = sample
        if self.output == "pil" and sample.dim() == 3:
            image = TF.to_pil_image(TF.to_dtype(sample.clamp(0, 1), torch.uint8, scale=True))
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
        if self.output == "tensor" and self.transform is None and self.target_transform is None:
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
        shards written by several processes fill one folder without clashes.
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
                    _save_png(sample, dirs[y] / f"{i:0{width}d}.png")
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
