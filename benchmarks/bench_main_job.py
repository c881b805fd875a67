"""The README's main job, timed end to end in a fresh process, and what its run folder holds.

Runs ``learned-aug fit --data mnist-5k --out ...`` (the README's command: the default path, the
recommended recipe) in a subprocess, as a user would, and prints the CPU, the threads, the wall
time (process start to exit: imports, data, augmented copies, training, the run folder), the
best validation loss, the generator's quality report, and the sizes of checkpoint.pt (by part)
against model.safetensors. ``--job per-class`` times the previous main job
(``--per-class --latent-dim 3 --epochs 15``) instead.

    python benchmarks/bench_main_job.py             # --write records it in docs/benchmarks.md
    python benchmarks/bench_main_job.py --epochs 2  # a quick check (the section says so)
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch
from _docs import bench_args, markdown_table, parse, publish
from _timing import run_cli

from learned_aug.precision import choose_autocast, cpu_model
from learned_aug.training.checkpoint import CHECKPOINT_NAME, load_checkpoint

JOBS = {
    "recipe": ["fit", "--data", "mnist-5k"],
    "per-class": [
        "fit",
        "--data",
        "mnist-5k",
        "--per-class",
        "--latent-dim",
        "3",
        "--epochs",
        "15",
    ],
}


def tensor_bytes(value) -> int:
    """Bytes of the tensors in a (nested) checkpoint value."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(tensor_bytes(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(tensor_bytes(v) for v in value)
    return len(value) if isinstance(value, str) else 8


def report(out: Path, seconds: float, job: list[str], quick: bool, threads: int) -> str:
    record = json.loads((out / "training.json").read_text())
    quality = json.loads((out / "quality.json").read_text())
    history = json.loads((out / "history.json").read_text())
    state = load_checkpoint(out / CHECKPOINT_NAME)
    mib = 2**20
    weights = (out / "model.safetensors").stat().st_size / mib
    checkpoint = (out / CHECKPOINT_NAME).stat().st_size / mib
    parts = ", ".join(
        f"{name} {tensor_bytes(value) / mib:.1f} MiB"
        for name, value in state.items()
        if tensor_bytes(value) >= mib / 10
    )
    epoch_s = sorted(row["seconds"] for row in history)[len(history) // 2]
    amp = choose_autocast("cpu")
    named = quality.get("classifier_accuracy_samples")
    header = ["wall time", "examples trained on", "epochs run", "median epoch"]
    header += ["best validation loss (epoch)", "samples a classifier names correctly"]
    row = [
        f"{seconds:.0f} s",
        record.get("trained_on", record["examples"]),
        record["epochs_run"],
        f"{epoch_s:.1f} s",
        f"{record['best_val_loss']:.1f} ({record['best_epoch']})",
        "n/a" if named is None else f"{named:.0%}",
    ]
    return "\n".join(
        [
            f"`learned-aug {' '.join(job)} --out runs/mnist`"
            f"{' (shortened: a quick check, not the README job)' if quick else ''}, in a "
            f"fresh process. CPU: {cpu_model()}, {threads} threads, "
            f"{'bf16 autocast' if amp.enabled else 'float32'} ({amp.reason}).",
            "",
            markdown_table(header, [row]),
            "",
            "The validation loss of a run with augmented copies is measured on images and "
            "their copies, so it does not compare with a run without them."
            if record.get("augment")
            else "",
            "",
            f"Run folder: model.safetensors {weights:.1f} MiB (the best weights); "
            f"checkpoint.pt {checkpoint:.1f} MiB = {checkpoint / weights:.2f}x model.safetensors: "
            f"{parts}, and the counters, settings, config and history (kB). The best weights "
            "are not repeated in it (the resume reads them from model.safetensors).",
        ]
    )


def main() -> None:
    parser = bench_args(__doc__, threads=None)
    parser.add_argument("--job", choices=sorted(JOBS), default="recipe")
    parser.add_argument("--epochs", type=int, default=None, help="shorten (a quick check)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the run folder here")
    args = parse(parser)
    threads = args.threads or torch.get_num_threads()
    print(f"CPU {cpu_model()}, {threads} threads", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp) / "run"
        job = JOBS[args.job] + ([] if args.epochs is None else ["--epochs", str(args.epochs)])
        seconds = run_cli([*job, "--out", str(out), "--no-progress"], args.threads)[0]
        text = report(out, seconds, job, args.epochs is not None, threads)
    title = "README main job" if args.job == "recipe" else "Previous main job (per class)"
    publish(text, title, args.write)


if __name__ == "__main__":
    main()
