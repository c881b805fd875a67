"""Labels that can be trusted: an unconditional generator's samples take the classes of the bank
codes they start from only where its quality report (measured by ``fit``, read back by
``load_generator``) says the samples still carry them."""

from __future__ import annotations

import dataclasses
import json
import warnings

import huggingface_hub
import pytest
import torch
from conftest import DIGITS, QUICK, RUN, TINY
from test_hub import folder_files, put_in_cache

from learned_aug import (
    ClassifierFilter,
    Interpolate,
    LatentBank,
    SyntheticDataset,
    VAEConfig,
    fit,
    load_generator,
)
from learned_aug.checkpoint import CheckpointError
from learned_aug.latent_bank import attach_bank, bank_of
from learned_aug.models import VAE
from learned_aug.quality import attach_quality, quality_of
from learned_aug.synthetic.trust import LABEL_TRUST, UncheckedLabelsWarning, label_bar
from learned_aug.training.diagnostics import GeneratorWarning
from learned_aug.training.publish import default_sampler

WAYS = (
    "config={'conditional': True}",
    "--per-class",
    "ClassifierFilter(classifier, relabel=True)",
    "target_transform=Teacher(classifier)",
)
GOOD = {"classifier_accuracy_samples": 0.85, "classifier_accuracy_real_val": 0.9}
BAD = {"classifier_accuracy_samples": 0.12, "classifier_accuracy_real_val": 0.9}


@pytest.fixture(scope="module")
def few(digits):
    return digits.subset(range(0, 1797, 6))  # 300 8x8 digits, all ten classes


def hand_built(data, report: dict | None, **config) -> VAE:
    """An untrained VAE with the latent bank of ``data`` and ``report`` attached, as a user
    builds one in memory."""
    torch.manual_seed(0)
    vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, hidden_channels=(4,), **config))
    attach_bank(vae, LatentBank.build(vae.eval(), data))
    return attach_quality(vae, report)


def no_warning(make):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return make()


@pytest.fixture(scope="module")
def collapsed(few, tmp_path_factory):
    """An unconditional VAE that learned nothing (lr 1e-6), trained with a run folder."""
    out = tmp_path_factory.mktemp("collapsed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        slow = dataclasses.replace(QUICK, lr=1e-6)
        tiny = {"latent_dim": 2, "hidden_channels": (4,)}
        result = fit("vae", few, slow, config=tiny, out=out, **RUN)
    said = [str(w.message) for w in caught if issubclass(w.category, GeneratorWarning)]
    assert any("SyntheticDataset refuses the classes" in message for message in said)
    return result.model, out


# ------------------------------------------------------------------ fit measures, load reads
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


# ------------------------------------------------------------------ the rule
def test_a_collapsed_unconditional_generator_is_refused_with_its_numbers(collapsed):
    model, out = collapsed
    measured, needed = label_bar(quality_of(model), 10)
    for generator in (model, load_generator(out)):
        with pytest.raises(ValueError, match="no longer look like their source") as err:
            SyntheticDataset(generator, 10)
        message = str(err.value)
        assert f"classifier_accuracy_samples={measured:.4g}" in message
        assert f"{measured:.1%}" in message and f"below the {needed:.1%} required" in message
        for way in (*WAYS, "labels='unlabelled'"):
            assert way in message


@pytest.mark.parametrize("strategy", [None, "posterior", Interpolate(0.5), "noise"])
def test_every_strategy_that_starts_from_bank_codes_is_checked(few, strategy):
    with pytest.raises(ValueError, match=r"classifier_accuracy_samples=0\.12"):
        SyntheticDataset(hand_built(few, BAD), 10, strategy=strategy)


@pytest.mark.parametrize(
    ("measured", "refused"), [(0.5, False), (0.499, True), (0.85, False), (0.1, True)]
)
def test_the_bar_is_half_way_from_chance_to_the_real_images(few, measured, refused):
    report = {"classifier_accuracy_samples": measured, "classifier_accuracy_real_val": 0.9}
    assert label_bar(report, 10) == (measured, pytest.approx(0.1 + LABEL_TRUST * (0.9 - 0.1)))
    assert label_bar(report, 10)[1] == pytest.approx(0.5)
    generator = hand_built(few, report)
    if refused:
        with pytest.raises(ValueError, match=r"below the 50\.0% required"):
            SyntheticDataset(generator, 10)
    else:
        dataset = no_warning(lambda: SyntheticDataset(generator, 10))
        assert dataset.classes == DIGITS and dataset.targets[:3] == [0, 1, 2]


def test_a_good_report_passes_and_the_labels_are_the_bank_codes_classes(few):
    generator = hand_built(few, GOOD)
    dataset = no_warning(lambda: SyntheticDataset(generator, 20, seed=3))
    samples, labels = dataset.generate(range(20))
    assert labels.tolist() == [i % 10 for i in range(20)] == list(dataset.targets)
    # fit measures the report on exactly these draws (the sampler skips the check it feeds).
    torch.testing.assert_close(default_sampler(generator, 3)(labels), samples, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("report", "why"),
    [
        (None, "no quality report is attached"),
        ({"active_units": 2, "copy_distance_ratio": 0.9}, "does not measure them"),
        ({"classifier_accuracy_samples": 0.9, "classifier_accuracy_real_val": 0.1}, "above chance"),
        ({"classifier_accuracy_samples": "0.9", "classifier_accuracy_real_val": 0.9}, "measure"),
    ],
)
def test_labels_no_report_can_judge_are_served_with_a_warning(few, report, why):
    generator = hand_built(few, report)
    with pytest.warns(UncheckedLabelsWarning, match="labels of this unconditional VAE's") as seen:
        dataset = SyntheticDataset(generator, 10)
    message = str(seen[0].message)
    assert "unchecked" in message and why in message
    assert all(way in message for way in (*WAYS, "labels='unlabelled'"))
    assert issubclass(seen[0].category, UserWarning) and seen[0].filename == __file__
    assert dataset.targets[:2] == [0, 1]


def test_a_class_conditional_generator_is_never_checked(few):
    generator = hand_built(few, BAD, classes=DIGITS, conditional=True)
    assert no_warning(lambda: SyntheticDataset(generator, 10)).targets[:2] == [0, 1]
    no_warning(lambda: SyntheticDataset(attach_quality(generator, None), 10))


def test_per_class_generators_are_never_checked(few):
    per_class = fit("vae", few, QUICK, config={"per_class": True, **TINY}, **RUN).model
    attach_quality(per_class, BAD)
    assert no_warning(lambda: SyntheticDataset(per_class, 10)).classes == DIGITS


def test_a_relabelling_classifier_or_no_labels_need_no_report(few):
    generator = hand_built(few, BAD)
    teacher = ClassifierFilter(lambda x: x.flatten(1)[:, :10], threshold=0.0, relabel=True)
    relabelled = no_warning(lambda: SyntheticDataset(generator, 10, filter=teacher))
    assert relabelled.classes == DIGITS
    unlabelled = no_warning(lambda: SyntheticDataset(generator, 10, labels="unlabelled"))
    assert list(unlabelled.targets) == [-1] * 10
    no_warning(lambda: SyntheticDataset(attach_quality(generator, None), 10, labels="unlabelled"))


def test_a_filter_that_keeps_the_bank_labels_is_checked_like_none(few):
    keep = ClassifierFilter(lambda x: x.flatten(1)[:, :10], threshold=0.5)
    with pytest.raises(ValueError, match=r"classifier_accuracy_samples=0\.12"):
        SyntheticDataset(hand_built(few, BAD), 10, filter=keep)
