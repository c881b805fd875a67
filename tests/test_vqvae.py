"""VQ-VAE: the quantizer (EMA, straight-through, init, restarts), the model, resampling."""

from __future__ import annotations

import json

import pytest
import torch

from learned_aug import VQVAE, FitSettings, PriorConfig, VQVAEConfig, fit, load_generator
from learned_aug.models.quantizer import VectorQuantizer

# FitSettings(prior_epochs=0) trains the autoencoder alone; its sample grid then warns that the
# prior is untrained (tests/test_prior.py trains both stages)
pytestmark = pytest.mark.filterwarnings("ignore::learned_aug.models.vqvae.UntrainedPriorWarning")

AUTOENCODER = FitSettings(epochs=1, prior_epochs=0)
"""One epoch of the autoencoder alone."""
TINY_VQ = {
    "hidden_channels": (8,),
    "embedding_dim": 4,
    "codebook_size": 16,
    "prior": {"dim": 16, "layers": 1, "heads": 2},
}


def tiny_vq(shape=(1, 8, 8), **kw) -> VQVAE:
    c, h, w = shape
    return VQVAE(VQVAEConfig(channels=c, image_size=(h, w), **{**TINY_VQ, **kw}))


# ------------------------------------------------------------------ quantizer
def test_first_training_batch_initialises_the_codebook_from_encoder_outputs():
    torch.manual_seed(0)
    vq = VectorQuantizer(8, 3, decay=0.0, dead_code_steps=0).train()
    assert not bool(vq.initialized)
    z = torch.randn(2, 3, 4, 4)
    rows = vq.flatten(z)
    vq._initialize(rows)
    # every code starts at one of the batch's encoder outputs
    assert bool(vq.initialized)
    assert bool((vq.embedding[:, None] == rows[None]).all(-1).any(1).all())
    # and a training forward initialises a fresh quantizer by itself
    fresh = VectorQuantizer(8, 3).train()
    fresh(z)
    assert bool(fresh.initialized)


def test_ema_moves_each_used_code_toward_the_mean_of_its_members():
    vq = VectorQuantizer(2, 2, decay=0.5, dead_code_steps=0).train()
    vq.initialized.fill_(True)
    vq.embedding.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
    vq.embed_sum.copy_(vq.embedding)
    vq.cluster_size.fill_(1.0)
    # two positions, (1, 1) and (3, 3), both nearest to code 0
    z = torch.tensor([[1.0, 3.0], [1.0, 3.0]]).view(1, 2, 1, 2)
    vq(z)
    # counts 0.5 * 1 + 0.5 * 2 = 1.5, sums 0.5 * 0 + 0.5 * (4, 4) = (2, 2): code 0 moves to ~4/3
    torch.testing.assert_close(vq.cluster_size, torch.tensor([1.5, 0.5]))
    torch.testing.assert_close(vq.embed_sum[0], torch.tensor([2.0, 2.0]))
    torch.testing.assert_close(vq.embedding[0], torch.full((2,), 4 / 3), atol=1e-4, rtol=0)
    torch.testing.assert_close(vq.embed_sum[1], torch.tensor([5.0, 5.0]))


def test_straight_through_gradient_reaches_the_encoder_unchanged():
    vq = VectorQuantizer(4, 3).eval()
    z = torch.randn(2, 3, 2, 2, requires_grad=True)
    out = vq(z)
    (out.quantized * 3.0).sum().backward()
    torch.testing.assert_close(z.grad, torch.full_like(z, 3.0))
    torch.testing.assert_close(out.quantized, vq.lookup(out.codes))


def test_dead_codes_are_reseeded_from_encoder_outputs():
    vq = VectorQuantizer(4, 2, dead_code_steps=3).train()
    vq.initialized.fill_(True)
    far = torch.tensor([[100.0, 100.0]])
    vq.embedding.copy_(torch.cat([torch.zeros(3, 2), far]))
    vq.embed_sum.copy_(vq.embedding)
    z = torch.randn(1, 2, 4, 4) * 0.1
    torch.manual_seed(0)
    for _ in range(2):
        vq(z)
    assert vq.embedding[3, 0] > 50  # unused for 2 steps: not yet dead
    vq(z)
    assert vq.embedding[3].abs().max() < 1.0  # re-seeded at an encoder output
    assert int(vq.unused_steps[3]) == 0


def test_eval_mode_never_changes_the_codebook():
    vq = VectorQuantizer(8, 3).eval()
    before = {k: v.clone() for k, v in vq.state_dict().items()}
    vq(torch.randn(2, 3, 4, 4))
    assert all(torch.equal(before[k], v) for k, v in vq.state_dict().items())


# ------------------------------------------------------------------ model on real data
def test_vqvae_trains_on_digits_and_logs_codebook_usage(digits):
    settings = FitSettings(epochs=8, prior_epochs=0, lr=3e-3)
    result = fit("vqvae", digits, settings, config=TINY_VQ, progress=False)
    history = result.history
    assert {"train_perplexity", "train_codebook_usage", "train_commitment"} <= set(history[0])
    assert history[-1]["train_recon"] < history[0]["train_recon"]
    assert history[-1]["train_codebook_usage"] > 0.5  # restarts keep the codebook in use
    assert 1.0 < history[-1]["train_perplexity"] <= 16.0
    x = digits.x[:256]
    with torch.no_grad():
        mse = (result.model.reconstruct(x) - x).pow(2).mean()
    assert mse < 0.5 * (x - x.mean(0)).pow(2).mean()  # far better than the mean image


def test_training_is_deterministic_including_the_ema_buffers(digits):
    data = digits.subset(range(300))  # both stages: the autoencoder, then the prior
    settings = FitSettings(epochs=2, prior_epochs=1, seed=3)
    runs = [fit("vqvae", data, settings, config=TINY_VQ, progress=False) for _ in range(2)]
    runs = [run.model.state_dict() for run in runs]
    assert runs[0].keys() == runs[1].keys()
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_save_load_round_trip_keeps_codebook_buffers(tmp_path, digits):
    data = digits.subset(range(300))
    model = fit("vqvae", data, AUTOENCODER, config=TINY_VQ, progress=False).model
    model.save_pretrained(tmp_path)
    loaded = load_generator(tmp_path)
    assert type(loaded) is VQVAE
    for name in ("embedding", "cluster_size", "embed_sum", "unused_steps", "initialized"):
        assert torch.equal(getattr(model.quantizer, name), getattr(loaded.quantizer, name))
    x = digits.x[:8]
    assert torch.equal(model.encode(x), loaded.encode(x))
    assert torch.equal(model.reconstruct(x), loaded.reconstruct(x))


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 20, 30), (1, 13, 7)])
def test_any_image_size_round_trips(shape):
    model = tiny_vq(shape, hidden_channels=(8, 8)).eval()
    x = torch.rand(2, *shape)
    assert model.reconstruct(x).shape == x.shape
    assert model.encode(x).shape == (2, *model.config.grid_size)


def test_decode_refuses_what_is_not_a_code_grid():
    model = tiny_vq().eval()
    with pytest.raises(ValueError, match="integer code grids"):
        model.decode(torch.rand(2, 4, 4))
    with pytest.raises(ValueError, match=r"codes must lie in \[0, 15\]"):
        model.decode(torch.full((1, 4, 4), 16))
    codes = torch.randint(16, (2, 4, 4))
    assert torch.equal(model.decode(codes.float()), model.decode(codes))  # a bank's float codes


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("codebook_size", 0, "codebook_size must be a positive int"),
        ("ema_decay", 1.0, "ema_decay must be in"),
        ("prior", {"dim": 15, "heads": 2}, r"prior.dim must be divisible by prior.heads"),
        ("prior", {"dropout": 1.0}, r"prior.dropout must be in \[0, 1\), got 1.0"),
        ("prior", {"top_k": -1}, "prior.top_k must be an int >= 0, got -1"),
        ("prior", {"dims": 16}, r"prior has unknown keys \['dims'\]; PriorConfig accepts \['dim'"),
        ("likelihood", "laplace", "likelihood must be one of"),
    ],
)
def test_bad_config_names_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        VQVAEConfig(**{**TINY_VQ, field: value})


def test_prior_settings_are_one_nested_config_that_round_trips():
    config = VQVAEConfig(**TINY_VQ)
    assert config.prior == PriorConfig(dim=16, layers=1, heads=2)  # the rest: defaults
    data = config.to_dict()
    assert data["prior"] == {
        "dim": 16,
        "layers": 1,
        "heads": 2,
        "dropout": 0.1,
        "temperature": 1.0,
        "top_k": 0,
    }
    assert not any(key.startswith("prior_") for key in data)
    assert VQVAEConfig.from_dict(json.loads(json.dumps(data))) == config
    with pytest.raises(TypeError, match="prior must be a PriorConfig or a dict of its fields"):
        VQVAEConfig(prior=16)


def test_vqvae_refuses_feature_vectors():
    with pytest.raises(ValueError, match="tabular-vae"):
        VQVAE.config_for((30,), ["a", "b"])


# ------------------------------------------------------------------ reconstruction with variation
@pytest.fixture(scope="module")
def trained(digits):
    settings = FitSettings(epochs=2, prior_epochs=0)
    return fit("vqvae", digits, settings, config=TINY_VQ, progress=False).model


def test_resample_at_temperature_zero_is_the_reconstruction(trained, digits):
    x = digits.x[:16]
    torch.testing.assert_close(trained.resample(x, 0.0), trained.reconstruct(x))


def test_resample_varies_codes_and_each_sample_uses_its_own_generator(trained, digits):
    x = digits.x[:4]
    gens = [torch.Generator().manual_seed(i) for i in range(4)]
    varied = trained.resample(x, 2.0, k=4, rng=gens)
    assert not torch.equal(varied, trained.reconstruct(x))
    alone = trained.resample(x[2:3], 2.0, k=4, rng=[torch.Generator().manual_seed(2)])
    torch.testing.assert_close(varied[2:3], alone)
    # from codes (a latent bank's rows) as well as from images
    codes = trained.encode(x)
    assert trained.resample(codes, 1.0, rng=torch.Generator().manual_seed(0)).shape == x.shape


def test_the_likelihood_follows_the_channels_as_the_vae_s():
    assert VQVAEConfig(channels=1).likelihood == "bernoulli"
    assert VQVAEConfig(channels=3).likelihood == "calibrated"
    assert VQVAEConfig(channels=3, likelihood="bernoulli").likelihood == "bernoulli"
    rgb = VQVAE(VQVAEConfig(image_size=(8, 8), channels=3, hidden_channels=(8,)))
    x = torch.rand(2, 3, 8, 8)
    out = rgb.reconstruct(x)
    assert out.shape == x.shape and float(out.min()) >= 0.0 and float(out.max()) <= 1.0
