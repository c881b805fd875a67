"""``fit``: train any learned-aug generator on labelled data (the run itself: ``trainer``)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from learned_aug import speed
from learned_aug.conventional import augmented_copies
from learned_aug.data import LabelledData, load_dataset
from learned_aug.models import Generator, create_generator
from learned_aug.training import checkpoint as ckpt
from learned_aug.training import distributed
from learned_aug.training.settings import OPTIMIZERS, SCHEDULES, FitSettings
from learned_aug.training.stages import fit_in_stages, trains_in_stages
from learned_aug.training.trainer import (
    FitResult,
    TrainingError,
    _Trainer,
    evaluate_loss,
    kl_at,
    lr_at,
)

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "FitResult",
    "FitSettings",
    "TrainingError",
    "evaluate_loss",
    "fit",
    "kl_at",
    "lr_at",
    "resolve_device",
]


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` picks CUDA when present, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _check_data(data: LabelledData) -> None:
    if len(data) == 0:
        raise ValueError("data is empty: there is nothing to train on")
    counts = data.class_counts()
    empty = [c for c, n in zip(data.classes, counts, strict=True) if n == 0]
    if empty:
        raise ValueError(f"data has classes with no examples: {empty}; remove them or add data")
    bad = (~torch.isfinite(data.x.flatten(1))).any(dim=1).nonzero().flatten()
    if len(bad):
        raise ValueError(
            f"data holds NaN or inf values in {len(bad)} examples (first at index {int(bad[0])}); "
            "clean or impute them before training"
        )


def _build_model(
    model, data: LabelledData, per_class: bool, mix_in: float, seed: int, config: dict[str, Any]
) -> Generator:
    if isinstance(model, Generator):
        if config:
            raise TypeError(f"config arguments {sorted(config)} need model given as a name")
        if tuple(model.sample_shape) != tuple(data.sample_shape):
            raise ValueError(
                f"data has sample shape {tuple(data.sample_shape)}, but the generator expects "
                f"{tuple(model.sample_shape)}; resize/convert the data (image_size=, channels=)"
            )
        if model.conditional and len(model.classes) != len(data.classes):
            raise ValueError(
                f"data has {len(data.classes)} classes, but the class-conditional generator "
                f"knows {len(model.classes)} ({model.classes})"
            )
        return model
    if not isinstance(model, str):
        raise TypeError(f"model must be a Generator or a model name, got {type(model).__name__}")
    torch.manual_seed(seed)
    return create_generator(
        model, data.sample_shape, data.classes, per_class=per_class, mix_in=mix_in, **config
    )


def fit(
    model: Generator | str,
    data: Any,
    *,
    per_class: bool = False,
    mix_in: float = 0.0,
    epochs: int = 50,
    batch_size: int = 64,
    lr: float = 1e-3,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    val_fraction: float = 0.15,
    patience: int | None = 10,
    kl_warmup: int = 0,
    warmup_steps: int = 0,
    schedule: str = "constant",
    seed: int = 0,
    device: str | torch.device = "auto",
    amp: bool | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    hooks: Sequence[Callable[[dict[str, Any]], None]] = (),
    settings: FitSettings | None = None,
    augment: str | None = None,
    augment_copies: int = 4,
    prior_epochs: int | None = None,
    **config: Any,
) -> FitResult:
    """Train a generator on labelled data, keeping the weights of the best validation epoch.

    A VQ-VAE trains in two stages (van den Oord et al. 2017), both here: its autoencoder, then
    the prior over the codes of the frozen autoencoder (``prior_epochs``; the run of stage one
    is kept in ``out/autoencoder/``, see ``learned_aug.training.stages``).

    Args:
        model: a Generator, or a registered model name (``"vae"``, ...) built for ``data``.
        data: anything ``learned_aug.data.load_dataset`` takes: a bundled name (``"mnist-5k"``),
            an ImageFolder path, a dataset, a tensor or an ``(x, y)`` pair.
        per_class: with a model name, one generator per class (the multi-VAE).
        mix_in: with ``per_class``, the fraction of other classes mixed into each member's data.
        epochs: the most epochs to train.
        batch_size: examples per optimizer step; under torchrun (several processes, DDP) the
            global batch, shared among the processes, so N processes take the steps one would.
        lr: peak learning rate.
        optimizer: ``"adam"`` (default), ``"adamw"`` or ``"rmsprop"``.
        weight_decay: the optimizer's weight decay.
        val_fraction: stratified validation split for early stopping (0.15 as in
            Garay-Maestre et al. 2019); 0 trains on everything and keeps the last weights.
        patience: epochs without a better validation loss before stopping; None never stops.
        kl_warmup: epochs over which the KL weight ramps linearly from 0 to 1.
        warmup_steps: optimizer steps of linear learning-rate warm-up.
        schedule: ``"constant"`` or ``"cosine"`` decay after the warm-up.
        seed: seeds the initial weights (for a model name), the split, shuffling and noise.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ...
        amp: mixed precision (float16 on CUDA, bfloat16 on the CPU); None turns it on where
            it is faster: on CUDA, and on CPUs whose bf16 units make a timed step faster
            (``learned_aug.speed``; never on a CPU without AVX512-BF16/AMX).
        out: run folder for the checkpoint, the best generator (config.json +
            model.safetensors), history.json/csv and samples.png; written by rank 0 alone
            when distributed.
        resume: continue the run in ``out`` from its last checkpoint.
        overwrite: replace a run already in ``out``.
        progress: show a tqdm progress bar.
        hooks: callables given a dict of the epoch's metrics after each epoch (in every
            process when distributed).
        settings: the training settings (``epochs`` ... ``seed``, ``augment``,
            ``augment_copies``) as one ``FitSettings``, instead of those keyword arguments.
        augment: train on the images plus ``augment_copies`` copies of them under this
            conventional augmentation (``"randaugment"``, a key of
            ``learned_aug.conventional.CONVENTIONAL``), so the generator learns that variety;
            the latent bank and the quality report are built from the images alone. None:
            the images alone.
        augment_copies: augmented copies of every image with ``augment``.
        prior_epochs: the most epochs of a VQ-VAE's second stage, its prior (trained at
            ``learned_aug.training.stages.PRIOR_LR``); None: ``epochs``; 0: the autoencoder
            alone (a one-stage run in ``out``). Only for a VQ-VAE (or per-class VQ-VAEs) at its
            first stage.
        **config: config fields for a model given by name (``latent_dim=3``, ``beta=4.0``).

    Returns:
        A ``FitResult`` whose ``model`` holds the best weights.

    Example:
        >>> from learned_aug import fit
        >>> result = fit("vae", "digits", per_class=True, epochs=1, latent_dim=3, progress=False)
        >>> len(result.history)
        1
    """
    given = FitSettings(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        optimizer=optimizer,
        weight_decay=weight_decay,
        val_fraction=val_fraction,
        patience=patience,
        kl_warmup=kl_warmup,
        warmup_steps=warmup_steps,
        schedule=schedule,
        seed=seed,
        augment=augment,
        augment_copies=augment_copies,
    )
    settings = _one_settings(given, settings)
    _check_prior_epochs(prior_epochs)
    distributed.init_from_env()
    data = load_dataset(data)
    _check_data(data)
    source, data = data, _with_copies(data, settings)
    model = _build_model(model, data, per_class, mix_in, settings.seed, config)
    staged = trains_in_stages(model)
    if prior_epochs is not None and not staged:
        raise ValueError(
            f"prior_epochs is for a generator trained in two stages (a VQ-VAE at its "
            f"autoencoder stage), got {type(model).__name__}; leave it None"
        )
    train = functools.partial(
        _train,
        data=data,
        source=source,
        device=device,
        amp=amp,
        resume=resume,
        overwrite=overwrite,
        progress=progress,
        hooks=list(hooks),
    )
    if staged and prior_epochs != 0:
        return fit_in_stages(train, model, settings, out, prior_epochs)
    return train(model, settings, out)


def _train(
    model: Generator,
    settings: FitSettings,
    out: str | Path | None,
    *,
    data: LabelledData,
    source: LabelledData,
    device: str | torch.device,
    amp: bool | None,
    resume: bool,
    overwrite: bool,
    progress: bool,
    hooks: list[Callable[[dict[str, Any]], None]],
) -> FitResult:
    """One run: ``model`` trained on ``data`` with ``settings``, its files in ``out``."""
    run_dir = None if out is None else Path(out)
    if run_dir is not None and distributed.is_main():
        run_dir = ckpt.prepare_out(out, resume=resume, overwrite=overwrite)
    distributed.barrier()  # the other processes read a checkpoint only once out is prepared
    dev = distributed.rank_device(resolve_device(device))
    use_amp = _choose_amp(amp, dev, model, data, settings.batch_size)
    # Only rank 0 writes the run folder; every process reads the checkpoint to resume.
    written = run_dir if distributed.is_main() else None
    trainer = _Trainer(model, data, settings, dev, use_amp, written, hooks, source)
    if run_dir is not None and resume and (run_dir / ckpt.CHECKPOINT_NAME).exists():
        state = ckpt.load_checkpoint(run_dir / ckpt.CHECKPOINT_NAME, dev)
        trainer.restore(state, run_dir)
    return trainer.train(progress)


def _check_prior_epochs(prior_epochs: int | None) -> None:
    if prior_epochs is None:
        return
    if isinstance(prior_epochs, bool) or not isinstance(prior_epochs, int) or prior_epochs < 0:
        raise ValueError(
            f"prior_epochs must be None (as many as epochs), 0 (no prior stage) or a positive "
            f"int, got {prior_epochs!r}"
        )


def _with_copies(data: LabelledData, settings: FitSettings) -> LabelledData:
    """``data`` plus ``settings.augment_copies`` copies under ``settings.augment`` (if any)."""
    if settings.augment is None:
        return data
    if not data.is_image:
        raise ValueError(
            f"augment={settings.augment!r} needs images, got feature vectors of shape "
            f"{tuple(data.x.shape)}; pass augment=None for tabular data"
        )
    return augmented_copies(data, settings.augment, settings.augment_copies, seed=settings.seed)


def _one_settings(given: FitSettings, settings: FitSettings | None) -> FitSettings:
    """``settings`` when given (then the keyword arguments must be left alone), else ``given``."""
    if settings is None:
        return given
    if not isinstance(settings, FitSettings):
        raise TypeError(f"settings must be a FitSettings or None, got {type(settings).__name__}")
    clash = given.changed_from_defaults()
    if clash:
        raise TypeError(
            f"fit got settings= and the keyword arguments {clash}; pass the training settings "
            "one way: inside settings=FitSettings(...) or as keyword arguments"
        )
    return settings


def _choose_amp(amp, device: torch.device, model, data: LabelledData, batch_size: int) -> bool:
    """Autocast on where it is faster (``learned_aug.speed``); rank 0 decides for every process
    (it alone measures and writes the verdict to the cache: every rank runs the same precision)."""
    if not distributed.is_main():
        return distributed.broadcast_flag(False)  # the value is rank 0's
    x = data.x[:batch_size].to(device)
    y = data.y[:batch_size].to(device)
    shape = "x".join(map(str, data.sample_shape))
    size = sum(p.numel() for p in model.parameters())
    choice = speed.choose_autocast(
        device,
        override=amp,
        dtype=torch.float16 if device.type == "cuda" else torch.bfloat16,
        workload=f"fit {type(model).__name__} ({size} parameters) {shape} batch {batch_size}",
        make_step=speed.training_steps(model, lambda m: m.loss(x, y)["loss"], device.type),
    )
    return distributed.broadcast_flag(choice.enabled)
