"""Bad input: each gets an error that names what is wrong, and nothing is lost or overwritten."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from conftest import TINY
from PIL import Image

from learned_aug import (
    VAE,
    VQVAE,
    CheckpointError,
    ClassifierFilter,
    FitSettings,
    LabelledData,
    LearnedAugment,
    SyntheticDataset,
    VAEConfig,
    create_generator,
    fit,
    load_csv,
    load_dataset,
    load_generator,
)
from learned_aug.cli import main
from learned_aug.synthetic import to_csv
from learned_aug.training.checkpoint import CHECKPOINT_NAME

FIT = dict(settings=FitSettings(epochs=1), config=TINY, progress=False, device="cpu")
PER_CLASS = {**FIT, "config": {"per_class": True, **TINY}}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, digits) -> Path:
    """A real run folder: one epoch on the digits (checkpoint, weights, config, history)."""
    out = tmp_path_factory.mktemp("run")
    fit("vae", digits, out=out, **FIT)
    return out


@pytest.fixture
def run(trained_run, tmp_path) -> Path:
    """A private copy of the trained run, free to damage."""
    for name, data in _snapshot(trained_run).items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


def _edit_config(run: Path, **changes) -> None:
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, **changes}))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _scramble_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[8:40] = b"\xff" * 32  # inside the JSON header that follows the 8-byte length
    path.write_bytes(bytes(data))


DAMAGE = {
    "truncated weights": (lambda r: _truncate(r / "model.safetensors"), r"truncated or corrupt"),
    "corrupted weights": (lambda r: _scramble_header(r / "model.safetensors"), r"corrupt"),
    "empty weights": (lambda r: (r / "model.safetensors").write_bytes(b""), r"model.safetensors"),
    "missing weights": (lambda r: (r / "model.safetensors").unlink(), r"model.safetensors"),
    "another model kind": (lambda r: _edit_config(r, model_type="gan"), r"model_type='gan'"),
    "a newer format": (lambda r: _edit_config(r, format_version=99), r"format_version=99"),
    "config not JSON": (lambda r: (r / "config.json").write_text("{oops"), r"not valid JSON"),
    "shapes off the config": (lambda r: _edit_config(r, latent_dim=5), r"shape .* config"),
    "unknown config key": (lambda r: _edit_config(r, colour="red"), r"unknown keys \['colour'\]"),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_checkpoint_is_refused_clearly_and_left_alone(run, damage, capsys):
    damage_fn, message = DAMAGE[damage]
    damage_fn(run)
    before = _snapshot(run)
    with pytest.raises(CheckpointError, match=message):
        load_generator(run)
    assert main(["info", str(run)]) == 2
    assert "learned-aug info: error:" in capsys.readouterr().err
    assert main(["sample", str(run), "-n", "4", "--out", str(run / "samples")]) == 2
    assert _snapshot(run) == before and not (run / "samples").exists()


def test_another_kind_read_through_the_wrong_class_says_which(run):
    with pytest.raises(CheckpointError, match=r"model_type='vae'.*VQVAEConfig.*load_generator"):
        VQVAE.from_pretrained(run)


@pytest.mark.parametrize("damage", [_truncate, lambda p: p.write_bytes(b"PK\x03\x04 not torch")])
def test_resuming_from_a_damaged_training_checkpoint_overwrites_nothing(run, digits, damage):
    damage(run / CHECKPOINT_NAME)
    before = _snapshot(run)
    with pytest.raises(ValueError, match=r"cannot read the training checkpoint .*checkpoint.pt"):
        fit("vae", digits, out=run, resume=True, **FIT)
    assert _snapshot(run) == before


def test_data_of_another_shape_than_the_generator_fails_before_out_is_touched(run, digits):
    before = _snapshot(run)
    rgb = LabelledData(digits.x[:40].repeat(1, 3, 1, 1), digits.y[:40], digits.classes)
    generator = load_generator(run)
    with pytest.raises(ValueError, match=r"sample shape \(3, 8, 8\).*expects \(1, 8, 8\)"):
        fit(generator, rgb, out=run, overwrite=True, progress=False)
    big = load_dataset(digits.subset(range(40)), image_size=12)
    with pytest.raises(ValueError, match=r"sample shape \(1, 12, 12\)"):
        fit(generator, big, out=run, overwrite=True, progress=False)
    assert _snapshot(run) == before


def test_images_of_the_wrong_channels_or_size_for_a_generator(run):
    generator = load_generator(run)
    with pytest.raises(ValueError, match="has 3 channels, but this generator expects 1"):
        generator.reconstruct(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"sample shape \(1, 9, 8\).*expects \(1, 8, 8\)"):
        generator.encode(torch.rand(2, 1, 9, 8))
    with pytest.raises(TypeError, match="float tensor"):
        generator.encode(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"expects images with 1 channel\(s\), got 3"):
        LearnedAugment(generator)(torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match=r"size \(8, 8\), got \(16, 16\)"):
        LearnedAugment(generator, resize=False)(torch.rand(1, 16, 16))
    with pytest.raises(ValueError, match=r"mode 'L' or 'RGB', got mode 'CMYK'"):
        LearnedAugment(generator)(Image.new("CMYK", (8, 8)))


def _image_folder(root: Path, counts: dict[str, int]) -> Path:
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.new("L", (8, 8), color=30 * i).save(root / name / f"{i}.png")
    return root


def test_an_empty_dataset_is_refused(tmp_path):
    with pytest.raises(ValueError, match="data is empty"):
        fit("vae", (torch.empty(0, 1, 8, 8), torch.empty(0, dtype=torch.long)), **FIT)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class subfolders"):
        fit("vae", str(tmp_path / "empty"), **FIT)


def test_an_empty_class_is_refused_on_disk_and_in_memory(tmp_path, digits):
    folder = _image_folder(tmp_path / "data", {"cat": 3, "dog": 0})
    with pytest.raises(ValueError, match=r"class folder.* dog .*contain no images"):
        fit("vae", str(folder), **FIT)
    no_fives = digits.subset(digits.y != 5)
    with pytest.raises(ValueError, match=r"classes with no examples: \['5'\]"):
        fit("vae", no_fives, **PER_CLASS)


def test_a_class_with_one_image_still_trains_its_member(tmp_path):
    folder = _image_folder(tmp_path / "data", {"many": 12, "one": 1})
    result = fit("vae", str(folder), out=tmp_path / "run", **PER_CLASS)
    assert result.model.classes == ["many", "one"]
    assert result.model.sample(2, labels=[1, 1]).shape == (2, 1, 8, 8)
    assert load_generator(tmp_path / "run").classes == ["many", "one"]


def test_labels_out_of_range_name_the_range():
    x = torch.rand(3, 1, 8, 8)
    with pytest.raises(ValueError, match=r"y must be in \[0, 2\).*found label 7"):
        LabelledData(x, torch.tensor([0, 1, 7]), ["a", "b"])
    with pytest.raises(ValueError, match=r"found label -1"):
        LabelledData(x, torch.tensor([0, -1, 1]), ["a", "b"])
    gen = create_generator("vae", (1, 8, 8), ["a", "b"], per_class=True, **TINY)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\].*\[0, 9\]"):
        gen.sample(2, labels=[0, 9])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        SyntheticDataset(gen, n=2, labels=[3, 0])
    cvae = VAE(VAEConfig(image_size=(8, 8), classes=["a", "b"], conditional=True, **TINY))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        cvae.loss(x, torch.tensor([0, 1, 2]))


CSV_HEADER = "size,colour,label\n"


@pytest.mark.parametrize(
    "rows, message",
    [
        ("1.5,red,a\nnan,blue,b\n", r"line 3: column 'size' has a missing value \('nan'\)"),
        ("1.5,red,a\n,blue,b\n", r"line 3: column 'size' has a missing value"),
        ("1.5,red,a\n2.0,NA,b\n", r"line 3: column 'colour' has a missing value"),
    ],
)
def test_a_csv_with_missing_values_names_column_and_line(tmp_path, rows, message):
    (tmp_path / "t.csv").write_text(CSV_HEADER + rows)
    with pytest.raises(ValueError, match=message):
        load_csv(tmp_path / "t.csv")


def test_a_csv_with_an_unseen_category_or_class_or_inf_is_refused(tmp_path):
    (tmp_path / "train.csv").write_text(CSV_HEADER + "1.5,red,a\n2.0,blue,b\n")
    (tmp_path / "inf.csv").write_text(CSV_HEADER + "inf,red,a\n")
    (tmp_path / "new.csv").write_text(CSV_HEADER + "1.0,green,a\n")
    (tmp_path / "odd.csv").write_text(CSV_HEADER + "1.0,red,c\n")
    train = load_csv(tmp_path / "train.csv")
    with pytest.raises(ValueError, match=r"'colour' has the unseen category 'green' on line 2"):
        load_csv(tmp_path / "new.csv", columns=train.columns)
    with pytest.raises(ValueError, match=r"unseen category 'c' on line 2.*\['a', 'b'\]"):
        load_csv(tmp_path / "odd.csv", columns=train.columns, classes=train.classes)
    with pytest.raises(ValueError, match=r"line 2: continuous column 'size' has 'inf'"):
        load_csv(tmp_path / "inf.csv", columns=train.columns)


def test_the_cli_refuses_a_bad_csv_before_replacing_a_run(run, tmp_path, capsys):
    (tmp_path / "bad.csv").write_text(CSV_HEADER + "1.5,red,a\nnan,blue,b\n")
    before = _snapshot(run)
    argv = ["fit", "--data", str(tmp_path / "bad.csv"), "--model", "tabular-vae"]
    assert main([*argv, "--out", str(run), "--overwrite", "--no-progress"]) == 2
    assert "missing value" in capsys.readouterr().err
    assert _snapshot(run) == before


# ----------------------------------------------------------------------------- SyntheticDataset
@pytest.fixture(scope="module")
def two_class_gen():
    return create_generator("vae", (1, 8, 8), ["a", "b"], per_class=True, **TINY)


@pytest.mark.parametrize("index", [2.5, "3", True, torch.tensor(1.0), None])
def test_a_synthetic_index_that_is_no_integer_is_a_type_error_naming_it(two_class_gen, index):
    dataset = SyntheticDataset(two_class_gen, n=10)
    named = f"indices must be integers, got {index!r} ({type(index).__name__})"
    with pytest.raises(TypeError, match=re.escape(named)):
        dataset[index]
    with pytest.raises(TypeError, match="indices must be integers"):
        dataset.__getitems__([1, index])
    with pytest.raises(TypeError, match="indices must be integers"):
        dataset.targets[index]


@pytest.mark.parametrize("index", [-11, 10, 10**12])
def test_a_synthetic_index_out_of_range_is_reported_as_given(two_class_gen, index):
    dataset = SyntheticDataset(two_class_gen, n=10)
    message = rf"index {index} out of range for a SyntheticDataset of n=10"
    with pytest.raises(IndexError, match=message):
        dataset[index]
    with pytest.raises(IndexError, match=message):
        dataset.__getitems__([0, index])
    assert dataset[-10][1] == dataset[0][1] and dataset[-1][1] == dataset[9][1]
    assert dataset[torch.tensor(3)][1] == dataset.targets[3] == 1  # an integer tensor is fine


def test_synthetic_labels_and_filter_name_what_is_accepted(two_class_gen, tmp_path):
    with pytest.raises(ValueError, match=r"'balanced', 'unlabelled' or a sequence.*got 'none'"):
        SyntheticDataset(two_class_gen, n=2, labels="none")
    relabel = ClassifierFilter(len, relabel=True)
    with pytest.raises(ValueError, match=r"relabelling ClassifierFilter.*pass one of them"):
        SyntheticDataset(two_class_gen, n=2, labels="unlabelled", filter=relabel)
    unlabelled = SyntheticDataset(
        create_generator("tabular-vae", (3,), []), n=2, labels="unlabelled"
    )
    with pytest.raises(ValueError, match=r"class column.*unlabelled"):
        to_csv(unlabelled, tmp_path / "rows.csv", progress=False)


def test_like_refuses_real_data_it_cannot_match(two_class_gen):
    real = LabelledData(torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 0, 1]), ["a", "b"])
    swapped = LabelledData(real.x, real.y, ["b", "a"])
    with pytest.raises(ValueError, match=r"names its classes \['b', 'a'\].*\['a', 'b'\]"):
        SyntheticDataset.like(swapped, two_class_gen, n=2)
    bigger = LabelledData(torch.rand(4, 1, 9, 9), real.y, ["a", "b"])
    with pytest.raises(ValueError, match=r"shape \(1, 9, 9\).*\(1, 8, 8\)"):
        SyntheticDataset.like(bigger, two_class_gen, n=2)
    with pytest.raises(ValueError, match="empty LabelledData"):
        SyntheticDataset.like(real.subset([]), two_class_gen, n=2)
    with pytest.raises(TypeError, match="PIL image or a tensor, got str"):
        SyntheticDataset.like([("x", 0)], two_class_gen, n=2)
    from torchvision.datasets import FakeData

    transformed = FakeData(size=2, image_size=(1, 8, 8), transform=lambda image: image)
    with pytest.raises(ValueError, match=r"has one.*pass it the same transform="):
        SyntheticDataset.like(transformed, two_class_gen, n=2)


def test_sample_refuses_an_unconditional_generator_unless_unlabelled(run, tmp_path, capsys):
    argv = ["sample", str(run), "-n", "4", "--no-progress"]
    # With its latent bank, a sample starts from the codes of real images of its class
    # (the posterior), labelled with that class where the run's quality report vouches for
    # it. One epoch taught this run nothing: its samples carry no class, and are refused.
    assert main([*argv, "--out", str(tmp_path / "refused")]) == 2
    err = capsys.readouterr().err
    assert "classifier_accuracy_samples=" in err and "--unlabelled" in err
    quality = json.loads((run / "quality.json").read_text())
    (run / "quality.json").write_text(json.dumps({**quality, "classifier_accuracy_samples": 0.9}))
    assert main([*argv, "--out", str(tmp_path / "labelled")]) == 0
    assert "4 samples of 10 classes" in capsys.readouterr().out
    (run / "latent_bank.safetensors").unlink()
    assert main([*argv, "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "cannot say which class" in err and "--unlabelled" in err
    assert main([*argv, "--out", str(tmp_path / "b"), "--unlabelled"]) == 0
    assert "4 samples unlabelled" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [f"{i}.png" for i in range(4)]
