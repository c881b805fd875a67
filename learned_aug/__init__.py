"""learned-aug: learned data augmentation for PyTorch.

Generative autoencoders (VAE, beta-VAE, per-class VAEs) trained on a small labelled dataset and
used like torchvision transforms and datasets.
"""

from learned_aug.data import Column, LabelledData, TabularData, load_csv, load_dataset
from learned_aug.datasets import SyntheticDataset
from learned_aug.hub import build_latent_bank, bundled_names, find_bank, load_generator
from learned_aug.latent_bank import LatentBank
from learned_aug.models import (
    MODELS,
    VAE,
    VQVAE,
    CheckpointError,
    ClasswiseConfig,
    ClasswiseGenerator,
    DenoisingVAE,
    DVAEConfig,
    Generator,
    GeneratorConfig,
    TabularVAE,
    TabularVAEConfig,
    VAEConfig,
    VQVAEConfig,
    create_generator,
)
from learned_aug.sampling import STRATEGIES, ClassifierFilter, register_strategy
from learned_aug.training import FitResult, TrainingError, fit, fit_vqvae
from learned_aug.transforms import LearnedAugment

__version__ = "0.1.0"

__all__ = [
    "MODELS",
    "STRATEGIES",
    "VAE",
    "VQVAE",
    "CheckpointError",
    "ClassifierFilter",
    "ClasswiseConfig",
    "ClasswiseGenerator",
    "Column",
    "DVAEConfig",
    "DenoisingVAE",
    "FitResult",
    "Generator",
    "GeneratorConfig",
    "LabelledData",
    "LatentBank",
    "LearnedAugment",
    "SyntheticDataset",
    "TabularData",
    "TabularVAE",
    "TabularVAEConfig",
    "TrainingError",
    "VAEConfig",
    "VQVAEConfig",
    "__version__",
    "build_latent_bank",
    "bundled_names",
    "create_generator",
    "find_bank",
    "fit",
    "fit_vqvae",
    "load_csv",
    "load_dataset",
    "load_generator",
    "register_strategy",
]
