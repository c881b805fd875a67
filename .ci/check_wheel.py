"""CI: an installed wheel, not the checkout, serves every bundled generator with no download.

Run by .ci/run with the Python of a fresh venv that holds only the wheel (its dependencies come
from the CI venv), from a folder outside the checkout:

    python check_wheel.py path/to/checkout/pretrained
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # a name that is not bundled would fail, not download


def main(checkout_pretrained: Path) -> None:
    started = time.perf_counter()
    out = subprocess.run(
        [Path(sys.executable).parent / "learned-aug", "--help"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.startswith("usage: learned-aug"), out
    print(f"learned-aug --help (console script): {time.perf_counter() - started:.2f} s wall")

    import learned_aug
    from learned_aug import bundled_names, load_generator
    from learned_aug.bundled import PRETRAINED_DIR

    package = Path(learned_aug.__file__).resolve().parent
    assert Path(sys.prefix).resolve() in package.parents, f"imported {package}, not the wheel"
    assert PRETRAINED_DIR.resolve() == package / "pretrained", PRETRAINED_DIR
    shipped = sorted(p.name for p in checkout_pretrained.iterdir() if p.is_dir())
    assert bundled_names() == shipped, (bundled_names(), shipped)
    for name in shipped:
        files = sorted(p.name for p in (PRETRAINED_DIR / name).iterdir())
        assert files == sorted(p.name for p in (checkout_pretrained / name).iterdir()), name
        generator = load_generator(name)
        print(f"{name}: {type(generator).__name__} {generator.sample_shape} from {PRETRAINED_DIR}")
    # The packed image sets travel inside the package too (learned_aug/data/bundled/*.npz).
    from learned_aug import load_dataset
    from learned_aug.data.loaders import PACKED

    assert package in PACKED.resolve().parents, PACKED
    for name in ("cifar10", "retina", "faces-orl", "letters-omniglot"):
        data = load_dataset(f"{name}-test")
        print(f"{name}-test: {tuple(data.x.shape)} from {PACKED}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
