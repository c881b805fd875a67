"""Augmented copies of a generator's training data: replayable, checked, and on the CLI."""

from __future__ import annotations

import json

import pytest
import torch
from torchvision.transforms import v2

from learned_aug.cli import build_parser, main
from learned_aug.conventional import CONVENTIONAL, augmented_copies, randaugment_batch
from learned_aug.data import balanced_subset, load_dataset
from learned_aug.latent_bank import LatentBank


@pytest.fixture(scope="module")
def few(digits):
    return balanced_subset(digits, 3, seed=0)[0]


@pytest.mark.parametrize("name", sorted(CONVENTIONAL))
def test_copies_follow_the_data_replayably(few, name):
    state = torch.get_rng_state()
    out = augmented_copies(few, name, copies=2, seed=4)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random state is untouched
    n = len(few)
    assert out.x.shape == (3 * n, *few.x.shape[1:]) and out.x.dtype == few.x.dtype
    assert torch.equal(out.y, few.y.repeat(3)) and out.classes == few.classes
    assert torch.equal(out.x[:n], few.x) and not torch.equal(out.x[n : 2 * n], few.x)
    assert out.x.min() >= 0 and out.x.max() <= 1
    assert torch.equal(augmented_copies(few, name, copies=2, seed=4).x, out.x)
    assert not torch.equal(augmented_copies(few, name, copies=2, seed=5).x, out.x)


@pytest.mark.parametrize(
    ("settings", "shape"),
    [({}, (1, 28, 28)), ({"num_ops": 3, "magnitude": 14}, (1, 28, 28)), ({}, (3, 12, 10))],
)
def test_batched_randaugment_is_the_per_image_loop(settings, shape):
    # Same images out and the same global random state after, as torchvision image by image.
    images = torch.randint(0, 256, (400, *shape), dtype=torch.uint8)
    images[:100] = 0  # flat images: autocontrast / equalize edge cases
    transform = v2.RandAugment(**settings)
    torch.manual_seed(7)
    expected = torch.stack([transform(image) for image in images])
    after = torch.rand(4)
    torch.manual_seed(7)
    out = randaugment_batch(transform, images)
    assert out.dtype == torch.uint8 and torch.equal(out, expected)
    assert torch.equal(torch.rand(4), after)
    assert not torch.equal(out, images)


def test_copies_take_any_per_image_transform(few):
    out = augmented_copies(few, lambda image: 255 - image, copies=1)
    assert torch.allclose(out.x[len(few) :], 1 - (few.x * 255).round() / 255)


def test_copies_refuse_what_cannot_apply(few):
    with pytest.raises(ValueError, match=r"augment must be one of .*'randaugment'.*'flip'"):
        augmented_copies(few, "flip")
    with pytest.raises(ValueError, match="copies must be an int >= 1, got 0"):
        augmented_copies(few, copies=0)
    with pytest.raises(ValueError, match=r"must be images .* feature vectors of shape \(178, 13\)"):
        augmented_copies(load_dataset("wine"))


def test_cli_choices_are_the_registry():
    fit = build_parser()._subparsers._group_actions[0].choices["fit"]
    choices = next(a.choices for a in fit._actions if a.dest == "augment")
    assert sorted(choices) == sorted([*CONVENTIONAL, "none"])


def test_cli_fit_learns_from_augmented_copies(tmp_path, digits, capsys):
    run = tmp_path / "run"
    argv = ["fit", "--data", "digits", "--out", str(run), "--epochs", "1", "--no-progress"]
    argv += ["--model", "vae"]
    assert main([*argv, "--augment", "randaugment", "--augment-copies", "2"]) == 0
    record = json.loads((run / "training.json").read_text())
    assert record["examples"] == len(digits) and record["trained_on"] == 3 * len(digits)
    assert record["augment"] == "randaugment" and record["augment_copies"] == 2
    # the latent bank holds the images themselves, not their copies
    assert len(LatentBank.load(run)) == len(digits)
    csv = tmp_path / "t.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    bad = ["fit", "--data", str(csv), "--out", str(tmp_path / "r2"), "--augment", "affine"]
    assert main(bad) == 2
    assert "--augment affine needs images" in capsys.readouterr().err
