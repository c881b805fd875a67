"""Reproduce the suite section of docs/results.md: the default learned path on six datasets.

Runs the few-shot protocol over (dataset, images per class, seed) cells for none, RandAugment,
the default learned path (mixed by ``MixSampler`` at its default share) and both, writing every
run to docs/suite/suite.csv as it goes; results_suite.py holds the grid and the tables, and
``python benchmarks/run_results.py --report-only`` puts them on the page.

    python benchmarks/run_suite.py --seeds 5       # the suite (2 CPU cores; see the page)
    python benchmarks/run_suite.py --resume        # continue an interrupted suite
    python benchmarks/run_suite.py --quick-verdicts  # `evaluate --quick` on each dataset
    python benchmarks/run_suite.py --candidates --seeds 2  # variants, on the tuning dataset
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch
from results_suite import (
    CANDIDATES,
    SETTINGS,
    SUITE,
    run_candidates,
    run_quick_verdicts,
    run_suite,
    sample_figure,
    suite_section,
)

from learned_aug.speed import cpu_model

DOCS = Path(__file__).resolve().parents[1] / "docs"
NOT_SHOWN = ("--resume", "--samples-only", "--quick-verdicts", "--candidates", "--reported")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=list(SUITE), choices=list(SUITE))
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..n-1 per dataset and size")
    p.add_argument("--out", type=Path, default=DOCS / "suite")
    p.add_argument("--resume", action="store_true", help="skip runs already in suite.csv")
    p.add_argument(
        "--samples-only", action="store_true", help="only draw suite_samples.png (seed 0)"
    )
    p.add_argument(
        "--quick-verdicts",
        action="store_true",
        help="only run `learned-aug evaluate --quick` at each dataset's two smallest sizes",
    )
    p.add_argument(
        "--quick-seeds", type=int, default=1, help="--quick-verdicts: seeds per quick run"
    )
    p.add_argument(
        "--candidates",
        action="store_true",
        help="only run the candidate variants on the tuning dataset (resumes)",
    )
    p.add_argument(
        "--reported",
        action="store_true",
        help="--candidates: run them on the reported datasets' two smallest sizes instead",
    )
    p.add_argument(
        "--conditions",
        nargs="+",
        default=list(CANDIDATES),
        choices=list(CANDIDATES),
        help="--candidates: only these candidates and baselines",
    )
    p.add_argument("--jobs", type=int, default=2, help="worker processes, one thread each")
    p.add_argument("--max-steps", type=int, default=None, help="override the step cap (smoke)")
    p.add_argument(
        "--generator-scale", type=float, default=1.0, help="scale of generator budgets (smoke)"
    )
    return p.parse_args(argv)


def main() -> int:
    args = parse_args()
    torch.set_num_threads(1)
    print(f"{cpu_model()}, {args.jobs} worker processes of 1 thread", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    settings = dict(SETTINGS, generator_scale=args.generator_scale)
    if args.max_steps is not None:
        settings.update(max_steps=args.max_steps)
    csv_path = args.out / "suite.csv"
    if args.samples_only:
        sample_figure(args.out / "suite_samples.png")
        return 0
    if args.candidates:
        run_candidates(
            args.out,
            list(range(args.seeds)),
            settings,
            args.jobs,
            tuple(args.conditions),
            args.reported,
        )
        print(suite_section(csv_path, "python benchmarks/run_suite.py"))
        return 0
    if args.quick_verdicts:
        run_quick_verdicts(args.out, args.datasets, args.jobs, args.quick_seeds)
        print(suite_section(csv_path, "python benchmarks/run_suite.py"))
        return 0
    run_suite(csv_path, args.datasets, list(range(args.seeds)), settings, args.jobs, args.resume)
    argv = [a for a in sys.argv[1:] if a not in NOT_SHOWN]
    print(suite_section(csv_path, "python benchmarks/run_suite.py " + shlex.join(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
