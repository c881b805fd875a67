"""Generator models, registered by name in ``MODELS``."""

from __future__ import annotations

from typing import Any

from learned_aug.checkpoint import CheckpointError
from learned_aug.models.base import MODELS, UNLABELLED, Generator, model_class, register
from learned_aug.models.classwise import ClasswiseConfig, ClasswiseGenerator
from learned_aug.models.config import GeneratorConfig
from learned_aug.models.dvae import DenoisingVAE, DVAEConfig
from learned_aug.models.prior import PriorConfig
from learned_aug.models.tabular import TabularVAE, TabularVAEConfig
from learned_aug.models.vae import VAE, VAEConfig
from learned_aug.models.vqvae import VQVAE, VQVAEConfig


def create_generator(
    model: str,
    sample_shape: tuple[int, ...],
    classes: list[str],
    *,
    per_class: bool = False,
    mix_in: float = 0.0,
    **config: Any,
) -> Generator:
    """Build a fresh generator of kind ``model`` for data of ``sample_shape``.

    Args:
        model: a registered model name (see ``MODELS``).
        sample_shape: (C, H, W) for images, (features,) for tabular data.
        classes: class names in label order.
        per_class: one generator per class (``ClasswiseGenerator``).
        mix_in: with ``per_class``, the fraction of other classes mixed into each member's data.
        **config: config fields of the model (``latent_dim``, ``beta``, ...).
    """
    if model not in MODELS or model == "classwise":
        raise ValueError(
            f"model must be one of {sorted(k for k in MODELS if k != 'classwise')}, got {model!r}"
        )
    cls = MODELS[model]
    if not per_class:
        return cls(cls.config_for(sample_shape, classes, **config))
    if not classes:
        raise ValueError("per_class=True needs labelled data with at least one class")
    member = cls.config_for(sample_shape, [], **config)
    return ClasswiseGenerator.from_member(member, classes=classes, mix_in=mix_in)


__all__ = [
    "MODELS",
    "UNLABELLED",
    "VAE",
    "VQVAE",
    "CheckpointError",
    "ClasswiseConfig",
    "ClasswiseGenerator",
    "DVAEConfig",
    "DenoisingVAE",
    "Generator",
    "GeneratorConfig",
    "PriorConfig",
    "TabularVAE",
    "TabularVAEConfig",
    "VAEConfig",
    "VQVAEConfig",
    "create_generator",
    "model_class",
    "register",
]
