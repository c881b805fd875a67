"""Reporting protocol runs: a Table-2-shaped markdown table, Wilcoxon tests, a CSV and a plot."""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from learned_aug.evaluation.conditions import CONDITIONS, CONTROL
from learned_aug.files import atomic_write, atomic_write_text

Record = dict[str, Any]
# Columns of the CSV, in order; numbers are parsed back by ``read_csv``.
FIELDS = (
    "dataset",
    "per_class",
    "size",
    "seed",
    "condition",
    "macro_f1",
    "weighted_f1",
    "accuracy",
    "pixel_lr_f1",
    "steps",
    "batch_size",
    "real_per_step",
    "images_per_step",
    "synthetic_per_step",
    "final_loss",
    "n_test",
    "seconds",
    "precision",
    "sample_accuracy",
    "real_accuracy",
    "cas",
    "active_units",
    "copy_ratio",
)
_METRIC_NAMES = {"macro_f1": "macro F1", "weighted_f1": "weighted F1", "accuracy": "accuracy"}
_INTS = {
    "per_class",
    "size",
    "seed",
    "steps",
    "batch_size",
    "real_per_step",
    "images_per_step",
    "synthetic_per_step",
    "n_test",
    "active_units",
}
_FLOATS = {
    "macro_f1",
    "pixel_lr_f1",
    "final_loss",
    "weighted_f1",
    "accuracy",
    "seconds",
    "sample_accuracy",
    "real_accuracy",
    "cas",
    "copy_ratio",
}


def write_csv(records: Iterable[Record], path: str | Path) -> None:
    """Write every run, one row each, atomically."""
    rows = list(records)

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)


def read_csv(path: str | Path) -> list[Record]:
    """Read runs written by ``write_csv``, numbers as numbers."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key in _INTS & row.keys():
            row[key] = int(row[key]) if row[key] != "" else None
        for key in _FLOATS & row.keys():
            row[key] = float(row[key]) if row[key] != "" else None
    return rows


def ordered(values: Iterable[Any]) -> list[Any]:
    """Distinct values in first-seen order."""
    return list(dict.fromkeys(values))


def summarize(records: Sequence[Record], metric: str = "macro_f1") -> dict[tuple, tuple]:
    """``(size, condition) -> (mean, std, n)`` of ``metric`` over seeds."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for r in records:
        groups[(r["size"], r["condition"])].append(float(r[metric]))
    return {
        key: (statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0, len(v))
        for key, v in groups.items()
    }


def markdown_table(
    records: Sequence[Record],
    metric: str = "macro_f1",
    *,
    conditions: Sequence[str] | None = None,
    published: dict[str, dict[int, float]] | None = None,
    scale: float = 100.0,
) -> str:
    """Rows: training sizes; columns: conditions as mean ± std over seeds (x ``scale``).

    ``published`` adds columns of reference numbers, ``{column name: {size: value}}``.
    """
    conditions = list(conditions or ordered(r["condition"] for r in records))
    sizes = sorted({r["size"] for r in records})
    stats = summarize(records, metric)
    published = published or {}
    header = ["size", *conditions, *published]
    lines = ["| " + " | ".join(header) + " |", "|" + " ---: |" * len(header)]
    for size in sizes:
        best = max((stats[(size, c)][0] for c in conditions if (size, c) in stats), default=None)
        cells = [str(size)]
        for c in conditions:
            if (size, c) not in stats:
                cells.append("–")
                continue
            mean, std, _ = stats[(size, c)]
            text = f"{mean * scale:.2f} ± {std * scale:.2f}"
            cells.append(f"**{text}**" if mean == best else text)
        cells += [_fmt(published[name].get(size)) for name in published]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def paired(records: Sequence[Record], a: str, b: str, metric: str = "macro_f1"):
    """Pairs ``(value under a, value under b)`` over the (size, seed) runs both have."""
    by = {(r["size"], r["seed"], r["condition"]): float(r[metric]) for r in records}
    keys = sorted({(s, d) for s, d, c in by if c == a} & {(s, d) for s, d, c in by if c == b})
    return [(by[(*k, a)], by[(*k, b)]) for k in keys]


def wilcoxon_test(
    records: Sequence[Record], a: str, b: str, metric: str = "macro_f1"
) -> dict[str, Any]:
    """Wilcoxon signed-rank test of ``a`` against ``b`` over paired (size, seed) runs.

    Returns the number of pairs, the mean difference a - b, how often a wins, and the two-sided
    and one-sided (a > b) p-values (NaN with fewer than two non-zero differences).
    """
    from scipy.stats import wilcoxon

    pairs = paired(records, a, b, metric)
    diffs = [x - y for x, y in pairs]
    out = {
        "a": a,
        "b": b,
        "n": len(diffs),
        "mean_diff": statistics.fmean(diffs) if diffs else float("nan"),
        "wins": sum(d > 0 for d in diffs),
        "p_two_sided": float("nan"),
        "p_greater": float("nan"),
    }
    if sum(d != 0 for d in diffs) >= 2:
        out["p_two_sided"] = float(wilcoxon(diffs).pvalue)
        out["p_greater"] = float(wilcoxon(diffs, alternative="greater").pvalue)
    return out


def default_pairs(conditions: Sequence[str]) -> list[tuple[str, str]]:
    """The comparisons the protocol asks about, for the conditions present."""
    present = set(conditions)
    modern = [c for c in ("trivialaugment", "randaugment") if c in present]
    conventional = ["aug", *modern]
    pairs = [(c, "none") for c in conventional if {c, "none"} <= present]
    for c in conditions:
        if c in {"none", *conventional} or ("+" in c and c.split("+")[0] in conventional):
            continue
        pairs += [(c, ref) for ref in ("none", "aug", *modern) if ref in present]
        pairs += [(f"{a}+{c}", a) for a in conventional if {a, f"{a}+{c}"} <= present]
    return pairs


VERDICT_MARGIN = 0.01
"""How far (in metric units: 0.01 is one macro-F1 point) a learned condition must be from its
base, on average, for ``verdict`` to call it a gain or a loss."""
VERDICT_CONFIDENCE = 0.95
"""The confidence of the interval a gain must clear: ``judge`` calls a gain only where the
two-sided Student-t interval of the mean difference over runs lies above zero."""


def gain_interval(
    diffs: Sequence[float], confidence: float = VERDICT_CONFIDENCE
) -> tuple[float, float]:
    """The two-sided Student-t interval of the mean of ``diffs`` (paired differences over
    runs); ``(-inf, inf)`` from a single run, which says nothing of the spread between seeds.

    Example:
        >>> low, high = gain_interval([0.02, 0.03, 0.04])
        >>> round(low, 4), round(high, 4)
        (0.0052, 0.0548)
    """
    from scipy.stats import t

    n = len(diffs)
    if n < 2:
        return float("-inf"), float("inf")
    mean, se = statistics.fmean(diffs), statistics.stdev(diffs) / n**0.5
    if se == 0:
        return mean, mean
    low, high = t.interval(confidence, n - 1, loc=mean, scale=se)
    return float(low), float(high)


def judge(
    diffs: Sequence[float],
    margin: float = VERDICT_MARGIN,
    confidence: float = VERDICT_CONFIDENCE,
) -> str:
    """``"helps"``, ``"costs"`` or ``"no clear gain"`` for a learned condition, from its paired
    differences over its base in each run (metric units).

    The call leans to caution, as a user deciding whether to train with it needs: a gain is
    called only where it is at least ``margin`` on average *and* clear of the noise between
    runs (the ``gain_interval`` lies above zero: so never from one run); a loss is called
    wherever the mean is at most ``-margin``, even from one run. On a few images per class the
    difference varies from seed to seed (docs/results.md shows by how much), so a single run's
    gain is a hint, not a verdict.

    Example:
        >>> judge([0.02, 0.03, 0.04]), judge([0.05]), judge([-0.02]), judge([0.08, -0.05])
        ('helps', 'no clear gain', 'costs', 'no clear gain')
    """
    if not diffs:
        raise ValueError("diffs must hold at least one paired difference, got none")
    mean = statistics.fmean(diffs)
    if mean <= -margin:
        return "costs"
    if mean >= margin and gain_interval(diffs, confidence)[0] > 0:
        return "helps"
    return "no clear gain"


def learned_pairs(conditions: Iterable[str]) -> list[tuple[str, str]]:
    """``(learned condition, its comparison)`` for the conditions present: ``learned`` against
    ``none``; ``randaugment+learned`` against the compute-matched control
    ``randaugment-views`` where it ran (else against ``randaugment``); another
    ``<augment>+<learned>`` against ``<augment>``.

    Example:
        >>> learned_pairs(["none", "randaugment", "randaugment-views", "learned",
        ...                "randaugment+learned"])
        [('learned', 'none'), ('randaugment+learned', 'randaugment-views')]
    """
    present = ordered(conditions)
    control = CONDITIONS[CONTROL]
    pairs = []
    for c in present:
        condition = CONDITIONS.get(c)
        if condition is not None and condition.learned is not None:
            base = condition.augment or "none"
            if condition.augment == control.augment and CONTROL in present:
                base = CONTROL
            if base in present:
                pairs.append((c, base))
    return pairs


PLAN = ("steps", "batch_size")
"""What every condition of one (dataset, size, seed) cell must share: the classifier's steps
and batch size."""


def unmatched(records: Sequence[Record]) -> list[str]:
    """The cells whose conditions trained for different numbers of steps or batch sizes, one
    line each; [] where every comparison is compute-matched.

    Example:
        >>> rows = [{"size": 50, "seed": 0, "condition": c, "steps": s, "batch_size": 64}
        ...         for c, s in (("none", 400), ("learned", 800))]
        >>> unmatched(rows)
        ["size 50, seed 0: steps {'none': 400, 'learned': 800}"]
    """
    cells: dict[tuple, list[Record]] = defaultdict(list)
    for r in records:
        cells[(r.get("dataset"), r["size"], r["seed"])].append(r)
    found = []
    for (dataset, size, seed), rows in cells.items():
        for key in PLAN:
            if len({r.get(key) for r in rows}) > 1:
                where = f"{dataset}, " if dataset else ""
                values = {r["condition"]: r.get(key) for r in rows}
                found.append(f"{where}size {size}, seed {seed}: {key} {values}")
    return found


def baseline_conditions(conditions: Iterable[str]) -> list[str]:
    """The conditions without a learned part (``none``, conventional ones, the control)."""
    return [c for c in ordered(conditions) if c in CONDITIONS and not CONDITIONS[c].learned]


def broken_baselines(records: Sequence[Record], metric: str = "macro_f1") -> list[str]:
    """The (size, baseline condition) cells whose mean ``metric`` over seeds is below the mean
    macro F1 of a logistic regression on the training images' pixels (``pixel_lr_f1``): a
    baseline a linear model on pixels beats is broken, not a finding. One line each; [] where
    every baseline clears it.

    Example:
        >>> rows = [{"size": 50, "seed": 0, "condition": "none", "macro_f1": 0.6,
        ...          "pixel_lr_f1": 0.7}]
        >>> broken_baselines(rows)
        ['size 50: none 60.00 < pixel logistic regression 70.00']
    """
    groups: dict[tuple, list[Record]] = defaultdict(list)
    for r in records:
        if r.get("pixel_lr_f1") is not None:
            groups[(r.get("dataset"), r["size"], r["condition"])].append(r)
    found = []
    baselines = set(baseline_conditions(r["condition"] for r in records))
    for (dataset, size, condition), rows in groups.items():
        if condition not in baselines:
            continue
        mean = statistics.fmean(float(r[metric]) for r in rows)
        floor = statistics.fmean(float(r["pixel_lr_f1"]) for r in rows)
        if mean < floor:
            where = f"{dataset}, " if dataset else ""
            found.append(
                f"{where}size {size}: {condition} {100 * mean:.2f} < pixel logistic regression "
                f"{100 * floor:.2f}"
            )
    return found


def verdict(
    records: Sequence[Record], metric: str = "macro_f1", margin: float = VERDICT_MARGIN
) -> str:
    """Does the learned augmentation help on this data? One line per learned condition.

    Each learned condition is compared with its comparison of ``learned_pairs`` (on top of
    RandAugment: the compute-matched control), over every (size, seed) run both have, and
    called by ``judge``: ``helps`` only where the mean
    gain is at least ``margin`` and its 95% interval over runs lies above zero, ``costs``
    wherever the mean is at most ``-margin`` (the line then says to train without it),
    otherwise ``no clear gain``, with the interval or, from one run, what it would take to
    tell.

    Example:
        >>> runs = [
        ...     {"size": 50, "seed": 0, "condition": "randaugment-views", "macro_f1": 0.80},
        ...     {"size": 50, "seed": 0, "condition": "randaugment+learned", "macro_f1": 0.77},
        ... ]
        >>> line = verdict(runs)
        >>> line[:74]
        '- randaugment+learned against randaugment-views: -3.00 macro F1 points (be'
        >>> "it costs points on this data; train with randaugment-views alone" in line
        True
    """
    name = _METRIC_NAMES.get(metric, metric)
    lines = []
    for a, b in learned_pairs(r["condition"] for r in records):
        diffs = [x - y for x, y in paired(records, a, b, metric)]
        if not diffs:
            continue
        mean, n = statistics.fmean(diffs), len(diffs)
        runs = f"better in {sum(d > 0 for d in diffs)} of {n} run{'s' if n > 1 else ''}"
        low, high = gain_interval(diffs)
        spread = (
            f"; {100 * VERDICT_CONFIDENCE:g}% interval {100 * low:+.2f} to {100 * high:+.2f}"
            if n > 1
            else ""
        )
        call = judge(diffs, margin)
        if call == "helps":
            said = "it helps on this data"
        elif call == "costs":
            said = f"it costs points on this data; train with {b} alone"
        elif n == 1:
            said = (
                "no clear gain: one run cannot tell a gain from the noise between seeds "
                "(rerun with --seeds 3 or more)"
            )
        else:
            said = (
                f"no clear gain: not at least +{100 * margin:g} points clear of the noise "
                "between runs; more seeds (--seeds) narrow the interval"
            )
        points = f"{100 * mean:+.2f} {name} points"
        lines.append(f"- {a} against {b}: {points} ({runs}{spread}): {said}.")
    return "\n".join(lines)


def wilcoxon_table(
    records: Sequence[Record],
    pairs: Sequence[tuple[str, str]] | None = None,
    metric: str = "macro_f1",
) -> str:
    """A markdown table of ``wilcoxon_test`` for each pair (default ``default_pairs``)."""
    pairs = pairs or default_pairs(ordered(r["condition"] for r in records))
    lines = [
        "| A | B | pairs | mean A − B (points) | A wins | p (two-sided) | p (A > B) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for a, b in pairs:
        t = wilcoxon_test(records, a, b, metric)
        lines.append(
            f"| {a} | {b} | {t['n']} | {t['mean_diff'] * 100:+.2f} | {t['wins']}/{t['n']} | "
            f"{t['p_two_sided']:.2g} | {t['p_greater']:.2g} |"
        )
    return "\n".join(lines)


def plot_f1(
    records: Sequence[Record],
    path: str | Path,
    metric: str = "macro_f1",
    *,
    title: str = "",
    published: dict[str, dict[int, float]] | None = None,
) -> None:
    """A PNG of ``metric`` (mean ± std over seeds) against training size, one line per condition.

    ``published`` adds dashed lines of reference numbers, ``{name: {size: value x 100}}``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = summarize(records, metric)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for condition in ordered(r["condition"] for r in records):
        sizes = sorted(s for s, c in stats if c == condition)
        means = [stats[(s, condition)][0] * 100 for s in sizes]
        stds = [stats[(s, condition)][1] * 100 for s in sizes]
        ax.errorbar(sizes, means, yerr=stds, marker="o", capsize=3, label=condition)
    for name, values in (published or {}).items():
        xs = sorted(values)
        ax.plot(xs, [values[x] for x in xs], linestyle="--", marker=".", alpha=0.6, label=name)
    all_sizes = sorted({s for s, _ in stats}.union(*(v.keys() for v in (published or {}).values())))
    ax.set_xscale("log")
    ax.set_xticks(all_sizes, [str(s) for s in all_sizes])
    ax.minorticks_off()
    ax.set_xlabel("training images")
    ax.set_ylabel(f"{_METRIC_NAMES.get(metric, metric)} (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)


def quality_table(records: Sequence[Record]) -> str:
    """Per learned condition, the quality of its generators averaged over the runs that have
    it: how often a classifier of the real training images names the samples' class, the same
    classifier's accuracy on the test images, the Classification Accuracy Score (trained on the
    samples alone, on the test images), active latent units, and the copy ratio; "" when no
    record has a quality report.

    Example:
        >>> rows = [{"condition": "learned", "sample_accuracy": 0.9, "real_accuracy": 0.8,
        ...          "cas": 0.7, "active_units": 4, "copy_ratio": 0.6}]
        >>> print(quality_table(rows).splitlines()[2])
        | learned | 1 | 90.0% | 80.0% | 70.0% | 4.0 | 0.60 |
    """
    rated = [r for r in records if r.get("sample_accuracy") is not None]
    if not rated:
        return ""
    lines = [
        "| condition | generators | samples named their class | trained on real: test images | "
        "CAS: trained on samples | active latent units | copy ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def mean(rows: list[Record], key: str) -> float:
        values = [r[key] for r in rows if r.get(key) is not None]
        return statistics.fmean(values) if values else float("nan")

    for name in ordered(r["condition"] for r in rated):
        rows = [r for r in rated if r["condition"] == name]
        lines.append(
            f"| {name} | {len(rows)} | {mean(rows, 'sample_accuracy'):.1%} | "
            f"{mean(rows, 'real_accuracy'):.1%} | {mean(rows, 'cas'):.1%} | "
            f"{mean(rows, 'active_units'):.1f} | "
            f"{mean(rows, 'copy_ratio'):.2f} |"
        )
    return "\n".join(lines)


QUALITY_NOTE = (
    "Quality of the generators (learned_aug.training.diagnostics, on the pools the classifier "
    "saw): a logistic regression of the real training images names the class of the samples "
    "(near chance: the samples carry no class) and of the test images (for scale); the "
    "Classification Accuracy Score, the same classifier trained on the samples alone and scored "
    "on the test images (at or above the one trained on real images: the samples teach as much); "
    "active latent units (0: the posterior collapsed); copy ratio, the samples' distance to "
    "their nearest training image over the training images' own (near 0: copies)."
)


def checks(records: Sequence[Record], metric: str = "macro_f1") -> list[str]:
    """The report's lines on whether its comparisons can be trusted: conditions that trained
    for different steps or batch sizes, and baselines below a logistic regression on pixels."""
    lines = []
    if bad := unmatched(records):
        lines += ["Not compute-matched (do not compare these cells):", "", *bad, ""]
    if broken := broken_baselines(records, metric):
        lines += [
            "Baselines below a logistic regression on pixels (a broken baseline, not a finding):",
            "",
            *(f"- {line}" for line in broken),
            "",
        ]
    return lines


def write_report(
    records: Sequence[Record],
    out: str | Path,
    *,
    metric: str = "macro_f1",
    title: str = "learned-aug evaluation",
    command: str = "",
    published: dict[str, dict[int, float]] | None = None,
    stem: str = "results",
) -> Path:
    """Write ``<stem>.md`` (table + Wilcoxon tests), ``<stem>.csv`` and ``<stem>_f1.png``."""
    out = Path(out)
    write_csv(records, out / f"{stem}.csv")
    plot_f1(records, out / f"{stem}_f1.png", metric, title=title)
    seeds = len({r["seed"] for r in records})
    parts = [
        f"# {title}",
        "",
        f"{metric.replace('_', ' ')} x 100, mean ± std over {seeds} seed(s); best per row in bold.",
        "",
        markdown_table(records, metric, published=published),
        "",
        "Wilcoxon signed-rank tests over paired (size, seed) runs:",
        "",
        wilcoxon_table(records, metric=metric),
        "",
        *(["Verdict:", "", judged, ""] if (judged := verdict(records, metric)) else []),
        *checks(records, metric),
        f"![{metric} against training size]({stem}_f1.png)",
        "",
        f"Every run: [{stem}.csv]({stem}.csv).",
    ]
    quality = quality_table(records)
    if quality:
        parts += ["", QUALITY_NOTE, "", quality]
    if command:
        parts += ["", "Reproduce with:", "", "```", command, "```"]
    path = out / f"{stem}.md"
    atomic_write_text(path, "\n".join(parts) + "\n")
    return path
