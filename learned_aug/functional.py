"""Stateless kernels behind ``LearnedAugment``.

The one place where what users hold (PIL images of mode L or RGB, uint8 or float tensors
``[..., C, H, W]``, ``tv_tensors.Image`` and ``tv_tensors.Video``) is turned into what a generator
reads — a float batch ``(B, C, H, W)`` in ``[0, 1]`` at the generator's size and in its parameter
dtype — and back into the input's own type, mode, dtype, value range and shape. Randomness comes
in explicitly (a ``torch.Generator``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import PIL.Image
import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as TF

from learned_aug.data import resize_batch
from learned_aug.models import Generator
from learned_aug.rng import RandomSource

PIL_MODES = ("L", "RGB")
# Float images are in [0, 1] by torchvision's convention; allow rounding error around it.
RANGE_TOLERANCE = 1e-3


def for_inference(model: Generator) -> Generator:
    """``model`` in eval mode (in place); returns it. Its memory format is left as it is: with
    the native transposed convolution of the decoders (``models.conv.ConvTranspose2d``),
    contiguous weights decode as fast as channels-last ones (benchmarks/bench_augment.py)."""
    return model.eval()


def is_image(inpt: Any) -> bool:
    """Whether ``inpt`` is what LearnedAugment augments: a PIL image, a ``tv_tensors.Image`` or
    ``tv_tensors.Video``, or a plain tensor (torchvision's rule picks which plain tensor of a
    sample is the image). Boxes, masks, keypoints and other tv_tensors are not."""
    if isinstance(inpt, (PIL.Image.Image, tv_tensors.Image, tv_tensors.Video)):
        return True
    return isinstance(inpt, Tensor) and not isinstance(inpt, tv_tensors.TVTensor)


def as_tensor(inpt: Any) -> Tensor:
    """A plain tensor ``[..., C, H, W]`` of the input's dtype, from a PIL image or any tensor."""
    if isinstance(inpt, PIL.Image.Image):
        if inpt.mode not in PIL_MODES:
            raise ValueError(
                f"PIL images must have mode 'L' or 'RGB', got mode {inpt.mode!r}; convert it "
                "first (image.convert('RGB'))"
            )
        return TF.pil_to_tensor(inpt)
    if isinstance(inpt, Tensor):
        x = inpt.as_subclass(Tensor)
        if x.dim() < 3:
            raise ValueError(
                f"image tensors must be [..., C, H, W] (CHW, BCHW, ...), got shape "
                f"{tuple(x.shape)}; add the channel dimension with x.unsqueeze(0). In a sample, "
                "torchvision takes the first plain tensor for the image: put the image first or "
                "wrap it in tv_tensors.Image"
            )
        return x
    raise TypeError(f"expected a PIL image or a tensor, got {type(inpt).__name__}")


def leading_shape(inpt: Any) -> tuple[int, ...]:
    """The dimensions before ``(C, H, W)``: ``()`` for one image, ``(B,)`` for a batch, ``(T,)``
    for a video..."""
    if isinstance(inpt, Tensor) and inpt.dim() >= 3:
        return tuple(inpt.shape[:-3])
    return () if isinstance(inpt, PIL.Image.Image) else tuple(as_tensor(inpt).shape[:-3])


def fit_labels(label: Any, leading: tuple[int, ...], num_classes: int) -> Tensor | None:
    """``label`` as one class index per image ``(n,)``, or ``None`` where it does not fit.

    It fits when it is an int or a 0-d integer tensor (the class of every image), or an integer
    tensor whose shape starts the image's leading dimensions (``(B,)`` for ``(B, C, H, W)``,
    repeated over the frames of ``(B, T, C, H, W)``), with values in ``[0, num_classes)``
    (``num_classes`` 0: any value >= 0). So a per-box ``labels`` tensor of one image never fits.
    """
    n = math.prod(leading)
    if isinstance(label, int) and not isinstance(label, bool):
        fits = label >= 0 and (label < num_classes or not num_classes)
        return torch.full((n,), label, dtype=torch.long) if fits else None
    if not isinstance(label, Tensor) or label.is_floating_point() or label.is_complex():
        return None
    if label.dtype == torch.bool or tuple(label.shape) != leading[: label.dim()]:
        return None
    if label.numel() == 1:  # one read instead of a reduction
        low = high = int(label)
    else:
        low, high = (int(v) for v in label.aminmax()) if label.numel() else (0, 0)
    if low < 0 or (num_classes and high >= num_classes):
        return None
    extra = (1,) * (len(leading) - label.dim())
    return label.to("cpu", torch.long).reshape((*label.shape, *extra)).expand(leading).reshape(n)


def infers_labels(model: Generator, strategy: Callable[..., Tensor]) -> bool:
    """Whether images given without a label are classified first (the generative classifier):
    the generator is label-conditioned and the strategy reads the labels."""
    return model.conditional and getattr(strategy, "reads_labels", True)


def to_model(
    x: Tensor,
    sample_shape: tuple[int, ...],
    *,
    resize: bool = True,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """A batch ``(B, C, H, W)`` of any image dtype -> ``dtype`` in [0, 1], at the generator's
    size."""
    channels, size = sample_shape[0], tuple(sample_shape[1:])
    if x.shape[1] != channels:
        raise ValueError(
            f"the generator expects images with {channels} channel(s), got {x.shape[1]} "
            f"(shape {tuple(x.shape)}); convert them first (v2.Grayscale() or v2.RGB())"
        )
    if tuple(x.shape[-2:]) != size and not resize:
        raise ValueError(
            f"the generator expects images of size {size}, got {tuple(x.shape[-2:])}; pass "
            "resize=True to resize them to it and back"
        )
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(
            f"images must be uint8 (or another integer type) or float in [0, 1], got "
            f"dtype {x.dtype}"
        )
    if x.is_floating_point():
        if not bool(torch.isfinite(x).all()):
            raise ValueError(
                "float images hold NaN or inf values; LearnedAugment needs finite values in [0, 1]"
            )
        lo, hi = float(x.min()), float(x.max())
        if lo < -RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
            raise ValueError(
                f"float images must hold values in [0, 1], got values in [{lo:.3g}, {hi:.3g}]; "
                "apply LearnedAugment before v2.Normalize, and scale 0..255 floats by 1/255"
            )
        return resize_batch(x.to(dtype), size).clamp(0, 1)
    x = x.to(dtype).div_(torch.iinfo(x.dtype).max)
    if tuple(x.shape[-2:]) == size:
        return x
    return resize_batch(x, size).clamp(0, 1)  # antialiased resizing may overshoot [0, 1]


def from_model(y: Tensor, dtype: torch.dtype, size: tuple[int, ...]) -> Tensor:
    """The inverse of :func:`to_model`: back to ``size`` and ``dtype`` (integers rounded)."""
    y = resize_batch(y, size)
    if dtype.is_floating_point:
        return y.clamp(0, 1).to(dtype)
    top = torch.iinfo(dtype).max
    return y.mul(top).round_().clamp_(0, top).to(dtype)


def rewrap(x: Tensor, like: Any) -> Any:
    """``x`` (CHW) in the type of ``like``: the same PIL mode, tv_tensor class, or plain tensor."""
    if isinstance(like, PIL.Image.Image):
        return TF.to_pil_image(x, mode=like.mode)
    if isinstance(like, tv_tensors.TVTensor):
        return tv_tensors.wrap(x, like=like)
    return x


@torch.no_grad()
def learned_augment(
    inpt: Any,
    model: Generator,
    strategy: Callable[..., Tensor],
    *,
    labels: Tensor | None,
    strength: Tensor,
    apply: Tensor | None,
    rng: RandomSource,
    resize: bool = True,
) -> Any:
    """Augment images ``[..., C, H, W]`` with ``strategy``; returns the input's type, dtype and
    shape.

    The leading dimensions are flattened into one batch (the frames of a video are images like
    any other) and restored afterwards; an empty batch comes back as it is. Images without
    ``labels`` are classified by the generator (``model.infer_labels``, at its size) when it is
    label-conditioned and the strategy reads labels.

    Args:
        inpt: a PIL image (L or RGB), a tensor ``[..., C, H, W]`` (uint8 or float in [0, 1]),
            a ``tv_tensors.Image`` or a ``tv_tensors.Video``.
        model: the generator.
        strategy: the strategy object to apply (``learned_aug.strategies``), bound to the
            model (it holds its bank and options): ``strategy(model, images, labels, strength,
            rng) -> images``.
        labels: ``(n,)`` class indices, ``n`` the number of images (leading dimensions
            flattened), or ``None``.
        strength: ``(n,)`` strengths.
        apply: ``(n,)`` bools: the images to augment; the others come back unchanged.
            ``None`` augments every image.
        rng: randomness of the strategy (a ``torch.Generator``).
        resize: resize images of another size to the generator's and back; ``False`` refuses.
    """
    x = as_tensor(inpt)
    xb = x if x.dim() == 4 else x.reshape(-1, *x.shape[-3:])
    if not len(xb):
        return inpt
    idx = None  # None: every image (p = 1, the common case: no gather, no scatter)
    if apply is not None:
        if len(apply) != len(xb):
            raise ValueError(f"apply must hold one bool per image ({len(xb)}), got {len(apply)}")
        if not bool(apply.any()):
            return inpt
        if not bool(apply.all()):
            idx = apply.nonzero().squeeze(1)
    source, sub_labels, sub_strength = xb, labels, strength
    if idx is not None:
        source, sub_strength = xb[idx.to(xb.device)], strength[idx]
        sub_labels = None if labels is None else labels[idx]
    device = model.device
    images = to_model(
        source.to(device), tuple(model.sample_shape), resize=resize, dtype=model.dtype
    )
    if sub_labels is not None:
        sub_labels = sub_labels.to(device)
    elif infers_labels(model, strategy):
        sub_labels = model.infer_labels(images)
    out = strategy(model, images, sub_labels, sub_strength, rng)
    out = from_model(out, x.dtype, tuple(x.shape[-2:])).to(x.device)
    if idx is not None:
        out = _index_copy(xb.clone(), idx.to(xb.device), out)
    return rewrap(out.reshape(x.shape), inpt)


# index_copy_ has no kernel for the unsigned types past uint8: copy their bits as signed ones.
_SIGNED_VIEW = {torch.uint16: torch.int16, torch.uint32: torch.int32, torch.uint64: torch.int64}


def _index_copy(dst: Tensor, idx: Tensor, src: Tensor) -> Tensor:
    """``dst[idx] = src`` along dim 0, for every dtype an image may have."""
    view = _SIGNED_VIEW.get(dst.dtype)
    if view is None:
        return dst.index_copy_(0, idx, src)
    dst.view(view).index_copy_(0, idx, src.view(view))
    return dst
