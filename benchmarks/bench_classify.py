"""Accuracy of the generative classifier (Iser 2023) of every bundled class-aware generator.

``Generator.infer_labels`` takes the class whose ELBO is highest. This is what LearnedAugment
does with an image that comes without a label (a dataset's ``transform=`` sees the image
alone), so its accuracy is how often such an image is augmented as the right class.

Each generator is scored on the examples ``fit`` held out of its training: the stratified 15%
validation split of seed 0 (used for early stopping only, never for a gradient step), 750
MNIST-5k digits for the image generators and 27 wines for the tabular one. Two baselines on
the raw values (pixels, measurements), fitted to the other 85%, give context: the nearest
class mean and the nearest neighbour. The cost column is the time of ``infer_labels`` on a
batch divided by the time of the same generator's ``reconstruct`` on it (with the true
labels), both timed in the same run, rounds interleaved, best round kept: what classifying
adds to an augmentation.

A generator that is not class-aware (unconditional) is listed as such; one whose
``class_log_likelihood`` is not implemented yet is listed as pending.

    python benchmarks/bench_classify.py            # prints the table
    python benchmarks/bench_classify.py --write    # and updates docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from learned_aug import bundled_names, load_dataset, load_generator
from learned_aug.data import LabelledData, stratified_split

ROOT = Path(__file__).resolve().parents[1]
SECTION = "Generative classifier"
DATA = {3: "mnist-5k", 1: "wine"}  # by the rank of a generator's sample shape


def split(data: LabelledData) -> tuple[LabelledData, LabelledData]:
    """The train and validation parts fit() made of ``data`` (val_fraction 0.15, seed 0)."""
    train, val = stratified_split(data.y, 0.15, 0)
    return data.subset(train), data.subset(val)


def accuracy(pred: Tensor, y: Tensor) -> float:
    return float((pred == y).float().mean())


def pixel_baselines(train: LabelledData, val: LabelledData) -> dict[str, float]:
    """Nearest class mean and nearest neighbour on the raw values, trained on ``train``."""
    xt, xv = train.x.flatten(1), val.x.flatten(1)
    means = torch.stack([xt[train.y == k].mean(0) for k in range(len(train.classes))])
    return {
        "nearest class mean": accuracy(torch.cdist(xv, means).argmin(1), val.y),
        "nearest neighbour": accuracy(train.y[torch.cdist(xv, xt).argmin(1)], val.y),
    }


def best_times(jobs: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Seconds of each job, best round; rounds interleaved so that load slows all alike."""
    for fn in jobs.values():
        fn()  # warm-up
    best = dict.fromkeys(jobs, float("inf"))
    for _ in range(rounds):
        for name, fn in jobs.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


@torch.no_grad()
def score(name: str, val: LabelledData, batch_size: int, rounds: int) -> dict[str, object]:
    gen = load_generator(name).eval()
    row: dict[str, object] = {"generator": name, "kind": type(gen).__name__}
    if not gen.conditional:
        return {**row, "status": "not class-aware (unconditional)"}
    try:
        gen.infer_labels(val.x[:1])
    except NotImplementedError:
        return {**row, "status": "pending: class_log_likelihood not implemented"}
    pred = torch.cat([gen.infer_labels(x) for x in val.x.split(batch_size)])
    per_class = [accuracy(pred[val.y == k], val.y[val.y == k]) for k in range(len(val.classes))]
    x, y = val.x[:batch_size], val.y[:batch_size]
    times = best_times(
        {"classify": lambda: gen.infer_labels(x), "reconstruct": lambda: gen.reconstruct(x, y)},
        rounds,
    )
    return {
        **row,
        "status": "ok",
        "accuracy": accuracy(pred, val.y),
        "worst class": min(per_class),
        "cost": times["classify"] / times["reconstruct"],
    }


def table(rows: list[dict[str, object]], baselines: dict[str, dict[str, float]]) -> str:
    lines = [
        "Accuracy of `infer_labels` (the class with the highest ELBO) on the examples `fit` held",
        "out of training (the 15% validation split of seed 0). Cost: `infer_labels` time over",
        "`reconstruct` time on the same batch, in the same run.",
        "",
        "| generator | kind | held-out data | accuracy | worst class | cost / reconstruct |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        data = r["data"]
        if r["status"] != "ok":
            lines.append(f"| {r['generator']} | {r['kind']} | {data} | {r['status']} | | |")
            continue
        lines.append(
            f"| {r['generator']} | {r['kind']} | {data} | {r['accuracy']:.3f} "
            f"| {r['worst class']:.3f} | {r['cost']:.1f}x |"
        )
    for data, accs in baselines.items():
        for method, acc in accs.items():
            lines.append(f"| {method} on raw values (baseline) | | {data} | {acc:.3f} | | |")
    lines += ["", NOTES]
    if any(r["status"].startswith("pending") for r in rows):
        lines += ["", "A pending row is measured by running the command again once it lands."]
    return "\n".join(lines)


NOTES = (
    "LearnedAugment classifies only images that come without a fitting label, only for a "
    "label-conditioned generator, and only when the strategy reads the class: with its default "
    "strategy (`vq-resample`) a VQ-VAE never classifies, so its cost column matters for "
    "`prior` and `reconstruct` alone. The VQ-VAE scores each class with one pass of its "
    "autoregressive prior; a class-conditional VAE with one batched encoder-decoder pass over "
    "every (example, class) pair."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
    splits = {rank: split(load_dataset(name)) for rank, name in DATA.items()}
    rows, used = [], set()
    for name in bundled_names():
        rank = len(load_generator(name).sample_shape)
        used.add(rank)
        row = score(name, splits[rank][1], args.batch_size, args.rounds)
        rows.append({**row, "data": f"{DATA[rank]} ({len(splits[rank][1])})"})
        print(row)
    baselines = {
        f"{DATA[rank]} ({len(splits[rank][1])})": pixel_baselines(*splits[rank])
        for rank in sorted(used, reverse=True)
    }
    text = table(rows, baselines)
    print(text)
    if args.write:
        sys.path.insert(0, str(ROOT))
        from benchmarks._docs import write_section

        write_section(SECTION, text, "benchmarks/bench_classify.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
