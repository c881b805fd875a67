"""Denoising VAE: corruption presets and custom transforms, training, round trips, linear probe."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import TINY
from test_vqvae import TINY_VQ

from learned_aug import DenoisingVAE, DVAEConfig, FitSettings, fit, load_generator
from learned_aug.evaluation.probe import encoder_features, linear_probe
from learned_aug.models.dvae import CORRUPTIONS

pytestmark = pytest.mark.filterwarnings("ignore::learned_aug.models.vqvae.UntrainedPriorWarning")


def tiny_dvae(shape=(1, 8, 8), **kw) -> DenoisingVAE:
    c, h, w = shape
    return DenoisingVAE(DVAEConfig(channels=c, image_size=(h, w), **{**TINY, **kw}))


@pytest.mark.parametrize("preset", sorted(CORRUPTIONS))
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 12, 10)])
def test_presets_corrupt_each_image_on_its_own_and_keep_shape_and_range(preset, shape):
    torch.manual_seed(0)
    model = tiny_dvae(shape, corruption=preset)
    x = torch.rand(1, *shape).repeat(6, 1, 1, 1)  # six copies of one image
    out = model.corrupt(x)
    assert out.shape == x.shape and out.min() >= 0.0 and out.max() <= 1.0
    if preset == "none":
        assert torch.equal(out, x)
    else:  # each copy gets its own random corruption
        assert not torch.equal(out[0], out[1])


def test_default_preset_takes_params_and_refuses_unknown_ones():
    cfg = DVAEConfig(image_size=(8, 8), corruption="default", corruption_params={"degrees": 40})
    assert json.loads(json.dumps(cfg.to_dict()))["corruption_params"] == {"degrees": 40}
    with pytest.raises(ValueError, match="corruption_params"):
        DVAEConfig(image_size=(8, 8), corruption_params={"spin": 3})
    with pytest.raises(ValueError, match="corruption must be one of"):
        DVAEConfig(corruption="blur")


def test_dvae_trains_on_real_digits_and_restores_corrupted_ones(digits):
    noise = {"corruption": "noise", "corruption_params": {"sigma": 0.5}}
    settings = FitSettings(epochs=4, lr=3e-3)
    result = fit("dvae", digits, settings, config={**noise, **TINY}, progress=False)
    assert result.history[-1]["train_recon"] < result.history[0]["train_recon"]
    model, x = result.model, digits.x[:256]
    torch.manual_seed(0)
    noisy = model.corrupt(x)
    with torch.no_grad():
        restored = model.reconstruct(noisy)
    assert (restored - x).pow(2).mean() < 0.8 * (noisy - x).pow(2).mean()


def test_custom_transform_is_used_but_not_saved(tmp_path, digits):
    from torchvision.transforms import v2

    seen = []

    def record(image):
        seen.append(image.shape)
        return image

    # a torchvision pipeline (an nn.Module) stays out of the weights
    corruption = v2.Compose([v2.RandomRotation(90), v2.Lambda(record)])
    model = DenoisingVAE(DVAEConfig(image_size=(8, 8), **TINY), transform=corruption)
    assert model.config.corruption == "custom" and model.transform is corruption
    assert all(key.startswith("vae.") for key in model.state_dict())
    fit(model, digits.subset(range(100)), FitSettings(epochs=1), progress=False)
    assert seen and seen[0] == (1, 8, 8)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["corruption"] == "custom"
    loaded = load_generator(tmp_path)
    x = digits.x[:4]
    assert torch.equal(loaded.reconstruct(x), model.reconstruct(x))  # inference needs no transform
    with pytest.raises(ValueError, match="custom corruption, which is not saved"):
        loaded.loss(x)
    again = DenoisingVAE.from_pretrained(tmp_path, transform=corruption)
    assert again.loss(x)["loss"].isfinite()
    loaded.set_transform(corruption)
    assert loaded.loss(x)["loss"].isfinite()


def test_preset_round_trip_and_config_for_refuses_a_transform(tmp_path):
    model = tiny_dvae(corruption="erase", corruption_params={"p": 0.5}).eval()
    model.save_pretrained(tmp_path)
    loaded = load_generator(tmp_path)
    assert type(loaded) is DenoisingVAE and loaded.config == model.config
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(model.sample(3, rng=g1), loaded.sample(3, rng=g2))
    with pytest.raises(TypeError, match=r"DenoisingVAE\(config, transform=\.\.\.\)"):
        DenoisingVAE.config_for((1, 8, 8), ["a"], corruption=lambda image: image)
    with pytest.raises(ValueError, match="tabular-vae"):
        DenoisingVAE.config_for((30,), ["a"])


# ------------------------------------------------------------------ linear probe
def test_probe_on_a_trained_encoder_beats_an_untrained_one(digits):
    train, test = digits.subset(range(1000)), digits.subset(range(1000, 1797))
    torch.manual_seed(0)
    untrained = tiny_dvae(latent_dim=8)
    trained = fit(
        "dvae",
        train,
        FitSettings(epochs=6, lr=3e-3),
        config={**TINY, "corruption": "noise", "latent_dim": 8},
        progress=False,
    ).model
    before, after = linear_probe(untrained, train, test), linear_probe(trained, train, test)
    assert after.n_train == 1000 and after.n_test == 797 and after.feature_dim == 8
    assert after.accuracy > 0.5  # ten classes: chance is 0.1
    assert after.accuracy > before.accuracy
    assert 0.0 <= after.macro_f1 <= 1.0


def test_probe_reads_vq_codes_one_hot(digits):
    from learned_aug import VQVAE, VQVAEConfig

    model = VQVAE(VQVAEConfig(image_size=(8, 8), **TINY_VQ))
    features = encoder_features(model, digits.x[:5])
    assert features.shape == (5, 16 * 16)  # 4x4 grid, 16 codes
    assert torch.equal(features.sum(1), torch.full((5,), 16.0))


def test_probe_refuses_label_aware_encoders_and_mismatched_splits(digits):
    conditional = tiny_dvae(conditional=True, classes=list("0123456789"))
    with pytest.raises(ValueError, match="does not see the label"):
        linear_probe(conditional, digits.subset(range(100)), digits.subset(range(100, 200)))
    model = tiny_dvae()
    other = digits.subset(range(100))
    other.classes = list("abcdefghij")
    with pytest.raises(ValueError, match="same classes"):
        linear_probe(model, digits.subset(range(100)), other)
