"""The type of SyntheticDataset items: the real dataset's, so that the two collate together.

``SyntheticDataset.like(real, ...)`` reads the first item of the real dataset
(:func:`match_like`, :func:`check_like_classes`) and hands out every sample as that item type
(tensor or PIL image, dtype, mode) (:func:`convert`).
"""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image
from torch import Tensor
from torchvision.transforms.v2 import functional as TF


def match_like(like: Any, sample_shape: tuple[int, ...]) -> tuple[str, Any]:
    """``("tensor", dtype)`` or ``("pil", mode)``: what the first item of ``like`` holds."""
    if getattr(like, "transform", None) is not None or getattr(like, "transforms", None):
        raise ValueError(
            "SyntheticDataset.like matches the items of a dataset without a transform, but "
            f"this {type(like).__name__} has one, so its items show the transform's output: "
            "use SyntheticDataset(...) and pass it the same transform= (it then hands it PIL "
            "images, as torchvision datasets hand theirs)"
        )
    if len(like) == 0:
        raise ValueError(
            f"SyntheticDataset.like needs a dataset with items, got an empty {type(like).__name__}"
        )
    item = like[0]
    image = item[0] if isinstance(item, (tuple, list)) else item
    if isinstance(image, Image.Image):
        kind, shape = ("pil", image.mode), (image.height, image.width)
        made = tuple(sample_shape[1:])
    elif isinstance(image, Tensor):
        kind, shape, made = ("tensor", image.dtype), tuple(image.shape), tuple(sample_shape)
    else:
        raise TypeError(
            "SyntheticDataset.like needs a dataset of (image, label) items holding a PIL image "
            "or a tensor, "
            f"got {type(image).__name__}"
        )
    if shape != made:
        raise ValueError(
            f"the real dataset holds items of shape {shape}, but the generator makes samples of "
            f"shape {tuple(sample_shape)}: resize one side (learned-aug fit --image-size) or "
            "pass the same transform= to both datasets"
        )
    return kind


def check_like_classes(like: Any, classes: list[str]) -> None:
    """Refuse a ``like`` dataset whose class names differ from the samples' (labels would swap)."""
    theirs = getattr(like, "classes", None)
    if theirs is not None and classes and list(theirs) != list(classes):
        raise ValueError(
            f"the real dataset names its classes {list(theirs)}, the generator "
            f"{list(classes)}: label i "
            "would mean another class on each side; train the generator on the same classes "
            "in the same order"
        )


def convert(sample: Tensor, output: str, convert_to: Any = None) -> Any:
    """A float sample in [0, 1] as an item of type ``output`` (in ``like``'s dtype or mode)."""
    if output == "pil" and sample.dim() == 3:
        image = TF.to_pil_image(TF.to_dtype(sample.clamp(0, 1), torch.uint8, scale=True))
        return image if convert_to is None else image.convert(convert_to)
    if convert_to is None:
        return sample
    if sample.dim() != 3:  # a row of features
        return sample.to(convert_to)
    return TF.to_dtype(sample.clamp(0, 1), convert_to, scale=True)
