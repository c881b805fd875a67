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

import torch
from _docs import bench_args, markdown_table, parse, publish
from _timing import best_seconds
from torch import Tensor

from learned_aug import bundled_names, load_dataset, load_generator
from learned_aug.data import LabelledData, stratified_split
from learned_aug.precision import cpu_model

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
    times = best_seconds(
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
    cells = []
    for r in rows:
        head = [r["generator"], r["kind"], r["data"]]
        if r["status"] != "ok":
            cells.append([*head, r["status"], "", ""])
            continue
        scores = [f"{r['accuracy']:.3f}", f"{r['worst class']:.3f}", f"{r['cost']:.1f}x"]
        cells.append([*head, *scores])
    for data, accs in baselines.items():
        for method, acc in accs.items():
            cells.append([f"{method} on raw values (baseline)", "", data, f"{acc:.3f}", "", ""])
    header = ["generator", "kind", "held-out data", "accuracy", "worst class"]
    parts = [
        "Accuracy of `infer_labels` (the class with the highest ELBO) on the examples `fit` held\n"
        "out of training (the 15% validation split of seed 0). Cost: `infer_labels` time over\n"
        "`reconstruct` time on the same batch, in the same run.",
        markdown_table([*header, "cost / reconstruct"], cells),
        NOTES,
    ]
    if any(r["status"].startswith("pending") for r in rows):
        parts.append("A pending row is measured by running the command again once it lands.")
    return "\n\n".join(parts)


NOTES = (
    "LearnedAugment classifies only images that come without a fitting label, only for a "
    "label-conditioned generator, and only when the strategy reads the class: with its default "
    "strategy (`vq-resample`) a VQ-VAE never classifies, so its cost column matters for "
    "`prior` and `reconstruct` alone. The VQ-VAE scores each class with one pass of its "
    "autoregressive prior; a class-conditional VAE with one batched encoder-decoder pass over "
    "every (example, class) pair."
)


def main() -> None:
    args = parse(bench_args(__doc__, rounds=3, batch_size=250))
    print(f"CPU: {cpu_model()}, {torch.get_num_threads()} threads")
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
    publish(table(rows, baselines), SECTION, args.write)


if __name__ == "__main__":
    main()
