"""Stateless kernels behind ``LearnedAugment``.

The one place where what users hold (PIL images of mode L or RGB, uint8 or float tensors CHW
or BCHW, ``tv_tensors.Image``) is turned into what a generator reads — a float batch
``(B, C, H, W)`` in ``[0, 1]`` at the generator's size — and back into the input's own type, mode,
dtype, value range and size. Randomness comes in explicitly (a ``torch.Generator``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import PIL.Image
import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as TF

from learned_aug.data import resize_batch
from learned_aug.models import Generator
from learned_aug.rng import RandomSource
from learned_aug.sampling import Strategy

PIL_MODES = ("L", "RGB")
# Float images are in [0, 1] by torchvision's convention; allow rounding error around it.
RANGE_TOLERANCE = 1e-3


def for_inference(model: Generator) -> Generator:
    """``model`` in eval mode (in place); returns it. Its memory format is left as it is: with
    the native transposed convolution of the decoders (``models.vae.ConvTranspose2d``),
    contiguous weights decode as fast as channels-last ones (benchmarks/bench_augment.py)."""
    return model.eval()


def as_tensor(inpt: Any) -> Tensor:
    """A plain tensor CHW or BCHW of the input's dtype, from a PIL image or any tensor."""
    if isinstance(inpt, PIL.Image.Image):
        if inpt.mode not in PIL_MODES:
            raise ValueError(
                f"PIL images must have mode 'L' or 'RGB', got mode {inpt.mode!r}; convert it "
                "first (image.convert('RGB'))"
            )
        return TF.pil_to_tensor(inpt)
    if isinstance(inpt, Tensor):
        x = inpt.as_subclass(Tensor)
        if x.dim() not in (3, 4):
            raise ValueError(
                f"image tensors must be CHW or BCHW, got shape {tuple(x.shape)}; add the channel "
                "dimension with x.unsqueeze(0)"
            )
        return x
    raise TypeError(f"expected a PIL image or a tensor, got {type(inpt).__name__}")


def to_model(x: Tensor, sample_shape: tuple[int, ...], *, resize: bool = True) -> Tensor:
    """A batch ``(B, C, H, W)`` of any image dtype -> float32 in [0, 1] at the generator's size."""
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
        return resize_batch(x.float(), size).clamp(0, 1)
    x = x.float().div_(torch.iinfo(x.dtype).max)
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


def batch_labels(label: Any, n: int) -> Tensor | None:
    """A label (an int, a 0-d tensor, or ``n`` labels) as an ``(n,)`` long tensor."""
    if label is None:
        return None
    if isinstance(label, int):
        return torch.full((n,), label, dtype=torch.long)
    labels = torch.as_tensor(label, dtype=torch.long).cpu()
    if labels.dim() == 0 or labels.numel() == 1:
        return labels.reshape(1).expand(n)
    if labels.shape != (n,):
        raise ValueError(
            f"a batch of {n} images needs one label or {n} labels, got shape {tuple(labels.shape)}"
        )
    return labels


@torch.no_grad()
def learned_augment(
    inpt: Any,
    model: Generator,
    strategy: Strategy,
    *,
    labels: Tensor | None,
    alpha: Tensor,
    apply: Tensor | None,
    rng: RandomSource,
    bank: Any = None,
    resize: bool = True,
    options: Mapping[str, Any] | None = None,
) -> Any:
    """Augment one image or batch with ``strategy``; returns the input's type, dtype and size.

    Args:
        inpt: a PIL image (L or RGB), a tensor CHW / BCHW (uint8 or float in [0, 1]), or a
            ``tv_tensors.Image``.
        model: the generator.
        strategy: the strategy to apply (see ``learned_aug.sampling``).
        labels: ``(B,)`` class indices, or ``None``.
        alpha: ``(B,)`` strengths.
        apply: ``(B,)`` bools: the examples to augment; the others come back unchanged.
            ``None`` augments every example.
        rng: randomness of the strategy (a ``torch.Generator``).
        bank: the generator's latent bank, for strategies that need one.
        resize: resize images of another size to the generator's and back; ``False`` refuses.
        options: keyword arguments of the strategy (``k`` for interpolation).
    """
    x = as_tensor(inpt)
    batched = x.dim() == 4
    xb = x if batched else x.unsqueeze(0)
    idx = None  # None: every image (p = 1, the common case: no gather, no scatter)
    if apply is not None:
        if len(apply) != len(xb):
            raise ValueError(f"apply must hold one bool per image ({len(xb)}), got {len(apply)}")
        if not bool(apply.any()):
            return inpt
        if not bool(apply.all()):
            idx = apply.nonzero().squeeze(1)
    device = model.device
    if idx is None:
        source, sub_labels, sub_alpha = xb, labels, alpha
    else:
        source, sub_alpha = xb[idx.to(xb.device)], alpha[idx]
        sub_labels = None if labels is None else labels[idx]
    images = to_model(source.to(device), tuple(model.sample_shape), resize=resize)
    if sub_labels is not None:
        sub_labels = sub_labels.to(device)
    out = strategy(model, images, sub_labels, sub_alpha, rng, bank, **(options or {}))
    out = from_model(out, x.dtype, tuple(x.shape[-2:])).to(x.device)
    if idx is not None:
        out = _index_copy(xb.clone(), idx.to(xb.device), out)
    return rewrap(out if batched else out[0], inpt)


# index_copy_ has no kernel for the unsigned types past uint8: copy their bits as signed ones.
_SIGNED_VIEW = {torch.uint16: torch.int16, torch.uint32: torch.int32, torch.uint64: torch.int64}


def _index_copy(dst: Tensor, idx: Tensor, src: Tensor) -> Tensor:
    """``dst[idx] = src`` along dim 0, for every dtype an image may have."""
    view = _SIGNED_VIEW.get(dst.dtype)
    if view is None:
        return dst.index_copy_(0, idx, src)
    dst.view(view).index_copy_(0, idx, src.view(view))
    return dst
