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


def _without_option(argv: Sequence[str], option: str) -> list[str]:
    """``argv`` less ``option VALUE`` / ``option=VALUE`` (torchrun would take it for its own)."""
    kept, skip = [], False
    for arg in argv:
        if not skip and arg != option and not arg.startswith(option + "="):
            kept.append(arg)
        skip = arg == option and not skip
    return kept


@command("fit", "train a generator on an ImageFolder or a bundled dataset")(_fit_args)
def run_fit(args: argparse.Namespace) -> int:
    from learned_aug.training import distributed

    if args.nproc < 1:
        raise ValueError(f"--nproc must be >= 1, got {args.nproc}")
    if args.nproc > 1 and distributed.env_shard() is None:  # not yet under torchrun: launch
        return distributed.launch(args.nproc, _without_option(args.argv, "--nproc"))
    try:
        return _fit(args)
    finally:
        distributed.cleanup()


def _fit(args: argparse.Namespace) -> int:
    from learned_aug.data import load_dataset
    from learned_aug.training import distributed, fit

    distributed.init_from_env()
    if str(args.data).lower().endswith(".csv"):
        from learned_aug.tabular_data import load_csv

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


# ------------------------------------------------------------------------------------ sample
def _sample_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("generator", help="a run folder, a bundled name or a Hub repo id")
    p.add_argument("--revision", default=None, help="Hub branch, tag or commit of a repo id")
    p.add_argument("-n", type=int, required=True, help="number of samples to write")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--out",
        required=True,
        help="output folder: an ImageFolder of PNGs, one subfolder per class "
        "(samples.csv for a tabular generator)",
    )
    p.add_argument("--batch-size", type=int, default=256, help="samples per batch (default: 256)")
    p.add_argument("--device", default="cpu", help="device to sample on (default: cpu)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--shard",
        type=_shard,
        default=None,
        help="write only shard i/N (items i, i+N, ...) so N processes fill one --out together; "
        "default under torchrun: RANK/WORLD_SIZE",
    )


def _shard(text: str) -> tuple[int, int]:
    from learned_aug.training.distributed import parse_shard

    try:
        return parse_shard(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


@command("sample", "write generated samples as an ImageFolder of PNGs")(_sample_args)
def run_sample(args: argparse.Namespace) -> int:
    from learned_aug.datasets import SyntheticDataset
    from learned_aug.hub import load_generator
    from learned_aug.training.distributed import env_shard, shard_indices

    out, shard = Path(args.out), args.shard or env_shard()
    # Shards fill one folder side by side (files are named by item index), so only an
    # unsharded run insists on an empty --out.
    if shard is None and out.exists() and any(out.iterdir()) and not args.overwrite:
        raise FileExistsError(f"--out {str(out)!r} is not empty; pass --overwrite to write into it")
    generator = load_generator(args.generator, revision=args.revision, device=args.device)
    dataset = SyntheticDataset(generator, n=args.n, seed=args.seed)
    indices = None if shard is None else shard_indices(args.n, *shard)
    write = dict(batch_size=args.batch_size, progress=not args.no_progress, indices=indices)
    if len(generator.sample_shape) == 1:  # tabular rows: one CSV (one per shard)
        name = "samples.csv" if shard is None else f"samples-{shard[0]}-of-{shard[1]}.csv"
        dataset.to_csv(out / name, **write)
    else:
        dataset.to_folder(out, **write)
    part = "" if shard is None else f" (shard {shard[0]}/{shard[1]}: {len(indices)} items)"
    print(
        f"wrote {args.n if shard is None else len(indices)} samples{part} of "
        f"{len(dataset.classes)} classes to {out}/"
    )
    return 0


# ------------------------------------------------------------------------------------ info
def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("generator", help="a run folder, a bundled name or a Hub repo id")
    p.add_argument("--revision", default=None, help="Hub branch, tag or commit of a repo id")
    p.add_argument("--json", action="store_true", help="print the description as JSON")


@command("info", "describe a generator checkpoint")(_info_args)
def run_info(args: argparse.Namespace) -> int:
    from learned_aug.hub import load_generator

    gen = load_generator(args.generator, revision=args.revision)
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


# ------------------------------------------------------------------------------------ evaluate
def _evaluate_args(p: argparse.ArgumentParser) -> None:
    from learned_aug.evaluation.command import add_args

    add_args(p)


@command("evaluate", "does learned augmentation help? F1 over training sizes and seeds")(
    _evaluate_args
)
def run_evaluate(args: argparse.Namespace) -> int:
    from learned_aug.evaluation.command import run

    return run(args)


# ------------------------------------------------------------------------------------ push
def _push_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", help="a generator folder, e.g. the --out of `learned-aug fit`")
    p.add_argument("repo_id", help="the Hub repo to push to: user/name or org/name")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument(
        "--revision",
        "--branch",
        dest="branch",
        default=None,
        help="branch to push to, created if missing (default: main)",
    )
    p.add_argument("--commit-message", default=None, help="message of the Hub commit")
    p.add_argument(
        "--token", default=None, help="Hub token (default: HF_TOKEN or the `hf auth login` one)"
    )
    p.add_argument(
        "--dry-run",
        metavar="DIR",
        default=None,
        help="write the files that would be uploaded into DIR and push nothing",
    )


@command("push", "upload a generator to the Hugging Face Hub (safetensors + model card)")(
    _push_args
)
def run_push(args: argparse.Namespace) -> int:
    from learned_aug.hub import check_repo_id, push_folder, stage_upload

    check_repo_id(args.repo_id)  # every check runs before the first request
    if args.dry_run is not None:
        files = stage_upload(args.folder, args.dry_run, args.repo_id)
        print(f"dry run: would upload {files} to {args.repo_id}; wrote them to {args.dry_run}/")
        return 0
    url = push_folder(
        args.folder,
        args.repo_id,
        private=args.private,
        branch=args.branch,
        commit_message=args.commit_message,
        token=args.token,
    )
    print(f"pushed {args.folder} to {args.repo_id}: {url}")
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
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for relaunching (fit --nproc)
    try:
        return COMMANDS[args.command][2](args)
    except (ValueError, TypeError, OSError, RuntimeError) as err:
        if getattr(args, "debug", False):
            raise
        print(f"learned-aug {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
