"""docs/results.md from CSVs alone: the MNIST grid beside published numbers, and the other runs.

``report`` reads what the grid wrote (results.csv) and, from the same folder, the CSVs of
``learned-aug evaluate`` on the 8x8 digits (digits/) and on the tabular sets (tabular/,
tabular-wine/) and the tuning runs (results_tuning.csv); it fills
``templates/results.md.tmpl`` and draws results_f1.png.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from papers_report import papers_section
from results_grid import LEARNED, RA, TUNING_SEEDS
from results_stats import (
    against,
    at_least,
    cite,
    complete_seeds,
    early_stops,
    per_size_table,
    seed_wins,
    size_means,
    target,
    variants_table,
)
from results_suite import suite_section

from learned_aug.evaluation.augment import choose_randaugment
from learned_aug.evaluation.report import (
    QUALITY_NOTE,
    ordered,
    plot_f1,
    quality_table,
    read_csv,
    wilcoxon_table,
)

# mean ± std per size and condition from the records; _docs.markdown_table is the plain one
from learned_aug.evaluation.report import markdown_table as results_table
from learned_aug.io import atomic_write_text

TEMPLATE = Path(__file__).resolve().parent / "templates" / "results.md.tmpl"
PLUS = f"{RA}+{LEARNED}"
SUITE_COMMAND = (
    "python benchmarks/run_suite.py --seeds 5 --datasets digits cifar10 retina faces-orl "
    "letters-omniglot` and `python benchmarks/run_suite.py --seeds 1 --datasets mnist-5k"
)

# Garay-Maestre et al. 2019, Table 2 (macro F1 x 100, latent size 3).
GARAY = {
    "paper CNN": {50: 76.30, 100: 84.38, 250: 93.03, 500: 94.28, 1000: 96.54},
    "paper VAE": {50: 85.40, 100: 91.98, 250: 95.93, 500: 96.38, 1000: 97.74},
    "paper AUG": {50: 86.10, 100: 94.85, 250: 97.12, 500: 98.11, 1000: 98.36},
    "paper AUG+VAE": {50: 90.86, 100: 95.15, 250: 97.97, 500: 98.26, 1000: 98.87},
}
# Iser 2023, MNIST weighted F1 x 100; per class 2/5/10/20/50 = 20/50/100/200/500 images.
ISER = {
    "Iser baseline": {20: 66.0, 50: 77.6, 100: 84.9, 200: 90.5, 500: 94.1},
    "Iser best learned": {20: 67.9, 50: 79.5, 100: 87.1, 200: 91.9, 500: 94.5},
}
# The pairs of the per-size table under the targets, in its column order.
PAIRS = [
    (PLUS, RA),
    (LEARNED, "none"),
    (LEARNED, "aug"),
    (LEARNED, RA),
    (RA, "none"),
    ("randaugment", "none"),
    (RA, "randaugment"),
    ("aug", "none"),
]
AUG_RAN = (
    "`aug` is the paper's conventional augmentation (rotation up to 20 degrees, shifts up to "
    "20%); plain `randaugment` is a condition of `learned-aug evaluate` that this grid did not run."
)
AUG_NOT_RUN = (
    "The paper's `aug` (rotation up to 20 degrees, shifts up to 20%) and plain `randaugment` are "
    "conditions of `learned-aug evaluate` that this grid did not run, to fit the time it had."
)


def _csv(path: Path) -> list[dict]:
    return read_csv(path) if path.exists() else []


def targets(records: list[dict], seeds: int) -> str:
    """The target lines, then the per-size table of the pairs they rest on."""
    small = [r for r in records if r["size"] <= 500]
    lines = [
        target(
            small, PLUS, RA, f"`{PLUS}` beats `{RA}` at every size 50-500, p < 0.01", "significant"
        ),
        at_least(size_means(records, PLUS, RA).get(50), 0.03, "at least +3 points at 50 images"),
        target(
            records,
            LEARNED,
            "none",
            "`learned` beats `none` at every size, p < 0.01",
            "significant",
        ),
        target(records, LEARNED, "aug", "`learned` beats the paper's `aug`, p < 0.01", "pooled"),
        "",
        f"Per size: mean paired difference in macro F1 points (runs where A is better / "
        f"{seeds} seeds):",
        "",
        per_size_table(records, PAIRS),
    ]
    return "\n".join(lines)


def other_page(path: Path, metric: str, a: str = LEARNED, b: str = "none") -> tuple[str, str]:
    """A table and one line on ``a`` against ``b`` from another evaluate run's CSV."""
    if not path.exists():
        return "(not run)", "(not run)"
    records = read_csv(path)
    return results_table(records, metric), against(records, metric, a, b)


def other_sections(out: Path) -> dict[str, str]:
    """The template's fields on the 8x8 digits and the two tabular sets."""
    digits = _csv(out / "digits" / "results.csv")
    digits_table, digits_line = other_page(out / "digits" / "results.csv", "macro_f1")
    cancer_table, cancer_line = other_page(out / "tabular" / "results.csv", "weighted_f1")
    wine_table, wine_line = other_page(out / "tabular-wine" / "results.csv", "weighted_f1")
    return {
        "digits_target": seed_wins(digits, LEARNED, "none", 7),
        "digits_plus": seed_wins(digits, f"randaugment+{LEARNED}", "randaugment", None),
        "digits_table": digits_table,
        "digits_line": digits_line,
        "cancer_table": cancer_table,
        "cancer_line": cancer_line,
        "wine_table": wine_table,
        "wine_line": wine_line,
    }


def tuning_sections(tuning: list[dict]) -> dict[str, str]:
    """The template's fields on the tuning runs (seed 5, never reported)."""
    chosen = choose_randaugment(tuning)
    learned_variants = ["16", "gmm", "variants", "h128", "light"]
    return {
        "chosen": ", ".join(f"{s}: num_ops={n}, magnitude={m}" for s, (n, m) in chosen.items())
        or "(no tuning runs)",
        "tuning_ra": variants_table(
            tuning, ["ra-n1-m9", "ra-n2-m5", "ra-n2-m14", "ra-n3-m9"], "randaugment"
        ),
        "tuning_learned": variants_table(
            tuning,
            [f"randaugment+learned-{v}" for v in learned_variants],
            "randaugment+learned",
        ),
        "tuning_base": variants_table(tuning, ["learned", "randaugment+learned"], "randaugment"),
        "tuning_quality": quality_table(tuning) or "(none)",
    }


def report(records: list[dict], out: Path, command: str, settings: dict) -> None:
    """Write ``out``/results.md and results_f1.png from the grid's ``records`` and the CSVs
    beside them; ``command`` is the grid's command line, ``settings`` its classifier budget."""
    # The tuning seeds' runs are never reported beside the others (a tuning grid alone is).
    records = [r for r in records if r["seed"] not in TUNING_SEEDS] or records
    records, left_out = complete_seeds(records)
    conditions = ordered(r["condition"] for r in records)
    plot_f1(
        records,
        out / "results_f1.png",
        title="MNIST-5k: macro F1 against training size (dashed: Garay-Maestre et al.)",
        published=GARAY,
    )
    seeds = sorted({r["seed"] for r in records})
    at_iser = [r for r in records if r["size"] in ISER["Iser baseline"]]
    fields = {
        "seeds": len(seeds),
        "seed_list": ", ".join(map(str, seeds)),
        "left_out": f"; {left_out} runs of a seed the grid did not finish are in results.csv "
        "but not on this page"
        if left_out
        else "",
        "n_runs": len(records),
        "aug_note": AUG_RAN if "aug" in conditions else AUG_NOT_RUN,
        "settings": ", ".join(f"{k}={v}" for k, v in settings.items()),
        "table": results_table(records, conditions=conditions, published=GARAY),
        "quality": quality_table(records) or "(no quality report in the CSV)",
        "quality_note": QUALITY_NOTE,
        "iser": results_table(at_iser, "weighted_f1", conditions=conditions, published=ISER),
        "wilcoxon": wilcoxon_table(records),
        "targets": targets(records, len(seeds)),
        "user_learned": cite(records, LEARNED, "none"),
        "user_plus": cite(records, PLUS, RA),
        "user_ra": cite(records, RA, "none"),
        "command": command,
        "early_stops": early_stops(records),
        "suite": suite_section(out / "suite" / "suite.csv", SUITE_COMMAND),
        "papers": papers_section(out / "papers"),
        **other_sections(out),
        **tuning_sections(_csv(out / "results_tuning.csv")),
    }
    text = Template(TEMPLATE.read_text()).substitute(fields)
    atomic_write_text(out / "results.md", text)
