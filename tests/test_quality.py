"""The quality report travels with a generator: fit measures it and attaches it, every loader
reads the quality.json saved beside the weights (a folder or a Hub repo) and refuses one that
is not a report. What SyntheticDataset does with it: test_synthetic.py."""

from __future__ import annotations

import json

import huggingface_hub
import pytest
from conftest import GOOD, QUICK, RUN, TINY
from test_hub import folder_files, put_in_cache

from learned_aug import (
    SyntheticDataset,
    VAEConfig,
    fit,
    load_generator,
)
from learned_aug.checkpoint import CheckpointError
from learned_aug.latent_bank import bank_of
from learned_aug.models import VAE
from learned_aug.quality import attach_quality, quality_of


def test_fit_attaches_the_quality_it_wrote_and_load_generator_reads_it_back(collapsed):
    model, out = collapsed
    written = json.loads((out / "quality.json").read_text())
    assert quality_of(model) == written
    # An unconditional generator's samples inherit classes from the bank: fit measured them.
    assert written["active_units"] == 0
    assert written["classifier_accuracy_samples"] <= 0.15 < written["classifier_accuracy_real_val"]
    assert quality_of(load_generator(out)) == written
    assert bank_of(load_generator(out)) is not None


def test_fit_without_a_run_folder_measures_nothing_and_drops_an_old_report(few):
    vae = attach_quality(VAE(VAEConfig(image_size=(8, 8), **TINY)), GOOD)
    result = fit(vae, few, QUICK, **RUN)
    assert result.model is vae and quality_of(vae) is None  # GOOD described other weights


def test_load_generator_refuses_a_quality_report_that_is_not_one(collapsed, tmp_path):
    model, _ = collapsed
    model.save_weights(tmp_path)  # the weights alone: no quality.json beside them
    assert quality_of(load_generator(tmp_path)) is None  # no quality.json: none attached
    (tmp_path / "quality.json").write_text("[0.1]")
    with pytest.raises(CheckpointError, match=r"quality\.json must hold a JSON object.*list"):
        load_generator(tmp_path)
    (tmp_path / "quality.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"quality\.json is not valid JSON"):
        load_generator(tmp_path)


def test_a_hub_repo_brings_its_quality_report(collapsed, tmp_path, monkeypatch):
    model, out = collapsed
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    files = {k: v for k, v in folder_files(out).items() if k != "checkpoint.pt"}
    put_in_cache(tmp_path / "cache", "learned-aug-tests/collapsed", files)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    loaded = load_generator("learned-aug-tests/collapsed")
    assert quality_of(loaded) == quality_of(model)
    with pytest.raises(ValueError, match="classifier_accuracy_samples="):
        SyntheticDataset(loaded, 10)
