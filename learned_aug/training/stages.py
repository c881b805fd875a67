"""Training in stages: a VQ-VAE's autoencoder, then its prior on the frozen codes.

``fit`` trains a generator that :func:`trains_in_stages` through :func:`fit_in_stages`, handing
it the run of one stage (``fit``'s own), so that each stage is an ordinary run: its own
settings, checkpoint and resume.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from pathlib import Path

from learned_aug.models import Generator
from learned_aug.models.vqvae import AUTOENCODER_DIR, VQVAE, UntrainedPriorWarning, set_stage
from learned_aug.training.settings import FitSettings
from learned_aug.training.trainer import FitResult

PRIOR_LR = 3e-3
"""Learning rate of the prior stage, whatever the autoencoder's: on MNIST the small transformer
reaches in 10 epochs the NLL that 1e-3 reaches in 23."""

TrainStage = Callable[[Generator, FitSettings, str | Path | None], FitResult]
"""One stage's run: ``(model, settings, out) -> FitResult``."""


def trains_in_stages(model: Generator) -> bool:
    """Whether ``model`` trains in two stages: a VQ-VAE, or a per-class container of them, at
    its first stage (``stage == "autoencoder"``, as a new one is).

    Example:
        >>> from learned_aug import VQVAE, VQVAEConfig
        >>> from learned_aug.models.vqvae import set_stage
        >>> model = VQVAE(VQVAEConfig(image_size=(8, 8), hidden_channels=(8,)))
        >>> trains_in_stages(model)
        True
        >>> set_stage(model, "prior")
        >>> trains_in_stages(model)
        False
    """
    found = [m for m in model.modules() if isinstance(m, VQVAE)]
    return bool(found) and all(m.stage == "autoencoder" for m in found)


def fit_in_stages(
    train: TrainStage,
    model: Generator,
    settings: FitSettings,
    out: str | Path | None,
) -> FitResult:
    """Train a VQ-VAE, then its prior on the frozen codes: both stages of van den Oord et al.

    Stage one trains the autoencoder (``out/autoencoder/`` holds its run); stage two starts
    from its best weights and trains the prior (``out/`` holds that run and the final
    generator, one ``config.json`` + ``model.safetensors`` with both stages). Resumed, a
    finished stage one is only reloaded, and stage two continues from its checkpoint.

    Args:
        train: runs one stage, ``(model, settings, out) -> FitResult``.
        model: a VQ-VAE (or per-class container of them) at its autoencoder stage.
        settings: the autoencoder's settings; the prior's are the same with
            ``settings.prior_epochs`` epochs (None: ``settings.epochs``) and ``PRIOR_LR``.
        out: the run folder, or None to keep nothing on disk.

    Returns:
        A ``FitResult`` with the generator and both stages' history (each row has ``stage``).

    Example:
        >>> from learned_aug import FitSettings, fit
        >>> tiny = dict(hidden_channels=(8,), codebook_size=16, prior={"dim": 16, "layers": 1})
        >>> r = fit("vqvae", "digits", FitSettings(epochs=1, prior_epochs=1), config=tiny,
        ...         progress=False)
        >>> [row["stage"] for row in r.history], r.model.sample(2).shape
        (['autoencoder', 'prior'], torch.Size([2, 1, 8, 8]))
    """
    first_out = None if out is None else Path(out) / AUTOENCODER_DIR
    with warnings.catch_warnings():  # stage one's sample grid has no prior yet
        warnings.simplefilter("ignore", UntrainedPriorWarning)
        first = train(model, settings, first_out)
    set_stage(first.model, "prior")
    epochs = settings.epochs if settings.prior_epochs is None else settings.prior_epochs
    second = train(first.model, dataclasses.replace(settings, epochs=epochs, lr=PRIOR_LR), out)
    set_stage(second.model, "autoencoder")
    second.history = [{"stage": "autoencoder", **r} for r in first.history] + [
        {"stage": "prior", **r} for r in second.history
    ]
    return second
