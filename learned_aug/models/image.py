"""What the image generators (VAE, VQ-VAE, denoising VAE) share: input checks and a mixin.

An image generator's config has ``channels``, ``image_size``, ``classes`` and ``conditional``;
from them
:class:`ImageGenerator` gives the model its ``sample_shape``, ``conditional`` and ``config_for``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor


def check_images(x: Tensor, sample_shape: Sequence[int], *, name: str = "x") -> Tensor:
    """Check that ``x`` is a float batch of the generator's sample shape, naming what is wrong.

    Example:
        >>> import torch
        >>> check_images(torch.rand(2, 1, 8, 8), (1, 8, 8)).shape
        torch.Size([2, 1, 8, 8])
        >>> check_images(torch.zeros(2, 8, 8), (1, 8, 8))
        Traceback (most recent call last):
        ValueError: x must be a batch of shape (B, 1, 8, 8), got shape (2, 8, 8)
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    expected = tuple(sample_shape)
    if x.dim() != len(expected) + 1:
        raise ValueError(
            f"{name} must be a batch of shape (B, {', '.join(map(str, expected))}), "
            f"got shape {tuple(x.shape)}"
        )
    if len(expected) == 3 and x.shape[1] != expected[0]:
        raise ValueError(
            f"{name} has {x.shape[1]} channels, but this generator expects {expected[0]} "
            f"(sample shape {expected}); convert the images (e.g. v2.Grayscale / v2.RGB) first"
        )
    if tuple(x.shape[1:]) != expected:
        raise ValueError(
            f"{name} has sample shape {tuple(x.shape[1:])}, but this generator expects {expected}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a float tensor in [0, 1], got dtype {x.dtype}")
    return x


def image_config_fields(
    model: str, sample_shape: Sequence[int], classes: Sequence[str], conditional: bool
) -> dict[str, Any]:
    """The config fields an image generator takes from its data: channels, size, classes."""
    if len(sample_shape) != 3:
        raise ValueError(
            f"model {model!r} needs images of shape (C, H, W), got sample shape "
            f"{tuple(sample_shape)}; use 'tabular-vae' for feature vectors"
        )
    c, h, w = sample_shape
    return {
        "channels": c,
        "image_size": (h, w),
        "classes": list(classes),
        "conditional": bool(conditional and classes),  # no classes: nothing to condition on
    }


class ImageGenerator:
    """Mixin of a :class:`~learned_aug.models.base.Generator` of images ``(C, H, W)``.

    It reads ``channels``, ``image_size`` and ``conditional`` from the model's config. List it
    before ``Generator``: ``class VAE(ImageGenerator, Generator)``.

    Example:
        >>> from learned_aug.models.vae import VAE
        >>> config = VAE.config_for((3, 8, 6), ["a", "b"], conditional=True, latent_dim=2)
        >>> vae = VAE(config)
        >>> vae.sample_shape, vae.conditional
        ((3, 8, 6), True)
    """

    @classmethod
    def config_for(cls, sample_shape, classes, *, conditional: bool = False, **kwargs):
        """A config for images of ``sample_shape`` (C, H, W); ``conditional`` makes the model
        condition on ``classes`` (where there are any); ``kwargs`` are further config fields."""
        model = cls.config_class.model_type  # type: ignore[attr-defined]
        fields = image_config_fields(model, sample_shape, classes, conditional)
        return cls.config_class(**fields, **kwargs)  # type: ignore[attr-defined]

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return (self.config.channels, *self.config.image_size)  # type: ignore[attr-defined]

    @property
    def conditional(self) -> bool:
        return self.config.conditional  # type: ignore[attr-defined]
