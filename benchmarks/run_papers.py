"""Reproduce the seed papers' experiments on CIFAR-10 (docs/papers/, docs/results.md's section).

The denoising VAE (Rajagopalan 2021) against the same model without corruption, judged by a
linear probe and a fine-tuned head on its encoder over seeds, and the VQ-VAE with its
class-conditional prior: reconstructions and samples. Each model's row is appended to
docs/papers/*.csv as soon as it is done; results_papers.py holds the experiments.

    python benchmarks/run_papers.py                        # both, the page's budgets
    python benchmarks/run_papers.py --only dvae --seeds 0  # one part, one seed
    python benchmarks/run_papers.py --only vqvae --vq-seeds 0 1 --append  # add seed 1
    python benchmarks/run_papers.py --section              # print the section from the CSVs
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from _docs import read_rows
from papers_report import papers_section
from results_papers import (
    DVAE_CSV,
    DVAE_PNG,
    PAPERS,
    TIMES_CSV,
    VQVAE_CSV,
    append_row,
    corrupted,
    dvae_figure,
    dvae_seed,
    vqvae_seed,
)

from learned_aug import load_dataset


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=["dvae", "vqvae"], help="run one experiment")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="DVAE seeds")
    p.add_argument("--vq-seeds", type=int, nargs="+", default=[0, 1], help="VQ-VAE seeds")
    p.add_argument("--epochs", type=int, default=25, help="(denoising) VAE epochs")
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--head-epochs", type=int, default=20, help="fine-tuned head epochs")
    p.add_argument("--vq-epochs", type=int, default=25, help="VQ-VAE autoencoder epochs")
    p.add_argument("--prior-epochs", type=int, default=25)
    p.add_argument("--samples", type=int, default=2000, help="prior samples for the CAS")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument(
        "--append", action="store_true", help="keep the CSVs' rows and run only the seeds missing"
    )
    p.add_argument("--section", action="store_true", help="only print the page's section")
    return p.parse_args(argv)


def fresh(path: Path, append: bool) -> set[int]:
    """The seeds already in the CSV at ``path`` with ``append``; else remove it (none)."""
    if append:
        return {int(r["seed"]) for r in read_rows(path)}
    path.unlink(missing_ok=True)
    return set()


def run_dvae(args: argparse.Namespace) -> None:
    train, test = load_dataset("cifar10"), load_dataset("cifar10-test")
    noisy = corrupted(test, seed=0)
    done = fresh(PAPERS / DVAE_CSV, args.append)
    args.figure_models = {}
    for seed in [s for s in args.seeds if s not in done]:
        for row in dvae_seed(seed, train, test, noisy, args):
            append_row(PAPERS / DVAE_CSV, row)
            print(row, file=sys.stderr, flush=True)
        if args.figure_models:
            dvae_figure(args.figure_models, test, noisy, PAPERS / DVAE_PNG)
            args.figure_models = {}


def run_vqvae(args: argparse.Namespace) -> None:
    train, test = load_dataset("cifar10"), load_dataset("cifar10-test")
    done = fresh(PAPERS / VQVAE_CSV, args.append)
    for seed in [s for s in args.vq_seeds if s not in done]:
        row = vqvae_seed(seed, train, test, args)
        append_row(PAPERS / VQVAE_CSV, row)
        print(row, file=sys.stderr, flush=True)


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
    PAPERS.mkdir(parents=True, exist_ok=True)
    if not args.section:
        for name, run in {"dvae": run_dvae, "vqvae": run_vqvae}.items():
            if args.only in (None, name):
                start = time.perf_counter()
                run(args)
                seconds = time.perf_counter() - start
                print(f"{name}: {seconds:.0f} s", file=sys.stderr)
                append_row(PAPERS / TIMES_CSV, {"experiment": name, "seconds": round(seconds)})
    print(papers_section(PAPERS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
