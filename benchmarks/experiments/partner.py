"""Does DAGAN's pair objective in VAE form make new members of a class? (docs/guide/transfer.md)

Trains a plain and a partner VAE (``VAEConfig(partner=True)``: the decoder reconstructs another
image of the encoded image's class) on scikit-learn's 8x8 digits, unconditional, latent size 8,
60 epochs with a 5-epoch KL warm-up, seed 0, and measures each as ``SyntheticDataset`` sees it:

* the spread within a class (mean over classes of the per-pixel standard deviation) of the
  decoded posterior means of the digits, against the real digits' own;
* ``fit``'s quality report: how often a classifier of the real digits names the class of the
  default samples, the active latent units;
* whether ``SyntheticDataset(generator, n=100)`` accepts the generator.

    python -m benchmarks.experiments.partner      # about a minute on two CPU cores

Writes docs/transfer/partner.csv.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import torch

from learned_aug import FitSettings, SyntheticDataset, fit, load_dataset, load_generator
from learned_aug.quality import quality_of

OUT = Path(__file__).resolve().parents[2] / "docs" / "transfer" / "partner.csv"
SETTINGS = FitSettings(epochs=60, kl_warmup=5, seed=0, augment=None)


def spread(images: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over classes of the per-pixel standard deviation within the class."""
    return float(torch.stack([images[labels == c].std(0).mean() for c in labels.unique()]).mean())


def measure(partner: bool) -> dict:
    digits = load_dataset("digits")
    with tempfile.TemporaryDirectory() as run:  # the user's path: a run folder, loaded back
        fit("vae", digits, SETTINGS, config={"latent_dim": 8, "partner": partner}, out=run,
            progress=False, device="cpu")  # fmt: skip
        gen = load_generator(run).eval()
    with torch.no_grad():
        decoded = gen.decode(gen.encode(digits.x).mean)
    report = quality_of(gen) or {}
    try:
        SyntheticDataset(gen, n=100)
        accepted = "yes"
    except ValueError as err:
        accepted = f"no: {str(err).split(';')[0]}"
    return {
        "objective": "partner" if partner else "plain",
        "within_class_spread_decoded": round(spread(decoded, digits.y), 4),
        "within_class_spread_real": round(spread(digits.x, digits.y), 4),
        "samples_named_as_their_class": report.get("classifier_accuracy_samples"),
        "real_held_out_named": report.get("classifier_accuracy_real_val"),
        "active_units": report.get("active_units"),
        "synthetic_dataset_accepts": accepted,
    }


def main() -> None:
    torch.set_num_threads(2)
    rows = [measure(False), measure(True)]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
