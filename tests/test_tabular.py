"""Tabular VAE on real tables (breast cancer, wine), CSV loading with a schema, and bad input."""

from __future__ import annotations

import json

import pytest
import torch

from learned_aug import (
    ClasswiseGenerator,
    FitSettings,
    Posterior,
    SyntheticDataset,
    TabularVAE,
    TabularVAEConfig,
    fit,
    load_csv,
    load_dataset,
    load_generator,
)
from learned_aug.cli import main
from learned_aug.data import Column, write_csv
from learned_aug.latent_bank import bank_of

TINY_TAB = {"latent_dim": 3, "hidden_dims": (32,)}
ONE = FitSettings(epochs=1)
LEVELS = ("low", "mid", "high")


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory):
    """scikit-learn's real wine table as a CSV, with alcohol also given as a category."""
    wine = load_dataset("wine")
    names = [f"f{i}" for i in range(wine.x.shape[1])]
    cuts = wine.x[:, 0].quantile(torch.tensor([1 / 3, 2 / 3]))
    level = torch.bucketize(wine.x[:, 0].contiguous(), cuts)
    path = tmp_path_factory.mktemp("csv") / "wine.csv"
    lines = [",".join([*names, "alcohol_level", "cultivar"])]
    for row, lv, y in zip(wine.x.tolist(), level.tolist(), wine.y.tolist(), strict=True):
        lines.append(",".join([*(repr(v) for v in row), LEVELS[lv], f"class_{y}"]))
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------ model on bundled tables
@pytest.mark.parametrize("name", ["breast-cancer", "wine"])
def test_tabular_vae_learns_real_tables(name):
    data = load_dataset(name)
    settings = FitSettings(epochs=15, lr=3e-3, batch_size=16)
    result = fit("tabular-vae", data, settings, config=TINY_TAB, progress=False)
    model = result.model
    # the squared error in standardised units starts near F (predicting the mean) and must fall
    assert result.history[-1]["train_recon"] < 0.6 * data.x.shape[1]
    samples = model.sample(500, rng=torch.Generator().manual_seed(0))
    assert samples.shape == (500, data.x.shape[1]) and samples.isfinite().all()
    # samples live in the data's units: each feature's mean within one data std
    gap = (samples.mean(0) - data.x.mean(0)).abs() / data.x.std(0)
    assert gap.max() < 1.0


def test_scaling_comes_from_the_data_and_round_trips(tmp_path):
    data = load_dataset("breast-cancer")
    model = fit("tabular-vae", data, ONE, config=TINY_TAB, progress=False).model
    # set from the first training batch: features of units from 0.01 to 1000 are standardised
    # with an offset within half a std of the mean and a scale within 2x of the std
    mean, std = data.x.mean(0), data.x.std(0)
    assert bool(model.scaling_ready)
    assert ((model.offset - mean).abs() / std).max() < 0.5
    assert (model.scale / std).max() < 2 and (model.scale / std).min() > 0.5
    model.save_pretrained(tmp_path)
    loaded = load_generator(tmp_path)
    assert type(loaded) is TabularVAE
    assert torch.equal(loaded.offset, model.offset) and torch.equal(loaded.scale, model.scale)
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    assert torch.equal(model.sample(5, rng=g1), loaded.sample(5, rng=g2))
    x = data.x[:5]
    assert torch.equal(model.reconstruct(x), loaded.reconstruct(x))


def test_init_scaling_uses_every_row_and_is_kept_by_training():
    data = load_dataset("wine")
    model = TabularVAE(TabularVAE.config_for((13,), data.classes, **TINY_TAB))
    model.init_scaling(data.x)
    torch.testing.assert_close(model.offset, data.x.mean(0))
    torch.testing.assert_close(model.scale, data.x.std(0, unbiased=False))
    fit(model, data, ONE, progress=False)
    torch.testing.assert_close(model.offset, data.x.mean(0))


def test_per_class_and_conditional_samples_carry_their_class():
    data = load_dataset("wine")
    config = {"per_class": True, **TINY_TAB}
    per_class = fit("tabular-vae", data, FitSettings(epochs=3), config=config, progress=False)
    assert isinstance(per_class.model, ClasswiseGenerator)
    dataset = SyntheticDataset(per_class.model, n=9, seed=0)
    features, label = dataset[4]
    assert isinstance(features, torch.Tensor) and features.shape == (13,) and label == 1
    # At strength 0 a row is the decoded code of a real row of the class it is labelled with.
    rows, labels = SyntheticDataset(per_class.model, n=9, strategy=Posterior(0.0)).generate(
        range(9)
    )
    bank = bank_of(per_class.model)
    with torch.no_grad():
        decoded = per_class.model.decode(bank.codes, bank.labels)
    gap = (rows[:, None] - decoded[None]).abs().amax(2) / data.x.abs().max()
    assert float(gap.min(dim=1).values.max()) < 1e-4
    assert bank.labels[gap.argmin(dim=1)].tolist() == labels.tolist() == [0, 1, 2] * 3
    config = {"conditional": True, **TINY_TAB}
    cvae = fit("tabular-vae", data, FitSettings(epochs=2), config=config, progress=False).model
    assert cvae.sample(3, labels=[2, 2, 0]).shape == (3, 13)
    with pytest.raises(ValueError, match="pass labels"):
        cvae.reconstruct(data.x[:2])


# ------------------------------------------------------------------ CSV with categorical columns
def test_csv_schema_one_hot_in_argmax_out(wine_csv):
    data = load_csv(wine_csv, label_column="cultivar")
    assert data.classes == ["class_0", "class_1", "class_2"]
    level = data.columns[-1]
    assert level.kind == "categorical" and level.categories == ("high", "low", "mid")
    assert all(c.kind == "continuous" for c in data.columns[:-1])
    settings, config = FitSettings(epochs=10, lr=3e-3), {"columns": data.columns, **TINY_TAB}
    result = fit("tabular-vae", data, settings, config=config, progress=False)
    model = result.model
    assert model.config.columns[-1]["categories"] == ["high", "low", "mid"]
    samples = model.sample(300, rng=torch.Generator().manual_seed(0))
    codes = samples[:, -1]
    assert set(codes.unique().tolist()) <= {0.0, 1.0, 2.0}  # argmax out: valid codes only
    assert len(codes.unique()) >= 2


def test_samples_write_back_to_a_csv_that_reloads(tmp_path, wine_csv):
    data = load_csv(wine_csv, label_column="cultivar")
    config = {"columns": data.columns, **TINY_TAB}
    model = fit("tabular-vae", data, ONE, config=config, progress=False)
    labels = torch.tensor([0, 1, 2, 1])
    rows = model.model.sample(4)
    path = write_csv(
        tmp_path / "synthetic.csv",
        rows,
        labels,
        data.columns,
        data.classes,
        label_column="cultivar",
    )
    back = load_csv(path, label_column="cultivar", columns=data.columns, classes=data.classes)
    torch.testing.assert_close(back.x, rows)
    assert back.y.tolist() == labels.tolist()


def test_load_dataset_reads_a_csv_path(wine_csv):
    data = load_dataset(str(wine_csv))
    assert len(data) == 178 and data.classes == ["class_0", "class_1", "class_2"]


# ------------------------------------------------------------------ bad input
def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("missing", ["", "NaN", "?", "NA"])
def test_a_missing_value_names_the_column_and_line(tmp_path, missing):
    path = _write(tmp_path / "t.csv", f"a,b,label\n1,2,x\n3,{missing},y\n")
    with pytest.raises(ValueError, match=r"line 3: column 'b' has a missing value"):
        load_csv(path)


def test_an_unseen_category_or_class_is_refused(tmp_path):
    schema = [Column("a"), Column("colour", "categorical", ("blue", "red"))]
    path = _write(tmp_path / "t.csv", "a,colour,label\n1,red,x\n2,green,y\n")
    with pytest.raises(ValueError, match=r"unseen category 'green' on line 3.*\['blue', 'red'\]"):
        load_csv(path, columns=schema)
    ok = _write(tmp_path / "ok.csv", "a,colour,label\n1,red,x\n2,blue,z\n")
    with pytest.raises(ValueError, match="unseen category 'z'"):
        load_csv(ok, columns=schema, classes=["x", "y"])


def test_malformed_csvs_say_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="label_column='y' is not a column"):
        load_csv(_write(tmp_path / "a.csv", "a,label\n1,x\n"), label_column="y")
    with pytest.raises(ValueError, match="line 3 has 2 cells, but the header has 3"):
        load_csv(_write(tmp_path / "b.csv", "a,b,label\n1,2,x\n1,x\n"))
    with pytest.raises(ValueError, match="continuous column 'a' has 'inf'"):
        load_csv(_write(tmp_path / "c.csv", "a,label\n1,x\ninf,y\n"), columns=[Column("a")])


def test_model_refuses_nan_and_out_of_range_codes():
    cols = [{"name": "w"}, {"name": "c", "kind": "categorical", "categories": ["a", "b"]}]
    model = TabularVAE(TabularVAEConfig(features=2, columns=cols, **TINY_TAB))
    with pytest.raises(ValueError, match=r"non-finite value .* column 'w'"):
        model.loss(torch.tensor([[float("nan"), 0.0]]))
    with pytest.raises(ValueError, match=r"column 'c' has the code 2.0 .*\(codes 0..1\)"):
        model.loss(torch.tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="columns describe 2 features, but features=3"):
        TabularVAEConfig(features=3, columns=cols)
    with pytest.raises(ValueError, match="needs feature vectors"):
        TabularVAE.config_for((1, 8, 8), [])


def test_cli_trains_on_a_csv_with_a_label_column(tmp_path, wine_csv):
    out = tmp_path / "run"
    args = [
        "fit",
        "--data",
        str(wine_csv),
        "--label-column",
        "cultivar",
        "--model",
        "tabular-vae",
        "--latent-dim",
        "3",
        "--epochs",
        "2",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(args) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["columns"][-1] == {
        "name": "alcohol_level",
        "kind": "categorical",
        "categories": ["high", "low", "mid"],
    }
    assert load_generator(out).sample(2).shape == (2, 14)
