"""The ``learned-aug`` command line: fit | sample | info | evaluate | push (registered in COMMANDS).

Parsing imports no torch (``learned-aug --help`` answers at once): the arguments are defined in
``learned_aug.arguments``, and each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from learned_aug import arguments

Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
COMMANDS: dict[str, Command] = {}


def command(name: str, help: str, add_args: Callable[[argparse.ArgumentParser], None]):
    """Register a subcommand: ``add_args`` adds its arguments, the decorated run does the work."""

    def register(run: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = (help, add_args, run)
        return run

    return register


# ------------------------------------------------------------------------------------ fit
@command("fit", "train a generator on an ImageFolder or a bundled dataset", arguments.fit_args)
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
@command("sample", "write generated samples as an ImageFolder of PNGs", arguments.sample_args)
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
    labels = "unlabelled" if args.unlabelled else "balanced"
    dataset = SyntheticDataset(generator, n=args.n, seed=args.seed, labels=labels)
    indices = None if shard is None else shard_indices(args.n, *shard)
    write = dict(batch_size=args.batch_size, progress=not args.no_progress, indices=indices)
    if len(generator.sample_shape) == 1:  # tabular rows: one CSV (one per shard)
        name = "samples.csv" if shard is None else f"samples-{shard[0]}-of-{shard[1]}.csv"
        dataset.to_csv(out / name, **write)
    else:
        dataset.to_folder(out, **write)
    part = "" if shard is None else f" (shard {shard[0]}/{shard[1]}: {len(indices)} items)"
    kinds = "unlabelled" if args.unlabelled else f"of {len(dataset.classes)} classes"
    count = args.n if shard is None else len(indices)
    print(f"wrote {count} samples{part} {kinds} to {out}/")
    return 0


# ------------------------------------------------------------------------------------ info
@command("info", "describe a generator checkpoint", arguments.info_args)
def run_info(args: argparse.Namespace) -> int:
    from learned_aug.hub import load_generator
    from learned_aug.hub.names import resolve
    from learned_aug.io import QUALITY_JSON

    gen = load_generator(args.generator, revision=args.revision)
    quality_file = Path(resolve(args.generator, revision=args.revision)) / QUALITY_JSON
    info = {
        "class": type(gen).__name__,
        "model_type": gen.config.model_type,
        "sample_shape": list(gen.sample_shape),
        "classes": gen.classes,
        "conditional": gen.conditional,
        "parameters": sum(p.numel() for p in gen.parameters()),
        "config": gen.config.to_dict(),
    }
    if quality_file.is_file():  # fit's report: collapsed, classless or copying?
        info["quality"] = json.loads(quality_file.read_text())
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        if key not in ("config", "quality"):
            print(f"{key:>13}: {value}")
    print("       config:", json.dumps(info["config"], sort_keys=True))
    if "quality" in info:
        print(quality_lines(info["quality"]))
    return 0


def quality_lines(report: dict) -> str:
    """fit's quality report (quality.json) in plain words, as ``info`` prints it."""
    lines = ["      quality:"]
    if report.get("latent_dims"):
        lines.append(
            f"  active latent units {report.get('active_units')} of {report['latent_dims']}"
        )
    if report.get("classifier_accuracy_samples") is not None:
        lines.append(
            "  a classifier of the real images names the class of "
            f"{report['classifier_accuracy_samples']:.0%} of the samples "
            f"({report.get('classifier_accuracy_real_val', float('nan')):.0%} of held-out real "
            "images)"
        )
    if report.get("copy_distance_ratio") is not None:
        lines.append(
            f"  copy ratio {report['copy_distance_ratio']:.2f} (distance to the nearest "
            "training image over the training images' own; near 0: copies)"
        )
    for warning in report.get("warnings", []):
        lines.append(f"  WARNING: {warning}")
    if len(lines) == 1:
        lines.append("  (nothing measured)")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ evaluate
@command(
    "evaluate",
    "does learned augmentation help? F1 over training sizes and seeds",
    arguments.evaluate_args,
)
def run_evaluate(args: argparse.Namespace) -> int:
    from learned_aug.evaluation.command import run

    return run(args)


# ------------------------------------------------------------------------------------ push
@command(
    "push",
    "upload a generator to the Hugging Face Hub (safetensors + model card)",
    arguments.push_args,
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
