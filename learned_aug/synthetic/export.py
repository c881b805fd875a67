"""Writing a SyntheticDataset out: an ImageFolder of PNGs, or a CSV of feature rows.

What ``learned-aug sample`` runs. Either can write a shard (``indices``): file names are item
indices, so shards written by several processes fill one folder without clashes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor
from torchvision.transforms.v2 import functional as TF
from tqdm.auto import tqdm

from learned_aug.data import write_csv
from learned_aug.models import Generator
from learned_aug.synthetic.dataset import SyntheticDataset
from learned_aug.synthetic.labels import UNLABELLED

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


def _batches(
    dataset: SyntheticDataset,
    indices: Sequence[int] | None,
    batch_size: int,
    progress: bool,
    unit: str,
) -> Iterator[tuple[list[int], Tensor, Tensor]]:
    """``(indices, samples, labels)`` batch by batch, with a progress bar."""
    if dataset.teacher is not None:
        raise ValueError(
            "a folder or a CSV holds one class per sample, but this dataset's targets are a "
            "teacher's soft probabilities, which it would silently drop: write the samples of "
            "the same SyntheticDataset without its Teacher (their hard classes), or keep the "
            "dataset in memory"
        )
    order = list(range(len(dataset))) if indices is None else dataset.check_indices(indices)
    with tqdm(total=len(order), desc="sample", unit=unit, disable=not progress) as bar:
        for start in range(0, len(order), batch_size):
            part = order[start : start + batch_size]
            samples, labels = dataset.generate(part)
            yield part, samples, labels
            bar.update(len(part))


def to_folder(
    dataset: SyntheticDataset,
    root: str | Path,
    *,
    batch_size: int = 256,
    progress: bool = True,
    indices: Sequence[int] | None = None,
) -> Path:
    """Write the samples as an ImageFolder of PNGs: ``root/<class>/<index>.png``.

    Example:
        >>> import tempfile
        >>> from learned_aug import SyntheticDataset, VAE, VAEConfig
        >>> config = VAEConfig(image_size=(8, 8), latent_dim=2, classes=["a", "b"],
        ...                    conditional=True)
        >>> gen = VAE(config)
        >>> root = to_folder(SyntheticDataset(gen, n=4), tempfile.mkdtemp(), progress=False)
        >>> sorted(p.name for p in (root / "b").iterdir())
        ['1.png', '3.png']

    Unlabelled samples go straight into ``root/``, in no class folder: ``ImageFolder`` refuses
    such a folder rather than give its images a class.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    dirs = class_dirs(root, dataset.classes)
    for d in dirs:
        d.mkdir(exist_ok=True)
    width = max(len(str(len(dataset) - 1)), 1)
    for part, samples, labels in _batches(dataset, indices, batch_size, progress, "img"):
        for i, sample, y in zip(part, samples, labels.tolist(), strict=True):
            folder = root if y == UNLABELLED else dirs[y]
            _save_png(sample, folder / f"{i:0{width}d}.png")
    return root


def to_csv(
    dataset: SyntheticDataset,
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
    generator = dataset.generator
    if len(generator.sample_shape) != 1:
        raise ValueError("to_csv writes tabular samples; use to_folder for images")
    if dataset.unlabelled:
        raise ValueError(
            "to_csv writes a class column, and these samples are unlabelled "
            "(labels='unlabelled'): use a class-aware generator or a relabelling ClassifierFilter"
        )
    rows, labels = [], []
    for _, samples, ys in _batches(dataset, indices, batch_size, progress, "row"):
        rows.append(samples)
        labels.append(ys)
    x = torch.cat(rows) if rows else torch.empty(0, *generator.sample_shape)
    y = torch.cat(labels) if labels else torch.empty(0, dtype=torch.long)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_csv(path, x, y, _columns(generator), dataset.classes)


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
