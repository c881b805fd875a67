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

from learned_aug.models import Generator

OUTPUTS = ("pil", "tensor")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")


def item_seed(seed: int, index: int) -> int:
    """The seed of item ``index``: a pure function of ``(seed, index)``."""
    return (int(seed) * 0x9E3779B97F4A7C15 + int(index) * 0xBF58476D1CE4E5B9 + 1) % (2**63 - 1)


def safe_class_dir(root: Path, name: str) -> Path:
    """The folder of class ``name`` under ``root``; a name can never escape ``root``."""
    clean = _SAFE_NAME.sub("_", str(name)).strip(" .") or "_"
    folder = (root / clean).resolve()
    if folder.parent != root.resolve():
        raise ValueError(f"class name {name!r} would write outside {str(root)!r}")
    return folder


def _resolve_labels(generator: Generator, n: int, labels) -> tuple[Tensor, list[str]]:
    """Per-item labels (known without generating) and class names."""
    classes = generator.classes if generator.conditional else ["synthetic"]
    k = len(classes)
    if labels is None or (isinstance(labels, str) and labels == "balanced"):
        return torch.arange(n) % k if generator.conditional else torch.zeros(
            n, dtype=torch.long
        ), classes
    if isinstance(labels, str):
        raise ValueError(
            f"labels must be None, 'balanced' or a sequence of class indices, got {labels!r}"
        )
    if not generator.conditional:
        raise ValueError(
            "labels were given, but the generator is unconditional: it cannot draw given classes"
        )
    labels = torch.as_tensor(labels, dtype=torch.long).flatten()
    if len(labels) != n:
        raise ValueError(f"labels must hold n={n} class indices, got {len(labels)}")
    if n and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(
            f"labels must lie in [0, {k - 1}] for classes {classes}, got "
            f"[{int(labels.min())}, {int(labels.max())}]"
        )
    return labels, classes


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
    ):
        if isinstance(generator, (str, Path)):
            from learned_aug.hub import load_generator

            generator = load_generator(generator)
        if not isinstance(generator, Generator):
            raise TypeError(
                f"generator must be a learned_aug Generator or a name, got "
                f"{type(generator).__name__}"
            )
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
        self.generator = generator.eval()
        self.n, self.seed, self.output, self.chunk_size = n, int(seed), output, chunk_size
        self.transform, self.target_transform = transform, target_transform
        self._labels, self.classes = _resolve_labels(generator, n, labels)
        self._cache: OrderedDict[int, Tensor] = OrderedDict()

    @property
    def targets(self) -> list[int]:
        return self._labels.tolist()

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return self.n

    @torch.no_grad()
    def generate(self, indices: Sequence[int]) -> Tensor:
        """The samples of ``indices`` as one float batch in [0, 1], in one batched pass."""
        indices = [self._check_index(i) for i in indices]
        generators = [torch.Generator().manual_seed(item_seed(self.seed, i)) for i in indices]
        labels = self._labels[indices] if self.generator.conditional else None
        return self.generator.sample(len(indices), labels=labels, generator=generators).cpu()

    def _check_index(self, i: int) -> int:
        i = int(i)
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(f"index {i} out of range for a SyntheticDataset of n={self.n}")
        return i

    def _chunk(self, c: int) -> Tensor:
        if c not in self._cache:
            start = c * self.chunk_size
            self._cache[c] = self.generate(range(start, min(start + self.chunk_size, self.n)))
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
        sample = self._chunk(i // self.chunk_size)[i % self.chunk_size]
        return self._item(sample, int(self._labels[i]))

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Any, Any]]:
        """A DataLoader's batch of indices, generated in one batched pass."""
        batch = self.generate(indices)
        return [
            self._item(s, int(self._labels[self._check_index(i)]))
            for s, i in zip(batch, indices, strict=True)
        ]

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
        dirs = [safe_class_dir(root, c) for c in self.classes]
        for d in dirs:
            d.mkdir(exist_ok=True)
        order = list(range(self.n)) if indices is None else [self._check_index(i) for i in indices]
        width = max(len(str(self.n - 1)), 1)
        with tqdm(total=len(order), desc="sample", unit="img", disable=not progress) as bar:
            for start in range(0, len(order), batch_size):
                part = order[start : start + batch_size]
                for i, sample in zip(part, self.generate(part), strict=True):
                    _save_png(sample, dirs[int(self._labels[i])] / f"{i:0{width}d}.png")
                bar.update(len(part))
        return root


def _save_png(sample: Tensor, path: Path) -> None:
    if sample.dim() != 3:
        raise ValueError(
            f"only image samples can be written as PNG, got shape {tuple(sample.shape)}"
        )
    image: Image.Image = TF.to_pil_image(TF.to_dtype(sample.clamp(0, 1), torch.uint8, scale=True))
    image.save(path)
