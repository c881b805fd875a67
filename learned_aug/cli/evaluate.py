"""``learned-aug evaluate``: the few-shot protocol on one dataset, and its report."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from pathlib import Path

from learned_aug.cli.names import (
    DEFAULT_CONDITIONS,
    DEFAULT_SIZES,
    QUICK_SEEDS,
    QUICK_SIZE,
    TABULAR_CONDITIONS,
)
from learned_aug.data import load_dataset
from learned_aug.evaluation.classifier import ClassifierRecipe
from learned_aug.evaluation.networks import ConvNet
from learned_aug.evaluation.protocol import EvaluationConfig, classifier_precision, run_protocol
from learned_aug.evaluation.report import (
    QUALITY_NOTE,
    checks,
    markdown_table,
    quality_table,
    verdict,
    write_csv,
    write_report,
)


def _config(args: argparse.Namespace, is_image: bool) -> EvaluationConfig:
    """The protocol's settings the arguments ask for (``--quick`` first, then each flag).

    ``--quick`` runs one size and three seeds under the same classifier recipe and the
    generator ``learned-aug fit`` trains by default: the verdict is about the generator the
    user would train, judged as the results page judges it. Three seeds, not one: on a few
    images per class the difference varies from seed to seed (docs/results.md), and the verdict
    calls a gain only where it clears that noise (``evaluation.report.judge``).
    """
    recipe = ClassifierRecipe()
    if args.max_steps is not None:
        recipe = dataclasses.replace(
            recipe, max_steps=args.max_steps, min_steps=min(recipe.min_steps, args.max_steps)
        )
    classifier = None
    if args.cnn_width is not None and is_image:
        width = max(1, round(16 * args.cnn_width))
        classifier = lambda data: ConvNet(data.sample_shape, len(data.classes), width=width)  # noqa: E731
    sizes = args.train_size or ((QUICK_SIZE,) if args.quick else DEFAULT_SIZES)
    return EvaluationConfig(
        sizes=sizes[:1] if args.quick else sizes,
        seeds=args.seeds if args.seeds is not None else (QUICK_SEEDS if args.quick else 5),
        conditions=args.conditions or (DEFAULT_CONDITIONS if is_image else TABULAR_CONDITIONS),
        recipe=recipe,
        generator_scale=args.generator_scale if args.generator_scale is not None else 1.0,
        amp=True if args.bf16 else False if args.fp32 else None,
        classifier=classifier,
    )


def run(args: argparse.Namespace) -> int:
    """Run the protocol and write the report into ``--out``."""
    start = time.perf_counter()
    data = load_dataset(args.data, image_size=args.image_size)
    config = _config(args, data.is_image)
    precision = classifier_precision(config, data)
    config = dataclasses.replace(config, amp=precision.enabled)
    out = Path(args.out)
    records: list[dict] = []
    name = str(args.data)

    def save(record: dict) -> None:
        records.append({"dataset": name, **record})
        write_csv(records, out / "results.csv")  # partial results survive an interruption

    run_protocol(data, config, progress=not args.no_progress, on_run=save)
    metric = args.metric or ("macro_f1" if data.is_image else "weighted_f1")
    command = "learned-aug " + shlex.join(sys.argv[1:])
    write_report(
        records, out, metric=metric, title=f"learned-aug evaluate: {name}", command=command
    )
    print(markdown_table(records, metric))
    quality = quality_table(records)
    if quality:
        print(f"\n{QUALITY_NOTE}\n\n{quality}\n")
    judged = verdict(records, metric)
    if judged:
        print(f"Verdict (does learned augmentation help on this data?):\n{judged}\n")
    for line in checks(records, metric):
        print(line)
    print(f"wrote {out}/results.md, results.csv, results_f1.png")
    kind = "bf16 autocast" if precision.enabled else "float32"
    print(
        f"{len(records)} runs in {time.perf_counter() - start:.0f} s; "
        f"classifier in {kind} ({precision.reason})"
    )
    return 0
