"""The strategy kernels of learned_aug.kernels: what each makes of an example, on real digits:
called directly, and as the strategies run them inside LearnedAugment and SyntheticDataset."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY
from safetensors.torch import save_file

from learned_aug import (
    GMM,
    STRATEGIES,
    VAE,
    Extrapolate,
    Interpolate,
    LatentBank,
    LearnedAugment,
    Noise,
    Posterior,
    Reconstruct,
    SyntheticDataset,
    VAEConfig,
    VQResample,
    load_generator,
)
from learned_aug import kernels as K
from learned_aug.files import BANK_NAME
from learned_aug.kernels import Latents, encode_mean

# An untrained unconditional VAE: the classes its samples take from the bank codes they start
# from are unchecked (no quality report), and warned about. These tests check which code a
# sample decodes, not whether it still looks like its class.
UNCHECKED = "ignore::learned_aug.synthetic.trust.UncheckedLabelsWarning"


@pytest.fixture(scope="module")
def trained() -> torch.nn.Module:
    """The bundled per-class VAEs of MNIST, with their latent bank."""
    return load_generator("mnist-vae")


@pytest.fixture(scope="module")
def vq() -> torch.nn.Module:
    return load_generator("mnist-vqvae")


def run(name, model, x, labels, strength, seed=0, bank=None, **options):
    """The kernel ``name`` of learned_aug.kernels on a batch, one strength for all."""
    rng = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        kernel = getattr(K, name.replace("-", "_"))
        return kernel(model, x, labels, torch.full((len(x),), strength), rng, bank, **options)


# ------------------------------------------------------------------------ called directly
@pytest.mark.parametrize("name", ["reconstruct", "noise", "interpolate", "extrapolate"])
def test_every_strategy_keeps_shape_and_range_and_replays(name, vae, bank, digits):
    x, y = digits.x[:16], digits.y[:16]
    out = run(name, vae, x, y, 0.4, bank=bank)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert torch.equal(out, run(name, vae, x, y, 0.4, bank=bank))


def test_noise_and_interpolation_at_strength_zero_are_reconstructions(vae, bank, digits):
    x, y = digits.x[:8], digits.y[:8]
    recon = run("reconstruct", vae, x, y, 0.0)
    for name in ("noise", "interpolate", "extrapolate"):
        torch.testing.assert_close(run(name, vae, x, y, 0.0, bank=bank), recon)
    assert not torch.allclose(run("noise", vae, x, y, 0.5, seed=1), recon)


def test_interpolation_moves_toward_a_same_class_neighbour(vae, bank, digits, monkeypatch):
    x, y = digits.x[300:340], digits.y[300:340]
    z = encode_mean(vae, x, y)
    decoded = []
    monkeypatch.setattr(vae, "decode", lambda code, labels=None: decoded.append(code) or code)
    run("interpolate", vae, x, y, 1.0, bank=bank, k=3)  # strength = 1 decodes the neighbour
    rows = torch.cdist(decoded[0], bank.codes).argmin(dim=1)
    torch.testing.assert_close(decoded[0], bank.codes[rows])
    assert torch.equal(bank.labels[rows], y)
    dist = torch.cdist(z, bank.codes).masked_fill(bank.labels[None] != y[:, None], torch.inf)
    assert bool((dist.argsort(dim=1)[:, :3] == rows[:, None]).any(dim=1).all())


def test_extrapolation_is_the_mirror_of_interpolation(vae, bank, digits):
    x, y = Latents(bank.codes[:6]), bank.labels[:6]
    rng = torch.Generator().manual_seed(4)
    target = bank.neighbours(x.z, y, k=5, rng=rng)
    with torch.no_grad():
        out = run("extrapolate", vae, x, y, 0.5, seed=4, bank=bank)
        torch.testing.assert_close(out, vae.decode(x.z - 0.5 * (target - x.z)))


def test_bank_strategies_say_when_the_bank_is_missing(vae, digits):
    with pytest.raises(ValueError, match="latent bank"):
        run("interpolate", vae, digits.x[:2], digits.y[:2], 0.3)


def test_prior_keeps_the_class_of_a_per_class_generator(classwise, digits):
    y = torch.tensor([3, 3, 7])
    gens = [torch.Generator().manual_seed(s) for s in range(3)]
    with torch.no_grad():
        out = K.prior(classwise, digits.x[:3], y, torch.zeros(3), gens, None)
        member = classwise.members[7].sample(1, rng=[torch.Generator().manual_seed(2)])
    assert out.shape == (3, 1, 8, 8)
    # member 7 decodes in one batched pass with member 3: equal up to float rounding
    torch.testing.assert_close(out[2], member[0], rtol=0, atol=1e-6)


def test_prior_refuses_labels_it_could_not_keep(vae, digits):
    with pytest.raises(ValueError, match="unconditional"):
        run("prior", vae, digits.x[:2], digits.y[:2], 0.0)
    out = run("prior", vae, digits.x[:2], None, 0.0, seed=5)
    with torch.no_grad():
        torch.testing.assert_close(out, vae.sample(2, rng=torch.Generator().manual_seed(5)))


def test_posterior_decodes_the_mean_plus_strength_times_sigma_eps(vae, digits):
    x = digits.x[:5]
    with torch.no_grad():
        q = vae.encode(x)
        eps = vae.randn(5, (3,), torch.Generator().manual_seed(2))
        expected = vae.decode(q.mean + 0.7 * q.stddev * eps)
        torch.testing.assert_close(run("posterior", vae, x, None, 0.7, seed=2), expected)
        torch.testing.assert_close(run("posterior", vae, x, None, 0.0), vae.decode(q.mean))
        rows = Latents(q.mean, q.stddev)  # from bank rows: the same draw
        torch.testing.assert_close(run("posterior", vae, rows, None, 0.7, seed=2), expected)


def test_gmm_draws_from_the_mixture_of_the_requested_class(plain, plain_bank, monkeypatch):
    seen = []
    monkeypatch.setattr(plain, "decode", lambda z, labels=None: seen.append(z) or z[:, :1, None])
    GMM(0.0, bank=plain_bank)(
        plain, torch.empty(10, 0), torch.full((10,), 3), torch.zeros(10), None
    )
    _, means, _ = plain_bank.mixture(3)
    z = seen[0]
    assert all(bool((means - row).abs().amax(1).min() < 1e-6) for row in z)  # strength 0: a mean
    codes3 = plain_bank.codes[plain_bank.labels == 3]
    assert float((means.mean(0) - codes3.mean(0)).abs().max()) < float(codes3.std(0).max())


# ------------------------------------------------------------------------ in LearnedAugment
@pytest.mark.parametrize(
    "strategy",
    [Reconstruct(), Noise(0.0), Interpolate(0.0), Extrapolate(0.0), Posterior(0.0)],
    ids=repr,
)
def test_at_strength_zero_every_strategy_is_the_reconstruction(trained, mnist_small, strategy):
    x, y = mnist_small.x[:6], mnist_small.y[:6]
    out, _ = LearnedAugment(trained, strategy, rng=0)(x, y)
    with torch.no_grad():  # each class member decodes its posterior mean
        expected = trained.decode(trained.encode(x, y).mean, y)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "strategy", [Noise(0.5), Interpolate(0.5), Extrapolate(0.5), Posterior(1.0)], ids=repr
)
def test_a_positive_strength_moves_images_away_from_it(trained, mnist_small, strategy):
    x, y = mnist_small.x[:6], mnist_small.y[:6]
    out, _ = LearnedAugment(trained, strategy, rng=0)(x, y)
    with torch.no_grad():
        recon = trained.reconstruct(x, y)
    # (a neighbour may differ only along a latent direction the decoder ignores)
    assert int(((out - recon).flatten(1).abs().amax(1) > 0.01).sum()) >= 4


def test_vq_resample_is_the_vqvaes_reconstruction_with_variation(vq, mnist_small):
    assert "vq-resample" in STRATEGIES
    x = mnist_small.x[:4]
    out = LearnedAugment(vq, VQResample(1.0), rng=0)(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    with torch.no_grad():
        recon = vq.reconstruct(x)
    torch.testing.assert_close(LearnedAugment(vq, VQResample(0.0), rng=0)(x), recon)
    assert not torch.equal(out, recon)


def test_vq_resample_refuses_a_gaussian_vae(mnist_small):
    vae = VAE(VAEConfig(image_size=(28, 28), **TINY))
    with pytest.raises(ValueError, match="needs a VQ-VAE"):
        LearnedAugment(vae, "vq-resample")(mnist_small.x[0])


# ------------------------------------------------------------------------ in SyntheticDataset

AT_ZERO = {
    "posterior": lambda bank: Posterior(0.0, bank=bank),
    "noise": lambda bank: Noise(0.0, bank=bank),
    "interpolate": lambda bank: Interpolate(0.0, bank=bank),
    "extrapolate": lambda bank: Extrapolate(0.0, bank=bank),
    "reconstruct": lambda bank: Reconstruct(bank=bank),
}


@pytest.mark.filterwarnings(UNCHECKED)
@pytest.mark.parametrize("name", AT_ZERO)
def test_at_strength_zero_an_item_decodes_a_training_code_of_its_class(
    plain, sixty, plain_bank, name
):
    data = SyntheticDataset(plain, n=30, seed=1, strategy=AT_ZERO[name](plain_bank))
    x, y = data.generate(range(30))
    with torch.no_grad():
        recon = plain.decode(plain_bank.codes)
    for xi, yi in zip(x, y.tolist(), strict=True):
        dist = (recon[sixty.y == yi] - xi).flatten(1).abs().amax(1)
        assert float(dist.min()) < 1e-5


@pytest.mark.filterwarnings(UNCHECKED)
def test_a_bank_without_stds_loads_and_posterior_says_how_to_rebuild_it(
    plain, plain_bank, tmp_path
):
    tensors = {"codes": plain_bank.codes.contiguous(), "labels": plain_bank.labels}
    meta = {"classes": '["0","1","2","3","4","5","6","7","8","9"]', "format_version": "1"}
    save_file(tensors, str(tmp_path / BANK_NAME), metadata=meta)
    old = LatentBank.load(tmp_path)
    assert old.stds is None
    data = SyntheticDataset(plain, n=4, strategy=Posterior(bank=old))
    with pytest.raises(ValueError, match="build_latent_bank"):
        data.generate(range(4))
