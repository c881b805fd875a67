"""learned-aug: learned data augmentation for PyTorch.

Generative autoencoders (VAE, beta-VAE, per-class VAEs) trained on a small labelled dataset and
used like torchvision transforms and datasets.
"""

from learned_aug.data import LabelledData, load_dataset
from learned_aug.datasets import SyntheticDataset
from learned_aug.hub import bundled_names, load_generator
from learned_aug.models import (
    MODELS,
    VAE,
    CheckpointError,
    ClasswiseConfig,
    ClasswiseGenerator,
    Generator,
    GeneratorConfig,
    VAEConfig,
    create_generator,
)
from learned_aug.training import FitResult, TrainingError, fit

__version__ = "0.1.0"

__all__ = [
    "MODELS",
    "VAE",
    "CheckpointError",
    "ClasswiseConfig",
    "ClasswiseGenerator",
    "FitResult",
    "Generator",
    "GeneratorConfig",
    "LabelledData",
    "SyntheticDataset",
    "TrainingError",
    "VAEConfig",
    "__version__",
    "bundled_names",
    "create_generator",
    "fit",
    "load_dataset",
    "load_generator",
]
