"""Training: ``fit`` and its pieces."""

from learned_aug.training.fitting import OPTIMIZERS, FitResult, TrainingError, fit, kl_at, lr_at
from learned_aug.training.recipe import DEFAULT_RECIPE, TABULAR_RECIPE, Recipe
from learned_aug.training.settings import FitSettings

__all__ = [
    "DEFAULT_RECIPE",
    "OPTIMIZERS",
    "TABULAR_RECIPE",
    "FitResult",
    "FitSettings",
    "Recipe",
    "TrainingError",
    "fit",
    "kl_at",
    "lr_at",
]
