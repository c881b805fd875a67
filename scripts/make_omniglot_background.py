"""Rebuild the pretraining set of ``omniglot-vae``: Omniglot's non-Latin background alphabets.

    python scripts/make_omniglot_background.py [--source DIR] [--out DIR] [--size 64]

Writes an ImageFolder, one folder per character (``<alphabet>--<character>/``), of the 4,320
drawings of the 216 characters of seven Omniglot alphabets: Balinese, Early Aramaic, Greek,
Japanese (katakana), Korean, Sanskrit and Tagalog, 20 drawings of each by 20 different people.
The Latin alphabet is left out on purpose: it is ``letters-omniglot``, where the generator is
judged, so no character it is measured on was seen in pretraining (DAGAN's protocol: source
classes for the generator, disjoint target classes for the classifier). The 105x105 1-bit images
are resized to ``--size`` square exactly as ``scripts/make_letters_omniglot.py`` resizes the Latin
ones (antialiased, PNG), so the two sets differ in their characters and nothing else.

The set is not in the wheel and not in git (``benchmarks/data/`` is ignored): it is rebuilt by
this script for ``python scripts/make_pretrained.py --only omniglot-vae``.

Source: Omniglot (Lake, Salakhutdinov and Tenenbaum, Science 350(6266), 2015), from its authors'
public GitHub repository brendenlake/omniglot (commit 057f034baf2ecb8530bc5710e5a23584d2a519cc),
files ``python/images_background_small1.zip`` (Balinese, Early Aramaic, Greek, Korean, Latin)
and ``python/images_background_small2.zip`` (Greek, Japanese (katakana), Latin, Sanskrit,
Tagalog): the two are the only complete alphabets of the repository's images kept in plain git
(the full background and evaluation zips are stored outside it). Licence: MIT ("Copyright (c)
2015 Brenden Lake"); the authors ask that the Science paper be cited.

``--source`` is a folder holding those two zip files (as they are in the repository), or the
folders they unzip to.
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

from PIL import Image

ZIPS = ("images_background_small1", "images_background_small2")
HELD_OUT = ("Latin",)
"""Alphabets never used for pretraining: where the generator is measured."""
DRAWINGS = 20
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "omniglot-background"


def _members(source: Path) -> dict[str, bytes]:
    """``alphabet/character/file.png`` -> PNG bytes, from the zips (or their unzipped folders);
    an alphabet found in both zips (Greek, Latin) is the same drawings and is read once."""
    found: dict[str, bytes] = {}
    for name in ZIPS:
        archive, folder = source / f"{name}.zip", source / name
        if archive.is_file():
            with zipfile.ZipFile(archive) as z:
                for info in z.infolist():
                    parts = info.filename.split("/")
                    if info.filename.endswith(".png") and len(parts) == 4:
                        found.setdefault("/".join(parts[1:]), z.read(info))
        elif folder.is_dir():
            for png in sorted(folder.glob("*/*/*.png")):
                found.setdefault("/".join(png.parts[-3:]), png.read_bytes())
        else:
            raise SystemExit(f"--source {source}: neither {archive.name} nor {folder.name}/ found")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("/tmp/omniglot"))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args(argv)
    members = _members(args.source)
    characters: dict[str, list[str]] = {}
    for key in sorted(members):
        alphabet, character, _ = key.split("/")
        if alphabet not in HELD_OUT:
            characters.setdefault(f"{alphabet}--{character}", []).append(key)
    short = {c: len(v) for c, v in characters.items() if len(v) != DRAWINGS}
    if short:
        raise SystemExit(f"characters without {DRAWINGS} drawings: {short}")
    for character, keys in characters.items():
        folder = args.out / character
        folder.mkdir(parents=True, exist_ok=True)
        for key in keys:
            with Image.open(io.BytesIO(members[key])) as image:
                if image.size != (105, 105):
                    raise SystemExit(f"{key}: {image.size}, expected a 105x105 Omniglot image")
                small = image.convert("L").resize((args.size, args.size), Image.Resampling.LANCZOS)
                small.save(folder / Path(key).name, format="PNG", optimize=True)
    alphabets = sorted({c.split("--")[0] for c in characters})
    print(
        f"wrote {args.out}: {sum(map(len, characters.values()))} images of {len(characters)} "
        f"characters from {len(alphabets)} alphabets ({', '.join(alphabets)})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
