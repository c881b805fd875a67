"""pretrained/ holds each bundled generator as released to the Hub, and the package finds it.

That an installed wheel carries them (setup.py copies pretrained/ into learned_aug/) is checked
by .ci/run, which builds the wheel, installs it outside the checkout and loads every name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from learned_aug import VQVAE, bundled_names, load_generator
from learned_aug.bundled import PRETRAINED_DIR, bundled_dir

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = sorted(p for p in (ROOT / "pretrained").iterdir() if p.is_dir())
RELEASED = {"config.json", "model.safetensors", "README.md", "training.json"}


def test_a_checkout_serves_the_top_level_pretrained_folder():
    assert bundled_dir() == PRETRAINED_DIR
    assert PRETRAINED_DIR.resolve() == (ROOT / "pretrained").resolve()
    assert not (ROOT / "learned_aug" / "pretrained").exists()  # one copy, at the top
    assert bundled_names() == [p.name for p in FOLDERS]


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_each_generator_is_released_with_the_command_that_made_it(folder):
    files = {p.name for p in folder.iterdir()}
    assert files >= RELEASED, f"{folder.name} lacks {sorted(RELEASED - files)}"
    record = json.loads((folder / "training.json").read_text())
    assert record["command"] == f"python scripts/make_pretrained.py --only {folder.name}"
    assert "The script calls `fit" in record["notes"]  # the exact fit call, arguments and all
    generator = load_generator(folder)
    if len(generator.sample_shape) == 3:
        assert "samples.png" in files
    if not isinstance(generator, VQVAE):  # VQ codes are discrete: no bank to interpolate in
        assert "latent_bank.safetensors" in files
