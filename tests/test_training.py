"""fit(): learning on real digits, early stopping, exact resume, checkpoints and guards."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import TINY
from safetensors.torch import load_file

from learned_aug import TrainingError, create_generator, fit, load_generator
from learned_aug.training import kl_at, lr_at


def test_a_few_epochs_on_real_mnist_lower_the_validation_loss(mnist):
    subset = mnist.subset(torch.arange(0, len(mnist), 5))  # 1,000 real digits
    result = fit("vae", subset, epochs=4, latent_dim=8, progress=False, device="cpu")
    val = [row["val_loss"] for row in result.history]
    assert val[-1] < val[0] * 0.85, val
    assert result.best_epoch == min(range(1, 5), key=lambda e: val[e - 1])


def test_per_class_fit_writes_a_complete_run(tmp_path, digits):
    result = fit("vae", digits, per_class=True, epochs=2, out=tmp_path, progress=False, **TINY)
    names = {p.name for p in tmp_path.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "checkpoint.pt",
        "history.json",
        "history.csv",
        "samples.png",
    } <= names
    assert len(json.loads((tmp_path / "history.json").read_text())) == 2
    loaded = load_generator(tmp_path)
    assert loaded.classes == digits.classes
    x, y = digits.x[:6], digits.y[:6]
    assert torch.equal(loaded.reconstruct(x, y), result.model.cpu().reconstruct(x, y))


def test_resume_reaches_the_same_weights_as_an_uninterrupted_run(tmp_path, digits):
    kwargs = dict(epochs=4, seed=3, progress=False, kl_warmup=1, **TINY)
    full = fit("vae", digits, out=tmp_path / "full", **kwargs)
    part = dict(kwargs, epochs=2)
    fit("vae", digits, out=tmp_path / "cut", **part)  # "crashes" after epoch 2
    resumed = fit("vae", digits, out=tmp_path / "cut", resume=True, **kwargs)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    a = load_file(tmp_path / "full" / "model.safetensors")
    b = load_file(tmp_path / "cut" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.best_val_loss == full.best_val_loss


def test_resume_refuses_changed_settings(tmp_path, digits):
    fit("vae", digits, epochs=1, out=tmp_path, progress=False, **TINY)
    with pytest.raises(TrainingError, match=r"settings differ.*lr"):
        fit("vae", digits, epochs=2, lr=5e-4, out=tmp_path, resume=True, progress=False, **TINY)


def test_out_holding_a_run_is_refused_unless_resume_or_overwrite(tmp_path, digits):
    fit("vae", digits, epochs=1, out=tmp_path, progress=False, **TINY)
    before = (tmp_path / "model.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match=r"already holds a run.*--resume.*--overwrite"):
        fit("vae", digits, epochs=1, out=tmp_path, progress=False, **TINY)
    assert (tmp_path / "model.safetensors").read_bytes() == before
    fit("vae", digits, epochs=1, seed=1, out=tmp_path, overwrite=True, progress=False, **TINY)
    assert (tmp_path / "model.safetensors").read_bytes() != before


def test_nan_loss_stops_with_epoch_and_step_and_keeps_the_last_checkpoint(tmp_path, digits):
    model = create_generator("vae", digits.sample_shape, digits.classes, **TINY)

    def diverge(row):  # after epoch 1 the weights blow up, as a too-high lr would do
        if row["epoch"] == 1:
            with torch.no_grad():
                model.to_mu.weight.fill_(float("nan"))

    with pytest.raises(TrainingError, match=r"loss became nan at epoch 2, step 1;.*kept in"):
        fit(model, digits, epochs=3, out=tmp_path, hooks=[diverge], progress=False)
    state = load_file(tmp_path / "model.safetensors")
    assert all(torch.isfinite(t).all() for t in state.values())
    assert json.loads((tmp_path / "history.json").read_text())[-1]["epoch"] == 1


def test_nan_in_the_data_is_refused_before_training(digits):
    poisoned = digits.subset(torch.arange(len(digits)))
    poisoned.x = poisoned.x.clone()
    poisoned.x[5] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf values in 1 examples"):
        fit("vae", poisoned, epochs=1, progress=False, **TINY)


def test_early_stopping_keeps_the_best_weights(digits):
    result = fit("vae", digits, epochs=30, patience=1, lr=3e-2, progress=False, **TINY)
    best = min(row["val_loss"] for row in result.history)
    assert result.best_val_loss == best
    if result.stopped_early:
        assert len(result.history) < 30


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs must be a positive int"),
        ({"optimizer": "sgd9"}, "optimizer must be one of"),
        ({"val_fraction": 1.0}, "val_fraction must be in"),
        ({"batch_size": 0}, "batch_size must be a positive int"),
    ],
)
def test_bad_arguments_name_themselves(digits, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit("vae", digits, progress=False, **kwargs)


def test_rmsprop_and_cosine_schedule(digits):
    small = digits.subset(torch.arange(200))
    result = fit(
        "vae",
        small,
        epochs=2,
        optimizer="rmsprop",
        schedule="cosine",
        lr=1e-3,
        warmup_steps=2,
        progress=False,
        **TINY,
    )
    assert len(result.history) == 2


def test_lr_and_kl_schedules_are_pure():
    assert lr_at(0, lr=1.0, total_steps=10, warmup_steps=4) == 0.25
    assert lr_at(5, lr=1.0, total_steps=10) == 1.0
    assert lr_at(10, lr=1.0, total_steps=10, schedule="cosine") == pytest.approx(0.0)
    assert kl_at(0, 4) == 0.25 and kl_at(9, 4) == 1.0 and kl_at(0, 0) == 1.0


def test_fit_reports_a_collapsed_classless_generator_in_plain_words(tmp_path, digits):
    import json
    import warnings

    from learned_aug.training.diagnostics import GeneratorWarning

    few = digits.subset(range(60))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(
            "vae",
            few,
            epochs=1,
            lr=1e-6,  # learns nothing: the samples carry no class
            latent_dim=2,
            hidden_channels=(4,),
            hidden_dim=8,
            conditional=True,
            out=tmp_path,
            progress=False,
            device="cpu",
        )
    report = json.loads((tmp_path / "quality.json").read_text())
    assert report["classifier_accuracy_samples"] <= 0.15 < report["classifier_accuracy_real_val"]
    assert any("carry no class" in w for w in report["warnings"])
    assert any(issubclass(w.category, GeneratorWarning) for w in caught)
    assert "carry no class" in (tmp_path / "README.md").read_text()


def test_a_trained_generator_passes_the_quality_report(mnist):
    from learned_aug import LatentBank, load_generator
    from learned_aug.training.diagnostics import diagnose
    from learned_aug.training.publish import default_sampler

    gen, data = load_generator("mnist-vae"), mnist.subset(range(0, 5000, 10))
    report = diagnose(gen, data, default_sampler(gen, LatentBank.build(gen, data), seed=0))
    assert report["warnings"] == []
    assert report["classifier_accuracy_samples"] > 0.8
    assert report["active_units"] >= 1 and report["copy_distance_ratio"] > 0.1
