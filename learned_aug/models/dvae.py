"""Denoising VAE (Rajagopalan 2021): the encoder sees a corrupted image, the decoder the clean one.

The corruption is a torchvision transform applied to each training image on its own. The
config names it by a JSON-serialisable preset (``corruption`` + ``corruption_params``), so a
saved model says how it was trained; a transform of your own can be given instead when the
model is built (``DenoisingVAE(config, transform=my_transform)``) — it is *not* saved (the
config then reads ``corruption="custom"``), so pass it again to go on training a loaded model.
Reconstruction and sampling need no corruption.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torchvision.transforms import v2

from learned_aug.models.base import Generator, register
from learned_aug.models.image import ImageGenerator, check_images
from learned_aug.models.vae import VAE, VAEConfig
from learned_aug.rng import RandomSource

Corruption = Callable[[Tensor], Tensor]
CUSTOM = "custom"


def _default(
    channels: int,
    image_size: tuple[int, int],
    *,
    crop_scale: tuple[float, float] = (0.6, 1.0),
    degrees: float = 15.0,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
    hue: float = 0.1,
) -> Corruption:
    """Rajagopalan's corruption: random crop, rotation, brightness/contrast, hue/saturation."""
    rgb = channels == 3  # hue and saturation mean nothing for one channel
    return v2.Compose(
        [
            v2.RandomResizedCrop(list(image_size), scale=tuple(crop_scale), antialias=True),
            v2.RandomRotation(degrees),
            v2.ColorJitter(
                brightness=brightness or None,
                contrast=contrast or None,
                saturation=(saturation or None) if rgb else None,
                hue=(hue or None) if rgb else None,
            ),
        ]
    )


def _noise(channels: int, image_size: tuple[int, int], *, sigma: float = 0.2) -> Corruption:
    """Additive Gaussian pixel noise (clipped to [0, 1])."""
    return v2.GaussianNoise(sigma=sigma, clip=True)


def _erase(channels: int, image_size: tuple[int, int], *, p: float = 1.0) -> Corruption:
    """A random rectangle blanked out (RandomErasing)."""
    return v2.RandomErasing(p=p, value=0)


def _none(channels: int, image_size: tuple[int, int]) -> Corruption:
    """No corruption: the model is then a plain VAE."""
    return v2.Identity()


CORRUPTIONS: dict[str, Callable[..., Corruption]] = {
    "default": _default,
    "noise": _noise,
    "erase": _erase,
    "none": _none,
}
"""Named corruption presets: ``name -> builder(channels, image_size, **params)``."""


@dataclass
class DVAEConfig(VAEConfig):
    """Config of a denoising VAE: a VAE config plus its corruption.

    The other fields are those of ``VAEConfig``.

    Args:
        corruption: a preset of ``CORRUPTIONS`` (``"default"``, ``"noise"``, ``"erase"``,
            ``"none"``), or ``"custom"`` for a transform given at construction (not saved).
        corruption_params: keyword arguments of the preset (e.g. ``{"degrees": 30}``).
    """

    model_type: str = "dvae"
    corruption: str = "default"
    corruption_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.corruption != CUSTOM and self.corruption not in CORRUPTIONS:
            raise ValueError(
                f"corruption must be one of {sorted(CORRUPTIONS)} (or a torchvision transform "
                f"given to DenoisingVAE(config, transform=...)), got {self.corruption!r}"
            )
        try:
            self.corruption_params = json.loads(json.dumps(self.corruption_params))
        except TypeError as err:
            raise TypeError(f"corruption_params must be JSON-serialisable: {err}") from None
        if self.corruption != CUSTOM:
            try:
                self.build_corruption()
            except TypeError as err:  # an unknown parameter name
                raise ValueError(
                    f"corruption_params {self.corruption_params} invalid: {err}"
                ) from None

    def build_corruption(self) -> Corruption:
        """The preset's transform, built from ``corruption_params``."""
        return CORRUPTIONS[self.corruption](
            self.channels, self.image_size, **self.corruption_params
        )

    def vae_config(self) -> VAEConfig:
        """The plain VAE config inside this one."""
        names = {f.name for f in dataclasses.fields(VAEConfig)} - {"model_type"}
        return VAEConfig(**{name: getattr(self, name) for name in names})


@register("dvae")
class DenoisingVAE(ImageGenerator, Generator):
    """A VAE trained to reconstruct clean images from corrupted ones (Rajagopalan 2021).

    Args:
        config: a ``DVAEConfig`` (or its dict).
        transform: the corruption, a transform of one ``(C, H, W)`` float image in [0, 1]
            (e.g. a torchvision ``v2.Compose``) replacing the config's preset; it is not saved
            with the model.

    Example:
        >>> import torch
        >>> from torchvision.transforms import v2
        >>> from learned_aug.models.dvae import DenoisingVAE, DVAEConfig
        >>> cfg = DVAEConfig(image_size=(8, 8), latent_dim=2, hidden_channels=(8,))
        >>> dvae = DenoisingVAE(cfg, transform=v2.RandomRotation(20))
        >>> dvae.config.corruption, dvae.loss(torch.rand(3, 1, 8, 8))["loss"].ndim
        ('custom', 0)
    """

    config_class = DVAEConfig
    config: DVAEConfig

    def __init__(self, config: DVAEConfig | dict, transform: Corruption | None = None):
        super().__init__(config)
        self.vae = VAE(self.config.vae_config())
        self._transform: Corruption | None = None
        if transform is not None:
            self.set_transform(transform)
        elif self.config.corruption != CUSTOM:
            self._keep(self.config.build_corruption())

    @classmethod
    def config_for(
        cls, sample_shape, classes, *, conditional: bool = False, **kwargs
    ) -> DVAEConfig:
        """A config for images of ``sample_shape``; ``corruption`` must be a preset name."""
        if callable(kwargs.get("corruption")):
            raise TypeError(
                "a transform cannot be stored in a config: build the model with "
                "DenoisingVAE(config, transform=...) and pass the model to fit(); "
                f"by name, corruption must be one of {sorted(CORRUPTIONS)}"
            )
        return super().config_for(sample_shape, classes, conditional=conditional, **kwargs)

    @property
    def transform(self) -> Corruption | None:
        """The corruption applied to each training image (None for an unsaved custom one)."""
        return self._transform

    def set_transform(self, transform: Corruption) -> None:
        """Use ``transform`` as the corruption (a custom one: not saved with the model)."""
        if not callable(transform):
            raise TypeError(f"transform must be callable, got {type(transform).__name__}")
        self._keep(transform)
        self.config.corruption, self.config.corruption_params = CUSTOM, {}

    def _keep(self, transform: Corruption | None) -> None:
        # Outside the module tree (v2 transforms are nn.Modules): not part of the weights.
        object.__setattr__(self, "_transform", transform)

    def encode(self, x: Tensor, labels: Tensor | None = None):
        return self.vae.encode(x, labels)

    def encode_mean(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.vae.encode_mean(x, labels)

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.vae.decode(z, labels)

    def sample(self, n: int, labels=None, rng: RandomSource = None) -> Tensor:
        return self.vae.sample(n, labels, rng)

    def class_log_likelihood(self, x: Tensor) -> Tensor:
        """``(B, K)`` ELBO of each clean image under each class (see ``VAE``); the encoder
        reads the image as given, uncorrupted."""
        if not self.conditional:
            return super().class_log_likelihood(x)
        return self.vae.class_log_likelihood(x)

    def corrupt(self, x: Tensor) -> Tensor:
        """Each image of the batch through the corruption on its own (torch's global RNG)."""
        if self._transform is None:
            raise ValueError(
                "this DenoisingVAE was trained with a custom corruption, which is not saved: "
                "pass it again (DenoisingVAE.from_pretrained(path, transform=...) or "
                "model.set_transform(...)) before training"
            )
        out = torch.stack([self._transform(image) for image in x])
        if out.shape != x.shape:
            raise ValueError(
                f"the corruption must keep each image's shape {tuple(x.shape[1:])}, "
                f"got {tuple(out.shape[1:])}"
            )
        return out.clamp(0.0, 1.0)

    def loss(
        self,
        x: Tensor,
        labels: Tensor | None = None,
        *,
        kl_weight: float = 1.0,
        target: Tensor | None = None,
    ):
        """Negative ELBO of the clean ``x`` (or of ``target``, its partner in ``partner``
        training) given the corrupted ``x`` at the encoder."""
        check_images(x, self.sample_shape)
        target = x if target is None else target
        return self.vae.elbo(self.corrupt(x), target, labels, kl_weight=kl_weight)
