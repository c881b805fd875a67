"""Tune the protocol's classifier recipe for the *baselines*, once, on the tuning dataset.

``ClassifierRecipe``'s learning rate, step floor and label smoothing are chosen here for the
conditions without a generator (no augmentation and RandAugment), on MNIST-5k (the tuning
dataset, never reported) with tuning seeds 5 and 6, at 5 and 20 images per class; the learned
conditions then train under the frozen recipe and are never tuned against it. Writes
docs/tuning/classifier.csv (one row a run) and prints the mean macro F1 of each setting.

    python benchmarks/experiments/tune_classifier.py --jobs 2
"""

from __future__ import annotations

import argparse
import csv
import itertools
import statistics
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import torch

from learned_aug.data import load_dataset
from learned_aug.evaluation import ClassifierRecipe, EvaluationConfig, run_protocol

OUT = Path(__file__).resolve().parents[2] / "docs" / "tuning" / "classifier.csv"
GRID = {"lr": (1e-3, 3e-3), "min_steps": (200, 400, 800), "label_smoothing": (0.0, 0.1)}
SEEDS, PER_CLASS, CONDITIONS = (5, 6), (5, 20), ("none", "randaugment")


def _run(setting: dict, per_class: int, seed: int) -> list[dict]:
    torch.set_num_threads(1)
    data = load_dataset("mnist-5k")
    recipe = replace(ClassifierRecipe(), **setting)
    config = EvaluationConfig(
        sizes=(per_class * len(data.classes),),
        seeds=[seed],
        conditions=CONDITIONS,
        recipe=recipe,
        bf16=False,
    )
    rows = run_protocol(data, config, progress=False)
    return [{**setting, "per_class": per_class, **r} for r in rows]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    settings = [dict(zip(GRID, v, strict=True)) for v in itertools.product(*GRID.values())]
    calls = [(s, n, seed) for s in settings for n in PER_CLASS for seed in SEEDS]
    rows: list[dict] = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for found in pool.map(_run, *zip(*calls, strict=True)):
            rows += found
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fields = [*GRID, "per_class", "seed", "condition", "macro_f1", "pixel_lr_f1", "steps"]
    with open(OUT, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    for s in settings:
        f1 = [r["macro_f1"] for r in rows if all(r[k] == v for k, v in s.items())]
        print(s, f"{100 * statistics.fmean(f1):.2f}")


if __name__ == "__main__":
    main()
