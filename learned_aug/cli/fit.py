"""``learned-aug fit``: train a generator (the recipe, or the model the flags name) into --out."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from learned_aug.data import LabelledData, load_csv, load_dataset, load_unlabelled
from learned_aug.loading import read_config, resolve
from learned_aug.training import DEFAULT_RECIPE, FitResult, FitSettings, distributed, fit

# The model flags of ``fit``: config fields of the generator, passed on when given.
CONFIG_FLAGS = (
    "latent_dim",
    "beta",
    "likelihood",
    "codebook_size",
    "embedding_dim",
    "corruption",
    "conditional",
    "partner",
)
# The training flags of ``fit``: the FitSettings fields of the same names.
SETTING_FLAGS = (
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "val_fraction",
    "patience",
    "kl_warmup",
    "seed",
    "augment_copies",
    "prior_epochs",
)
# Where and how the run goes: ``fit``'s keyword arguments of the same names.
RUN_FLAGS = ("device", "out", "resume", "overwrite")


def without_option(argv: Sequence[str], option: str) -> list[str]:
    """``argv`` less ``option VALUE`` / ``option=VALUE`` (torchrun would take it for its own).

    Example:
        >>> without_option(["fit", "--nproc", "2", "--out", "r"], "--nproc")
        ['fit', '--out', 'r']
    """
    kept, skip = [], False
    for arg in argv:
        if not skip and arg != option and not arg.startswith(option + "="):
            kept.append(arg)
        skip = arg == option and not skip
    return kept


def _load(args: argparse.Namespace) -> LabelledData:
    if str(args.data).lower().endswith(".csv"):
        return load_csv(args.data, label_column=args.label_column)
    return load_dataset(
        args.data, image_size=args.image_size, channels=args.channels, progress=not args.no_progress
    )


def _config(args: argparse.Namespace, data: LabelledData) -> dict[str, Any]:
    """The generator's config fields the flags set (and a CSV's column schema)."""
    config = {k: getattr(args, k) for k in CONFIG_FLAGS if getattr(args, k) is not None}
    if getattr(data, "columns", None):  # a CSV's schema: continuous and categorical columns
        config["columns"] = [c.to_dict() for c in data.columns]
    if args.beta_norm:
        config["beta_norm"] = True
    return config


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The FitSettings fields the flags set (None: the recipe's or the default)."""
    return {name: getattr(args, name) for name in SETTING_FLAGS}


def _run(args: argparse.Namespace) -> dict[str, Any]:
    """``fit``'s keyword arguments for where and how the run goes."""
    return {name: getattr(args, name) for name in RUN_FLAGS} | {"progress": not args.no_progress}


def _init_kind(init: str | None) -> str | None:
    """The registered model name of the ``--init`` generator (read from its config.json)."""
    return None if init is None else read_config(resolve(init)).get("model_type")


def _describe(
    args: argparse.Namespace,
    data: LabelledData,
    model: str,
    augment: str | None,
    copies: int,
    recipe: bool,
    pool: Any,
) -> None:
    """Say on stderr what is about to be trained."""
    what = f"the recipe ({model}, " if recipe else f"{model} ("
    copied = f"{copies} {augment} copies" if augment else "no augmented copies"
    start = f" from {args.init}" if args.init else ""
    extra = "" if pool is None else f" and {len(pool)} unlabelled images"
    print(
        f"data: {len(data)} examples of shape {tuple(data.sample_shape)}, "
        f"{len(data.classes)} classes{extra}; training {what}{copied}){start}",
        file=sys.stderr,
    )


def _train(args: argparse.Namespace) -> int:
    """Train the generator the arguments describe (one process of a ``--nproc`` run)."""
    distributed.init_from_env()
    data = _load(args)
    config, settings, run = _config(args, data), _settings(args), _run(args)
    pool = None
    if args.unlabelled is not None:
        pool = load_unlabelled(args.unlabelled, data.sample_shape, progress=run["progress"])
    recipe = args.model is None and not args.per_class
    model = args.model or _init_kind(args.init) or DEFAULT_RECIPE.for_data(data).model
    augment = None if args.augment == "none" else args.augment
    if recipe and args.augment is None:
        augment = DEFAULT_RECIPE.for_data(data).augment
    if augment is not None and not data.is_image:
        raise ValueError(f"--augment {augment} needs images, got a table of features")
    copies = args.augment_copies  # None: the recipe's (with a pool, enough to match it)
    if copies is None:
        pooled = 0 if pool is None else len(pool)
        chosen_copies = DEFAULT_RECIPE.for_data(data).copies_for(len(data), pooled)
        copies = (recipe and chosen_copies) or FitSettings.augment_copies
    settings["augment_copies"] = copies
    if distributed.is_main():
        _describe(args, data, model, augment, copies, recipe, pool)
    if recipe:
        chosen = DEFAULT_RECIPE.for_data(data)
        if args.init is None:  # the model flags change the recipe's config
            chosen = chosen.replace(config={**chosen.config, **config})
        else:  # the pretrained generator's config, which the model flags must agree with
            chosen = chosen.replace(model=model, config=config, init=args.init)
        result = chosen.fit(data, **settings, augment=augment, unlabelled=pool, **run)
    else:
        settings["epochs"] = 30 if args.epochs is None else args.epochs
        settings["patience"] = args.patience or 10
        if args.per_class:
            config |= {"per_class": True, "mix_in": args.mix_in}
        chosen = FitSettings(**settings, augment=augment)
        result = fit(model, data, chosen, config=config, init=args.init, unlabelled=pool, **run)
    if distributed.is_main():  # rank 0 alone writes
        _write_record(args, data, result, model, augment, copies, recipe, pool)
    return 0


def _write_record(
    args: argparse.Namespace,
    data: LabelledData,
    result: FitResult,
    model: str,
    augment: str | None,
    copies: int,
    recipe: bool,
    pool: Any = None,
) -> None:
    """``training.json``: the command, the data and how the run went."""
    unlabelled = 0 if pool is None else len(pool)
    record = {
        "command": "learned-aug " + shlex.join(sys.argv[1:]) if sys.argv else "",
        "data": str(args.data),
        "examples": len(data),
        "unlabelled": unlabelled,
        "trained_on": len(data) * (copies + 1 if augment else 1) + unlabelled,
        "recipe": "default" if recipe else None,
        "init": args.init,
        "model": model,
        "augment": augment,
        "augment_copies": copies if augment else 0,
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


def run(args: argparse.Namespace) -> int:
    """Train, in ``--nproc`` processes under torchrun when asked (relaunching this command)."""
    if args.nproc < 1:
        raise ValueError(f"--nproc must be >= 1, got {args.nproc}")
    if args.nproc > 1 and distributed.env_shard() is None:  # not yet under torchrun: launch
        return distributed.launch(args.nproc, without_option(args.argv, "--nproc"))
    try:
        return _train(args)
    finally:
        distributed.cleanup()
