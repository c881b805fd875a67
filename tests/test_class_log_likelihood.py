"""The generative classifier: ``class_log_likelihood``, the ELBO under each class, per model."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY

from learned_aug import (
    VAE,
    VQVAE,
    DenoisingVAE,
    DVAEConfig,
    TabularVAE,
    TabularVAEConfig,
    VAEConfig,
    VQVAEConfig,
    load_dataset,
    load_generator,
)
from learned_aug.data import stratified_split
from learned_aug.models.likelihood import gaussian_kl, reconstruction_nll

CLASSES = ["a", "b", "c"]
TINY_VQ = {"hidden_channels": (8,), "embedding_dim": 4, "codebook_size": 16}
TINY_VQ |= {"prior": {"dim": 16, "layers": 1, "heads": 2}}


def cvae(**kw) -> VAE:
    return VAE(VAEConfig(image_size=(8, 8), classes=CLASSES, conditional=True, **{**TINY, **kw}))


def cdvae() -> DenoisingVAE:
    return DenoisingVAE(DVAEConfig(image_size=(8, 8), classes=CLASSES, conditional=True, **TINY))


def cvq(trained: bool = True) -> VQVAE:
    vq = VQVAE(VQVAEConfig(image_size=(8, 8), classes=CLASSES, conditional=True, **TINY_VQ))
    if trained:  # as fit does: one prior step per class seen marks the prior trained
        vq.prior.count(torch.arange(3), 3)
    return vq


def ctab() -> TabularVAE:
    return TabularVAE(TabularVAEConfig(features=5, classes=CLASSES, conditional=True, latent_dim=2))


MODELS = {"cvae": cvae, "gaussian-cvae": lambda: cvae(likelihood="gaussian"), "cdvae": cdvae}
MODELS |= {"cvq": cvq, "tabular": ctab}


def batch(model, n: int) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(n, 5) if isinstance(model, TabularVAE) else torch.rand(n, 1, 8, 8)


@pytest.mark.parametrize("kind", MODELS)
def test_scores_are_deterministic_batch_independent_and_give_infer_labels(kind):
    torch.manual_seed(0)
    model = MODELS[kind]().eval()
    x = batch(model, 5)
    with torch.no_grad():
        scores = model.class_log_likelihood(x)
        assert scores.shape == (5, 3) and bool(scores.isfinite().all())
        assert torch.equal(scores, model.class_log_likelihood(x))
        alone = torch.cat([model.class_log_likelihood(x[i : i + 1]) for i in range(5)])
        torch.testing.assert_close(scores, alone, rtol=1e-5, atol=1e-3)
        assert torch.equal(model.infer_labels(x), scores.argmax(1))


def test_the_cvae_score_is_its_elbo_at_the_posterior_mean():
    torch.manual_seed(0)
    model, x = cvae().eval(), torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        scores = model.class_log_likelihood(x)
        for k in range(3):
            labels = torch.full((4,), k)
            q = model.encode(x, labels)
            recon = reconstruction_nll(model.decode_logits(q.mean, labels), x, "bernoulli")
            elbo = -(recon + gaussian_kl(q.mean, 2 * q.stddev.log()))
            torch.testing.assert_close(scores[:, k], elbo, rtol=1e-5, atol=1e-3)


def test_the_vqvae_score_is_reconstruction_plus_the_prior_log_likelihood():
    torch.manual_seed(0)
    model, x = cvq().eval(), torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        scores = model.class_log_likelihood(x)
        codes = model.encode(x)
        recon = reconstruction_nll(
            model.decode_logits(model.quantizer.lookup(codes)), x, "bernoulli"
        )
        for k in range(3):
            nll = model.prior.nll(codes.flatten(1), torch.full((4,), k)) * codes[0].numel()
            torch.testing.assert_close(scores[:, k], -(recon + nll), rtol=1e-5, atol=1e-3)


def test_a_class_the_prior_never_saw_scores_minus_infinity_and_no_prior_refuses():
    model = cvq(trained=False).eval()
    with pytest.raises(ValueError, match="prior is not trained"):
        model.class_log_likelihood(torch.rand(2, 1, 8, 8))
    model.prior.count(torch.tensor([0, 2]), 2)
    scores = model.class_log_likelihood(torch.rand(2, 1, 8, 8))
    assert bool(scores[:, 1].isneginf().all()) and bool(scores[:, [0, 2]].isfinite().all())


@pytest.mark.parametrize(
    "make",
    [
        lambda: VAE(VAEConfig(image_size=(8, 8), **TINY)),
        lambda: DenoisingVAE(DVAEConfig(image_size=(8, 8), **TINY)),
        lambda: VQVAE(VQVAEConfig(image_size=(8, 8), **TINY_VQ)),
        lambda: TabularVAE(TabularVAEConfig(features=5)),
    ],
    ids=["vae", "dvae", "vqvae", "tabular"],
)
def test_an_unconditional_model_has_no_class_to_score(make):
    model = make()
    with pytest.raises(NotImplementedError, match="not class-aware"):
        model.infer_labels(batch(model, 2))


@pytest.mark.parametrize(
    ("name", "data", "floor"), [("mnist-vqvae", "mnist-5k", 0.85), ("wine-vae", "wine", 0.8)]
)
def test_a_bundled_generator_classifies_held_out_real_data(name, data, floor):
    real = load_dataset(data)
    held_out = stratified_split(real.y, 0.15, 0)[1][::4]  # from the split fit() validated on
    model = load_generator(name)
    with torch.no_grad():
        pred = model.infer_labels(real.x[held_out])
    assert float((pred == real.y[held_out]).float().mean()) > floor
