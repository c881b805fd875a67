"""The one strategy registry samples where the data is: the aggregate posterior and per-class
Gaussian mixtures, through SyntheticDataset and LearnedAugment; the old PosteriorSampler is an
alias over the same path."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from learned_aug import VAE, LatentBank, LearnedAugment, SyntheticDataset, VAEConfig
from learned_aug.io import BANK_NAME
from learned_aug.posterior import PosteriorSampler
from learned_aug.sampling import STRATEGIES


@pytest.fixture(scope="module")
def train(digits):
    return digits.subset(range(60))


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return VAE(VAEConfig(image_size=(8, 8), latent_dim=2, hidden_channels=(8,), hidden_dim=16))


@pytest.fixture(scope="module")
def bank(vae, train):
    return LatentBank.build(vae, train)


def test_the_bank_keeps_each_examples_posterior_mean_std_and_label(vae, train, bank, tmp_path):
    with torch.no_grad():
        q = vae.encode(train.x)
    torch.testing.assert_close(bank.codes, q.mean)
    torch.testing.assert_close(bank.stds, q.stddev)
    assert bank.labels.tolist() == train.y.tolist()
    bank.save(tmp_path)
    again = LatentBank.load(tmp_path)
    torch.testing.assert_close(again.stds, bank.stds)


@pytest.mark.parametrize("strategy", ["posterior", "gmm", "noise", "interpolate", "reconstruct"])
def test_every_latent_sampler_runs_through_synthetic_dataset(vae, bank, strategy):
    data = SyntheticDataset(vae, n=20, seed=0, output="tensor", strategy=strategy, bank=bank)
    x = data.generate(range(20))
    assert x.shape == (20, 1, 8, 8)
    assert data.targets == [i % 10 for i in range(20)]
    assert torch.equal(x[7], data[7][0])  # item i is the same alone and in a batch


def test_posterior_at_strength_zero_decodes_a_training_code_of_the_class(vae, train, bank):
    data = SyntheticDataset(vae, n=30, seed=1, output="tensor", strategy="posterior", bank=bank)
    data.strength = (0.0, 0.0)
    x = data.generate(range(30))
    with torch.no_grad():
        recon = vae.decode(bank.codes)
    for xi, yi in zip(x, data.targets, strict=True):
        dist = (recon[train.y == yi] - xi).flatten(1).abs().amax(1)
        assert float(dist.min()) < 1e-5


def test_gmm_draws_from_the_mixture_of_the_requested_class(vae, bank, monkeypatch):
    seen = []
    monkeypatch.setattr(vae, "decode", lambda z, labels=None: seen.append(z) or z[:, :1, None])
    STRATEGIES["gmm"](vae, torch.empty(10, 0), torch.full((10,), 3), torch.zeros(10), None, bank)
    _, means, _ = bank.mixture(3)
    z = seen[0]
    assert all(bool((means - row).abs().amax(1).min() < 1e-6) for row in z)  # alpha 0: a mean
    codes3 = bank.codes[bank.labels == 3]
    assert float((means.mean(0) - codes3.mean(0)).abs().max()) < float(codes3.std(0).max())


def test_gmm_mixtures_are_fitted_once_and_replay(bank):
    assert bank.mixture(2) is bank.mixture(2)
    again = LatentBank(bank.codes, bank.labels, bank.classes, bank.stds)
    torch.testing.assert_close(again.mixture(2)[1], bank.mixture(2)[1])


def test_learned_augment_draws_from_each_images_posterior(vae, train):
    aug = LearnedAugment(vae, "posterior", strength=1.0, rng=0)
    out = aug(train.x[:4])
    assert out.shape == (4, 1, 8, 8) and not torch.equal(out, train.x[:4])
    zero = LearnedAugment(vae, "posterior", strength=0.0, rng=0)(train.x[:4])
    with torch.no_grad():
        torch.testing.assert_close(zero, vae.reconstruct(train.x[:4]), atol=1e-5, rtol=0)


def test_a_bank_without_stds_loads_and_posterior_says_how_to_rebuild_it(vae, bank, tmp_path):
    tensors = {"codes": bank.codes.contiguous(), "labels": bank.labels}
    meta = {"classes": '["0","1","2","3","4","5","6","7","8","9"]', "format_version": "1"}
    save_file(tensors, str(tmp_path / BANK_NAME), metadata=meta)
    old = LatentBank.load(tmp_path)
    assert old.stds is None
    data = SyntheticDataset(vae, n=4, output="tensor", strategy="posterior", bank=old)
    with pytest.raises(ValueError, match="build_latent_bank"):
        data.generate(range(4))


def test_posterior_sampler_is_a_deprecated_alias_of_the_one_registry(vae, train):
    with pytest.warns(DeprecationWarning, match="SyntheticDataset"):
        sampler = PosteriorSampler(vae, train, "posterior", alpha=0.5)
    x, y = sampler.sample(20, generator=torch.Generator().manual_seed(0))
    assert x.shape == (20, 1, 8, 8) and y.tolist() == [i % 10 for i in range(20)]
    with pytest.raises(ValueError, match="strategy"), pytest.warns(DeprecationWarning):
        PosteriorSampler(vae, train, "uniform")
