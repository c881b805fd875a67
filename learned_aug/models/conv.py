"""Convolutional building blocks shared by the image VAEs: the stride-2 encoder, its mirrored
decoder (with a transposed convolution that picks the faster CPU kernel), and their sizes."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

WIDTHS = (32, 64, 128, 256, 256, 256)
"""Channels of the stride-2 conv blocks, in order; an image gets as many as its size calls for
(:func:`default_widths`)."""


def default_widths(image_size: tuple[int, int]) -> tuple[int, ...]:
    """The conv blocks an image size calls for: enough stride-2 blocks to bring the smaller
    side to about 4-7 pixels (at least 2), widths from :data:`WIDTHS`.

    Example:
        >>> [default_widths((s, s)) for s in (8, 28, 32, 64)]
        [(32, 64), (32, 64), (32, 64, 128), (32, 64, 128, 256)]
    """
    levels = max(2, int(math.log2(max(min(image_size), 1) / 4)))
    return WIDTHS[: min(levels, len(WIDTHS))]


def conv_encoder(in_channels: int, hidden: Sequence[int]) -> nn.Sequential:
    """Stride-2 conv blocks: each halves H and W (rounding up)."""
    layers: list[nn.Module] = []
    for c in hidden:
        layers += [nn.Conv2d(in_channels, c, 3, stride=2, padding=1), nn.SiLU()]
        in_channels = c
    return nn.Sequential(*layers)


# Below this much work per call (batch x in x out channels x input H x W), PyTorch's native
# transposed convolution beats oneDNN's on the CPU; above it oneDNN wins (measured per layer,
# forward and backward, batches 1-256: see ConvTranspose2d).
NATIVE_MAX_WORK = 50_000
NATIVE_MAX_OUT_CHANNELS = 4


class ConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` that picks the faster CPU kernel for the call's size.

    oneDNN's transposed convolution costs more to set up than to run when the call is small:
    on one image of a 16-channel 7x7 map it takes 70 us where the native im2col + GEMM kernel
    (``aten.slow_conv_transpose2d``) takes 29 us, and for a layer that outputs the image (1-4
    channels) the native kernel is 1.5-4x faster at every batch size, in training too. With more
    channels and larger batches oneDNN is up to 4x faster, so the native kernel runs only for
    calls below ``NATIVE_MAX_WORK`` or with at most ``NATIVE_MAX_OUT_CHANNELS`` outputs. Same
    parameters and state dict, same values up to float rounding; other devices, autocast,
    unbatched input and other settings take the parent's path.

    Example:
        >>> import torch
        >>> from learned_aug.models.conv import ConvTranspose2d
        >>> layer = ConvTranspose2d(4, 2, 4, stride=2, padding=1)
        >>> x = torch.randn(3, 4, 7, 7)
        >>> torch.allclose(layer(x), torch.nn.ConvTranspose2d.forward(layer, x), atol=1e-6)
        True
    """

    def _native(self, input: Tensor) -> bool:
        if (
            input.device.type != "cpu"
            or input.dim() != 4
            or input.shape[0] == 0  # the native kernel refuses an empty batch
            or input.dtype != self.weight.dtype
            or self.groups != 1
            or self.padding_mode != "zeros"
            or torch.is_autocast_enabled("cpu")
        ):
            return False
        b, c, h, w = input.shape
        return self.out_channels <= NATIVE_MAX_OUT_CHANNELS or (
            b * c * self.out_channels * h * w <= NATIVE_MAX_WORK
        )

    def forward(self, input: Tensor, output_size: list[int] | None = None) -> Tensor:
        if output_size is not None or not self._native(input):
            return super().forward(input, output_size)
        return torch.ops.aten.slow_conv_transpose2d(
            input,
            self.weight,
            self.kernel_size,
            self.bias,
            self.stride,
            self.padding,
            self.output_padding,
            self.dilation,
        )


def conv_decoder(hidden: Sequence[int], out_channels: int, refine: bool = True) -> nn.Sequential:
    """Mirror of ``conv_encoder``: each block doubles H and W; the caller crops.

    ``refine`` ends with a full-resolution block and a 3x3 conv (smoother images); without it
    the last transposed conv maps straight to the image channels, about 3x cheaper to decode.
    """
    layers: list[nn.Module] = []
    hidden = list(hidden)[::-1]
    for c_in, c_out in itertools.pairwise(hidden):
        layers += [ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.SiLU()]
    if not refine:
        return nn.Sequential(*layers, ConvTranspose2d(hidden[-1], out_channels, 4, 2, padding=1))
    layers += [
        ConvTranspose2d(hidden[-1], hidden[-1], 4, stride=2, padding=1),
        nn.SiLU(),
        nn.Conv2d(hidden[-1], out_channels, 3, padding=1),
    ]
    return nn.Sequential(*layers)


def chain(blocks: nn.Sequential, x: Tensor) -> Tensor:
    """``blocks(x)`` without the container's own module call: one image through the model is a
    few dozen small calls, and each module dispatch costs about as much as a small op."""
    for layer in blocks:
        x = layer(x)
    return x


def bottom_size(image_size: tuple[int, int], levels: int) -> tuple[int, int]:
    """Spatial size after ``levels`` stride-2 convs."""
    h, w = image_size
    for _ in range(levels):
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    return h, w
