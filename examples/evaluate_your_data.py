"""Does learned augmentation help on your data? ``learned-aug evaluate`` on an ImageFolder.

Shows: the few-shot protocol run on your own folder of images, ``root/<class>/<image>.png``.
For each training size and seed it draws a class-balanced training set, trains the generator
on that set alone (never on the test images), trains the same CNN for the same steps on
batches of the same size under each condition (none, TrivialAugment, RandAugment, the
compute-matched control, learned samples, RandAugment with them) and scores it on held-out
images; ``results.md`` has the table, paired tests and the verdict, ``results.csv`` every run,
``results_f1.png`` the plot. ``--quick`` is one size (100 images) and three seeds, with a
verdict that calls a gain only where it clears the noise between seeds; drop it, and add
``--seeds 5``, for a claim.

Pass your own folder with ``--data path/to/folder``; without it a stand-in folder of 100 real
MNIST digits per class is written first.

Run: ``python examples/evaluate_your_data.py [--data FOLDER]``. Full size (``--quick`` on the
stand-in, 100 of its images): about 9 minutes on one idle core (525 s of CPU time measured by
``benchmarks/bench_evaluate_quick.py --threads 1`` on an AMD EPYC without bf16).
``LEARNED_AUG_SMOKE=1`` shrinks every budget to under a minute (CI: it checks that the
pipeline runs, its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from torchvision.transforms.v2 import functional as TF

from learned_aug import load_dataset

SMOKE = os.environ.get("LEARNED_AUG_SMOKE") == "1"
PER_CLASS = 6 if SMOKE else 100
BUDGET = (
    ["--train-size", "20", "--seeds", "1", "--max-steps", "4", "--generator-scale", "0.005",
     "--cnn-width", "0.125", "--conditions", "none", "learned"]
    if SMOKE
    else ["--quick"]
)  # fmt: skip


def learned_aug(*args: str) -> None:
    """Run ``learned-aug ARGS`` (the console script is ``python -m learned_aug.cli``)."""
    print("$ learned-aug", " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "learned_aug.cli", *args], check=True)


def write_stand_in(root: Path) -> None:
    """A folder like yours: ``PER_CLASS`` real digits of each class as PNG files."""
    digits = load_dataset("mnist-5k")
    for k, name in enumerate(digits.classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for j, i in enumerate((digits.y == k).nonzero().flatten()[:PER_CLASS].tolist()):
            TF.to_pil_image(digits.x[i]).save(root / name / f"{j}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="your ImageFolder")
    parser.add_argument("--out", type=Path, default=Path("runs/evaluate"), help="report folder")
    args = parser.parse_args()
    data = args.data
    if data is None:
        data = Path("runs/stand-in-data")
        write_stand_in(data)
    learned_aug("evaluate", "--data", str(data), *BUDGET, "--out", str(args.out), "--no-progress")
    print((args.out / "results.md").read_text())


if __name__ == "__main__":
    main()
