"""Image conversions shared by the loaders and the latent bank: channels, sizes, resizing."""

from __future__ import annotations

import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torch import Tensor
from tqdm.auto import tqdm

from learned_aug.data.labelled import LabelledData

# PIL modes that are naturally single-channel (converted to L); all others become RGB.
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
Size = tuple[int, int]


def warn(message: str) -> None:
    """Warn, attributing the warning to the first caller outside ``learned_aug.data``."""
    frame, level = sys._getframe(1), 2
    while frame.f_back is not None and str(frame.f_globals.get("__name__")).startswith(
        "learned_aug.data"
    ):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, stacklevel=level)


def resize_batch(x: Tensor, size: tuple[int, ...]) -> Tensor:
    """``x`` (..., H, W) resized to ``size`` with antialiased bilinear interpolation."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return TF.resize(x, list(size), antialias=True)


def parse_size(image_size: Size | int | None) -> Size | None:
    if image_size is None:
        return None
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ValueError(f"image_size must be a positive int or (height, width): {image_size!r}")
    return (size[0], size[1])


def check_channels(channels: int | None) -> None:
    if channels is not None and channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")


def convert_channels(x: Tensor, channels: int) -> Tensor:
    """Convert ``(..., C, H, W)`` images to ``channels`` channels (a transparency channel is
    dropped)."""
    c = x.shape[-3]
    if c in (2, 4):
        x, c = x[..., : c - 1, :, :], c - 1
    if c == channels:
        return x
    if {c, channels} == {1, 3}:
        return TF.grayscale_to_rgb(x) if c == 1 else TF.rgb_to_grayscale(x)
    raise ValueError(f"cannot convert {c}-channel images to {channels} channels")


def _describe(image: Image.Image | Tensor) -> tuple[str, int, Size]:
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
        warn(what.format(chosen=show(chosen)))
    return chosen


def survey(
    images: Iterable[Image.Image | Tensor], size: Size | None, channels: int | None
) -> tuple[int, Size]:
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


def stack_images(items: tqdm, get: Callable[[Any], Any], channels: int, size: Size) -> Tensor:
    """Fill a float32 ``(N, C, H, W)`` tensor in [0, 1] with ``get(item)`` for each item."""
    out = torch.empty((len(items), channels, *size), dtype=torch.float32)
    for i, item in enumerate(items):
        image = get(item)
        if isinstance(image, Image.Image):
            mode = "L" if channels == 1 else "RGB"
            image = TF.to_image(image if image.mode == mode else image.convert(mode))
        image = convert_channels(image.as_subclass(Tensor), channels)
        if tuple(image.shape[-2:]) != size:
            image = TF.resize(image, list(size), antialias=True)
        out[i] = TF.to_dtype(image, torch.float32, scale=True)
    return out.clamp_(0.0, 1.0)


def apply_image_options(
    data: LabelledData, size: Size | None, channels: int | None
) -> LabelledData:
    """Resize / convert in-memory images; returns ``data`` itself when there is nothing to do."""
    if size is None and channels is None:
        return data
    if not data.is_image:
        raise ValueError(f"image_size/channels need images (N, C, H, W), got {data.sample_shape}")
    x = data.x if channels is None else convert_channels(data.x, channels)
    if size is not None and tuple(x.shape[-2:]) != size:
        x = TF.resize(x, list(size), antialias=True).clamp_(0.0, 1.0)
    if x is data.x:
        return data
    return LabelledData(x.contiguous(), data.y.clone(), list(data.classes))
