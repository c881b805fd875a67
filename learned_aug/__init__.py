"""learned-aug: learned data augmentation for PyTorch.

Generative autoencoders (VAE, beta-VAE, per-class VAEs) trained on a small labelled dataset and
used like torchvision transforms and datasets.

The names below load on first use (PEP 562), so that ``import learned_aug.cli`` (the
``learned-aug`` command) parses its arguments without importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from learned_aug.data import Column, LabelledData, TabularData, load_csv, load_dataset
    from learned_aug.latent_bank import LatentBank
    from learned_aug.loading import build_latent_bank, bundled_names, find_bank, load_generator
    from learned_aug.models import (
        MODELS,
        UNLABELLED,
        VAE,
        VQVAE,
        CheckpointError,
        ClasswiseConfig,
        ClasswiseGenerator,
        DenoisingVAE,
        DVAEConfig,
        Generator,
        GeneratorConfig,
        PriorConfig,
        TabularVAE,
        TabularVAEConfig,
        VAEConfig,
        VQVAEConfig,
        create_generator,
    )
    from learned_aug.strategies import (
        GMM,
        STRATEGIES,
        Extrapolate,
        Interpolate,
        Noise,
        Posterior,
        Prior,
        Reconstruct,
        Strategy,
        VQResample,
        register_strategy,
    )
    from learned_aug.synthetic import (
        ClassifierFilter,
        MixSampler,
        OneHot,
        SyntheticDataset,
        Teacher,
    )
    from learned_aug.training import (
        DEFAULT_RECIPE,
        FitResult,
        FitSettings,
        Recipe,
        TrainingError,
        fit,
    )
    from learned_aug.transforms import LearnedAugment

# Each public name -> the module that defines it.
_EXPORTS = {
    "LabelledData": "learned_aug.data",
    "load_dataset": "learned_aug.data",
    "SyntheticDataset": "learned_aug.synthetic",
    "ClassifierFilter": "learned_aug.synthetic",
    "MixSampler": "learned_aug.synthetic",
    "OneHot": "learned_aug.synthetic",
    "Teacher": "learned_aug.synthetic",
    "bundled_names": "learned_aug.loading",
    "build_latent_bank": "learned_aug.loading",
    "find_bank": "learned_aug.loading",
    "load_generator": "learned_aug.loading",
    "LatentBank": "learned_aug.latent_bank",
    "MODELS": "learned_aug.models",
    "UNLABELLED": "learned_aug.models",
    "VAE": "learned_aug.models",
    "VQVAE": "learned_aug.models",
    "CheckpointError": "learned_aug.models",
    "ClasswiseConfig": "learned_aug.models",
    "ClasswiseGenerator": "learned_aug.models",
    "DenoisingVAE": "learned_aug.models",
    "DVAEConfig": "learned_aug.models",
    "Generator": "learned_aug.models",
    "GeneratorConfig": "learned_aug.models",
    "PriorConfig": "learned_aug.models",
    "TabularVAE": "learned_aug.models",
    "TabularVAEConfig": "learned_aug.models",
    "VAEConfig": "learned_aug.models",
    "VQVAEConfig": "learned_aug.models",
    "create_generator": "learned_aug.models",
    "STRATEGIES": "learned_aug.strategies",
    "Strategy": "learned_aug.strategies",
    "Reconstruct": "learned_aug.strategies",
    "Noise": "learned_aug.strategies",
    "Interpolate": "learned_aug.strategies",
    "Extrapolate": "learned_aug.strategies",
    "Prior": "learned_aug.strategies",
    "Posterior": "learned_aug.strategies",
    "GMM": "learned_aug.strategies",
    "VQResample": "learned_aug.strategies",
    "register_strategy": "learned_aug.strategies",
    "Column": "learned_aug.data",
    "TabularData": "learned_aug.data",
    "load_csv": "learned_aug.data",
    "DEFAULT_RECIPE": "learned_aug.training",
    "Recipe": "learned_aug.training",
    "FitResult": "learned_aug.training",
    "FitSettings": "learned_aug.training",
    "TrainingError": "learned_aug.training",
    "fit": "learned_aug.training",
    "LearnedAugment": "learned_aug.transforms",
}

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_RECIPE",
    "GMM",
    "MODELS",
    "STRATEGIES",
    "UNLABELLED",
    "VAE",
    "VQVAE",
    "CheckpointError",
    "ClassifierFilter",
    "ClasswiseConfig",
    "ClasswiseGenerator",
    "Column",
    "DVAEConfig",
    "DenoisingVAE",
    "Extrapolate",
    "FitResult",
    "FitSettings",
    "Generator",
    "GeneratorConfig",
    "Interpolate",
    "LabelledData",
    "LatentBank",
    "LearnedAugment",
    "MixSampler",
    "Noise",
    "OneHot",
    "Posterior",
    "Prior",
    "PriorConfig",
    "Recipe",
    "Reconstruct",
    "Strategy",
    "SyntheticDataset",
    "TabularData",
    "TabularVAE",
    "TabularVAEConfig",
    "Teacher",
    "TrainingError",
    "VAEConfig",
    "VQResample",
    "VQVAEConfig",
    "__version__",
    "build_latent_bank",
    "bundled_names",
    "create_generator",
    "find_bank",
    "fit",
    "load_csv",
    "load_dataset",
    "load_generator",
    "register_strategy",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'learned_aug' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
