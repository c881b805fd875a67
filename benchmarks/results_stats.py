"""The statistics of docs/results.md: paired differences between conditions, as Markdown.

Every function takes the records of ``learned_aug.evaluation`` (one dict a run, as
results.csv holds them) and returns a phrase, a line or a table; nothing here reads or writes
a file. Differences are paired: the same training size and seed, so the same draw.
"""

from __future__ import annotations

from _docs import markdown_table

from learned_aug.evaluation.report import ordered, paired, wilcoxon_test


def diffs_by_size(records, a: str, b: str, metric: str = "macro_f1") -> dict[int, list[float]]:
    """Paired differences a − b at each training size, in size order (empty where unpaired)."""
    return {
        size: [x - y for x, y in paired([r for r in records if r["size"] == size], a, b, metric)]
        for size in sorted({r["size"] for r in records})
    }


def size_means(records, a: str, b: str, metric: str = "macro_f1") -> dict[int, float]:
    """Mean paired difference a − b at each training size that has pairs."""
    return {s: sum(d) / len(d) for s, d in diffs_by_size(records, a, b, metric).items() if d}


def target(records, a: str, b: str, label: str, rule: str) -> str:
    """One target line; ``rule`` is "significant" (p < 0.01 and ahead at every size),
    "pooled" (p < 0.01 over all runs) or "reaches" (not behind on average at any size)."""
    if not paired(records, a, b):
        return f"- {label}: **not run** (no run of `{a}` paired with `{b}` in this grid)."
    t = wilcoxon_test(records, a, b)
    sizes = list(size_means(records, a, b).values())
    every = bool(sizes) and all(d > 0 for d in sizes)
    met = {
        "significant": t["p_greater"] < 0.01 and every,
        "pooled": t["p_greater"] < 0.01 and t["mean_diff"] > 0,
        "reaches": bool(sizes) and all(d >= 0 for d in sizes),
    }[rule]
    ahead = sum(d > 0 for d in sizes)
    return (
        f"- {label}: {'**met**' if met else '**not met**'} — {a} − {b} = "
        f"{t['mean_diff'] * 100:+.2f} points on average, ahead on average at {ahead} of "
        f"{len(sizes)} sizes, better in {t['wins']} of {t['n']} paired runs, Wilcoxon "
        f"p(one-sided, {a} > {b}) = {t['p_greater']:.2g}, p(two-sided) = {t['p_two_sided']:.2g}."
    )


def at_least(value: float | None, bound: float, label: str) -> str:
    """One target line: ``value`` (a difference, or None where not run) reaches ``bound``."""
    if value is None:
        return f"- {label}: (not run)"
    verdict = "**met**" if value >= bound else "**not met**"
    return f"- {label}: {verdict} — {100 * value:+.2f} points."


def per_size_table(records, pairs: list[tuple[str, str]]) -> str:
    """Mean paired difference (points) and wins per size for each pair."""
    pairs = [(a, b) for a, b in pairs if paired(records, a, b)]
    by_pair = [diffs_by_size(records, a, b) for a, b in pairs]
    rows = []
    for size in sorted({r["size"] for r in records}):
        cells = []
        for per_size in by_pair:
            diffs = per_size[size]
            wins = sum(d > 0 for d in diffs)
            mean = 100 * sum(diffs) / len(diffs) if diffs else float("nan")
            cells.append(f"{mean:+.2f} ({wins}/{len(diffs)})")
        rows.append([size, *cells])
    header = ["size", *(f"{a} − {b}" for a, b in pairs)]
    return markdown_table(header, rows, align="r" * len(header))


def tuning_table(records: list[dict], base: str = "none") -> str:
    """Paired difference to ``base`` (points) of every other condition, per size and seed."""
    sizes = sorted({r["size"] for r in records})
    rows = []
    for name in ordered(r["condition"] for r in records):
        if name == base:
            continue
        cells, diffs = [], []
        for per_size in diffs_by_size(records, name, base).values():
            d = [100 * x for x in per_size]
            cells.append(", ".join(f"{x:+.2f}" for x in d) or "—")
            diffs += d
        mean = sum(diffs) / len(diffs) if diffs else float("nan")
        wins = f"{sum(x > 0 for x in diffs)}/{len(diffs)}"
        rows.append([f"{name} − {base}", *cells, f"{mean:+.2f}", wins])
    header = ["condition", *(f"{s} (seeds)" for s in sizes), "mean", "wins"]
    return markdown_table(header, rows, align="l" * (len(sizes) + 1) + "rr")


def variants_table(tuning: list[dict], names: list[str], base: str) -> str:
    """Paired difference to ``base`` per size and seed, of each of ``names`` that was run."""
    rows = [r for r in tuning if r["condition"] in {base, *names}]
    return tuning_table(rows, base) if rows else "(not run)"


def claim(records: list[dict], a: str, b: str) -> str:
    """``a`` against ``b`` in one phrase: mean difference, wins and the one-sided p-value."""
    t = wilcoxon_test(records, a, b)
    return (
        f"`{a}` − `{b}` = {t['mean_diff'] * 100:+.2f} points, better in {t['wins']} of "
        f"{t['n']} runs, p = {t['p_greater']:.2g} one-sided"
    )


def by_size(records: list[dict], a: str, b: str) -> str:
    """Mean paired difference ``a`` − ``b`` at each training size, in points."""
    means = size_means(records, a, b)
    return ", ".join(f"{m * 100:+.2f} at {s:,}" for s, m in means.items()) + " images"


def cite(records: list[dict], a: str, b: str) -> str:
    """``claim`` and ``by_size`` together, or why they are missing."""
    if not paired(records, a, b):
        return f"(`{a}` or `{b}` was not run)"
    return f"{claim(records, a, b)}; by size: {by_size(records, a, b)}"


def seed_wins(records: list[dict], a: str, b: str, need: int | None) -> str:
    """The digits target: ahead on average and in ``need`` of the seeds at each size."""
    lines, met = [], True
    for size, diffs in diffs_by_size(records, a, b).items():
        if not diffs:
            continue
        wins, mean = sum(d > 0 for d in diffs), 100 * sum(diffs) / len(diffs)
        met &= mean > 0 and need is not None and wins >= need
        lines.append(f"{size} images: {mean:+.2f} points, {wins}/{len(diffs)} seeds better")
    if not lines:
        return "(not run)"
    if need is None:  # no target: the numbers alone
        return "; ".join(lines)
    return f"{'**met**' if met else '**not met**'} — " + "; ".join(lines)


def against(records: list[dict], metric: str, a: str, b: str) -> str:
    """One line on ``a`` against ``b`` in ``metric``: mean, verdict, per size, wins, p-value."""
    if not paired(records, a, b):
        return f"(`{a}` or `{b}` was not run)"
    t = wilcoxon_test(records, a, b, metric=metric)
    per = ", ".join(f"{100 * m:+.2f} at {s}" for s, m in size_means(records, a, b, metric).items())
    verdict = "does not lose on average" if t["mean_diff"] >= 0 else "**loses on average**"
    return (
        f"`{a}` − `{b}` = {100 * t['mean_diff']:+.2f} {metric.replace('_', ' ')} points "
        f"({verdict}; by size: {per}), better in {t['wins']} of {t['n']} runs, Wilcoxon "
        f"p(one-sided) = {t['p_greater']:.2g}"
    )


def early_stops(records: list[dict], margin: float = 0.05) -> str:
    """Runs that ended more than ``margin`` below ``none`` on the same draw, with their steps."""
    none = {(r["size"], r["seed"]): r["macro_f1"] for r in records if r["condition"] == "none"}
    low = [
        r
        for r in records
        if (r["size"], r["seed"]) in none and r["macro_f1"] < none[(r["size"], r["seed"])] - margin
    ]
    if not low:
        return f"No run ended more than {margin * 100:.0f} points below `none` on its draw."
    rows = [
        [
            *(r["size"], r["seed"], r["condition"], f"{r['macro_f1'] * 100:.2f}"),
            *(f"{none[(r['size'], r['seed'])] * 100:.2f}", r["best_epoch"], r["steps"]),
        ]
        for r in low
    ]
    header = ["size", "seed", "condition", "macro F1", "none", "best epoch", "steps run"]
    return (
        f"Runs that ended more than {margin * 100:.0f} points below `none` on the same draw:\n\n"
        + markdown_table(header, rows, align="rrlrrrr")
    )


def complete_seeds(records: list[dict]) -> tuple[list[dict], int]:
    """The records of the seeds that ran every (size, condition) of the grid, and how many runs
    of other (interrupted) seeds were left out."""
    cells = {(r["size"], r["condition"]) for r in records}
    by_seed: dict[int, set] = {}
    for r in records:
        by_seed.setdefault(r["seed"], set()).add((r["size"], r["condition"]))
    whole = {seed for seed, done in by_seed.items() if done == cells}
    kept = [r for r in records if r["seed"] in whole]
    return kept, len(records) - len(kept)
