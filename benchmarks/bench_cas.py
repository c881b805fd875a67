"""Classification Accuracy Score of the default path on colour images (Ravuri & Vinyals 2019).

    python benchmarks/bench_cas.py --sizes 32 --seeds 2 3 4 5 6 7 --jobs 2 --write

For each image size and seed: 20 CIFAR-10 training images per class (``load_dataset("cifar10")``,
``balanced_subset`` with the seed), the generator ``learned-aug fit`` trains on them with its
default flags (``DEFAULT_RECIPE``, which picks its colour recipe for RGB data), 500 samples of
``SyntheticDataset(generator, 500)`` with its defaults; a standardised logistic regression on
pixels trained on the samples alone (CAS) and on the 200 real images, both scored on the 3,000
images of ``cifar10-test``. Each set of sizes, and each candidate, has its own section of
docs/benchmarks.md. Under the table: the mean of CAS - real over the seeds of each size
with its 95% Student-t interval (``learned_aug.evaluation.gain_interval``).

``--steps`` and ``--latent-dim`` replace the recipe's step budget and latent size, and
``--strategy`` the sampler (a name of ``STRATEGIES`` with its defaults): a candidate, not the
default path; its section says which. ``--cache DIR`` keeps each fitted generator in
``DIR`` (one folder per size, seed, steps and latent size) and reuses it on a later run with the
same arguments, so a candidate compared on more seeds refits nothing twice; its fit time is then
the sum of its epochs' times from ``history.json``. A cached run is what the code fitted when
it was made: empty ``DIR`` after changing the recipe or the models. Seeds 0 and 1 chose the
colour recipe's budget and are for tuning; report others.
"""

from __future__ import annotations

import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

import torch
from _docs import bench_args, markdown_table, parse, publish

from learned_aug import (
    DEFAULT_RECIPE,
    STRATEGIES,
    SyntheticDataset,
    load_dataset,
    load_generator,
)
from learned_aug.data import LabelledData, balanced_subset
from learned_aug.evaluation import gain_interval
from learned_aug.models import Generator
from learned_aug.training.diagnostics import classification_scores
from learned_aug.training.recipe import Recipe

SECTION = "Classification Accuracy Score on CIFAR-10"


class Row(NamedTuple):
    """One (size, seed): the recipe's steps and latent size, both accuracies, the fit time."""

    size: int
    seed: int
    steps: int
    latent: int
    real: float
    cas: float
    seconds: float


def title(sizes: list[int], steps: int | None, latent_dim: int | None, strategy: str | None) -> str:
    """The docs section of a run: one per set of sizes, and apart for a candidate."""
    given = (("steps", steps), ("latent", latent_dim), ("strategy", strategy))
    changes = [f"{k} {v}" for k, v in given if v is not None]
    what = "a candidate: " + ", ".join(changes) if changes else "the default path"
    return f"{SECTION} at {' and '.join(map(str, sizes))} px ({what})"


def _fitted(
    recipe: Recipe, few: LabelledData, seed: int, folder: Path | None
) -> tuple[Generator, float]:
    """The generator ``recipe`` fits on ``few`` (from ``folder`` when an earlier run left it
    there) and its training time in seconds."""
    if folder is not None and (folder / "model.safetensors").is_file():
        history = json.loads((folder / "history.json").read_text())
        return load_generator(folder), sum(row["seconds"] for row in history)
    start = time.perf_counter()
    result = recipe.fit(few, seed=seed, progress=False, device="cpu", out=folder)
    return result.model, time.perf_counter() - start


def one(
    size: int,
    seed: int,
    per_class: int,
    steps: int | None,
    latent_dim: int | None,
    cache: Path | None,
    strategy: str | None,
    threads: int,
) -> Row:
    torch.set_num_threads(threads)
    pool = load_dataset("cifar10", image_size=size)
    test = load_dataset("cifar10-test", image_size=size)
    few = balanced_subset(pool, per_class, seed=seed)[0]
    recipe = DEFAULT_RECIPE.for_data(few)
    recipe = recipe if steps is None else recipe.replace(steps=steps)
    if latent_dim is not None:
        recipe = recipe.replace(config={**recipe.config, "latent_dim": latent_dim})
    latent = recipe.config["latent_dim"]
    name = f"{size}px-{per_class}pc-seed{seed}-steps{recipe.steps}-latent{latent}"
    generator, seconds = _fitted(recipe, few, seed, None if cache is None else cache / name)
    x, y = SyntheticDataset(generator, 500, seed=seed, strategy=strategy).generate(range(500))
    s = classification_scores(few, test, x, y)
    real, cas = s["classifier_accuracy_real_val"], s["cas"]
    print(f"size {size} seed {seed}: real {real:.3f} CAS {cas:.3f} ({seconds:.0f} s)", flush=True)
    return Row(size, seed, recipe.steps, latent, real, cas, seconds)


def summary(rows: list[Row]) -> str:
    """A line per size: the mean of CAS - real over its seeds, with its 95% interval."""
    lines = []
    for size in sorted({r.size for r in rows}):
        diffs = [100 * (r.cas - r.real) for r in rows if r.size == size]
        low, high = gain_interval(diffs)
        mean = statistics.fmean(diffs)
        lines.append(
            f"- {size} px: CAS - real {mean:+.2f} points on average over {len(diffs)} seeds "
            f"(95% interval {low:+.2f} to {high:+.2f}); CAS at or above real in "
            f"{sum(d >= 0 for d in diffs)} of {len(diffs)}."
        )
    return "\n".join(lines)


def main() -> None:
    parser = bench_args(__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--latent-dim", type=int, default=None)
    parser.add_argument(
        "--strategy", choices=sorted(STRATEGIES), default=None, help="default: the dataset's"
    )
    parser.add_argument("--jobs", type=int, default=1, help="worker processes of --threads")
    parser.add_argument("--cache", type=Path, default=None, help="keep and reuse fitted runs")
    args = parse(parser)
    calls = [
        (
            size,
            seed,
            args.per_class,
            args.steps,
            args.latent_dim,
            args.cache,
            args.strategy,
            args.threads,
        )
        for size in args.sizes
        for seed in args.seeds
    ]
    with ProcessPoolExecutor(args.jobs) as workers:
        rows = list(workers.map(one, *zip(*calls, strict=True)))
    header = ["size", "seed", "steps", "latent", "trained on real", "CAS (on samples)"]
    header += ["CAS - real", "fit (s)"]
    table = [
        [size, seed, steps, latent, f"{real:.1%}", f"{cas:.1%}", f"{cas - real:+.1%}", f"{t:.0f}"]
        for size, seed, steps, latent, real, cas, t in rows
    ]
    text = (
        f"{args.per_class} real images per class; 500 samples; logistic regression on pixels; "
        "3,000 CIFAR-10 test images. Seeds 0 and 1 chose the colour recipe (tuning); report "
        f"others. Fit times: {args.jobs} worker process(es) of {args.threads} thread(s) sharing "
        "the cores; a run reused from --cache shows the sum of its epochs' times.\n\n"
        + markdown_table(header, table)
        + "\n\n"
        + summary(rows)
    )
    publish(text, title(args.sizes, args.steps, args.latent_dim, args.strategy), args.write)


if __name__ == "__main__":
    main()
