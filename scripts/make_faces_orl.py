"""Pack the ORL / AT&T Database of Faces into the bundled dataset file ``faces-orl.npz``.

    python scripts/make_faces_orl.py [--source /tmp/ds/orl_faces] [--size 64] [--seed 0]

Writes ``learned_aug/data/bundled/faces-orl.npz`` in the layout of ``cifar10.npz`` (see
``scripts/make_cifar10.py``): ``jpeg`` holds lossless grayscale PNG bytes here (decode them with
``torchvision.io.decode_image``), with ``offsets``, ``labels``, ``test`` and ``classes``. All 400
images, 10 of each of 40 people (classes ``s1`` ... ``s40``, the subject folders), face
identification. Each 92x112 (width x height) 8-bit grayscale PGM is centre-cropped to 92x92 (10
rows off the top and the bottom) and resized to ``--size`` square (antialiased, default 64). The
source has no test split: 3 of each person's 10 images, drawn with ``--seed``, form the test part
(120 images), the other 7 the training part (280). About 1.1 MB.

Source: "The Database of Faces" (formerly "The ORL Database of Faces"), taken between April 1992
and April 1994 at the Olivetti Research Laboratory (later AT&T Laboratories Cambridge), UK;
F. Samaria and A. Harter, "Parameterisation of a stochastic model for human face
identification", 2nd IEEE Workshop on Applications of Computer Vision, 1994. It is the same data
set as scikit-learn's ``fetch_olivetti_faces`` (which serves it at 64x64). Licence: none stated;
the distribution's README asks users to credit the Olivetti Research Laboratory ("When using
these images, please give credit to Olivetti Research Laboratory").

Obtain the source files again: the 400 original PGM files with that README, in ``s1/`` ... ``s40/``
folders of ``1.pgm`` ... ``10.pgm``, as committed in the public GitHub repository
hakawa-bernardi/orl-face-recognition-pca-svm, folder ``orl_faces`` (commit
3edc842bc89bddbd3d6bcf12d23a4f9c2a493883; byte-identical to the copies of some of the same files
in hybridgroup/gocv ``contrib/att_faces``), or ``att_faces.zip`` from the AT&T / Cambridge archive
page (https://cam-orl.co.uk/facedatabase.html).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _packing import png_bytes as png_bytes_of
from _packing import write_packed
from PIL import Image

PEOPLE, PER_PERSON, TEST_PER_PERSON = 40, 10, 3


def png_bytes(path: Path, size: int) -> bytes:
    image = Image.open(path)
    if image.mode != "L" or image.size != (92, 112):
        raise SystemExit(f"{path}: {image.mode} {image.size}, expected an 8-bit 92x112 image")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    image = image.resize((size, size), Image.Resampling.LANCZOS)
    return png_bytes_of(image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("/tmp/ds/orl_faces"))
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    classes = [f"s{k}" for k in range(1, PEOPLE + 1)]
    blobs, labels, split = [], [], []
    for label, name in enumerate(classes):
        files = [args.source / name / f"{i}.pgm" for i in range(1, PER_PERSON + 1)]
        test = set(rng.choice(PER_PERSON, size=TEST_PER_PERSON, replace=False).tolist())
        blobs += [png_bytes(f, args.size) for f in files]
        labels += [label] * len(files)
        split += [i in test for i in range(len(files))]
    write_packed("faces-orl", blobs, labels, split, classes)


if __name__ == "__main__":
    main()
