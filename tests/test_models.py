"""The Generator surface of the VAE and the per-class container: shapes, round trips, errors."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import TINY
from safetensors.torch import load_file, save_file

from learned_aug import (
    VAE,
    CheckpointError,
    ClasswiseGenerator,
    VAEConfig,
    create_generator,
    load_generator,
)

SHAPES = [(1, 28, 28), (1, 8, 8), (3, 32, 32), (3, 20, 30), (1, 13, 7)]


def tiny_vae(shape=(1, 8, 8), **kw) -> VAE:
    c, h, w = shape
    return VAE(VAEConfig(channels=c, image_size=(h, w), **{**TINY, **kw}))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "calibrated"])
def test_vae_any_size_trains_and_samples(shape, likelihood):
    torch.manual_seed(0)
    vae = tiny_vae(shape, likelihood=likelihood)
    x = torch.rand(4, *shape)
    parts = vae.loss(x)
    parts["loss"].backward()
    assert parts["loss"].isfinite()
    assert all(p.grad is not None for p in vae.parameters())
    assert vae.reconstruct(x).shape == x.shape
    samples = vae.sample(5)
    assert samples.shape == (5, *shape)
    assert samples.min() >= 0.0 and samples.max() <= 1.0


def test_beta_norm_weight():
    cfg = VAEConfig(image_size=(28, 28), latent_dim=4, beta=98.0, beta_norm=True)
    assert cfg.kl_weight == pytest.approx(98.0 * 4 / 784)
    assert VAEConfig(beta=4.0).kl_weight == 4.0


def test_sample_is_replayable_with_a_generator():
    vae = tiny_vae().eval()
    a = vae.sample(6, rng=torch.Generator().manual_seed(3))
    b = vae.sample(6, rng=torch.Generator().manual_seed(3))
    c = vae.sample(6, rng=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_per_sample_generators_make_each_sample_independent_of_its_batch():
    vae = tiny_vae().eval()
    gens = [torch.Generator().manual_seed(i) for i in range(4)]
    batch = vae.sample(4, rng=gens)
    alone = vae.sample(1, rng=[torch.Generator().manual_seed(2)])
    torch.testing.assert_close(batch[2:3], alone)


@pytest.mark.parametrize("per_class", [False, True])
def test_save_load_round_trip_is_bit_identical(tmp_path, per_class):
    torch.manual_seed(0)
    gen = create_generator(
        "vae", (1, 8, 8), ["a", "b", "c"], per_class=per_class, conditional=not per_class, **TINY
    ).eval()
    gen.save_pretrained(tmp_path)
    assert {"config.json", "model.safetensors"} <= {p.name for p in tmp_path.iterdir()}
    loaded = load_generator(tmp_path)
    assert type(loaded) is type(gen) and loaded.classes == ["a", "b", "c"]
    labels = torch.tensor([0, 1, 2, 1])
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(gen.reconstruct(x, labels), loaded.reconstruct(x, labels))
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(gen.sample(4, labels, g1), loaded.sample(4, labels, g2))
    assert type(gen).from_pretrained(tmp_path).config == gen.config


def test_weights_that_do_not_match_the_config_fail_clearly(tmp_path):
    tiny_vae().save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["latent_dim"] = 5
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"shape .* does not match|do not match"):
        load_generator(tmp_path)


def test_missing_or_unexpected_keys_fail_clearly(tmp_path):
    tiny_vae().save_pretrained(tmp_path)
    state = load_file(tmp_path / "model.safetensors")
    state["extra.weight"] = torch.zeros(1)
    del state["to_mu.bias"]
    save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"missing keys \['to_mu.bias'\].*extra.weight"):
        load_generator(tmp_path)


def test_config_of_another_kind_is_refused(tmp_path):
    tiny_vae().save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="model_type='vae'"):
        ClasswiseGenerator.from_pretrained(tmp_path)


def test_unknown_config_keys_are_refused():
    with pytest.raises(CheckpointError, match="unknown keys \\['colour'\\]"):
        VAEConfig.from_dict({"model_type": "vae", "colour": "red"})


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"likelihood": "poisson"}, "likelihood must be one of"),
        ({"latent_dim": 0}, "latent_dim must be a positive int, got 0"),
        ({"image_size": (0, 3)}, "image_size must be"),
        ({"beta": -1.0}, "beta must be a number >= 0"),
    ],
)
def test_bad_config_values_name_the_argument(bad, message):
    with pytest.raises(ValueError, match=message):
        VAEConfig(**bad)


def test_wrong_channels_or_size_are_clear_errors():
    vae = tiny_vae((1, 8, 8))
    with pytest.raises(ValueError, match="has 3 channels, but this generator expects 1"):
        vae.encode(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"sample shape \(1, 9, 9\).*expects \(1, 8, 8\)"):
        vae.encode(torch.rand(2, 1, 9, 9))


def test_labels_out_of_range_and_unconditional_labels():
    gen = create_generator("vae", (1, 8, 8), ["a", "b"], per_class=True, **TINY)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        gen.sample(2, labels=[0, 2])
    with pytest.raises(ValueError, match="unconditional"):
        tiny_vae().sample(2, labels=[0, 1])


def test_classwise_members_own_their_classes():
    torch.manual_seed(0)
    gen = create_generator("vae", (1, 8, 8), ["a", "b"], per_class=True, **TINY).eval()
    z = torch.randn(4, 3)
    labels = torch.tensor([0, 1, 0, 1])
    out = gen.decode(z, labels)
    torch.testing.assert_close(out[1], gen.members[1].decode(z[1:2])[0])
    torch.testing.assert_close(out[2], gen.members[0].decode(z[2:3])[0])
    assert gen.sample(3).shape == (3, 1, 8, 8)  # balanced labels by default


def test_classwise_mix_in_adds_other_classes():
    torch.manual_seed(0)
    gen = create_generator("vae", (1, 8, 8), ["a", "b"], per_class=True, mix_in=0.5, **TINY)
    x, y = torch.rand(8, 1, 8, 8), torch.tensor([0] * 4 + [1] * 4)
    members, _ = gen._pairs(y)
    assert (members == 0).sum() == 8  # its 4 rows and 4 of the other class
    assert gen.loss(x, y)["loss"].isfinite()


# ---------------------------------------------------------------- fast paths (issue 3)
def test_native_transposed_conv_matches_the_default_forward_and_backward():
    from learned_aug.models.conv import ConvTranspose2d

    torch.manual_seed(0)
    layer = ConvTranspose2d(6, 3, 4, stride=2, padding=1)
    x = torch.randn(5, 6, 7, 9, requires_grad=True)
    ours = layer(x)
    ours.square().sum().backward()
    grads = (x.grad.clone(), layer.weight.grad.clone(), layer.bias.grad.clone())
    x.grad = None
    layer.zero_grad()
    theirs = torch.nn.ConvTranspose2d.forward(layer, x)
    theirs.square().sum().backward()
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    for a, b in zip(grads, (x.grad, layer.weight.grad, layer.bias.grad), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    # the native kernel only for small calls or image-producing layers (faster there)
    assert layer._native(x)
    wide = ConvTranspose2d(64, 32, 4, stride=2, padding=1)
    assert wide._native(torch.randn(1, 64, 2, 2)) and not wide._native(torch.randn(64, 64, 7, 7))
    # unbatched input and bfloat16 autocast take the default path and still work
    assert layer(torch.randn(6, 7, 9)).shape == (3, 14, 18)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert layer(torch.randn(2, 6, 7, 9)).shape == (2, 3, 14, 18)


@pytest.mark.parametrize("size", [(28, 28), (13, 7)])
def test_a_decoder_without_refinement_keeps_shapes_and_round_trips(size, tmp_path):
    vae = VAE(VAEConfig(image_size=size, latent_dim=3, hidden_channels=(4, 8), refine=False))
    assert not any(isinstance(m, torch.nn.Conv2d) for m in vae.decoder)
    x = torch.rand(2, 1, *size)
    assert vae.reconstruct(x).shape == x.shape
    vae.save_pretrained(tmp_path)
    again = load_generator(tmp_path)
    assert again.config.refine is False
    torch.testing.assert_close(again.eval().reconstruct(x), vae.eval().reconstruct(x))
    with pytest.raises(ValueError, match="refine must be True or False"):
        VAEConfig(refine="no")


def test_encode_mean_is_the_posterior_mean():
    torch.manual_seed(0)
    member = VAEConfig(image_size=(8, 8), latent_dim=2, hidden_channels=(4,), hidden_dim=8)
    gen = ClasswiseGenerator.from_member(member, classes=["a", "b", "c"]).eval()
    x = torch.rand(5, 1, 8, 8)
    for labels in (torch.tensor([0, 2, 1, 2, 0]), torch.tensor([1, 1, 1, 1, 1])):
        with torch.no_grad():
            torch.testing.assert_close(gen.encode_mean(x, labels), gen.encode(x, labels).mean)
            routed = gen.decode(gen.encode_mean(x, labels), labels)
            by_member = torch.cat(
                [gen.members[k].reconstruct(x[i : i + 1]) for i, k in enumerate(labels.tolist())]
            )
        torch.testing.assert_close(routed, by_member)


def test_the_cached_device_follows_the_parameters():
    vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, hidden_channels=(4,), hidden_dim=8))
    assert vae.device == torch.device("cpu")
    assert vae.to("meta").device == torch.device("meta")


def test_a_per_class_generator_samples_nothing_when_asked_for_nothing():
    member = VAEConfig(image_size=(8, 8), latent_dim=2, hidden_channels=(4,), hidden_dim=8)
    gen = ClasswiseGenerator.from_member(member, classes=["a", "b"])
    assert gen.sample(0).shape == (0, 1, 8, 8)
    assert gen.sample(0, labels=torch.empty(0, dtype=torch.long)).shape == (0, 1, 8, 8)


# ------------------------------------------------------------------ colour images: the defaults
@pytest.mark.parametrize(
    ("size", "widths", "bottom"),
    [(8, (32, 64), 2), (28, (32, 64), 7), (32, (32, 64, 128), 4), (64, (32, 64, 128, 256), 4),
     (128, (32, 64, 128, 256, 256), 4)],
)  # fmt: skip
def test_the_conv_stack_follows_the_image_size(size, widths, bottom):
    config = VAEConfig(image_size=(size, size), channels=3, latent_dim=2)
    assert config.hidden_channels == widths
    vae = VAE(config)
    assert vae._bottom == (widths[-1], bottom, bottom)
    assert vae.sample(2, rng=torch.Generator().manual_seed(0)).shape == (2, 3, size, size)


def test_the_likelihood_follows_the_channels_unless_named():
    assert VAEConfig(channels=1).likelihood == "bernoulli"
    assert VAEConfig(channels=3).likelihood == "calibrated"
    assert VAEConfig(channels=3, likelihood="gaussian").likelihood == "gaussian"
    saved = VAEConfig(channels=3).to_dict()  # the choice is written into config.json
    assert saved["likelihood"] == "calibrated" and tuple(saved["hidden_channels"]) == (32, 64)


def test_the_calibrated_likelihood_is_the_gaussian_at_each_image_s_own_variance():
    from learned_aug.models.likelihood import CALIBRATED_FLOOR, reconstruction_nll

    torch.manual_seed(0)
    x = torch.rand(3, 3, 4, 4)
    out = x + 0.1 * torch.randn_like(x) * torch.tensor([1.0, 2.0, 4.0]).view(3, 1, 1, 1)
    mse = (out - x).pow(2).flatten(1).mean(1)
    d = 3 * 4 * 4
    expected = 0.5 * d * torch.log(mse + CALIBRATED_FLOOR)
    torch.testing.assert_close(reconstruction_nll(out, x, "calibrated"), expected)
    # = the Gaussian NLL at sigma^2 = mse (+ the floor), less its terms that do not depend on
    # the reconstruction: 0.5 d (mse / sigma^2 + log 2 pi)
    var = mse + CALIBRATED_FLOOR
    gaussian = -torch.distributions.Normal(out, var.sqrt().view(3, 1, 1, 1)).log_prob(x)
    constant = 0.5 * d * (mse / var + torch.log(torch.tensor(2 * torch.pi)))
    torch.testing.assert_close(gaussian.flatten(1).sum(1) - constant, expected)
    # better reconstructions score better, per image
    assert bool((expected[:-1] < expected[1:]).all())
