"""LearnedAugment's arguments: the generator (of images), the strategy (an object, a name
for its defaults, or the generator kind's own) with its latent bank (the strategy's own or
the generator's, found beside a saved one), and the arguments it refuses. What each
strategy makes of an image: test_kernels.py; every registered one: test_strategies.py."""

from __future__ import annotations

import pytest
import torch
from conftest import DIGITS, TINY, u8

from learned_aug import (
    STRATEGIES,
    VAE,
    Interpolate,
    LatentBank,
    LearnedAugment,
    Noise,
    VAEConfig,
    VQResample,
    build_latent_bank,
    load_generator,
)
from learned_aug.latent_bank import attach_bank, bank_of


@pytest.fixture(scope="module")
def gray(mnist_small) -> VAE:
    """An unconditional VAE of 28x28 digits with the latent bank of 500 real digits."""
    torch.manual_seed(0)
    vae = VAE(VAEConfig(image_size=(28, 28), classes=DIGITS, **TINY)).eval()
    attach_bank(vae, LatentBank.build(vae, mnist_small))
    return vae


@pytest.fixture(scope="module")
def vq() -> torch.nn.Module:
    return load_generator("mnist-vqvae")


# ------------------------------------------------------------------------ choosing a strategy
def test_the_default_is_the_generator_kinds_own(gray, vq, per_class):
    assert LearnedAugment(gray).strategy == Noise()
    assert LearnedAugment(per_class).strategy == Noise()
    assert LearnedAugment(vq).strategy == VQResample()


@pytest.mark.parametrize(
    "name", ["reconstruct", "noise", "interpolate", "extrapolate", "posterior"]
)
def test_a_name_is_the_shorthand_for_the_defaults(gray, name):
    strategy = LearnedAugment(gray, name).strategy
    assert type(strategy) is STRATEGIES[name] and strategy.name == name
    assert (strategy.strength, strategy.options) == (
        STRATEGIES[name]().strength,
        STRATEGIES[name]().options,
    )


def test_a_strategy_object_keeps_its_settings_and_is_not_changed(gray):
    mine = Interpolate(0.3, k=3)
    aug = LearnedAugment(gray, mine)
    assert aug.strategy.name == "interpolate"
    assert aug.strategy == Interpolate(0.3, k=3, bank=bank_of(gray))  # bound to the generator's
    assert mine.bank is None  # binding made a copy
    assert "strategy=Interpolate(strength=(0.3, 0.3), k=3, bank=<500 codes>)" in repr(aug)


def test_a_strategys_own_bank_wins_over_the_generators(gray, mnist_small):
    # Class 1 of this bank is two copies of one code: interpolating all the way (strength 1)
    # toward a neighbour of class 1 decodes that code, whatever the image.
    code = torch.full((1, 3), 2.0)
    own = LatentBank(torch.cat([-code, -code, code, code]), torch.tensor([0, 0, 1, 1]), DIGITS)
    aug = LearnedAugment(gray, Interpolate(1.0, k=1, bank=own))
    assert aug.strategy.bank is own and bank_of(gray) is not own
    out, _ = aug(mnist_small.x[:3], torch.tensor([1, 1, 1]))
    with torch.no_grad():
        expected = gray.decode(code).expand(3, -1, -1, -1)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)


# ------------------------------------------------------------------------ its bank
def test_a_bank_strategy_without_a_bank_says_how_to_build_one(mnist_small):
    vae = VAE(VAEConfig(image_size=(28, 28), classes=DIGITS, **TINY)).eval()
    with pytest.raises(ValueError, match=r"needs a latent bank.*build_latent_bank"):
        LearnedAugment(vae, "interpolate")
    bank = build_latent_bank(vae, mnist_small.subset(range(100)))
    assert bank_of(vae) is bank and len(bank) == 100
    assert LearnedAugment(vae, "interpolate").strategy.bank is bank


def test_from_pretrained_finds_the_bank_saved_with_the_generator(per_class, mnist_small, tmp_path):
    per_class.save_pretrained(tmp_path)
    bank_of(per_class).save(tmp_path)
    aug = LearnedAugment.from_pretrained(str(tmp_path), strategy="interpolate", rng=0)
    assert isinstance(aug.strategy.bank, LatentBank) and len(aug.strategy.bank) == len(mnist_small)
    torch.testing.assert_close(aug.strategy.bank.codes, bank_of(per_class).codes)
    out, labels = aug(u8(mnist_small.x[:8]), mnist_small.y[:8])
    assert out.shape == (8, 1, 28, 28) and out.dtype == torch.uint8
    assert torch.equal(labels, mnist_small.y[:8])


# ------------------------------------------------------------------------ arguments
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"p": 1.5}, ValueError, "p must be"),
        ({"p": True}, ValueError, "p must be"),
        ({"strategy": "mixup"}, ValueError, "strategy must be one of"),
        ({"strategy": 3}, TypeError, "strategy must be"),
        ({"rng": "seed"}, TypeError, "rng must be"),
        ({"strength": 0.3}, TypeError, "strength"),  # it lives in the strategy now
        ({"bank": None}, TypeError, "bank"),
    ],
)
def test_arguments_are_checked(gray, kwargs, error, match):
    with pytest.raises(error, match=match):
        LearnedAugment(gray, **kwargs)


def test_the_generator_must_be_a_generator_of_images():
    with pytest.raises(TypeError, match=r"LearnedAugment.from_pretrained\('mnist-vae'\)"):
        LearnedAugment("mnist-vae")
    with pytest.raises(TypeError, match="Generator, got Linear"):
        LearnedAugment(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="use SyntheticDataset for tabular"):
        LearnedAugment(load_generator("wine-vae"))
