"""Conventional augmentation for a generator's training data: the data plus augmented copies.

A generator knows only what its training images show. Trained on a few images plus copies of
them under a conventional augmentation (torchvision's RandAugment, say), it also learns that
variety, and its samples carry it; on MNIST-5k this is what made learned samples beat training
on the real images alone (docs/results.md, condition ``cvae-ra-post``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torchvision.transforms import v2

from learned_aug.data import LabelledData

CONVENTIONAL: dict[str, Callable[[], Callable[[Tensor], Tensor]]] = {
    "affine": lambda: v2.RandomAffine(degrees=20, translate=(0.2, 0.2)),
    "randaugment": v2.RandAugment,
    "trivialaugment": v2.TrivialAugmentWide,
    "autoaugment": v2.AutoAugment,
}
"""Per-image augmentations by name: ``"affine"`` (rotation up to 20 degrees, shifts up to 20%,
as Garay-Maestre et al. 2019) and torchvision's ``RandAugment``, ``TrivialAugmentWide`` and
``AutoAugment`` (ImageNet policy) with their default settings."""


def get_conventional(name: str) -> Callable[[Tensor], Tensor]:
    """A fresh instance of the augmentation registered as ``name`` in ``CONVENTIONAL``."""
    if name not in CONVENTIONAL:
        raise ValueError(f"augment must be one of {sorted(CONVENTIONAL)}, got {name!r}")
    return CONVENTIONAL[name]()


def apply_per_image(transform: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """Apply ``transform`` to each image of a float batch in [0, 1], as uint8.

    torchvision's automatic augmentations (RandAugment, ...) expect uint8 images; each image
    gets its own random parameters, drawn from torch's global generator. torchvision's
    ``v2.RandAugment`` itself runs batched (``randaugment_batch``) with the same result.
    """
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    if type(transform) is v2.RandAugment:
        out = randaugment_batch(transform, images)
    else:
        out = torch.stack([transform(image) for image in images])
    return out.to(x.dtype) / 255


def randaugment_batch(transform: v2.RandAugment, images: Tensor) -> Tensor:
    """``torch.stack([transform(image) for image in images])``, computed a few ops at a time.

    Draws every image's operations and signs from torch's global generator in the order the
    per-image calls would, then applies each (operation, magnitude) to all the images that drew
    it in one call of torchvision's own operation, round by round. The result and the generator's
    state afterwards are those of the per-image loop (tests/test_conventional.py checks both);
    the per-image Python overhead (about 0.6 ms an image on 28x28 digits) is paid once per
    group instead of once per image.

    Args:
        transform: a ``torchvision.transforms.v2.RandAugment``.
        images: uint8 images ``(N, C, H, W)``.
    """
    space = transform._AUGMENTATION_SPACE
    keys = tuple(space)
    height, width = images.shape[-2:]
    table = {}  # operation -> (its magnitude at transform.magnitude or None, signed)
    for key, (magnitudes_fn, signed) in space.items():
        magnitudes = magnitudes_fn(transform.num_magnitude_bins, height, width)
        table[key] = (
            None if magnitudes is None else float(magnitudes[transform.magnitude]),
            signed,
        )
    rounds: list[dict[tuple[str, float], list[int]]] = [{} for _ in range(transform.num_ops)]
    for i in range(len(images)):
        for groups in rounds:
            key = keys[int(torch.randint(len(keys), ()))]
            magnitude, signed = table[key]
            if magnitude is None:
                magnitude = 0.0
            elif signed and torch.rand(()) <= 0.5:
                magnitude = -magnitude
            groups.setdefault((key, magnitude), []).append(i)
    out = images.clone()
    for groups in rounds:
        for (key, magnitude), members in groups.items():
            if key == "Identity":
                continue
            index = torch.tensor(members)
            out[index] = transform._apply_image_or_video_transform(
                out[index],
                key,
                magnitude,
                interpolation=transform.interpolation,
                fill=transform._fill,
            )
    return out


def augmented_copies(
    data: LabelledData,
    transform: str | Callable[[Tensor], Tensor] = "randaugment",
    copies: int = 4,
    *,
    seed: int = 0,
) -> LabelledData:
    """The images of ``data`` followed by ``copies`` copies of them under ``transform``.

    Args:
        data: labelled images.
        transform: a name of ``CONVENTIONAL`` or a callable on one uint8 image ``(C, H, W)``.
        copies: how many augmented copies of every image to add (at least 1).
        seed: seeds the augmentation; torch's global random state is left as it was.

    Returns:
        ``LabelledData`` with ``(copies + 1) * len(data)`` images, labels repeated.

    Example:
        >>> from learned_aug import fit
        >>> from learned_aug.conventional import augmented_copies
        >>> from learned_aug.data import balanced_subset, load_dataset
        >>> few = balanced_subset(load_dataset("digits"), 5, seed=0)[0]
        >>> more = augmented_copies(few, "randaugment", copies=4, seed=0)
        >>> len(few), len(more)
        (50, 250)
        >>> generator = fit("vae", more, conditional=True, epochs=1, progress=False).model
    """
    if not data.is_image:
        raise ValueError(
            "data must be images (N, C, H, W) for augmented copies, got feature vectors of "
            f"shape {tuple(data.x.shape)}"
        )
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
        raise ValueError(f"copies must be an int >= 1, got {copies!r}")
    if isinstance(transform, str):
        transform = get_conventional(transform)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        extra = [apply_per_image(transform, data.x) for _ in range(copies)]
    return LabelledData(torch.cat([data.x, *extra]), data.y.repeat(copies + 1), list(data.classes))
