"""Pack RetinaMNIST (MedMNIST v2) into the bundled dataset file ``retina.npz``.

    python scripts/make_retina.py [--source /tmp/ds/retinamnist.npz]

Writes ``learned_aug/data/bundled/retina.npz`` in the layout of ``cifar10.npz`` (see
``scripts/make_cifar10.py``): ``jpeg`` holds lossless PNG bytes here (decode them with
``torchvision.io.decode_image``), with ``offsets``, ``labels``, ``test`` and ``classes``. All 1,600
images of RetinaMNIST, 28x28 RGB colour fundus photographs graded for diabetic retinopathy on a
5-level scale (0 = no DR ... 4 = proliferative DR). MedMNIST's ``train`` and ``val`` splits (1,080 +
120) become the training part and its official ``test`` split (400) the test part. About 2.5 MB.

Source: RetinaMNIST of MedMNIST v2 (Yang et al., "MedMNIST v2 - A large-scale lightweight
benchmark for 2D and 3D biomedical image classification", Scientific Data 10, 41, 2023), built
from the DeepDRiD challenge data (Liu et al., Patterns 2022). Licence: CC BY 4.0 (MedMNIST's
statement for RetinaMNIST); cite the MedMNIST v2 paper and DeepDRiD when using it.

Obtain the source file again: ``retinamnist.npz`` (3,291,041 bytes, MD5
bd4c0672f1bba3e3a89f0e4e876791e4, the checksum MedMNIST publishes) from MedMNIST v2's Zenodo
record (https://zenodo.org/record/6496656, the URL in MedMNIST's ``medmnist/info.py``), or from
the public GitHub repository MikeFlores19/PARADIGMAS-DE-PROGRAMACION, which commits the same file
as ``PRACTICA_KNN_POO/retinamnist.npz`` (commit cc953f999be0eedc664701a40d4bb308c64558cd).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
from _packing import png_bytes as png_bytes_of
from _packing import write_packed
from PIL import Image

MD5 = "bd4c0672f1bba3e3a89f0e4e876791e4"
# MedMNIST's label names for RetinaMNIST ("0".."4"), spelled out as DR grades.
CLASSES = ("0-no-DR", "1-mild", "2-moderate", "3-severe", "4-proliferative")


def png_bytes(image: np.ndarray) -> bytes:
    return png_bytes_of(Image.fromarray(image))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("/tmp/ds/retinamnist.npz"))
    args = parser.parse_args()
    digest = hashlib.md5(args.source.read_bytes()).hexdigest()
    if digest != MD5:
        raise SystemExit(f"{args.source}: MD5 {digest}, expected {MD5}")
    blobs, labels, split = [], [], []
    with np.load(args.source) as f:
        for part in ("train", "val", "test"):
            images, targets = f[f"{part}_images"], f[f"{part}_labels"].reshape(-1)
            blobs += [png_bytes(image) for image in images]
            labels += targets.astype(np.int64).tolist()
            split += [part == "test"] * len(images)
    write_packed("retina", blobs, labels, split, CLASSES)


if __name__ == "__main__":
    main()
