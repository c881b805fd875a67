"""Conventional augmentations (the one registry, per-image draws) and augmented copies of a
generator's training data: replayable, checked, and on the CLI."""

from __future__ import annotations

import json
import math
import pickle

import pytest
import torch
from torchvision.transforms import v2

from learned_aug.cli import build_parser, main
from learned_aug.conventional import (
    CONVENTIONAL,
    EachImage,
    RandomRotateShift,
    augmented_copies,
    get_conventional,
    randaugment_batch,
    rotate_shift,
)
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
    out = augmented_copies(few, EachImage(lambda image: 255 - image), copies=1)
    assert torch.allclose(out.x[len(few) :], 1 - (few.x * 255).round() / 255)


def test_affine_copies_are_the_papers_rotations_and_shifts_drawn_from_the_seed(few):
    # augmented_copies seeds torch's global RNG: the draws of a generator of that seed
    copies = augmented_copies(few, "affine", copies=2, seed=3).x[len(few) :]
    rng = torch.Generator().manual_seed(3)
    angle = (torch.rand(len(few), generator=rng) * 2 - 1) * math.radians(20)
    shift = (torch.rand(len(few), 2, generator=rng) * 2 - 1) * 0.4
    assert torch.equal(copies[: len(few)], rotate_shift(few.x, angle, shift))
    affine = RandomRotateShift(rng=3)  # the same draws from its own generator
    assert torch.equal(copies, torch.cat([affine(few.x), affine(few.x)]))


# ------------------------------------------------------------------ the transforms
def test_rotate_shift_moves_pixels_where_it_says():
    x = torch.rand(2, 1, 8, 8)
    # a shift of 1 in grid coordinates is half the image: 4 pixels, left
    out = rotate_shift(x, torch.zeros(2), torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    torch.testing.assert_close(out[0, ..., :4], x[0, ..., 4:])
    assert torch.equal(out[0, ..., 4:], torch.zeros(1, 8, 4))  # zeros filled in
    torch.testing.assert_close(out[1], x[1])  # no rotation, no shift: the image
    quarter = rotate_shift(x, torch.full((2,), math.pi / 2), torch.zeros(2, 2))
    torch.testing.assert_close(quarter, x.rot90(1, dims=(-2, -1)), atol=1e-5, rtol=0)


def test_rotate_shift_draws_per_image_replays_and_keeps_types(digits):
    x = digits.x[:1].repeat(6, 1, 1, 1)  # one image six times: six different outputs
    out = RandomRotateShift(rng=1)(x)
    assert torch.equal(out, RandomRotateShift(rng=1)(x)) and out.dtype == x.dtype
    assert len({tuple(image.flatten().tolist()) for image in out}) == 6
    assert torch.allclose(RandomRotateShift(0, 0, rng=1)(x), x, atol=1e-5)
    images = (x * 255).round().to(torch.uint8)
    small = RandomRotateShift(rng=1)(images)
    assert small.dtype == torch.uint8 and (small.float() / 255 - out).abs().max() <= 1 / 255
    single, labels = RandomRotateShift(rng=1)(x[0], torch.tensor(7))  # (C, H, W), label
    assert torch.equal(single, RandomRotateShift(rng=1)(x[:1])[0]) and int(labels) == 7
    with pytest.raises(TypeError, match=r"RandomRotateShift takes image tensors"):
        RandomRotateShift()(torch.rand(5))
    with pytest.raises(ValueError, match=r"degrees must be a number >= 0, got -1"):
        RandomRotateShift(degrees=-1)


def test_each_image_draws_per_image_from_its_own_rng(digits):
    x, y = torch.rand(1, 1, 28, 28).repeat(6, 1, 1, 1), digits.y[:6]
    rotate = EachImage(v2.RandomRotation(90), rng=2)
    state = torch.get_rng_state()
    out, labels = rotate(x, y)
    assert torch.equal(torch.get_rng_state(), state)  # its rng, not the global one
    assert labels is y and out.shape == x.shape and out.dtype == x.dtype
    assert len({tuple(image.flatten().tolist()) for image in out}) == 6
    assert torch.equal(EachImage(v2.RandomRotation(90), rng=2)(x), out)
    torch.manual_seed(5)  # without an rng: torch's global RNG, as torchvision's transforms
    first = EachImage(v2.RandomRotation(90))(x)
    torch.manual_seed(5)
    assert torch.equal(EachImage(v2.RandomRotation(90))(x), first)


@pytest.mark.parametrize("name", sorted(CONVENTIONAL))
def test_every_registered_augmentation_is_a_replayable_batch_transform(few, name):
    x, y = few.x[:8], few.y[:8]
    out, labels = get_conventional(name, rng=0)(x, y)
    assert out.shape == x.shape and out.dtype == x.dtype and torch.equal(labels, y)
    assert out.min() >= 0 and out.max() <= 1 and not torch.equal(out, x)
    assert torch.equal(get_conventional(name, rng=0)(x, y)[0], out)
    again = pickle.loads(pickle.dumps(get_conventional(name, rng=0)))
    assert torch.equal(again(x), out)


def test_copies_refuse_what_cannot_apply(few):
    with pytest.raises(ValueError, match=r"augment must be one of .*'randaugment'.*'mixup'"):
        augmented_copies(few, "mixup")
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
