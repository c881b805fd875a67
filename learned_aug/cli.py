"""The ``learned-aug`` command line: fit | sample | info (and more, registered in COMMANDS)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

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


# ------------------------------------------------------------------------------------ fit
def _fit_args(p: argparse.ArgumentParser) -> None:
    from learned_aug.training.command import add_args

    add_args(p)


@command("fit", "train a generator on an ImageFolder or a bundled dataset")(_fit_args)
def run_fit(args: argparse.Namespace) -> int:
    from learned_aug.training import distributed
    from learned_aug.training.command import run, without_option

    if args.nproc < 1:
        raise ValueError(f"--nproc must be >= 1, got {args.nproc}")
    if args.nproc > 1 and distributed.env_shard() is None:  # not yet under torchrun: launch
        return distributed.launch(args.nproc, without_option(args.argv, "--nproc"))
    try:
        return run(args)
    finally:
        distributed.cleanup()


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
