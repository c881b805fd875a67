"""``learned-aug fit``: arguments and the run, kept here so cli.py stays small."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from learned_aug.conventional import CONVENTIONAL
from learned_aug.models import MODELS


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().replace("x", ",").split(",")
    try:
        values = tuple(int(p) for p in parts if p)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected H,W or HxW or one int, got {text!r}") from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected H,W or HxW or one int, got {text!r}")
    return values  # type: ignore[return-value]


def add_args(p: argparse.ArgumentParser) -> None:
    """The arguments of ``learned-aug fit``."""
    kinds = sorted(k for k in MODELS if k != "classwise")
    p.add_argument(
        "--data",
        required=True,
        help="an ImageFolder directory (root/<class>/<image>), a CSV file of feature rows "
        "(see --label-column) or a bundled dataset: mnist-5k (5,000 real MNIST digits), "
        "digits (scikit-learn 8x8 digits), breast-cancer, wine",
    )
    p.add_argument("--model", default="vae", choices=kinds, help="generator kind (default: vae)")
    p.add_argument(
        "--per-class",
        action="store_true",
        help="train one generator per class (the multi-VAE of Garay-Maestre et al.)",
    )
    p.add_argument(
        "--mix-in",
        type=float,
        default=0.0,
        help="with --per-class, fraction of other classes mixed into each member's data",
    )
    p.add_argument(
        "--conditional",
        action="store_true",
        help="one class-conditional generator (a CVAE) instead of an unconditional one",
    )
    p.add_argument("--latent-dim", type=int, default=None, help="latent size d (vae default: 8)")
    p.add_argument("--beta", type=float, default=None, help="beta-VAE weight of the KL term")
    p.add_argument("--beta-norm", action="store_true", help="use beta_norm = beta * d / N")
    p.add_argument(
        "--likelihood",
        choices=["bernoulli", "gaussian"],
        default=None,
        help="decoder likelihood: bernoulli (BCE, digits) or gaussian (MSE)",
    )
    p.add_argument(
        "--label-column",
        default=None,
        help="with a CSV --data, the column holding the labels (default: the last column)",
    )
    p.add_argument("--codebook-size", type=int, default=None, help="vqvae: number of codes K")
    p.add_argument("--embedding-dim", type=int, default=None, help="vqvae: size of each code")
    p.add_argument(
        "--prior-epochs",
        type=int,
        default=None,
        help="vqvae: most epochs of the second stage, the prior (default: --epochs)",
    )
    p.add_argument(
        "--corruption",
        default=None,
        help="dvae: corruption preset the encoder sees (default, noise, erase, none)",
    )
    p.add_argument("--epochs", type=int, default=30, help="most epochs (default: 30)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: 1e-3)")
    p.add_argument(
        "--optimizer",
        default="adam",
        choices=["adam", "adamw", "rmsprop"],
        help="optimizer (default: adam)",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.15,
        help="validation split for early stopping (default: 0.15)",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=10,
        help="epochs without improvement before stopping (default: 10)",
    )
    p.add_argument("--kl-warmup", type=int, default=0, help="epochs of linear KL warm-up")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, ...")
    p.add_argument(
        "--image-size",
        type=_size,
        default=None,
        help="resize images to H,W (default: the most common size in the folder)",
    )
    p.add_argument(
        "--channels",
        type=int,
        choices=[1, 3],
        default=None,
        help="convert images to 1 (grayscale) or 3 (RGB) channels",
    )
    p.add_argument(
        "--augment",
        default=None,
        choices=sorted(CONVENTIONAL),
        help="train on the images plus --augment-copies copies under this conventional "
        "augmentation, so the generator learns that variety too (images only)",
    )
    p.add_argument(
        "--augment-copies",
        type=int,
        default=4,
        help="augmented copies of every image with --augment (default: 4)",
    )
    p.add_argument("--out", required=True, help="run folder for checkpoint, weights and samples")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="train in N processes with DistributedDataParallel, launched through torchrun; "
        "--batch-size stays the global batch (default: 1)",
    )


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
    from learned_aug.training import distributed, fit

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
    if args.augment is not None:
        from learned_aug.conventional import augmented_copies

        if not data.is_image:
            raise ValueError(f"--augment {args.augment} needs images, got a table of features")
        data = augmented_copies(data, args.augment, args.augment_copies, seed=args.seed)
    config = {
        k: v
        for k, v in {
            "latent_dim": args.latent_dim,
            "beta": args.beta,
            "likelihood": args.likelihood,
            "codebook_size": args.codebook_size,
            "embedding_dim": args.embedding_dim,
            "corruption": args.corruption,
        }.items()
        if v is not None
    }
    if getattr(data, "columns", None):  # a CSV's schema: continuous and categorical columns
        config["columns"] = [c.to_dict() for c in data.columns]
    train = STAGED_FITS.get(args.model, fit)
    if args.prior_epochs is not None:
        if train is fit:
            raise ValueError(
                f"--prior-epochs is for models trained in stages {sorted(STAGED_FITS)}"
            )
        config["prior_epochs"] = args.prior_epochs
    if args.beta_norm:
        config["beta_norm"] = True
    if args.conditional:
        config["conditional"] = True
    if distributed.is_main():
        print(
            f"data: {len(data)} examples of shape {tuple(data.sample_shape)}, "
            f"{len(data.classes)} classes",
            file=sys.stderr,
        )
    result = train(
        args.model,
        data,
        per_class=args.per_class,
        mix_in=args.mix_in,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        val_fraction=args.val_fraction,
        patience=args.patience,
        kl_warmup=args.kl_warmup,
        seed=args.seed,
        device=args.device,
        out=args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        **config,
    )
    if not distributed.is_main():  # rank 0 alone writes
        return 0
    record = {
        "command": "learned-aug " + shlex.join(sys.argv[1:]) if sys.argv else "",
        "data": str(args.data),
        "examples": len(data),
        "augment": args.augment,
        "augment_copies": args.augment_copies if args.augment else 0,
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
