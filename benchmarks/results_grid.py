"""The MNIST-5k grid of docs/results.md: training sizes x seeds x conditions, in worker processes.

Each (size, seed) cell runs the few-shot protocol (``learned_aug.evaluation``) for every
condition in its own process; results.csv is rewritten as each cell finishes, so an interrupted
grid resumes from it.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch
from torchvision.utils import make_grid
from tqdm.auto import tqdm

from learned_aug.data import balanced_subset, load_dataset
from learned_aug.evaluation.conditions import LEARNED as LEARNED_SPECS
from learned_aug.evaluation.conditions import fit_generator, synthetic_pool
from learned_aug.evaluation.protocol import EvaluationConfig, run_protocol
from learned_aug.evaluation.report import read_csv, write_csv

# The default path (what `learned-aug fit` trains without model flags, sampled as
# SyntheticDataset does by default) and RandAugment tuned per size, both chosen on seeds 5-6
# (never reported): see "Choosing" in docs/results.md.
LEARNED = "learned"
RA = "randaugment-tuned"
CONDITIONS = ("none", RA, LEARNED, f"{RA}+{LEARNED}", "aug")
# Seeds the choices were made on (docs/results_tuning.csv): the reported grid skips them.
TUNING_SEEDS = (5, 6)
# The classifier budget of the earlier grids (two CPU cores); generators get the default
# path's own budget (generator_scale=1.0: what `learned-aug fit` trains).
SETTINGS = {
    "cnn_width": 0.25,
    "max_steps": 2000,
    "min_steps_per_epoch": 20,
    "generator_scale": 1.0,
}


def reported_seeds(first: int, count: int) -> list[int]:
    """``count`` seeds from ``first`` up, leaving out ``TUNING_SEEDS``; a grid that starts on a
    tuning seed is a tuning grid and takes consecutive seeds.

    >>> reported_seeds(3, 4), reported_seeds(5, 2)
    ([3, 4, 7, 8], [5, 6])
    """
    if first in TUNING_SEEDS:
        return list(range(first, first + count))
    seeds: list[int] = []
    seed = first
    while len(seeds) < count:
        if seed not in TUNING_SEEDS:
            seeds.append(seed)
        seed += 1
    return seeds


def run_cell(size: int, seed: int, conditions: list[str], done: set, settings: dict):
    """One (size, seed) of the grid, in a worker process."""
    torch.set_num_threads(1)
    config = EvaluationConfig(sizes=(size,), seeds=[seed], conditions=conditions, **settings)
    rows = run_protocol("mnist-5k", config, progress=False, skip=done)
    return [{"dataset": "mnist-5k", **r} for r in rows]


def run_in_workers(
    csv_path: Path,
    records: list[dict],
    calls: list[tuple],
    sort_key,
    jobs: int,
    desc: str,
    runs_per_call: int = 1,
) -> list[dict]:
    """Run ``fn(*args)`` for each ``(fn, *args)`` of ``calls`` in ``jobs`` spawned worker
    processes, adding the records each returns to ``records`` and rewriting ``csv_path``
    (sorted by ``sort_key``) as each finishes, so an interrupted grid resumes from it."""
    ctx = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(jobs, mp_context=ctx) as pool,
        tqdm(total=len(calls) * runs_per_call, desc=desc, unit="run") as bar,
    ):
        futures = [pool.submit(*call) for call in calls]
        for future in as_completed(futures):
            records.extend(future.result())
            records.sort(key=sort_key)
            write_csv(records, csv_path)
            bar.update(runs_per_call)
    return records


def run_grid(
    csv_path: Path,
    sizes: list[int],
    seeds: list[int],
    conditions: list[str],
    settings: dict,
    jobs: int = 2,
    resume: bool = False,
) -> list[dict]:
    """Every (size, seed, condition) run, written to ``csv_path`` as each cell finishes;
    ``resume`` keeps the runs already there and skips them."""
    records = read_csv(csv_path) if resume and csv_path.exists() else []
    done = {(r["size"], r["seed"], r["condition"]) for r in records}
    # seed-major, so a grid stopped early still covers every size for its first seeds
    calls = [(run_cell, size, seed, conditions, done, settings) for seed in seeds for size in sizes]
    return run_in_workers(
        csv_path,
        records,
        calls,
        lambda r: (r["size"], r["seed"], conditions.index(r["condition"])),
        jobs,
        "evaluate",
        len(conditions),
    )


def sample_figure(
    path: Path, generator_scale: float, size: int = 50, seed: int = 0, per_class: int = 6
) -> None:
    """A PNG of the training images of one (size, seed) beside the learned pools drawn from them.

    The same draw, generators and pools as the grid's run of that (size, seed): each panel has
    one row per class.
    """
    import matplotlib  # only for this figure

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    torch.set_num_threads(1)
    data = load_dataset("mnist-5k")
    train = balanced_subset(data, size // len(data.classes), seed)[0]
    panels = {f"training images ({size})": train}
    for name in (LEARNED,):
        spec = LEARNED_SPECS[name]
        gen = fit_generator(spec.generator, train, seed, generator_scale)
        panels[f"{name} (default path) samples"] = synthetic_pool(spec, gen, train, seed)[0]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 5.4))
    for ax, (title, part) in zip(axes, panels.items(), strict=True):
        rows = []
        for c in range(len(data.classes)):
            row = part.x[part.y == c][:per_class]
            blank = torch.ones(per_class - len(row), *row.shape[1:])  # fewer real images
            rows.append(torch.cat([row, blank]))
        grid = make_grid(torch.cat(rows), nrow=per_class, padding=1, pad_value=1.0)
        ax.imshow(grid.permute(1, 2, 0).numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.suptitle(f"MNIST-5k, {size} training images (seed {seed}): one row per class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
