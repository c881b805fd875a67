"""A pool of unlabelled examples of the kind of the labelled data (``fit(unlabelled=...)``)."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import Tensor

from learned_aug.data.folder import load_image_pool
from learned_aug.data.labelled import LabelledData

POOL_SOURCES = "a float tensor (N, *sample_shape), a LabelledData (its labels unused) or a folder"


def load_unlabelled(
    source: Any, sample_shape: tuple[int, ...], *, progress: bool = False
) -> Tensor:
    """The unlabelled pool ``source`` as a float32 tensor ``(N, *sample_shape)``.

    Args:
        source: a float tensor ``(N, *sample_shape)`` (images in [0, 1]), a ``LabelledData``
            (its labels are not used) or a path to a folder of images (every image file under
            it, at any depth, converted and resized to ``sample_shape``).
        sample_shape: the shape of one labelled example, ``(C, H, W)`` or ``(features,)``.
        progress: show a progress bar while reading a folder.

    Raises:
        ValueError: an empty pool, another sample shape, non-finite values, or images outside
            [0, 1].
        TypeError: a source of another type.

    Example:
        >>> load_unlabelled(torch.rand(5, 1, 8, 8), (1, 8, 8)).shape
        torch.Size([5, 1, 8, 8])
    """
    shape = tuple(sample_shape)
    if isinstance(source, (str, os.PathLike)):
        if len(shape) != 3:
            raise ValueError(
                f"unlabelled={str(source)!r} is a folder of images, but the labelled data are "
                f"feature vectors of shape {shape}; pass a tensor (N, {shape[0]})"
            )
        x = load_image_pool(source, channels=shape[0], image_size=shape[1:], progress=progress)
    elif isinstance(source, LabelledData):
        x = source.x
    elif isinstance(source, Tensor):
        x = source
    else:
        raise TypeError(f"unlabelled must be {POOL_SOURCES}, got {type(source).__name__}")
    return _checked(x, shape)


def _checked(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    if not x.is_floating_point():
        raise ValueError(
            f"unlabelled must be a float tensor, got {x.dtype} (scale uint8 images with x / 255)"
        )
    if tuple(x.shape[1:]) != shape or x.dim() != len(shape) + 1:
        raise ValueError(
            f"unlabelled has sample shape {tuple(x.shape[1:])} (a tensor of shape "
            f"{tuple(x.shape)}), but the labelled data have {shape}; resize/convert it to match"
        )
    if len(x) == 0:
        raise ValueError("unlabelled is empty: pass at least one example, or None")
    if not torch.isfinite(x).all():
        raise ValueError("unlabelled holds NaN or inf values; clean them before training")
    if len(shape) == 3 and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"unlabelled images must lie in [0, 1], got values in [{float(x.min()):.3g}, "
            f"{float(x.max()):.3g}]"
        )
    return x.to(torch.float32)
