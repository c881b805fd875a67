"""Conventional augmentations, as batch transforms, and training data plus augmented copies.

``CONVENTIONAL`` is the one registry of them: the paper's affine augmentation (rotation up to 20
degrees, shifts up to 20%, Garay-Maestre et al. 2019) and torchvision's automatic
augmentations. Each entry makes a torchvision v2 transform of an image batch that draws
different parameters for every image of the batch (torchvision's own transforms draw one set per
call), from its own ``rng`` when given one. ``fit`` with ``FitSettings(augment=...)`` trains on
copies of the images under one (``augmented_copies``), and the evaluation protocol's conditions
apply them to the classifier's batches.

A generator knows only what its training images show. Trained on a few images plus copies of
them under a conventional augmentation (torchvision's RandAugment, say), it also learns that
variety, and its samples carry it (the default recipe trains on four RandAugment copies).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import Transform

from learned_aug.data import LabelledData
from learned_aug.rng import as_rng


def rotate_shift(x: Tensor, angle: Tensor, shift: Tensor) -> Tensor:
    """Rotate image ``i`` of ``x`` by ``angle[i]`` radians and shift it by ``shift[i]``.

    One batched ``grid_sample`` (bilinear, zeros filled in) on float images ``(N, C, H, W)``;
    ``shift`` is ``(N, 2)`` in grid coordinates, where the image spans [-1, 1].
    """
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    ).to(x)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)


def _check_image(inpt: Any, name: str) -> Tensor:
    """``inpt`` as a plain tensor ``(..., C, H, W)``, or a TypeError naming what is accepted."""
    if isinstance(inpt, tv_tensors.TVTensor) and not isinstance(inpt, tv_tensors.Image):
        raise TypeError(f"{name} transforms images alone, got {type(inpt).__name__}")
    if not isinstance(inpt, Tensor) or inpt.dim() < 3:
        raise TypeError(
            f"{name} takes image tensors (..., C, H, W), uint8 or float in [0, 1], got "
            f"{type(inpt).__name__}{'' if not isinstance(inpt, Tensor) else tuple(inpt.shape)}"
        )
    return inpt.as_subclass(Tensor)


def _rewrap(out: Tensor, like: Any) -> Any:
    return tv_tensors.wrap(out, like=like) if isinstance(like, tv_tensors.TVTensor) else out


class RandomRotateShift(Transform):
    """Rotate each image of a batch by U(-degrees, degrees) and shift it by up to ``translate``
    of its size, each image by its own draw: the conventional augmentation of Garay-Maestre et
    al. (2019) (rotation 20 degrees, width and height shifts 20%), in one ``grid_sample``.

    Args:
        degrees: the largest rotation, either way.
        translate: the largest shift along each axis, as a fraction of the image's size.
        rng: an int seed or a ``torch.Generator`` for the draws; None: torch's global RNG.

    Example:
        >>> import torch
        >>> from learned_aug.conventional import RandomRotateShift
        >>> images = torch.rand(8, 1, 28, 28)
        >>> out = RandomRotateShift(rng=0)(images)
        >>> out.shape, torch.equal(out, RandomRotateShift(rng=0)(images))
        (torch.Size([8, 1, 28, 28]), True)
    """

    def __init__(
        self,
        degrees: float = 20.0,
        translate: float = 0.2,
        *,
        rng: int | torch.Generator | None = None,
    ):
        super().__init__()
        for name, value in (("degrees", degrees), ("translate", translate)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        self.degrees, self.translate = float(degrees), float(translate)
        self._rng = as_rng(rng)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        # One draw per image, keyed by the input: several images of a sample each get their own.
        return {
            id(x): self._draw(math.prod(x.shape[:-3]) if isinstance(x, Tensor) else 1)
            for x in flat_inputs
        }

    def _draw(self, n: int) -> tuple[Tensor, Tensor]:
        angle = (torch.rand(n, generator=self._rng) * 2 - 1) * math.radians(self.degrees)
        shift = (torch.rand(n, 2, generator=self._rng) * 2 - 1) * self.translate * 2
        return angle, shift

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        x = _check_image(inpt, type(self).__name__)
        angle, shift = params[id(inpt)]
        images = x.reshape(-1, *x.shape[-3:])
        floats = images if images.is_floating_point() else images.float() / 255
        out = rotate_shift(floats, angle, shift)
        if not images.is_floating_point():
            out = (out * 255).round().clamp(0, 255).to(images.dtype)
        return _rewrap(out.reshape(x.shape), inpt)


def apply_per_image(transform: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """Apply ``transform`` to each image of a batch ``(N, C, H, W)``, as uint8.

    torchvision's automatic augmentations (RandAugment, ...) expect uint8 images; each image
    gets its own random parameters, drawn from torch's global generator. A float batch (in
    [0, 1]) goes in and comes back as floats. ``v2.RandAugment`` runs batched
    (``randaugment_batch``) with the same result.
    """
    floats = x.is_floating_point()
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8) if floats else x
    if type(transform) is v2.RandAugment:
        out = randaugment_batch(transform, images)
    else:
        out = torch.stack([transform(image) for image in images])
    return out.to(x.dtype) / 255 if floats else out


class EachImage(Transform):
    """Apply a torchvision transform to each image of a batch, each with its own parameters.

    torchvision's v2 transforms draw one set of parameters per call, so a batch would get one
    rotation, one RandAugment policy. ``EachImage`` calls the transform on every image (as
    uint8, which the automatic augmentations expect; a float batch in [0, 1] comes back as
    floats).

    Args:
        transform: a transform of one image ``(C, H, W)`` that draws from torch's global RNG.
        rng: an int seed or a ``torch.Generator``: each call then reseeds a fork of the global
            RNG from it, so the output replays and the global RNG is left alone; None: draw
            from the global RNG itself.

    Example:
        >>> import torch
        >>> from torchvision.transforms import v2
        >>> from learned_aug.conventional import EachImage
        >>> images, labels = torch.rand(8, 1, 28, 28), torch.arange(8)
        >>> out, same = EachImage(v2.RandAugment(), rng=0)(images, labels)
        >>> out.shape, torch.equal(same, labels)
        (torch.Size([8, 1, 28, 28]), True)
    """

    def __init__(
        self, transform: Callable[[Any], Any], *, rng: int | torch.Generator | None = None
    ):
        super().__init__()
        if not callable(transform):
            raise TypeError(f"transform must be callable, got {type(transform).__name__}")
        self.each = transform
        self._rng = as_rng(rng)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        if self._rng is None:
            return {"seed": None}
        return {"seed": int(torch.randint(2**62, (), generator=self._rng))}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, Tensor):  # a PIL image: one image, as torchvision takes it
            return self._seeded(params["seed"], lambda: self.each(inpt))
        x = _check_image(inpt, type(self).__name__)
        images = x.reshape(-1, *x.shape[-3:])
        out = self._seeded(params["seed"], lambda: apply_per_image(self.each, images))
        return _rewrap(out.reshape(x.shape), inpt)

    @staticmethod
    def _seeded(seed: int | None, work: Callable[[], Any]) -> Any:
        if seed is None:
            return work()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return work()


def _each(transform_class: Callable[..., Any]) -> Callable[..., Transform]:
    """A factory ``(rng=None, **settings) -> EachImage(transform_class(**settings), rng=rng)``."""

    def make(*, rng: int | torch.Generator | None = None, **settings: Any) -> Transform:
        return EachImage(transform_class(**settings), rng=rng)

    return make


CONVENTIONAL: dict[str, Callable[..., Transform]] = {
    "affine": RandomRotateShift,
    "randaugment": _each(v2.RandAugment),
    "trivialaugment": _each(v2.TrivialAugmentWide),
    "autoaugment": _each(v2.AutoAugment),
    "flip": _each(v2.RandomHorizontalFlip),
}
"""Conventional augmentations by name, each a factory ``(rng=None, **settings)`` of a batch
transform that draws per image: ``"affine"`` (``RandomRotateShift``: rotation up to 20 degrees,
shifts up to 20%, as Garay-Maestre et al. 2019) and torchvision's ``RandAugment``,
``TrivialAugmentWide``, ``AutoAugment`` (ImageNet policy) and ``RandomHorizontalFlip``
(``"flip"``: not for digits or letters, whose mirror is another class or none), each image by itself
(``EachImage``); ``settings`` are the transform's own (``num_ops=3`` for RandAugment)."""


def get_conventional(
    name: str, *, rng: int | torch.Generator | None = None, **settings: Any
) -> Transform:
    """The augmentation registered as ``name`` in ``CONVENTIONAL``, with ``settings``.

    Example:
        >>> get_conventional("randaugment", rng=0, num_ops=3).each.num_ops
        3
    """
    if name not in CONVENTIONAL:
        raise ValueError(f"augment must be one of {sorted(CONVENTIONAL)}, got {name!r}")
    return CONVENTIONAL[name](rng=rng, **settings)


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
        transform: a name of ``CONVENTIONAL``, or a transform of a float image batch
            ``(N, C, H, W)`` in [0, 1] drawing from torch's global RNG (``EachImage(t)`` makes
            one of a per-image torchvision transform ``t``).
        copies: how many augmented copies of every image to add (at least 1).
        seed: seeds the augmentation; torch's global random state is left as it was.

    Returns:
        ``LabelledData`` with ``(copies + 1) * len(data)`` images, labels repeated.

    Example:
        >>> from learned_aug import FitSettings, fit
        >>> from learned_aug.conventional import augmented_copies
        >>> from learned_aug.data import balanced_subset, load_dataset
        >>> few = balanced_subset(load_dataset("digits"), 5, seed=0)[0]
        >>> more = augmented_copies(few, "randaugment", copies=4, seed=0)
        >>> len(few), len(more)
        (50, 250)
        >>> config = {"conditional": True}
        >>> generator = fit("vae", more, FitSettings(epochs=1), config=config, progress=False).model
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
        extra = [transform(data.x) for _ in range(copies)]
    return LabelledData(torch.cat([data.x, *extra]), data.y.repeat(copies + 1), list(data.classes))
