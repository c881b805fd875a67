"""Reproduce docs/results.md: does the default learned path help on MNIST-5k?

Runs the few-shot protocol (``learned_aug.evaluation``) over training sizes x seeds x
conditions, writing every run to docs/results.csv as it goes, then docs/results.md (tables
side by side with the published numbers, Wilcoxon tests, target checks) and
docs/results_f1.png. The page also reads the CSVs of ``learned-aug evaluate`` on the 8x8
digits (docs/digits/) and on the tabular sets (docs/tabular/, docs/tabular-wine/), and the
tuning runs (docs/results_tuning.csv), so it is rebuilt from CSVs alone.

This is the command line: results_grid.py runs the grid, results_stats.py holds the statistics
and results_report.py fills templates/results.md.tmpl.

    python benchmarks/run_results.py --seeds 10     # the grid (2 CPU cores; see the page)
    python benchmarks/run_results.py --resume       # continue an interrupted grid
    python benchmarks/run_results.py --report-only  # rebuild the docs from the CSVs
    python benchmarks/run_results.py --choose-randaugment  # TUNED_RANDAUGMENT from tuning
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch
from results_grid import CONDITIONS, SETTINGS, TUNING_SEEDS, reported_seeds, run_grid, sample_figure
from results_report import report

from learned_aug.evaluation.augment import choose_randaugment
from learned_aug.evaluation.protocol import DEFAULT_SIZES
from learned_aug.evaluation.report import read_csv

DOCS = Path(__file__).resolve().parents[1] / "docs"
# Flags that do not change what the grid computes, left out of the command the page shows.
NOT_SHOWN = ("--resume", "--report-only", "--samples")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    p.add_argument("--seeds", type=int, default=5, help="how many seeds")
    p.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help=f"seeds first-seed, first-seed+1, ..., skipping the tuning seeds {TUNING_SEEDS} "
        "unless first-seed is one of them (a tuning grid)",
    )
    p.add_argument("--conditions", nargs="+", default=list(CONDITIONS))
    p.add_argument("--out", type=Path, default=DOCS)
    p.add_argument("--resume", action="store_true", help="skip runs already in results.csv")
    p.add_argument("--report-only", action="store_true", help="only rebuild the docs")
    p.add_argument(
        "--samples",
        action="store_true",
        help="also draw results_samples.png: training images and learned pools of 50 images, "
        "seed 0",
    )
    p.add_argument("--jobs", type=int, default=2, help="worker processes, one thread each")
    p.add_argument(
        "--choose-randaugment",
        action="store_true",
        help="print the per-size RandAugment settings the tuning runs choose and exit",
    )
    p.add_argument("--max-steps", type=int, default=None, help="override the step cap (smoke)")
    return p.parse_args(argv)


def main() -> int:
    args = parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.choose_randaugment:
        print(choose_randaugment(read_csv(args.out / "results_tuning.csv")))
        return 0
    settings = dict(SETTINGS)
    if args.max_steps is not None:
        settings.update(max_steps=args.max_steps, generator_scale=0.05)
    csv_path = args.out / "results.csv"
    if args.report_only:
        records = read_csv(csv_path)
    else:
        seeds = reported_seeds(args.first_seed, args.seeds)
        records = run_grid(
            csv_path, args.sizes, seeds, args.conditions, settings, args.jobs, args.resume
        )
    argv = [a for a in sys.argv[1:] if a not in NOT_SHOWN]
    command = "python benchmarks/run_results.py " + shlex.join(argv)
    if args.samples:
        sample_figure(args.out / "results_samples.png", settings["generator_scale"])
    report(records, args.out, command.strip(), settings)
    print((args.out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
