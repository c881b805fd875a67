"""Pack the Latin alphabet of Omniglot into the bundled dataset file ``letters-omniglot.npz``.

    python scripts/make_letters_omniglot.py [--source DIR] [--size 64] [--seed 0]

Writes ``learned_aug/data/bundled/letters-omniglot.npz`` in the layout of ``cifar10.npz`` (see
``scripts/make_cifar10.py``): ``jpeg`` holds grayscale PNG bytes here (decode them with
``torchvision.io.decode_image``), with ``offsets``, ``labels``, ``test`` and ``classes``. All 520
images of Omniglot's Latin alphabet: the 26 lower-case letters ``a`` ... ``z`` (Omniglot's
``character01`` ... ``character26``, checked by eye to be a ... z in that order), each drawn once by
20 different people on Amazon Mechanical Turk. The 105x105 black-on-white 1-bit images are resized
to ``--size`` square (antialiased, so grey levels appear; default 64). The source has no
train/test split within a character: 6 of each letter's 20 drawings, drawn with ``--seed``, form
the test part (156 images), the other 14 the training part (364). About 0.3 MB.

Source: Omniglot (Lake, Salakhutdinov and Tenenbaum, "Human-level concept learning through
probabilistic program induction", Science 350(6266), 1332-1338, 2015), from its authors' public
GitHub repository brendenlake/omniglot, file ``python/images_background_small1.zip`` (folder
``images_background_small1/Latin``; commit 057f034baf2ecb8530bc5710e5a23584d2a519cc). The same
Latin images are in ``images_background_small2.zip`` and ``images_background.zip``. Licence: MIT
(the repository's LICENSE, "Copyright (c) 2015 Brenden Lake"); the authors ask that the Science
paper be cited.

Obtain the source files again: take ``python/images_background_small1.zip`` from that repository
and unzip it, then pass ``--source <dir>/images_background_small1/Latin``.
"""

from __future__ import annotations

import argparse
import string
from pathlib import Path

import numpy as np
from _packing import png_bytes as png_bytes_of
from _packing import write_packed
from PIL import Image

CLASSES = tuple(string.ascii_lowercase)
PER_LETTER, TEST_PER_LETTER = 20, 6


def png_bytes(path: Path, size: int) -> bytes:
    image = Image.open(path)
    if image.size != (105, 105):
        raise SystemExit(f"{path}: {image.size}, expected a 105x105 Omniglot image")
    image = image.convert("L").resize((size, size), Image.Resampling.LANCZOS)
    return png_bytes_of(image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", type=Path, default=Path("/tmp/ds/omni/images_background_small1/Latin")
    )
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    blobs, labels, split = [], [], []
    for label in range(len(CLASSES)):
        files = sorted((args.source / f"character{label + 1:02d}").glob("*.png"))
        if len(files) != PER_LETTER:
            raise SystemExit(f"{args.source}: {len(files)} images of letter {label + 1}")
        test = set(rng.choice(PER_LETTER, size=TEST_PER_LETTER, replace=False).tolist())
        blobs += [png_bytes(f, args.size) for f in files]
        labels += [label] * len(files)
        split += [i in test for i in range(len(files))]
    write_packed("letters-omniglot", blobs, labels, split, CLASSES)


if __name__ == "__main__":
    main()
