"""``learned-aug evaluate --data mnist-5k --quick``, timed end to end in a fresh process.

Prints the CPU, the threads, the wall time and the CPU time (user + system) of the command, the
precision the classifier trained in, and each condition's seconds and macro F1. On a machine
shared with other work the wall time grows with the load; the CPU time of a one-thread run
(``--threads 1``) does not, and bounds what the run takes on an idle core.

    python benchmarks/bench_evaluate_quick.py --threads 1   # --write updates docs/benchmarks.md
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

from _docs import bench_args, markdown_table, parse, publish
from _timing import run_cli

from learned_aug.precision import cpu_model, native_bf16

COMMAND = ["evaluate", "--data", "mnist-5k", "--quick", "--no-progress"]
LIMIT_S = 300  # issue 14: under five minutes on a plain 2-core AVX2 CPU
NOTE = (
    "`--quick` runs three seeds (one row per seed and condition above), each fitting its own "
    "generator: a verdict needs the spread between seeds. Every condition of a seed trains the "
    "classifier for the same steps on batches of 64 (the protocol's `ClassifierRecipe`)."
)


def report(wall: float, cpu: float, summary: str, threads: str, out: Path) -> str:
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    load = os.getloadavg()[0]
    under = ["yes" if seconds < LIMIT_S else "no" for seconds in (wall, cpu)]
    times = markdown_table(
        ["wall time", "CPU time (user + system)", "wall < 5 min", "CPU time < 5 min"],
        [[f"{wall:.0f} s", f"{cpu:.0f} s", *under]],
    )
    conditions = markdown_table(
        ["condition", "seconds", "classifier steps", "macro F1"],
        [
            [
                r["condition"],
                f"{float(r['seconds']):.0f}",
                r["steps"],
                f"{float(r['macro_f1']):.3f}",
            ]
            for r in rows
        ],
    )
    return "\n\n".join(
        [
            f"`learned-aug {' '.join(COMMAND)} --out runs/quick` in a fresh process. CPU: "
            f"{cpu_model()} (native bf16: {', '.join(native_bf16()) or 'none'}), {threads} "
            f"threads; 1-minute load average {load:.1f} at the end (the command itself included).",
            times,
            f"The command's summary: `{summary}`",
            conditions,
            NOTE,
        ]
    )


def main() -> None:
    args = parse(bench_args(__doc__, threads=None))
    threads = str(args.threads) if args.threads else f"{os.cpu_count()} (default)"
    print(f"CPU {cpu_model()}, {threads} threads", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu, stdout = run_cli([*COMMAND, "--out", tmp], args.threads, capture=True)
        text = report(wall, cpu, stdout.strip().splitlines()[-1], threads, Path(tmp))
    publish(text, "learned-aug evaluate --quick", args.write)


if __name__ == "__main__":
    main()
