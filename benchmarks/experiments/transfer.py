"""Generators that know more than the few labelled images: transfer and unlabelled pools.

Two ways a generator can bring information the user's labelled images do not hold, each run
under the suite's yardstick (``learned_aug.evaluation``: one classifier recipe, equal steps and
batches, final weights, the compute-matched control ``randaugment-views``):

* **transfer** (DAGAN's protocol, Antoniou et al. 2018): a generator pretrained on *source*
  classes (``omniglot-vae``: 216 characters of seven Omniglot alphabets) used on *target*
  classes it never saw: Omniglot's Latin letters (``letters-omniglot``) and, across datasets,
  the MNIST digits (inverted to black on white, as Omniglot draws). ``transfer`` fine-tunes it
  on the cell's training images with the default recipe (``learned-aug fit --init
  omniglot-vae``); ``transfer-asis`` uses it without fine-tuning (``epochs=0``: new classes at
  the mean class, the latent bank of the cell's images).
* **unlabelled** (the M2 idea of Kingma et al. 2014): the default recipe trained on the cell's
  labelled images plus a pool of unlabelled images of the same kind (``learned-aug fit
  --unlabelled POOL``). The pool is half of the dataset, drawn once and never used by the
  protocol; the cells (their training and test images) are drawn from the other half.

Every condition of a cell trains the same classifier for the same steps from the same weights.
Seeds 0-4 are reported; nothing here was tuned (the generator and the recipe are the defaults).

    python -m benchmarks.experiments.transfer --jobs 2 --resume
    python -m benchmarks.experiments.transfer --only omniglot --seeds 0 1

Writes docs/transfer/transfer.csv (one row a run); ``python -m benchmarks.experiments.report``
builds the transfer section of docs/results.md from it.
"""

from __future__ import annotations

import argparse
import csv
import statistics
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from learned_aug.data import LabelledData, load_dataset, stratified_split
from learned_aug.evaluation import EvaluationConfig, LearnedSpec, register_learned, run_protocol
from learned_aug.evaluation.report import gain_interval, paired, wilcoxon_test
from learned_aug.training import DEFAULT_RECIPE, FitResult, Recipe

ROOT = Path(__file__).resolve().parents[2]
CSV = ROOT / "docs" / "transfer" / "transfer.csv"
BASELINES = ("none", "randaugment", "randaugment-views", "trivialaugment", "randaugment+learned")
CONTROL = "randaugment-views"
INIT = "omniglot-vae"


@dataclass(frozen=True)
class Pair:
    """One experiment: a target dataset, how it is loaded, and what the generator knows.

    ``init``: the pretrained generator (transfer); ``pool``: the fraction of the dataset set
    aside as unlabelled images (the unlabelled-pool path); one of the two.
    """

    dataset: str
    per_class: tuple[int, ...]
    source: str
    image_size: int | None = None
    invert: bool = False
    init: str | None = None
    pool: float | None = None
    conditions: tuple[str, ...] = field(default=())


TRANSFER = ("transfer", "randaugment+transfer", "transfer-asis", "randaugment+transfer-asis")
UNLABELLED = ("unlabelled", "randaugment+unlabelled")
PAIRS: dict[str, Pair] = {
    "omniglot": Pair(
        "letters-omniglot", (2, 5, 10), "7 Omniglot alphabets -> Latin", 32, init=INIT,
        conditions=(*BASELINES, *TRANSFER),
    ),
    "omniglot-mnist": Pair(
        "mnist-5k", (5, 10), "7 Omniglot alphabets -> MNIST digits", 32, invert=True,
        init=INIT, conditions=(*BASELINES, *TRANSFER),
    ),
    "mnist-pool": Pair(
        "mnist-5k", (5, 10), "MNIST: 2,500 unlabelled digits", pool=0.5,
        conditions=(*BASELINES, *UNLABELLED),
    ),
    "digits-pool": Pair(
        "digits", (5, 10), "8x8 digits: 901 unlabelled digits", pool=0.5,
        conditions=(*BASELINES, *UNLABELLED),
    ),
}  # fmt: skip
"""The experiments by name, at 5 and 10 images a class, and Omniglot at 2 (DAGAN's 1 is below the
protocol's two a class; Latin has 14 training drawings a letter, so its 15 is out)."""


@dataclass(frozen=True)
class PoolRecipe(Recipe):
    """The default recipe trained with an unlabelled pool (``fit(..., unlabelled=pool)``)."""

    pool: Any = None

    def fit(self, data: Any, *, scale: float = 1.0, **options: Any) -> FitResult:
        return super().fit(data, scale=scale, unlabelled=self.pool, **options)


def _data(pair: Pair) -> tuple[LabelledData, LabelledData | None]:
    """The protocol's data and the unlabelled pool (None without one)."""
    data = load_dataset(pair.dataset, image_size=pair.image_size)
    if pair.invert:
        data = LabelledData(1.0 - data.x, data.y, data.classes)
    if pair.pool is None:
        return data, None
    kept, pooled = stratified_split(data.y, pair.pool, seed=0)  # the same pool for every seed
    return data.subset(kept), data.subset(pooled)


def _register(pair: Pair, pool: LabelledData | None) -> None:
    if pair.init is not None:
        register_learned(
            "transfer", LearnedSpec("transfer", None), DEFAULT_RECIPE.replace(init=pair.init)
        )
        register_learned(
            "transfer-asis",
            LearnedSpec("transfer-asis", None),
            DEFAULT_RECIPE.replace(init=pair.init, min_epochs=0, max_epochs=0),
        )
    if pool is not None:
        recipe = PoolRecipe(**{**DEFAULT_RECIPE.__dict__, "pool": pool.x})
        register_learned("unlabelled", LearnedSpec("unlabelled", None), recipe)  # fmt: skip


def run_cell(name: str, per_class: int, seed: int, done: frozenset) -> list[dict]:
    """One (experiment, images per class, seed), in a worker process."""
    torch.set_num_threads(1)
    pair = PAIRS[name]
    data, pool = _data(pair)
    _register(pair, pool)
    config = EvaluationConfig(
        sizes=(per_class * len(data.classes),),
        seeds=[seed],
        conditions=pair.conditions,
        amp=False,
    )
    rows = run_protocol(data, config, progress=False, skip=done)
    return [{"pair": name, "dataset": pair.dataset, "per_class": per_class, **r} for r in rows]


FIELDS = ["pair", "dataset", "per_class", "size", "seed", "condition", "macro_f1", "accuracy",
          "pixel_lr_f1", "steps", "batch_size", "real_per_step", "synthetic_per_step",
          "final_loss", "n_test", "seconds", "sample_accuracy", "real_accuracy", "cas",
          "copy_ratio"]  # fmt: skip


def read(path: Path = CSV) -> list[dict]:
    """The CSV's rows, numbers as numbers."""
    if not path.is_file():
        return []
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    for r in rows:
        for k, v in r.items():
            if k not in ("pair", "dataset", "condition") and v not in ("", None):
                r[k] = float(v) if any(c in v for c in ".e") else int(v)
    return rows


# --------------------------------------------------------------------------- the page
COMPARE = (
    ("randaugment+transfer", CONTROL, "transfer + RA − control"),
    ("randaugment+transfer-asis", CONTROL, "as-is + RA − control"),
    ("transfer", "none", "transfer − none"),
    ("randaugment+unlabelled", CONTROL, "unlabelled + RA − control"),
    ("unlabelled", "none", "unlabelled − none"),
    ("randaugment+learned", CONTROL, "default learned + RA − control"),
    ("randaugment", "none", "RA − none"),
)


def _diff(rows: list[dict], a: str, b: str) -> str:
    d = [100 * (x - y) for x, y in paired(rows, a, b)]
    if len(d) < 2:
        return ""
    low, high = gain_interval(d)
    return (
        f"{statistics.fmean(d):+.2f} [{low:+.1f}, {high:+.1f}] ({sum(v > 0 for v in d)}/{len(d)})"
    )


def _mean(rows: list[dict], condition: str, key: str = "macro_f1") -> str:
    v = [100 * float(r[key]) for r in rows if r["condition"] == condition and r.get(key) != ""]
    return f"{statistics.fmean(v):.1f}" if v else ""


def section(rows: list[dict]) -> str:
    """The transfer section of docs/results.md, from the transfer CSV."""
    rows = [r for r in rows if r["pair"] in PAIRS and r["per_class"] in PAIRS[r["pair"]].per_class]
    if not rows:
        return "Not run yet: `python -m benchmarks.experiments.transfer --jobs 2`."
    out = [SECTION_NOTE]
    header = ["experiment", "per class", "seeds", "pixel LR", "none", "RA", "control", "TA",
              "learned + RA", "transfer / unlabelled", "+ RA", "as-is + RA"]  # fmt: skip
    lines, diffs = [], []
    for name, pair in PAIRS.items():
        for n in pair.per_class:
            part = [r for r in rows if r["pair"] == name and r["per_class"] == n]
            if not part:
                continue
            mine = "transfer" if pair.init else "unlabelled"
            lines.append([f"{name} ({pair.source})", n, len({r["seed"] for r in part}),
                          _mean(part, "none", "pixel_lr_f1"), *(_mean(part, c) for c in BASELINES),
                          _mean(part, mine), _mean(part, f"randaugment+{mine}"),
                          _mean(part, "randaugment+transfer-asis")])  # fmt: skip
            diffs.append([name, n, *(_diff(part, a, b) for a, b, _ in COMPARE)])
    out += ["### Macro F1 x 100 (mean over seeds)", _table(header, lines)]
    labels = ["experiment", "per class", *(label for *_, label in COMPARE)]
    out += ["### Paired differences in macro-F1 points: mean [95% interval] (seeds better)",
            _table(labels, diffs)]  # fmt: skip
    tests = []
    keyed = [{**r, "size": (r["pair"], r["size"])} for r in rows]  # pairs by experiment too
    for a, b, label in COMPARE[:2] + COMPARE[3:4]:
        t = wilcoxon_test(keyed, a, b)
        if t["n"]:
            tests.append([label, t["n"], f"{100 * t['mean_diff']:+.2f}", f"{t['wins']}/{t['n']}",
                          f"{t['p_greater']:.2g}"])  # fmt: skip
    out += ["### Over every pair and size (one-sided Wilcoxon, greater)",
            _table(["comparison", "runs", "mean", "better", "p"], tests)]  # fmt: skip
    cas = []
    for name, pair in PAIRS.items():
        for n in pair.per_class:
            part = [r for r in rows if r["pair"] == name and r["per_class"] == n]
            for c in ("transfer", "transfer-asis", "unlabelled", "learned"):
                by_seed = {
                    r["seed"]: r
                    for r in part
                    if r["condition"] in (c, f"randaugment+{c}") and r.get("cas") not in ("", None)
                }
                if by_seed:
                    got = list(by_seed.values())
                    score = f"{statistics.fmean(100 * r['cas'] for r in got):.1f}"
                    real = f"{statistics.fmean(100 * r['real_accuracy'] for r in got):.1f}"
                    cas.append([name, n, c, score, real])
    cas_header = ["experiment", "per class", "generator", "CAS", "train on real"]
    out += ["### CAS: a classifier trained on samples alone against the same on the real images",
            CAS_NOTE, _table(cas_header, cas)]  # fmt: skip
    return "\n\n".join(out)


def _table(header: list[str], rows: list[list]) -> str:
    from benchmarks._docs import markdown_table

    return markdown_table(header, rows)


SECTION_NOTE = (
    "`python -m benchmarks.experiments.transfer --jobs 2` (docs/transfer/transfer.csv; seeds 0-4 "
    "unless the seeds column says fewer). `omniglot-vae` is pretrained on 216 characters of seven "
    "Omniglot alphabets and judged on classes it never saw: Omniglot's 26 Latin letters, and "
    "the MNIST digits (inverted to black on white). `transfer` fine-tunes it on the cell's "
    "images with the default recipe (`learned-aug fit --data D --init omniglot-vae`), `as-is` "
    "uses it without training (new classes at its mean class). The unlabelled rows train the "
    "default recipe on the labelled images plus half of the dataset as an unlabelled pool "
    "(`--unlabelled`); their cells are drawn from the other half. The control is "
    "`randaugment-views` (the same batch, its synthetic half a second RandAugment view). "
    "DAGAN (Antoniou et al. 2018) reports, with its own classifier (a DenseNet trained with "
    "early stopping on a validation set), Omniglot 5 per class 69% → 82% accuracy, "
    "Omniglot → EMNIST 73.9% → 76%, VGG-Face 4.5% → 12%; it judges against no augmentation, "
    "not against a compute-matched RandAugment control, and its Omniglot split has 1,623 "
    "characters where this one has the 242 that brendenlake/omniglot keeps in plain git."
)
CAS_NOTE = (
    "The Classification Accuracy Score: a logistic regression trained on the generator's pool "
    "alone (the cell's real images never shown to it), tested on the test images, beside the "
    "same classifier trained on the cell's real images (accuracy x 100; the protocol's quality "
    "report, `learned_aug.training.diagnostics`)."
)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=sorted(PAIRS), default=list(PAIRS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--per-class", nargs="+", type=int, help="only these sizes")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--resume", action="store_true", help="skip the runs already in --out")
    p.add_argument("--out", type=Path, default=CSV)
    args = p.parse_args(argv)
    old = read(args.out) if args.resume else []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cells = [
        (name, n, s)
        for s in args.seeds
        for name in args.only
        for n in PAIRS[name].per_class
        if not args.per_class or n in args.per_class
    ]
    with open(args.out, "a" if args.resume else "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
        if not old:
            writer.writeheader()
        with ProcessPoolExecutor(args.jobs) as pool:
            futures = []
            for name, n, s in cells:
                done = frozenset(
                    (int(r["size"]), s, r["condition"])
                    for r in old
                    if (r["pair"], r["per_class"], r["seed"]) == (name, n, s)
                )
                futures.append(pool.submit(run_cell, name, n, s, done))
            for future in as_completed(futures):
                rows = future.result()
                writer.writerows(rows)
                f.flush()
                for r in rows[:1]:
                    print(f"{r['pair']} {r['per_class']}/class seed {r['seed']} done", flush=True)


if __name__ == "__main__":
    main()
