"""Timing for the bench scripts: jobs in interleaved rounds, and the CLI in a fresh process."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from _docs import ROOT  # benchmarks/ is on sys.path when a script runs


def best_seconds(jobs: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Seconds of each job, best round; rounds interleave the jobs, so load slows all alike."""
    for fn in jobs.values():
        fn()  # warm-up: allocator, oneDNN kernel choice
    best = dict.fromkeys(jobs, float("inf"))
    for _ in range(rounds):
        for name, fn in jobs.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def run_cli(
    args: Sequence[str], threads: int | None = None, capture: bool = False
) -> tuple[float, float, str]:
    """``learned-aug *args`` in a fresh process, as a user runs it: its wall seconds, CPU seconds
    (user + system) and, with ``capture``, its standard output (else it goes to the console).

    ``threads`` sets OMP_NUM_THREADS and MKL_NUM_THREADS for it (default: torch's own choice).
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if threads is not None:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "learned_aug.cli", *args],
        env=env,
        check=True,
        capture_output=capture,
        text=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout or ""
