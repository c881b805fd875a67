"""The default path: what `learned-aug fit` trains without model flags, what evaluate measures."""

from __future__ import annotations

import json

import pytest
import torch

from learned_aug import (
    DEFAULT_RECIPE,
    LearnedAugment,
    Posterior,
    Recipe,
    SyntheticDataset,
    load_generator,
)
from learned_aug.cli import main
from learned_aug.cli.names import DEFAULT_CONDITIONS, TABULAR_CONDITIONS
from learned_aug.data import balanced_subset, load_dataset
from learned_aug.evaluation import CONDITIONS, LEARNED, RECIPES
from learned_aug.evaluation.report import quality_table, read_csv, write_csv
from learned_aug.latent_bank import LatentBank, bank_of
from learned_aug.quality import quality_of
from learned_aug.training.recipe import TABULAR_RECIPE, step_budget
from learned_aug.training.settings import FitSettings


def test_the_budget_is_in_steps_so_tiny_sets_train_as_long_as_large_ones():
    tiny = step_budget(50 * 5, steps=750, min_epochs=10, max_epochs=400, patience_steps=300)
    large = step_budget(5000 * 5, steps=750, min_epochs=3, max_epochs=400, patience_steps=300)
    assert tiny == (188, 75)  # 4 steps an epoch: 752 steps, patience 300 steps
    assert large == (3, 10)  # 333 steps an epoch: 3 epochs, patience at least 10 epochs
    epochs, _ = DEFAULT_RECIPE.budget(50)  # 50 images and their 4 RandAugment copies
    assert epochs == tiny[0]
    assert DEFAULT_RECIPE.budget(50, scale=0.5)[0] == 94


def test_the_recipe_picks_its_tabular_part_for_feature_vectors(digits):
    wine = load_dataset("wine")
    assert DEFAULT_RECIPE.for_data(digits) is DEFAULT_RECIPE
    assert DEFAULT_RECIPE.for_data(wine) is TABULAR_RECIPE
    settings = DEFAULT_RECIPE.fit_settings(wine, epochs=3)
    assert settings.augment is None and settings.epochs == 3
    assert DEFAULT_RECIPE.for_data(wine).config["conditional"]
    assert DEFAULT_RECIPE.fit_settings(digits, augment=None).augment is None
    assert DEFAULT_RECIPE.fit_settings(digits, patience=None).patience == 10  # the budget's
    assert isinstance(DEFAULT_RECIPE.replace(steps=10), Recipe)


def test_the_recipe_takes_settings_and_run_keywords_and_keeps_config_in_the_recipe(digits):
    with pytest.raises(TypeError, match=r"fit_settings got \['latent_dim'\], which are not "
                       r"FitSettings fields"):  # fmt: skip
        DEFAULT_RECIPE.fit_settings(digits, latent_dim=4)
    with pytest.raises(TypeError, match=r"Recipe.fit got \['latent_dim'\].*part.replace\("
                       r"config="):  # fmt: skip
        DEFAULT_RECIPE.fit(digits, latent_dim=4)


def test_cli_fit_without_model_flags_trains_the_recipe(tmp_path, digits, capsys):
    run = tmp_path / "run"
    assert (
        main(["fit", "--data", "digits", "--out", str(run), "--epochs", "1", "--no-progress"]) == 0
    )
    assert "training the recipe (vae, 4 randaugment copies)" in capsys.readouterr().err
    record = json.loads((run / "training.json").read_text())
    assert record["recipe"] == "default" and record["augment"] == "randaugment"
    assert record["trained_on"] == 5 * len(digits)
    config = json.loads((run / "config.json").read_text())
    assert config["conditional"] is True and len(config["classes"]) == 10  # class-conditional
    assert config["latent_dim"] == 8
    bank = LatentBank.load(run)
    assert len(bank) == len(digits) and bank.stds is not None  # the images, with their spread
    generator = load_generator(run)
    dataset = SyntheticDataset(generator, n=20, seed=0)  # the aggregate posterior of its bank
    assert dataset.strategy == Posterior(bank=bank_of(generator))
    torch.testing.assert_close(bank_of(generator).codes, bank.codes)
    quality = json.loads((run / "quality.json").read_text())
    assert {"active_units", "classifier_accuracy_samples", "copy_distance_ratio"} <= set(quality)
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert "a classifier of the real images names the class of" in out


def test_cli_flags_override_parts_of_the_recipe(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["fit", "--data", "digits", "--out", str(run), "--epochs", "1", "--no-progress"]
    assert main([*argv, "--no-conditional", "--augment", "none", "--latent-dim", "4"]) == 0
    record = json.loads((run / "training.json").read_text())
    assert record["augment"] is None and record["trained_on"] == record["examples"]
    config = json.loads((run / "config.json").read_text())
    assert config["conditional"] is False and config["latent_dim"] == 4


def test_model_flag_keeps_the_plain_generator(tmp_path):
    run = tmp_path / "run"
    argv = ["fit", "--data", "digits", "--model", "vae", "--out", str(run), "--no-progress"]
    assert main([*argv, "--epochs", "1"]) == 0
    record = json.loads((run / "training.json").read_text())
    assert record["recipe"] is None and record["augment"] is None
    assert json.loads((run / "config.json").read_text())["conditional"] is False


def test_the_recipe_does_not_collapse_on_few_small_images(digits):
    """50 8x8 digits (5 per class): a fixed 30 epochs left a generator whose samples carried no
    class; the step budget trains it long enough that a classifier of the real images names
    the class of most samples."""
    few = balanced_subset(digits, 5, seed=5)[0]
    result = DEFAULT_RECIPE.replace(steps=400).fit(few, seed=5, progress=False)
    from learned_aug.training.diagnostics import diagnose
    from learned_aug.training.publish import default_sampler

    assert len(bank_of(result.model)) == len(few)  # fit attached the bank of its data
    report = diagnose(result.model, few, default_sampler(result.model, 0), warn=False)
    assert report["active_units"] >= 1
    assert report["classifier_accuracy_samples"] >= 0.5  # chance: 0.1


def test_fit_settings_check_augment():
    with pytest.raises(ValueError, match=r"augment must be None or one of .*'flip'.*got 'mixup'"):
        FitSettings(augment="mixup")
    with pytest.raises(ValueError, match="augment_copies must be a positive int"):
        FitSettings(augment="randaugment", augment_copies=0)


def test_evaluate_measures_the_default_path():
    assert RECIPES["learned"] is DEFAULT_RECIPE
    assert LEARNED["learned"].strategy is None  # SyntheticDataset's own default
    assert DEFAULT_CONDITIONS == (
        "none", "trivialaugment", "randaugment", "randaugment-views", "learned",
        "randaugment+learned",
    )  # fmt: skip
    assert set(DEFAULT_CONDITIONS) | set(TABULAR_CONDITIONS) <= set(CONDITIONS)


def test_quality_columns_round_trip_through_the_csv(tmp_path):
    rows = [
        {"dataset": "d", "size": 50, "seed": 0, "condition": "none", "macro_f1": 0.5},
        {
            "dataset": "d",
            "size": 50,
            "seed": 0,
            "condition": "learned",
            "macro_f1": 0.6,
            "sample_accuracy": 0.9,
            "real_accuracy": 0.8,
            "cas": 0.75,
            "active_units": 5,
            "copy_ratio": 0.7,
        },
    ]
    write_csv(rows, tmp_path / "r.csv")
    back = read_csv(tmp_path / "r.csv")
    assert back[0]["sample_accuracy"] is None and back[1]["active_units"] == 5
    assert back[1]["cas"] == 0.75 and back[0]["cas"] is None
    assert "| learned | 1 | 90.0% | 80.0% | 75.0% | 5.0 | 0.70 |" in quality_table(back)


def test_a_loaded_or_fitted_generator_brings_its_bank(tmp_path, digits):
    few = balanced_subset(digits, 3, seed=0)[0]
    result = DEFAULT_RECIPE.replace(steps=5, min_epochs=1).fit(
        few, out=tmp_path / "run", progress=False
    )
    loaded = load_generator(tmp_path / "run")
    assert quality_of(loaded) == quality_of(result.model) is not None
    for gen in (result.model, loaded):
        dataset = SyntheticDataset(gen, n=4)
        assert dataset.strategy == Posterior(bank=bank_of(gen))
        assert len(dataset.strategy.bank) == len(few)
    torch.testing.assert_close(bank_of(loaded).codes, bank_of(result.model).codes)
    assert LearnedAugment(loaded, "interpolate").strategy.bank is bank_of(loaded)


def test_the_recipe_picks_its_colour_and_tabular_variants_from_the_data():
    from learned_aug import LabelledData
    from learned_aug.training.recipe import COLOUR_RECIPE, TABULAR_RECIPE

    grey = LabelledData(torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 0, 1]), ["a", "b"])
    rgb = LabelledData(torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 0, 1]), ["a", "b"])
    rows = LabelledData(torch.rand(4, 5), torch.tensor([0, 1, 0, 1]), ["a", "b"])
    assert DEFAULT_RECIPE.for_data(grey) is DEFAULT_RECIPE
    assert DEFAULT_RECIPE.for_data(rgb) is COLOUR_RECIPE and COLOUR_RECIPE.steps == 3000
    assert DEFAULT_RECIPE.for_data(rows) is TABULAR_RECIPE
    # the same images, four times the steps (1,000 a copy-augmented epoch at 64 an update)
    assert COLOUR_RECIPE.budget(200) == (215, 22) and DEFAULT_RECIPE.budget(200) == (54, 22)
