"""Every script of examples/ runs, at smoke size (``LEARNED_AUG_SMOKE=1``), as a user runs it:
a fresh interpreter in an empty working directory, offline.

The Hub example loads its repo from huggingface_hub's own offline cache, filled the way
``hf_hub_download`` fills it (see test_hub.py) with the files ``learned-aug push --dry-run``
stages for the bundled ``mnist-vae``.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_hub import folder_files, put_in_cache

from learned_aug.bundled import PRETRAINED_DIR
from learned_aug.hub import stage_upload

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
HUB_REPO = "learned-aug-examples/mnist-vae"  # the example's default --repo-id
# What each example prints when it has done its job.
EXPECT = {
    "colour_images.py": r"real \+ SyntheticDataset: accuracy",
    "concat_synthetic.py": r"real \+ synthetic: 1 batches an epoch, accuracy",
    "evaluate_your_data.py": r"\| none \| learned \|",
    "finetune_pretrained.py": r"RandAugment \+ SyntheticDataset: accuracy [0-9.]+ on \d+ held",
    "few_shot_transform.py": r"with LearnedAugment: accuracy",
    "fit_imagefolder.py": r"20 generated images of classes \['0', .*'9'\]",
    "gpu_batch_augment.py": r"with LearnedAugment on (cpu|cuda): accuracy",
    "hub_push_load.py": r"SyntheticDataset\('learned-aug-examples/mnist-vae', n=8\)",
}


def test_every_example_is_listed_and_documented():
    assert {p.name for p in EXAMPLES} == set(EXPECT)
    for path in EXAMPLES:
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc and "Shows:" in doc and "LEARNED_AUG_SMOKE=1" in doc, path.name
        assert re.search(r"about \d+ minutes?|seconds", doc), f"{path.name}: how long at full size"


@pytest.fixture
def hub_cache(tmp_path) -> Path:
    staged = tmp_path / "staged"
    stage_upload(PRETRAINED_DIR / "mnist-vae", staged, HUB_REPO)
    put_in_cache(tmp_path / "hub-cache", HUB_REPO, folder_files(staged))
    return tmp_path / "hub-cache"


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_example_runs_at_smoke_size(path, tmp_path, hub_cache):
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **os.environ,
        "LEARNED_AUG_SMOKE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(hub_cache),
        # The checkout's learned_aug, whether or not it is installed.
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, str(path)], cwd=work, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(EXPECT[path.name], done.stdout), done.stdout[-3000:]
