"""Training throughput of ``learned_aug.fit`` against a bare PyTorch loop, in the same run.

Both train the same model (same init) on the same real MNIST-5k training split with the same
batch size, optimizer and epochs; fit's time includes everything it does (validation, early
stopping bookkeeping, the progress bar off). Also times the README's main job end to end.

    python benchmarks/bench_fit.py            # prints a table; --write updates docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from learned_aug import create_generator, fit, load_dataset
from learned_aug.data import stratified_split

ROOT = Path(__file__).resolve().parents[1]
README_JOB = [
    "fit",
    "--data",
    "mnist-5k",
    "--per-class",
    "--latent-dim",
    "3",
    "--epochs",
    "15",
    "--no-progress",
]


def bare_loop(model, x, y, epochs: int, batch_size: int, lr: float) -> float:
    """The plain PyTorch loop: shuffle, forward, backward, step. Returns seconds."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    start = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch))
        for idx in order.split(batch_size):
            loss = model.loss(x[idx], y[idx])["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def compare(data, per_class: bool, epochs: int, batch_size: int, repeats: int) -> dict:
    """Same model, same training rows: the bare loop, fit on those rows alone, and fit with the
    15% validation split it holds out of the whole set (its default)."""
    train_idx, _ = stratified_split(data.y, 0.15, 0)
    train = data.subset(train_idx)
    x, y = train.x, train.y
    config = {"latent_dim": 3 if per_class else 8}
    rows = {"bare": [], "fit": [], "fit+val": []}
    for r in range(repeats):  # alternate so drift on a shared machine hits all alike
        torch.manual_seed(r)
        model = create_generator(
            "vae", data.sample_shape, data.classes, per_class=per_class, **config
        )
        rows["bare"].append(bare_loop(model, x, y, epochs, batch_size, 1e-3))
        for name, source, val in (("fit", train, 0.0), ("fit+val", data, 0.15)):
            torch.manual_seed(r)
            model = create_generator(
                "vae", data.sample_shape, data.classes, per_class=per_class, **config
            )
            start = time.perf_counter()
            fit(
                model,
                source,
                epochs=epochs,
                batch_size=batch_size,
                patience=None,
                val_fraction=val,
                progress=False,
                device="cpu",
                seed=r,
            )
            rows[name].append(time.perf_counter() - start)
    images = len(x) * epochs
    bare, fitted, validated = min(rows["bare"]), min(rows["fit"]), min(rows["fit+val"])
    return {
        "model": "per-class VAE (10 members)" if per_class else "VAE",
        "bare img/s": images / bare,
        "fit img/s": images / fitted,
        "ratio": bare / fitted,
        "val img/s": images / validated,
        "val ratio": bare / validated,
    }


def readme_job_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "learned_aug.cli", *README_JOB, "--out", f"{tmp}/run"],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start


def table(results: list[dict], job: float | None) -> str:
    lines = [
        "Training images per second over the same 4,250 real MNIST-5k training digits. `fit` "
        "trains on them alone (val_fraction=0); `fit + validation` is fit's default: it holds "
        "out 15% of the whole set and evaluates it after every epoch.",
        "",
        "| model | bare loop (img/s) | fit (img/s) | fit / bare | fit + validation (img/s) "
        "| fit + validation / bare |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['model']} | {r['bare img/s']:.0f} | {r['fit img/s']:.0f} | {r['ratio']:.2f}x "
            f"| {r['val img/s']:.0f} | {r['val ratio']:.2f}x |"
        )
    if job is not None:
        lines.append(f"\nREADME main job (`learned-aug {' '.join(README_JOB)}`): {job:.0f} s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-job", action="store_true", help="do not time the README job")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset("mnist-5k")
    results = [
        compare(data, pc, args.epochs, args.batch_size, args.repeats) for pc in (False, True)
    ]
    job = None if args.skip_job else readme_job_seconds()
    text = table(results, job)
    print(text)
    if args.write:
        from _docs import write_section  # benchmarks/ is on sys.path when run as a script

        write_section("fit against a bare PyTorch loop", text, " ".join(sys.argv))


if __name__ == "__main__":
    main()
