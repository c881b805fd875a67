"""The learned prior over VQ codes: causality, cached sampling, two-stage training, errors."""

from __future__ import annotations

import json

import pytest
import torch
from test_vqvae import AUTOENCODER, TINY_VQ

from learned_aug import FitSettings, LabelledData, SyntheticDataset, fit, load_generator
from learned_aug.cli import main
from learned_aug.models.prior import CodePrior, PriorConfig, gumbel_from_normal, pick_codes
from learned_aug.models.vqvae import UntrainedPriorWarning, set_stage


def tiny_prior(**kw) -> CodePrior:
    torch.manual_seed(0)
    config = PriorConfig(**{"dim": 16, "layers": 2, "heads": 2, **kw})
    return CodePrior(codebook_size=8, length=6, num_classes=3, config=config).eval()


def test_prior_is_causal():
    prior = tiny_prior()
    codes = torch.randint(8, (2, 6))
    changed = codes.clone()
    changed[:, 3:] = (changed[:, 3:] + 1) % 8
    a, b = prior.logits(codes, torch.tensor([0, 2])), prior.logits(changed, torch.tensor([0, 2]))
    # position t is predicted from codes < t: positions 0..3 cannot see the change at 3..5
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_cached_generation_matches_the_full_forward_pass():
    prior = tiny_prior()
    labels = torch.tensor([0, 1, 2, 1])
    gumbel = gumbel_from_normal(torch.randn(4, 6, 8, generator=torch.Generator().manual_seed(1)))
    codes = prior.generate(gumbel, labels, temperature=1.0)
    # replaying the sampled sequence through the full (uncached) pass picks the same codes
    logits = prior.logits(codes, labels)
    torch.testing.assert_close(codes, pick_codes(logits, gumbel, 1.0, 0))
    greedy = prior.generate(gumbel, labels, temperature=0.0)
    torch.testing.assert_close(greedy, prior.logits(greedy, labels).argmax(-1))


def test_generation_defaults_come_from_the_prior_config():
    gumbel = gumbel_from_normal(torch.randn(4, 6, 8, generator=torch.Generator().manual_seed(1)))
    labels = torch.tensor([0, 1, 2, 1])
    cold = tiny_prior(temperature=0.0, top_k=2)
    same = tiny_prior()  # the same weights (seeded), the default sampling settings
    expected = same.generate(gumbel, labels, temperature=0.0, top_k=2)
    torch.testing.assert_close(cold.generate(gumbel, labels), expected)


def test_gumbel_max_draws_follow_the_softmax_and_respect_top_k():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    noise = gumbel_from_normal(torch.randn(40_000, 4, generator=torch.Generator().manual_seed(0)))
    draws = pick_codes(logits.expand(40_000, 4), noise, 1.0, 0)
    freq = torch.bincount(draws, minlength=4).float() / len(draws)
    torch.testing.assert_close(freq, logits.softmax(0), atol=0.01, rtol=0)
    top2 = pick_codes(logits.expand(40_000, 4), noise, 1.0, 2)
    assert set(top2.tolist()) == {0, 1}
    cold = pick_codes(logits.expand(40_000, 4), noise, 0.25, 0)
    assert (cold == 0).float().mean() > freq[0]  # a lower temperature sharpens


# ------------------------------------------------------------------ two stages on real data
@pytest.fixture(scope="module")
def run(tmp_path_factory, digits):
    out = tmp_path_factory.mktemp("vq") / "run"
    settings = FitSettings(epochs=3, prior_epochs=3, lr=3e-3)
    result = fit("vqvae", digits, settings, config=TINY_VQ, out=out, progress=False)
    return out, result


def test_both_stages_train_and_end_in_one_checkpoint(run):
    out, result = run
    stages = [row["stage"] for row in result.history]
    assert stages == ["autoencoder"] * 3 + ["prior"] * 3
    prior_rows = [row for row in result.history if row["stage"] == "prior"]
    assert prior_rows[-1]["train_prior_nll"] < prior_rows[0]["train_prior_nll"]
    assert prior_rows[-1]["train_prior_nll"] < torch.log(torch.tensor(16.0))  # beats uniform
    assert {"config.json", "model.safetensors", "checkpoint.pt"} <= {p.name for p in out.iterdir()}
    assert (out / "autoencoder" / "model.safetensors").is_file()
    assert result.model.prior.trained
    saved = json.loads((out / "config.json").read_text())
    assert saved["model_type"] == "vqvae" and saved["prior"]["dim"] == 16  # nested: one object


def test_loaded_model_samples_every_class_replayably(run):
    out, result = run
    model = load_generator(out)
    assert model.conditional and model.prior.trained
    labels = torch.arange(10)
    a = model.sample(10, labels, torch.Generator().manual_seed(0), temperature=0.8, top_k=8)
    b = result.model.sample(10, labels, torch.Generator().manual_seed(0), temperature=0.8, top_k=8)
    assert a.shape == (10, 1, 8, 8) and torch.equal(a, b)
    dataset = SyntheticDataset(model, n=12, seed=1)  # no transform: tensor items
    image, label = dataset[5]
    samples, labels = dataset.generate([3, 5])  # item i is item i in any batch
    torch.testing.assert_close(image, samples[1])
    assert int(labels[1]) == label
    assert label == 5


def test_prior_stage_leaves_the_autoencoder_untouched(digits):
    data = digits.subset(range(300))
    model = fit("vqvae", data, AUTOENCODER, config=TINY_VQ, progress=False).model
    before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("prior.")}
    set_stage(model, "prior")
    result = fit(model, data, FitSettings(epochs=1), progress=False)  # at its prior stage: one
    assert [row.get("stage") for row in result.history] == [None] and model.prior.trained
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_resume_continues_the_prior_stage(tmp_path, digits):
    data = digits.subset(range(200))
    kw = {"config": TINY_VQ, "out": tmp_path, "progress": False}
    one, two = (FitSettings(epochs=1, patience=None, prior_epochs=n) for n in (1, 2))
    fit("vqvae", data, one, **kw)
    resumed = fit("vqvae", data, two, resume=True, **kw)
    stages = [row["stage"] for row in resumed.history]
    assert stages == ["autoencoder", "prior", "prior"]
    full = fit("vqvae", data, two, overwrite=True, **kw)
    assert torch.equal(full.model.prior.head.weight, resumed.model.prior.head.weight)


def test_per_class_vqvaes_train_both_stages(digits):
    keep = torch.cat([torch.nonzero(digits.y == k)[:40, 0] for k in range(3)])
    data = LabelledData(digits.x[keep], digits.y[keep], digits.classes[:3])
    settings = FitSettings(epochs=1, prior_epochs=1)
    result = fit("vqvae", data, settings, config={"per_class": True, **TINY_VQ}, progress=False)
    members = result.model.members
    assert len(members) == 3 and all(m.prior.trained for m in members)
    assert all(not m.conditional for m in members)  # each member's prior is its class's
    samples = result.model.sample(4, labels=[0, 2, 1, 2], rng=torch.Generator())
    assert samples.shape == (4, 1, 8, 8)


def test_prior_epochs_default_zero_and_refusals(tmp_path, digits):
    data = digits.subset(range(200))
    kw = {"config": TINY_VQ, "progress": False}
    both = fit("vqvae", data, FitSettings(epochs=2, patience=None), **kw)  # as long as stage one
    assert [row["stage"] for row in both.history] == ["autoencoder"] * 2 + ["prior"] * 2
    with pytest.warns(UntrainedPriorWarning):  # the run's sample grid: no prior yet
        alone = fit("vqvae", data, AUTOENCODER, out=tmp_path, **kw)
    assert not alone.model.prior.trained and "stage" not in alone.history[0]
    assert (tmp_path / "model.safetensors").is_file() and not (tmp_path / "autoencoder").exists()
    with pytest.raises(ValueError, match=r"prior_epochs must be None .* got -1"):
        FitSettings(prior_epochs=-1)
    with pytest.raises(ValueError, match=r"prior_epochs is for .* two stages .* got VAE"):
        fit("vae", data, FitSettings(epochs=1, prior_epochs=2), progress=False)


# ------------------------------------------------------------------ errors
def test_a_class_the_prior_never_saw_is_refused(digits):
    data = digits.subset(range(300))
    model = fit("vqvae", data, AUTOENCODER, config=TINY_VQ, progress=False).model
    set_stage(model, "prior")
    seen = digits.y < 5
    model.train()
    model.loss(digits.x[seen][:64], digits.y[seen][:64])  # the prior sees classes 0..4 only
    model.eval()
    assert model.sample(2, labels=[1, 3]).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"never saw class\(es\) \['7'\]"):
        model.sample(2, labels=[1, 7])


def test_untrained_prior_warns_and_labels_need_a_conditional_prior():
    from test_vqvae import tiny_vq

    model = tiny_vq(conditional=True, classes=["a", "b"]).eval()
    with pytest.warns(UntrainedPriorWarning, match="prior is not trained"):
        assert model.sample(3).shape == (3, 1, 8, 8)
    unconditional = tiny_vq().eval()
    with pytest.raises(ValueError, match="VQVAE is unconditional"):
        unconditional.sample(2, labels=[0, 1])
    with pytest.raises(ValueError, match="stage must be one of"):
        model.stage = "decoder"


# ------------------------------------------------------------------ the CLI
def test_cli_trains_both_stages_and_resumes_the_second(tmp_path, capsys):
    out = tmp_path / "vq"
    args = [
        "fit",
        "--data",
        "digits",
        "--model",
        "vqvae",
        "--epochs",
        "1",
        "--prior-epochs",
        "1",
        "--codebook-size",
        "16",
        "--embedding-dim",
        "4",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(args) == 0
    assert json.loads((out / "config.json").read_text())["codebook_size"] == 16
    assert (
        main([*args[:-3], "--prior-epochs", "2", "--out", str(out), "--resume", "--no-progress"])
        == 0
    )
    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]  # the prior run went on from epoch 1
    assert load_generator(out).prior.trained
    assert (
        main(
            [
                "fit",
                "--data",
                "digits",
                "--model",
                "vae",
                "--prior-epochs",
                "2",
                "--out",
                str(tmp_path / "v"),
            ]
        )
        == 2
    )
    assert "prior_epochs is for a generator trained in two stages" in capsys.readouterr().err
