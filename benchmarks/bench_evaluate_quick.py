"""``learned-aug evaluate --data mnist-5k --quick``, timed end to end in a fresh process.

Prints the CPU, the threads, the wall time and the CPU time (user + system) of the command, the
precision the classifier trained in, and each condition's seconds and macro F1. On a machine
shared with other work the wall time grows with the load; the CPU time of a one-thread run
(``--threads 1``) does not, and bounds what the run takes on an idle core.

    python benchmarks/bench_evaluate_quick.py --threads 1   # --write updates docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from learned_aug.speed import cpu_model, native_bf16

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["evaluate", "--data", "mnist-5k", "--quick", "--no-progress"]
LIMIT_S = 300  # issue 14: under five minutes on a plain 2-core AVX2 CPU


def run(threads: int | None, out: Path) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and the summary line of one run."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if threads is not None:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "learned_aug.cli", *COMMAND, "--out", str(out)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout.strip().splitlines()[-1]


def report(wall: float, cpu: float, summary: str, threads: str, out: Path) -> str:
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    load = os.getloadavg()[0]
    lines = [
        f"`learned-aug {' '.join(COMMAND)} --out runs/quick` in a fresh process. CPU: "
        f"{cpu_model()} (native bf16: {', '.join(native_bf16()) or 'none'}), {threads} "
        f"threads; 1-minute load average {load:.1f} at the end (the command itself included).",
        "",
        "| wall time | CPU time (user + system) | wall < 5 min | CPU time < 5 min |",
        "|---|---|---|---|",
        f"| {wall:.0f} s | {cpu:.0f} s | {'yes' if wall < LIMIT_S else 'no'} | "
        f"{'yes' if cpu < LIMIT_S else 'no'} |",
        "",
        f"The command's summary: `{summary}`",
        "",
        "| condition | seconds | classifier steps | macro F1 |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['condition']} | {float(row['seconds']):.0f} | {row['steps']} | "
            f"{float(row['macro_f1']):.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=None, help="default: torch's (cores)")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    threads = str(args.threads) if args.threads else f"{os.cpu_count()} (default)"
    print(f"CPU {cpu_model()}, {threads} threads", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu, summary = run(args.threads, Path(tmp))
        text = report(wall, cpu, summary, threads, Path(tmp))
    print(text)
    if args.write:
        from _docs import write_section  # benchmarks/ is on sys.path when run as a script

        write_section("learned-aug evaluate --quick", text, " ".join(sys.argv))


if __name__ == "__main__":
    main()
