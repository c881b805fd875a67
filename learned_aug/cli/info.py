"""``learned-aug info``: what a generator is, and what ``fit`` reported about it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from learned_aug.files import QUALITY_JSON
from learned_aug.loading import load_generator, resolve


def quality_lines(report: dict) -> str:
    """fit's quality report (quality.json) in plain words, as ``info`` prints it.

    Example:
        >>> print(quality_lines({"latent_dims": 8, "active_units": 6}))
              quality:
          active latent units 6 of 8
    """
    lines = ["      quality:"]
    if report.get("latent_dims"):
        lines.append(
            f"  active latent units {report.get('active_units')} of {report['latent_dims']}"
        )
    if report.get("classifier_accuracy_samples") is not None:
        lines.append(
            "  a classifier of the real images names the class of "
            f"{report['classifier_accuracy_samples']:.0%} of the samples "
            f"({report.get('classifier_accuracy_real_val', float('nan')):.0%} of held-out real "
            "images)"
        )
    if report.get("cas") is not None:
        lines.append(
            f"  a classifier trained on the samples alone scores {report['cas']:.0%} on held-out "
            f"real images (CAS; trained on the real images: "
            f"{report.get('classifier_accuracy_real_val', float('nan')):.0%})"
        )
    if report.get("copy_distance_ratio") is not None:
        lines.append(
            f"  copy ratio {report['copy_distance_ratio']:.2f} (distance to the nearest "
            "training image over the training images' own; near 0: copies)"
        )
    for warning in report.get("warnings", []):
        lines.append(f"  WARNING: {warning}")
    if len(lines) == 1:
        lines.append("  (nothing measured)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the generator's class, shapes, classes, size, config and quality report."""
    gen = load_generator(args.generator, revision=args.revision)
    quality_file = Path(resolve(args.generator, revision=args.revision)) / QUALITY_JSON
    info = {
        "class": type(gen).__name__,
        "model_type": gen.config.model_type,
        "sample_shape": list(gen.sample_shape),
        "classes": gen.classes,
        "conditional": gen.conditional,
        "parameters": sum(p.numel() for p in gen.parameters()),
        "config": gen.config.to_dict(),
    }
    if quality_file.is_file():  # fit's report: collapsed, classless or copying?
        info["quality"] = json.loads(quality_file.read_text())
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        if key not in ("config", "quality"):
            print(f"{key:>13}: {value}")
    print("       config:", json.dumps(info["config"], sort_keys=True))
    if "quality" in info:
        print(quality_lines(info["quality"]))
    return 0
