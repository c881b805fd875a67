"""The strategies that sample where the data is, through SyntheticDataset: the aggregate
posterior and per-class Gaussian mixtures over the latent bank (its codes, posterior standard
deviations and labels)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from learned_aug import (
    GMM,
    STRATEGIES,
    VAE,
    Extrapolate,
    Interpolate,
    LatentBank,
    Noise,
    Posterior,
    Reconstruct,
    SyntheticDataset,
    VAEConfig,
)
from learned_aug.files import BANK_NAME

# An untrained unconditional VAE: the classes its samples take from the bank codes they start
# from are unchecked (no quality report; tests/test_synthetic_trust.py), and warned about. These
# tests check which code a sample decodes, not whether it still looks like its class.
pytestmark = pytest.mark.filterwarnings(
    "ignore::learned_aug.synthetic.trust.UncheckedLabelsWarning"
)


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
    data = SyntheticDataset(vae, n=20, seed=0, strategy=STRATEGIES[strategy](bank=bank))
    x, y = data.generate(range(20))
    assert x.shape == (20, 1, 8, 8) and x.dtype == torch.float32
    assert data.targets == y.tolist() == [i % 10 for i in range(20)]
    assert torch.equal(x[7], data[7][0])  # item i is the same alone and in a batch


AT_ZERO = {
    "posterior": lambda bank: Posterior(0.0, bank=bank),
    "noise": lambda bank: Noise(0.0, bank=bank),
    "interpolate": lambda bank: Interpolate(0.0, bank=bank),
    "extrapolate": lambda bank: Extrapolate(0.0, bank=bank),
    "reconstruct": lambda bank: Reconstruct(bank=bank),
}


@pytest.mark.parametrize("name", AT_ZERO)
def test_at_strength_zero_an_item_decodes_a_training_code_of_its_class(vae, train, bank, name):
    data = SyntheticDataset(vae, n=30, seed=1, strategy=AT_ZERO[name](bank))
    x, y = data.generate(range(30))
    with torch.no_grad():
        recon = vae.decode(bank.codes)
    for xi, yi in zip(x, y.tolist(), strict=True):
        dist = (recon[train.y == yi] - xi).flatten(1).abs().amax(1)
        assert float(dist.min()) < 1e-5


def test_gmm_draws_from_the_mixture_of_the_requested_class(vae, bank, monkeypatch):
    seen = []
    monkeypatch.setattr(vae, "decode", lambda z, labels=None: seen.append(z) or z[:, :1, None])
    GMM(0.0, bank=bank)(vae, torch.empty(10, 0), torch.full((10,), 3), torch.zeros(10), None)
    _, means, _ = bank.mixture(3)
    z = seen[0]
    assert all(bool((means - row).abs().amax(1).min() < 1e-6) for row in z)  # strength 0: a mean
    codes3 = bank.codes[bank.labels == 3]
    assert float((means.mean(0) - codes3.mean(0)).abs().max()) < float(codes3.std(0).max())


def test_gmm_mixtures_are_fitted_once_and_replay(bank):
    assert bank.mixture(2) is bank.mixture(2)
    again = LatentBank(bank.codes, bank.labels, bank.classes, bank.stds)
    torch.testing.assert_close(again.mixture(2)[1], bank.mixture(2)[1])


def test_a_bank_without_stds_loads_and_posterior_says_how_to_rebuild_it(vae, bank, tmp_path):
    tensors = {"codes": bank.codes.contiguous(), "labels": bank.labels}
    meta = {"classes": '["0","1","2","3","4","5","6","7","8","9"]', "format_version": "1"}
    save_file(tensors, str(tmp_path / BANK_NAME), metadata=meta)
    old = LatentBank.load(tmp_path)
    assert old.stds is None
    data = SyntheticDataset(vae, n=4, strategy=Posterior(bank=old))
    with pytest.raises(ValueError, match="build_latent_bank"):
        data.generate(range(4))
