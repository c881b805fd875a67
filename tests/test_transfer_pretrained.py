"""The generators pretrained for transfer load by name, start new classes at their mean class,
and the transfer experiment's page reports what its CSV holds."""

from __future__ import annotations

import importlib
import statistics
from pathlib import Path

import pytest
import torch
from conftest import RUN

from learned_aug import fit, load_dataset, load_generator
from learned_aug.cli import main
from learned_aug.data import balanced_subset
from learned_aug.training import FitSettings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def letters():
    """Two drawings of each of Omniglot's 26 Latin letters, at the generator's 32 px."""
    return balanced_subset(load_dataset("letters-omniglot", image_size=32), 2, seed=0)[0]


def test_omniglot_vae_never_saw_a_latin_letter():
    gen = load_generator("omniglot-vae")
    assert gen.sample_shape == (1, 32, 32) and gen.conditional and len(gen.classes) == 216
    alphabets = {c.split("--")[0] for c in gen.classes}
    assert len(alphabets) == 7 and "Latin" not in alphabets


def test_init_without_training_starts_every_new_letter_at_the_mean_class(letters):
    gen = load_generator("omniglot-vae")
    adapted = fit("vae", letters, FitSettings(epochs=0), init="omniglot-vae", **RUN).model
    assert adapted.classes == letters.classes
    old, new = gen.state_dict(), adapted.state_dict()
    k = len(gen.classes)
    for name in ("enc_fc.0.weight", "dec_fc.0.weight"):
        mean = old[name][:, -k:].mean(dim=1)
        assert torch.allclose(new[name][:, -26:], mean[:, None].expand(-1, 26), atol=1e-6)
        assert torch.equal(new[name][:, :-26], old[name][:, :-k])
    # every letter decodes the same code to the same image: no letter is known yet
    z = torch.randn(1, 8).repeat(2, 1)
    a, b = adapted.decode(z, torch.tensor([0, 25]))
    assert torch.allclose(a, b, atol=1e-6)
    assert gen.classes[0].startswith("Balinese")  # the bundled generator was not changed


def test_the_command_line_fine_tunes_omniglot_vae_on_a_folder(letters, tmp_path):
    from torchvision.transforms.v2 import functional as TF

    for i, (image, label) in enumerate(letters):
        folder = tmp_path / "letters" / letters.classes[label]
        folder.mkdir(parents=True, exist_ok=True)
        TF.to_pil_image(image).save(folder / f"{i}.png")
    run = tmp_path / "run"
    data = ["--data", str(tmp_path / "letters"), "--channels", "1"]
    argv = ["fit", *data, "--init", "omniglot-vae", "--epochs", "1", "--augment", "none",
            "--out", str(run), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    tuned = load_generator(run)
    assert tuned.classes == list("abcdefghijklmnopqrstuvwxyz")
    assert tuned.sample(2, labels=[0, 1]).shape == (2, 1, 32, 32)


def _rows() -> list[dict]:
    rows = []
    for seed in range(3):
        for condition, f1 in (("none", 0.5), ("randaugment-views", 0.6),
                              ("randaugment+transfer", 0.6 + 0.01 * (seed + 1))):  # fmt: skip
            rows.append({"pair": "omniglot", "dataset": "letters-omniglot", "per_class": 5,
                         "size": 130, "seed": seed, "condition": condition, "macro_f1": f1,
                         "pixel_lr_f1": 0.3, "cas": "", "real_accuracy": ""})  # fmt: skip
    return rows


def test_the_transfer_page_reports_the_paired_difference_against_the_control(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # benchmarks/ is beside the package, not in it
    transfer = importlib.import_module("benchmarks.experiments.transfer")
    page = transfer.section(_rows())
    gains = [1.0, 2.0, 3.0]  # points: transfer + RA minus the control, seeds 0-2
    expected = f"{statistics.fmean(gains):+.2f}"
    line = next(row for row in page.splitlines() if row.startswith("| omniglot | 5 |"))
    assert expected in line and "(3/3)" in line
    assert "Not run yet" in transfer.section([])


def test_the_page_never_pairs_runs_of_two_experiments_of_the_same_size(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    transfer = importlib.import_module("benchmarks.experiments.transfer")
    rows = []
    for pair, gain in (("mnist-pool", 0.02), ("digits-pool", -0.01)):  # both: 50 images
        for seed in range(3):
            for condition, f1 in (
                ("randaugment-views", 0.8),
                ("randaugment+unlabelled", 0.8 + gain),
            ):
                rows.append({"pair": pair, "dataset": "d", "per_class": 5, "size": 50,
                             "seed": seed, "condition": condition, "macro_f1": f1})  # fmt: skip
    line = next(r for r in transfer.section(rows).splitlines() if r.startswith("| unlabelled + RA"))
    assert line.split("|")[2].strip() == "6"  # six pairs, not three overwritten ones
    assert "+0.50" in line  # (3 x 2 - 3 x 1) / 6 points
