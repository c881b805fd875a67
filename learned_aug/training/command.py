"""``learned-aug fit``: the run (its arguments are in ``learned_aug.arguments``)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def without_option(argv: Sequence[str], option: str) -> list[str]:
    """``argv`` less ``option VALUE`` / ``option=VALUE`` (torchrun would take it for its own)."""
    kept, skip = [], False
    for arg in argv:
        if not skip and arg != option and not arg.startswith(option + "="):
            kept.append(arg)
        skip = arg == option and not skip
    return kept


def run(args: argparse.Namespace) -> int:
    """Train the generator the arguments describe (one process of a ``--nproc`` run)."""
    from learned_aug.data import load_dataset
    from learned_aug.training import DEFAULT_RECIPE, distributed, fit

    distributed.init_from_env()
    if str(args.data).lower().endswith(".csv"):
        from learned_aug.data import load_csv

        data = load_csv(args.data, label_column=args.label_column)
    else:
        data = load_dataset(
            args.data,
            image_size=args.image_size,
            channels=args.channels,
            progress=not args.no_progress,
        )
    config = {
        k: v
        for k, v in {
            "latent_dim": args.latent_dim,
            "beta": args.beta,
            "likelihood": args.likelihood,
            "codebook_size": args.codebook_size,
            "embedding_dim": args.embedding_dim,
            "corruption": args.corruption,
            "conditional": args.conditional,
        }.items()
        if v is not None
    }
    if getattr(data, "columns", None):  # a CSV's schema: continuous and categorical columns
        config["columns"] = [c.to_dict() for c in data.columns]
    if args.beta_norm:
        config["beta_norm"] = True
    augment = None if args.augment == "none" else args.augment
    settings = {
        "per_class": args.per_class,
        "mix_in": args.mix_in,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": args.optimizer,
        "val_fraction": args.val_fraction,
        "patience": args.patience,
        "kl_warmup": args.kl_warmup,
        "seed": args.seed,
        "device": args.device,
        "out": args.out,
        "resume": args.resume,
        "overwrite": args.overwrite,
        "progress": not args.no_progress,
        "augment_copies": args.augment_copies,
    }
    recipe = args.model is None and not args.per_class
    model = DEFAULT_RECIPE.for_data(data).model if recipe else args.model
    if recipe and args.augment is None:
        augment = DEFAULT_RECIPE.for_data(data).augment
    if augment is not None and not data.is_image:
        raise ValueError(f"--augment {augment} needs images, got a table of features")
    train = STAGED_FITS.get(model, fit)
    if args.prior_epochs is not None:
        if train is fit:
            raise ValueError(
                f"--prior-epochs is for models trained in stages {sorted(STAGED_FITS)}"
            )
        config["prior_epochs"] = args.prior_epochs
    if distributed.is_main():
        what = f"the recipe ({model}, " if recipe else f"{model} ("
        copies = f"{args.augment_copies} {augment} copies" if augment else "no augmented copies"
        print(
            f"data: {len(data)} examples of shape {tuple(data.sample_shape)}, "
            f"{len(data.classes)} classes; training {what}{copies})",
            file=sys.stderr,
        )
    if recipe:
        result = DEFAULT_RECIPE.fit(data, **settings, **config, augment=augment)
    else:
        settings["epochs"] = args.epochs or 30
        settings["patience"] = args.patience or 10
        result = train(model, data, **settings, **config, augment=augment)
    if not distributed.is_main():  # rank 0 alone writes
        return 0
    record = {
        "command": "learned-aug " + shlex.join(sys.argv[1:]) if sys.argv else "",
        "data": str(args.data),
        "examples": len(data),
        "trained_on": len(data) * (args.augment_copies + 1 if augment else 1),
        "recipe": "default" if recipe else None,
        "model": model,
        "augment": augment,
        "augment_copies": args.augment_copies if augment else 0,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
    }
    (Path(args.out) / "training.json").write_text(json.dumps(record, indent=2))
    print(
        f"best epoch {result.best_epoch}, validation loss {result.best_val_loss:.3f}; "
        f"saved {args.out}/ (config.json, model.safetensors, samples.png)"
    )
    return 0


def _fit_vqvae(model: str, data, **kwargs):
    """Both stages of a VQ-VAE: the autoencoder, then the prior over its codes."""
    from learned_aug.training.stages import fit_vqvae

    kwargs.setdefault("prior_epochs", kwargs.get("epochs", 30))
    return fit_vqvae(data, **kwargs)


STAGED_FITS: dict[str, Callable[..., object]] = {"vqvae": _fit_vqvae}
"""Models whose ``fit`` command trains more than one stage, by model name."""
