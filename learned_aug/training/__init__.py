"""Training: ``fit`` and its pieces."""

from learned_aug.training.loop import OPTIMIZERS, FitResult, TrainingError, fit, kl_at, lr_at

__all__ = ["OPTIMIZERS", "FitResult", "TrainingError", "fit", "kl_at", "lr_at"]
