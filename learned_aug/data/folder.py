"""Reading an ImageFolder (``root/<class>/<image>``) into a :class:`LabelledData`, and a folder
of unlabelled images (any layout) into a tensor."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import torch
from PIL import Image
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, is_image_file, make_dataset
from tqdm.auto import tqdm

from learned_aug.data.images import Size, check_channels, parse_size, stack_images, survey, warn
from learned_aug.data.labelled import LabelledData

FOLDER_LAYOUT = "an ImageFolder directory laid out as root/<class>/<image> (e.g. root/cat/001.png)"
_EXTENSIONS = ", ".join(IMG_EXTENSIONS)


def _class_folders(root: Path) -> list[str]:
    """The class subfolders of ``root`` in torchvision's order (hidden folders left out)."""
    if not root.exists():
        raise FileNotFoundError(f"{root} does not exist; expected {FOLDER_LAYOUT}")
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory; expected {FOLDER_LAYOUT}")
    try:
        classes = [c for c in find_classes(root)[0] if not c.startswith(".")]
    except FileNotFoundError:  # torchvision's "Couldn't find any class folder"
        classes = []
    if not classes:
        loose = sum(1 for p in root.iterdir() if p.is_file() and is_image_file(str(p)))
        hint = f" ({loose} images lie directly in it)" if loose else ""
        raise ValueError(f"no class subfolders in {root}{hint}; expected {FOLDER_LAYOUT}")
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
        warn(
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
    image_size: Size | int | None = None,
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
    size = parse_size(image_size)
    check_channels(channels)
    classes = _class_folders(root)
    samples = _image_files(root, classes)
    channels, size = survey(_headers(samples), size, channels)
    bar = tqdm(samples, desc=f"loading {root.name}", disable=not progress)
    x = stack_images(bar, _read, channels, size)
    y = torch.tensor([label for _, label in samples], dtype=torch.int64)
    return LabelledData(x, y, classes)


def _pool_files(root: Path) -> list[tuple[str, int]]:
    """(path, 0) of every image file under ``root``, at any depth, in sorted order; hidden files
    and folders are left out, other files with a warning."""
    if not root.exists():
        raise FileNotFoundError(f"{root} does not exist; expected a folder of images")
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory; expected a folder of images")
    found, skipped = [], []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if name.startswith("."):
                continue
            (found if is_image_file(path) else skipped).append(path)
    if skipped:
        warn(
            f"skipped {len(skipped)} non-image file(s) in {root} (e.g. "
            f"{', '.join(os.path.relpath(p, root) for p in skipped[:2])}); accepted "
            f"extensions: {_EXTENSIONS}"
        )
    return [(path, 0) for path in found]


def load_image_pool(
    root: str | os.PathLike[str], *, channels: int, image_size: Size, progress: bool = False
) -> torch.Tensor:
    """Every image file under ``root`` (any layout, subfolders searched, no labels), decoded
    as ``load_image_folder`` decodes, converted to ``channels`` and resized to ``image_size``.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> Image.new("RGB", (12, 10)).save(f"{root}/a.png")
        >>> load_image_pool(root, channels=1, image_size=(8, 8)).shape
        torch.Size([1, 1, 8, 8])

    Returns:
        float32 images ``(N, channels, *image_size)`` in [0, 1].

    Raises:
        FileNotFoundError: ``root`` does not exist.
        NotADirectoryError: ``root`` is not a directory.
        ValueError: no image file under ``root``, or an unreadable image.
    """
    root = Path(root).expanduser()
    check_channels(channels)
    size = parse_size(image_size)
    samples = _pool_files(root)
    if not samples:
        raise ValueError(
            f"no image files under {root} (searched every subfolder); accepted extensions: "
            f"{_EXTENSIONS}"
        )
    bar = tqdm(samples, desc=f"loading {root.name}", disable=not progress)
    return stack_images(bar, _read, channels, size)
