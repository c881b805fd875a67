"""The ``learned-aug`` command line: fit | sample | info (and more, registered in COMMANDS)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from learned_aug.models import MODELS

Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
COMMANDS: dict[str, Command] = {}


def command(name: str, help: str):
    """Register a subcommand: the decorated function adds its arguments, ``run`` does the work."""

    def wrap(add_args: Callable[[argparse.ArgumentParser], None]):
        def register_run(run: Callable[[argparse.Namespace], int]):
            COMMANDS[name] = (help, add_args, run)
            return run

        return register_run

    return wrap


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


# ------------------------------------------------------------------------------------ fit
def _fit_args(p: argparse.ArgumentParser) -> None:
    kinds = sorted(k for k in MODELS if k != "classwise")
    p.add_argument(
        "--data",
        required=True,
        help="an ImageFolder directory (root/<class>/<image>) or a bundled dataset: "
        "mnist-5k (5,000 real MNIST digits), digits (scikit-learn 8x8 digits)",
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
    p.add_argument("--out", required=True, help="run folder for checkpoint, weights and samples")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


@command("fit", "train a generator on an ImageFolder or a bundled dataset")(_fit_args)
def run_fit(args: argparse.Namespace) -> int:
    from learned_aug.data import load_dataset
    from learned_aug.training import fit

    data = load_dataset(
        args.data, image_size=args.image_size, channels=args.channels, progress=not args.no_progress
    )
    config = {
        k: v
        for k, v in {
            "latent_dim": args.latent_dim,
            "beta": args.beta,
            "likelihood": args.likelihood,
        }.items()
        if v is not None
    }
    if args.beta_norm:
        config["beta_norm"] = True
    if args.conditional:
        config["conditional"] = True
    print(
        f"data: {len(data)} examples of shape {tuple(data.sample_shape)}, "
        f"{len(data.classes)} classes",
        file=sys.stderr,
    )
    result = fit(
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
    record = {
        "command": "learned-aug " + shlex.join(sys.argv[1:]) if sys.argv else "",
        "data": str(args.data),
        "examples": len(data),
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


# ------------------------------------------------------------------------------------ sample
def _sample_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("generator", help="a run folder, a bundled name or a Hub repo id")
    p.add_argument("-n", type=int, required=True, help="number of samples to write")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--out", required=True, help="output folder: an ImageFolder, one subfolder per class"
    )
    p.add_argument("--batch-size", type=int, default=256, help="samples per batch (default: 256)")
    p.add_argument("--device", default="cpu", help="device to sample on (default: cpu)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


@command("sample", "write generated samples as an ImageFolder of PNGs")(_sample_args)
def run_sample(args: argparse.Namespace) -> int:
    from learned_aug.datasets import SyntheticDataset
    from learned_aug.hub import load_generator

    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise FileExistsError(f"--out {str(out)!r} is not empty; pass --overwrite to write into it")
    generator = load_generator(args.generator, device=args.device)
    dataset = SyntheticDataset(generator, n=args.n, seed=args.seed)
    dataset.to_folder(out, batch_size=args.batch_size, progress=not args.no_progress)
    print(f"wrote {args.n} samples of {len(dataset.classes)} classes to {out}/")
    return 0


# ------------------------------------------------------------------------------------ info
def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("generator", help="a run folder, a bundled name or a Hub repo id")
    p.add_argument("--json", action="store_true", help="print the description as JSON")


@command("info", "describe a generator checkpoint")(_info_args)
def run_info(args: argparse.Namespace) -> int:
    from learned_aug.hub import load_generator

    gen = load_generator(args.generator)
    info = {
        "class": type(gen).__name__,
        "model_type": gen.config.model_type,
        "sample_shape": list(gen.sample_shape),
        "classes": gen.classes,
        "conditional": gen.conditional,
        "parameters": sum(p.numel() for p in gen.parameters()),
        "config": gen.config.to_dict(),
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        if key != "config":
            print(f"{key:>13}: {value}")
    print("       config:", json.dumps(info["config"], sort_keys=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="learned-aug",
        description="Learned data augmentation: train generators on a small labelled dataset, "
        "sample from them, evaluate whether they help a classifier.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, add_args, _) in COMMANDS.items():
        add_args(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``learned-aug`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command][2](args)
    except (ValueError, TypeError, OSError, RuntimeError) as err:
        if getattr(args, "debug", False):
            raise
        print(f"learned-aug {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
