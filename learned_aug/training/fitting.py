"""``fit``: train any learned-aug generator on labelled data (the run itself: ``trainer``; a
pretrained start and an unlabelled pool: ``transfer``)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from learned_aug import precision
from learned_aug.conventional import augmented_copies
from learned_aug.data import LabelledData, load_dataset, load_unlabelled
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
from learned_aug.training.transfer import (
    check_accepts_unlabelled,
    check_sample_shape,
    start_from,
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


def _build_model(model, data: LabelledData, seed: int, config: Mapping[str, Any]) -> Generator:
    if isinstance(model, Generator):
        if config:
            raise TypeError(
                f"config={dict(config)!r} builds a model given by name, but model is a "
                f"{type(model).__name__} already built: pass its name, or build it with those "
                "fields (create_generator(name, shape, classes, **config))"
            )
        check_sample_shape(model, data, "the generator")
        if model.conditional and len(model.classes) != len(data.classes):
            raise ValueError(
                f"data has {len(data.classes)} classes, but the class-conditional generator "
                f"knows {len(model.classes)} ({model.classes})"
            )
        return model
    if not isinstance(model, str):
        raise TypeError(f"model must be a Generator or a model name, got {type(model).__name__}")
    torch.manual_seed(seed)
    return create_generator(model, data.sample_shape, data.classes, **config)


def _check_arguments(settings: Any, config: Any) -> tuple[FitSettings, Mapping[str, Any]]:
    """``settings`` (None: the defaults) and ``config`` (None: empty), checked."""
    if settings is None:
        settings = FitSettings()
    if not isinstance(settings, FitSettings):
        hint = "FitSettings(**settings)" if isinstance(settings, Mapping) else "FitSettings(...)"
        raise TypeError(
            f"settings must be a FitSettings or None, got {type(settings).__name__}: pass "
            f"fit(model, data, {hint})"
        )
    if config is None:
        config = {}
    if not isinstance(config, Mapping) or not all(isinstance(k, str) for k in config):
        raise TypeError(
            f"config must be a dict of config field names to values or None, got "
            f"{type(config).__name__}: e.g. config={{'conditional': True, 'latent_dim': 8}}"
        )
    return settings, config


def fit(
    model: Generator | str,
    data: Any,
    settings: FitSettings | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    init: Generator | str | Path | None = None,
    unlabelled: Any = None,
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    device: str | torch.device = "auto",
    progress: bool = True,
    hooks: Sequence[Callable[[dict[str, Any]], None]] = (),
) -> FitResult:
    """Train a generator on labelled data, keeping the weights of the best validation epoch.

    What it trains with (epochs, batch size, learning rate, ...) is one ``FitSettings``; how
    a model given by name is built is ``config``; the rest says where the run goes and how it
    reports. A VQ-VAE trains in two stages (van den Oord et al. 2017), both here: its
    autoencoder, then the prior over the codes of the frozen autoencoder
    (``settings.prior_epochs``; the run of stage one is kept in ``out/autoencoder/``, see
    ``learned_aug.training.stages``).

    Args:
        model: a Generator, or a registered model name (``"vae"``, ...) built for ``data``.
        data: anything ``learned_aug.data.load_dataset`` takes: a bundled name (``"mnist-5k"``),
            an ImageFolder path, a dataset, a tensor or an ``(x, y)`` pair.
        settings: the training settings (``FitSettings``: epochs, batch size, learning rate,
            optimizer, early stopping, seed, augmented copies, a VQ-VAE's prior epochs, mixed
            precision); None: its defaults. Under torchrun (several processes, DDP) its
            ``batch_size`` is the global batch, shared among the processes.
        config: for a model given by name, the keyword arguments of
            ``learned_aug.models.create_generator``: the model's config fields
            (``{"conditional": True, "latent_dim": 8}``, ``beta``, ...) and ``per_class`` (one
            generator per class) / ``mix_in`` (with ``per_class``, the fraction of other classes
            mixed into each member's data). None: the model's defaults. A ``Generator`` is
            already built: give it no config. With ``init``, the fields given must equal the
            pretrained generator's (and ``per_class`` / ``mix_in`` are refused).
        init: start from a pretrained generator instead of new weights: a ``Generator`` (a
            deep copy is trained; the caller's is left as is) or anything
            ``learned_aug.load_generator`` takes (a bundled name such as ``"mnist-vae"``, a
            run folder). ``model`` must be its registered name and the data of its sample
            shape. A class-conditional init meeting other classes learns the data's: a 'vae'
            keeps the one-hot columns of the classes both know (by name) and starts each new
            class at the mean of the pretrained classes' columns (``VAE.with_classes``; other
            conditional models raise NotImplementedError); an unconditional one just takes the
            data's class names. Nothing is frozen: every weight fine-tunes. The latent bank is
            rebuilt from ``data``. ``settings.epochs=0`` trains nothing: the pretrained
            generator as it is, adapted, with the bank of ``data`` (and ``out`` written).
        unlabelled: a pool of unlabelled examples of the data's kind trained on besides the
            labelled ones, with the class left open (the M2 idea of Kingma et al. 2014, done
            simply): a float tensor ``(N, *sample_shape)`` in [0, 1], a ``LabelledData`` (its
            labels unused) or a folder of images (every image file under it, converted and
            resized to the data's shape). Its rows are labelled ``UNLABELLED`` (-1); a
            class-conditional VAE reads them as the uniform class ``1/K``, an unconditional
            generator trains on them as on any row; other class-conditional models are
            refused. The pool gets no augmented copies and stays out of the latent bank and
            the quality report.
        out: run folder for the checkpoint, the best generator (config.json +
            model.safetensors), history.json/csv and samples.png; written by rank 0 alone
            when distributed.
        resume: continue the run in ``out`` from its last checkpoint.
        overwrite: replace a run already in ``out``.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ...
        progress: show a tqdm progress bar.
        hooks: callables given a dict of the epoch's metrics after each epoch (in every
            process when distributed).

    Returns:
        A ``FitResult`` whose ``model`` holds the best weights.

    Example:
        >>> from learned_aug import FitSettings, fit
        >>> result = fit("vae", "digits", FitSettings(epochs=1),
        ...              config={"per_class": True, "latent_dim": 3}, progress=False)
        >>> len(result.history)
        1
    """
    settings, config = _check_arguments(settings, config)
    if settings.epochs == 0 and init is None:
        raise ValueError(
            "settings.epochs=0 trains nothing: it is for fit(init=...), to use a pretrained "
            "generator as it is; give epochs >= 1, or an init"
        )
    distributed.init_from_env()
    data = load_dataset(data)
    _check_data(data)
    pool = None
    if unlabelled is not None:
        pool = load_unlabelled(unlabelled, data.sample_shape, progress=progress)
    source, data = data, _with_copies(data, settings)
    if init is None:
        model = _build_model(model, data, settings.seed, config)
    else:
        model = start_from(init, model, data, config)
    if pool is not None:
        check_accepts_unlabelled(model)
    staged = trains_in_stages(model)
    if settings.prior_epochs is not None and not staged:
        raise ValueError(
            f"prior_epochs is for a generator trained in two stages (a VQ-VAE at its "
            f"autoencoder stage), got {type(model).__name__}; leave it None"
        )
    train = functools.partial(
        _train,
        data=data,
        source=source,
        device=device,
        resume=resume,
        overwrite=overwrite,
        progress=progress,
        hooks=list(hooks),
        pool=pool,
    )
    if staged and settings.prior_epochs != 0:
        return fit_in_stages(train, model, settings, out)
    return train(model, settings, out)


def _train(
    model: Generator,
    settings: FitSettings,
    out: str | Path | None,
    *,
    data: LabelledData,
    source: LabelledData,
    device: str | torch.device,
    resume: bool,
    overwrite: bool,
    progress: bool,
    hooks: list[Callable[[dict[str, Any]], None]],
    pool: torch.Tensor | None = None,
) -> FitResult:
    """One run: ``model`` trained on ``data`` (and the unlabelled ``pool``) with ``settings``,
    its files in ``out``."""
    run_dir = None if out is None else Path(out)
    if run_dir is not None and distributed.is_main():
        run_dir = ckpt.prepare_out(out, resume=resume, overwrite=overwrite)
    distributed.barrier()  # the other processes read a checkpoint only once out is prepared
    dev = distributed.rank_device(resolve_device(device))
    use_amp = _choose_amp(settings.amp, dev, model, data, settings.batch_size)
    # Only rank 0 writes the run folder; every process reads the checkpoint to resume.
    written = run_dir if distributed.is_main() else None
    trainer = _Trainer(model, data, settings, dev, use_amp, written, hooks, source, pool)
    if run_dir is not None and resume and (run_dir / ckpt.CHECKPOINT_NAME).exists():
        state = ckpt.load_checkpoint(run_dir / ckpt.CHECKPOINT_NAME, dev)
        trainer.restore(state, run_dir)
    return trainer.train(progress)


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


def _choose_amp(amp, device: torch.device, model, data: LabelledData, batch_size: int) -> bool:
    """Autocast on where it is faster (``learned_aug.precision``); rank 0 decides for every process
    (it alone measures and writes the verdict to the cache: every rank runs the same precision)."""
    if not distributed.is_main():
        return distributed.broadcast_flag(False)  # the value is rank 0's
    x = data.x[:batch_size].to(device)
    y = data.y[:batch_size].to(device)
    shape = "x".join(map(str, data.sample_shape))
    size = sum(p.numel() for p in model.parameters())
    choice = precision.choose_autocast(
        device,
        override=amp,
        dtype=torch.float16 if device.type == "cuda" else torch.bfloat16,
        workload=f"fit {type(model).__name__} ({size} parameters) {shape} batch {batch_size}",
        make_step=precision.training_steps(model, lambda m: m.loss(x, y)["loss"], device.type),
    )
    return distributed.broadcast_flag(choice.enabled)
