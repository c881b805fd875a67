"""fit(): learning on real digits, early stopping, exact resume, checkpoints and guards."""

from __future__ import annotations

import dataclasses
import inspect
import json
import math

import pytest
import torch
from conftest import TINY
from safetensors.torch import load_file

from learned_aug import TrainingError, create_generator, fit, load_generator, precision
from learned_aug.training import kl_at, lr_at, trainer
from learned_aug.training.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    load_checkpoint,
    save_checkpoint,
    weights_digest,
)
from learned_aug.training.settings import FitSettings


def test_a_few_epochs_on_real_mnist_lower_the_validation_loss(mnist):
    subset = mnist.subset(torch.arange(0, len(mnist), 5))  # 1,000 real digits
    result = fit(
        "vae", subset, FitSettings(epochs=4), config={"latent_dim": 8}, progress=False, device="cpu"
    )
    val = [row["val_loss"] for row in result.history]
    assert val[-1] < val[0] * 0.85, val
    assert result.best_epoch == min(range(1, 5), key=lambda e: val[e - 1])


def test_per_class_fit_writes_a_complete_run(tmp_path, digits):
    config = {"per_class": True, **TINY}
    result = fit("vae", digits, FitSettings(epochs=2), config=config, out=tmp_path, progress=False)
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
    settings, kwargs = FitSettings(epochs=4, seed=3, kl_warmup=1), dict(config=TINY, progress=False)
    full = fit("vae", digits, settings, out=tmp_path / "full", **kwargs)
    part = dataclasses.replace(settings, epochs=2)
    fit("vae", digits, part, out=tmp_path / "cut", **kwargs)  # "crashes" after epoch 2
    resumed = fit("vae", digits, settings, out=tmp_path / "cut", resume=True, **kwargs)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    a = load_file(tmp_path / "full" / "model.safetensors")
    b = load_file(tmp_path / "cut" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.best_val_loss == full.best_val_loss


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"lr": 5e-4}, r"settings differ \{'lr': \(0.001, 0.0005\)\} \(saved, given\)"),
        ({"batch_size": 32}, r"'batch_size': \(64, 32\)"),
        ({"seed": 1}, r"'seed': \(0, 1\)"),
        ({"schedule": "cosine"}, r"'schedule': \('constant', 'cosine'\)"),
        ({"latent_dim": 4}, r"settings differ \(model config\)"),
    ],
)
def test_resume_refuses_changed_settings(tmp_path, digits, changed, message):
    small = digits.subset(torch.arange(300))
    kwargs = dict(out=tmp_path, progress=False)
    fit("vae", small, FitSettings(epochs=1), config=TINY, **kwargs)
    settings = {k: v for k, v in changed.items() if k not in TINY}
    config = {**TINY, **{k: v for k, v in changed.items() if k in TINY}}
    with pytest.raises(TrainingError, match=message):
        fit("vae", small, FitSettings(epochs=2, **settings), config=config, resume=True, **kwargs)


def test_resume_may_extend_epochs_and_change_patience(tmp_path, digits):
    small = digits.subset(torch.arange(300))
    kwargs = dict(config=TINY, out=tmp_path, progress=False)
    fit("vae", small, FitSettings(epochs=1), **kwargs)
    result = fit("vae", small, FitSettings(epochs=2, patience=None), resume=True, **kwargs)
    assert [row["epoch"] for row in result.history] == [1, 2]


def test_out_holding_a_run_is_refused_unless_resume_or_overwrite(tmp_path, digits):
    one, kwargs = FitSettings(epochs=1), dict(config=TINY, out=tmp_path, progress=False)
    fit("vae", digits, one, **kwargs)
    before = (tmp_path / "model.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match=r"already holds a run.*--resume.*--overwrite"):
        fit("vae", digits, one, **kwargs)
    assert (tmp_path / "model.safetensors").read_bytes() == before
    fit("vae", digits, FitSettings(epochs=1, seed=1), overwrite=True, **kwargs)
    assert (tmp_path / "model.safetensors").read_bytes() != before


def test_nan_loss_stops_with_epoch_and_step_and_keeps_the_last_checkpoint(tmp_path, digits):
    model = create_generator("vae", digits.sample_shape, digits.classes, **TINY)

    def diverge(row):  # after epoch 1 the weights blow up, as a too-high lr would do
        if row["epoch"] == 1:
            with torch.no_grad():
                model.to_mu.weight.fill_(float("nan"))

    with pytest.raises(TrainingError, match=r"loss became nan at epoch 2, step 1;.*kept in"):
        fit(model, digits, FitSettings(epochs=3), out=tmp_path, hooks=[diverge], progress=False)
    state = load_file(tmp_path / "model.safetensors")
    assert all(torch.isfinite(t).all() for t in state.values())
    assert json.loads((tmp_path / "history.json").read_text())[-1]["epoch"] == 1


def test_nan_in_the_data_is_refused_before_training(digits):
    poisoned = digits.subset(torch.arange(len(digits)))
    poisoned.x = poisoned.x.clone()
    poisoned.x[5] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf values in 1 examples"):
        fit("vae", poisoned, FitSettings(epochs=1), config=TINY, progress=False)


def test_early_stopping_keeps_the_best_weights(digits):
    settings = FitSettings(epochs=30, patience=1, lr=3e-2)
    result = fit("vae", digits, settings, config=TINY, progress=False)
    best = min(row["val_loss"] for row in result.history)
    assert result.best_val_loss == best == result.history[result.best_epoch - 1]["val_loss"]
    if result.stopped_early:  # patience 1: the first epoch without a better loss stops the run
        assert len(result.history) == result.best_epoch + 1 < 30


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": -1}, r"epochs must be an int >= 0 \(0: no training.*got -1"),
        ({"epochs": True}, r"epochs must be an int >= 0 .*got True"),
        ({"batch_size": 2.5}, r"batch_size must be a positive int, got 2.5"),
        ({"lr": 0}, r"lr must be a finite number > 0, got 0"),
        ({"lr": math.nan}, r"lr must be a finite number > 0, got nan"),
        (
            {"optimizer": "sgd9"},
            r"optimizer must be one of \['adam', 'adamw', 'rmsprop'\], got 'sgd9'",
        ),
        ({"weight_decay": -1e-4}, r"weight_decay must be a finite number >= 0, got -0.0001"),
        ({"val_fraction": 1.0}, r"val_fraction must be a number in \[0, 1\).*got 1.0"),
        ({"patience": 0}, r"patience must be a positive int \(epochs\) or None.*got 0"),
        ({"kl_warmup": -1}, r"kl_warmup must be an int >= 0 \(epochs\), got -1"),
        ({"warmup_steps": "5"}, r"warmup_steps must be an int >= 0.*got '5'"),
        ({"schedule": "linear"}, r"schedule must be one of \['constant', 'cosine'\], got 'linear'"),
        ({"seed": 1.5}, r"seed must be an int, got 1.5"),
        ({"prior_epochs": -1}, r"prior_epochs must be None .*0 \(no prior stage\).*got -1"),
        ({"amp": "yes"}, r"amp must be True, False or None .*got 'yes'"),
    ],
)
def test_bad_settings_name_the_argument_the_value_and_what_is_accepted(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FitSettings(**kwargs)


def test_settings_are_frozen_and_which_must_match_to_resume():
    settings = FitSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lr = 1.0
    assert FitSettings.resume_fields() == (
        "batch_size", "lr", "optimizer", "weight_decay", "val_fraction", "kl_warmup",
        "warmup_steps", "schedule", "seed", "augment", "augment_copies",
    )  # fmt: skip
    assert FitSettings(lr=1).lr == 1.0 and isinstance(FitSettings(lr=1).lr, float)
    saved = {k: v for k, v in settings.to_dict().items() if k != "augment_copies"}
    assert settings.differences(saved) == {"augment_copies": (None, 4)}  # missing: differs


def test_fit_takes_each_setting_one_way_and_names_what_it_wants(digits):
    parameters = inspect.signature(fit).parameters
    assert list(parameters)[:3] == ["model", "data", "settings"] and len(parameters) <= 12
    assert not set(parameters) & {f.name for f in dataclasses.fields(FitSettings)}
    small = digits.subset(torch.arange(300))
    epochs = []
    with pytest.raises(TypeError, match=r"settings must be a FitSettings or None, got dict.*"
                       r"FitSettings\(\*\*settings\)"):  # fmt: skip
        fit("vae", small, {"epochs": 1}, hooks=[epochs.append])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unexpected keyword argument 'lr'"):
        fit("vae", small, lr=0.1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"config must be a dict of config field names"):
        fit("vae", small, config=["latent_dim"])  # type: ignore[arg-type]
    model = create_generator("vae", small.sample_shape, small.classes, **TINY)
    with pytest.raises(TypeError, match=r"config=\{'latent_dim': 4\} builds a model given by "
                       r"name, but model is a VAE already built"):  # fmt: skip
        fit(model, small, config={"latent_dim": 4})
    assert epochs == []


def _record_steps(monkeypatch) -> list[tuple[int, float, torch.optim.Optimizer]]:
    """(global step, learning rate, optimizer) of every optimizer step fit takes."""
    seen, step = [], trainer._Trainer._step

    def recording(self, global_step, *args):
        parts = step(self, global_step, *args)
        seen.append((global_step, self.opt.param_groups[0]["lr"], self.opt))
        return parts

    monkeypatch.setattr(trainer._Trainer, "_step", recording)
    return seen


def test_rmsprop_is_the_optimizer_that_steps(digits, monkeypatch):
    seen = _record_steps(monkeypatch)
    small = digits.subset(torch.arange(200))
    settings = FitSettings(epochs=2, optimizer="rmsprop", lr=1e-3)
    result = fit("vae", small, settings, config=TINY, progress=False)
    optimizers = {id(opt): opt for *_, opt in seen}
    assert len(optimizers) == 1 and len(seen) == 6  # 170 training rows: 3 steps an epoch
    (opt,) = optimizers.values()
    assert type(opt) is torch.optim.RMSprop and opt.defaults["lr"] == 1e-3
    state = opt.state[next(iter(result.model.parameters()))]
    assert set(state) >= {"square_avg"} and int(state["step"]) == 6  # RMSprop's own statistics


def test_the_learning_rate_follows_warm_up_then_the_cosine_schedule(digits, monkeypatch):
    seen = _record_steps(monkeypatch)
    small = digits.subset(torch.arange(200))
    settings = FitSettings(epochs=2, schedule="cosine", lr=1e-3, warmup_steps=2)
    result = fit("vae", small, settings, config=TINY, progress=False)
    steps = [s for s, _, _ in seen]
    assert steps == list(range(6))
    expected = [lr_at(s, lr=1e-3, total_steps=6, warmup_steps=2, schedule="cosine") for s in steps]
    assert [lr for _, lr, _ in seen] == pytest.approx(expected)
    # warm-up to the peak in 2 steps, then a half cosine that would reach 0 at step 6
    assert expected[:3] == pytest.approx([5e-4, 1e-3, 1e-3])
    assert expected[3:] == pytest.approx(
        [1e-3 * (1 + math.cos(math.pi * k / 4)) / 2 for k in (1, 2, 3)]
    )
    assert [row["lr"] for row in result.history] == pytest.approx([expected[2], expected[5]])


# ------------------------------------------------------------------ checkpoint.pt
def _scripted_val_loss(monkeypatch, losses):
    """Real training, scripted validation losses (epoch e gets losses[e - 1])."""
    monkeypatch.setattr(trainer._Trainer, "_val_loss", lambda self: losses[self.epoch - 1])


def test_checkpoint_holds_what_resume_needs_and_not_the_best_weights(tmp_path, digits):
    result = fit("vae", digits, FitSettings(epochs=2), config=TINY, out=tmp_path, progress=False)
    state = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert set(state) == {
        "format", "epoch", "model", "optimizer", "scaler", "best_val", "best_epoch",
        "best_digest", "bad_epochs", "history", "settings", "config",
    }  # fmt: skip
    assert state["format"] == CHECKPOINT_FORMAT and state["epoch"] == 2
    assert json.loads(state["settings"]) == FitSettings(epochs=2).to_dict()
    best = load_file(tmp_path / "model.safetensors")
    assert state["best_digest"] == weights_digest(best) == weights_digest(result.model.state_dict())
    # live weights + Adam's two moments: three copies of the weights, not four
    weights = sum(t.numel() * t.element_size() for t in best.values())
    size = (tmp_path / CHECKPOINT_NAME).stat().st_size
    assert 3 * weights < size < 3 * weights + 200_000, (size, weights)


def test_resume_reads_the_best_weights_from_model_safetensors(tmp_path, digits, monkeypatch):
    _scripted_val_loss(monkeypatch, [5.0, 3.0, 4.0, 4.5])  # best: epoch 2
    settings, kwargs = FitSettings(epochs=4, patience=None), dict(config=TINY, progress=False)
    full = fit("vae", digits, settings, out=tmp_path / "full", **kwargs)
    cut = dataclasses.replace(settings, epochs=3)
    fit("vae", digits, cut, out=tmp_path / "cut", **kwargs)
    state = load_checkpoint(tmp_path / "cut" / CHECKPOINT_NAME)
    assert (state["epoch"], state["best_epoch"]) == (3, 2)  # the best is only in the safetensors
    resumed = fit("vae", digits, settings, out=tmp_path / "cut", resume=True, **kwargs)
    assert resumed.best_epoch == full.best_epoch == 2
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_replaced_model_safetensors_is_refused_on_resume(tmp_path, digits, monkeypatch):
    _scripted_val_loss(monkeypatch, [5.0, 3.0, 4.0, 4.5])
    kwargs = dict(config=TINY, out=tmp_path, progress=False)
    fit("vae", digits, FitSettings(epochs=3, patience=None), **kwargs)
    other = create_generator("vae", digits.sample_shape, digits.classes, **TINY)
    other.save_pretrained(tmp_path / "other")
    (tmp_path / "other" / "model.safetensors").replace(tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match=r"model.safetensors' does not hold the best weights "
                       r"\(epoch 2\).*--overwrite"):  # fmt: skip
        fit("vae", digits, FitSettings(epochs=4, patience=None), resume=True, **kwargs)


@pytest.mark.parametrize(
    ("version", "fix"), [(CHECKPOINT_FORMAT + 1, "upgrade"), (1, "no release wrote it")]
)
def test_a_checkpoint_of_another_format_is_refused_with_the_fix(tmp_path, digits, version, fix):
    small = digits.subset(torch.arange(300))
    kwargs = dict(config=TINY, out=tmp_path, progress=False)
    fit("vae", small, FitSettings(epochs=1), **kwargs)
    state = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    save_checkpoint(tmp_path / CHECKPOINT_NAME, {**state, "format": version})
    with pytest.raises(ValueError, match=rf"checkpoint.pt' is a training checkpoint of format "
                       rf"{version}, but this learned-aug reads format 2: {fix}"):  # fmt: skip
        fit("vae", small, FitSettings(epochs=2), resume=True, **kwargs)


# ------------------------------------------------------------------ precision
def _step_factory(slow: bool):
    """Steps where float32 (slow=False) or bf16 (slow=True) sleeps: a sure verdict."""
    calls = []

    def make(bf16):
        calls.append(bf16)
        return lambda: __import__("time").sleep(0.003 if bf16 == slow else 0.0)

    return make, calls


def test_no_autocast_on_a_cpu_without_native_bf16_and_nothing_is_timed(monkeypatch):
    monkeypatch.delenv(precision.ENV_VAR, raising=False)
    make, calls = _step_factory(slow=False)
    choice = precision.choose_autocast(
        "cpu", workload="w", make_step=make, flags=frozenset({"avx2", "fma"})
    )
    assert not choice.enabled and "no native bf16" in choice.reason and calls == []


def test_an_explicit_choice_wins_argument_first_then_environment(monkeypatch):
    flags = frozenset({"avx2"})
    monkeypatch.setenv(precision.ENV_VAR, "1")
    assert precision.choose_autocast("cpu", flags=flags).enabled
    assert precision.choose_autocast("cpu", flags=flags).reason == f"{precision.ENV_VAR}=1"
    assert not precision.choose_autocast("cpu", override=False, flags=flags).enabled
    monkeypatch.setenv(precision.ENV_VAR, "0")
    assert not precision.choose_autocast("cpu", flags=frozenset({"amx_bf16"})).enabled
    monkeypatch.setenv(precision.ENV_VAR, "maybe")
    with pytest.raises(ValueError, match=r"LEARNED_AUG_BF16='maybe' is not understood.*1, true"):
        precision.choose_autocast("cpu", flags=flags)


@pytest.mark.parametrize("bf16_slow", [True, False])
def test_native_bf16_is_timed_once_then_the_verdict_is_cached(tmp_path, monkeypatch, bf16_slow):
    monkeypatch.delenv(precision.ENV_VAR, raising=False)
    monkeypatch.setenv(precision.CACHE_ENV_VAR, str(tmp_path))
    monkeypatch.setattr(precision, "_decided", {})
    flags = frozenset({"avx512_bf16"})
    make, calls = _step_factory(slow=bf16_slow)
    first = precision.choose_autocast("cpu", workload="w", make_step=make, flags=flags)
    assert first.enabled is not bf16_slow and calls == [False, True]
    again = precision.choose_autocast("cpu", workload="w", make_step=make, flags=flags)
    monkeypatch.setattr(precision, "_decided", {})  # a new process reads the cache file
    later = precision.choose_autocast("cpu", workload="w", make_step=make, flags=flags)
    assert first == again == later and calls == [False, True]
    cached = json.loads((tmp_path / "precision.json").read_text())
    assert cached == {precision.cache_key("w"): not bf16_slow}
    assert precision.cpu_model() in precision.cache_key(
        "w"
    ) and torch.__version__ in precision.cache_key("w")


def test_timing_steps_leave_the_model_and_the_random_state_alone(digits):
    model = create_generator("vae", digits.sample_shape, digits.classes, **TINY)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = digits.x[:16], digits.y[:16]
    rng = torch.get_rng_state()
    make = precision.training_steps(model, lambda m: m.loss(x, y)["loss"], "cpu")
    assert precision.autocast_speedup(make, rounds=1, steps=1) > 0
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_lr_and_kl_schedules_are_pure():
    assert lr_at(0, lr=1.0, total_steps=10, warmup_steps=4) == 0.25
    assert lr_at(5, lr=1.0, total_steps=10) == 1.0
    assert lr_at(5, lr=1.0, total_steps=10, schedule="cosine") == pytest.approx(0.5)
    # a third of the way through the decay after a warm-up of 4 steps: (1 + cos(pi / 3)) / 2
    assert lr_at(6, lr=1.0, total_steps=10, warmup_steps=4, schedule="cosine") == pytest.approx(
        0.75
    )
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
            FitSettings(epochs=1, lr=1e-6),  # learns nothing: the samples carry no class
            config={"latent_dim": 2, "hidden_channels": (4,), "hidden_dim": 8, "conditional": True},
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
    from learned_aug import load_generator
    from learned_aug.training.diagnostics import diagnose
    from learned_aug.training.publish import default_sampler

    # The sampler draws from the latent bank load_generator attaches: the generator's 5,000.
    gen, data = load_generator("mnist-vae"), mnist.subset(range(0, 5000, 10))
    report = diagnose(gen, data, default_sampler(gen, seed=0))
    assert report["warnings"] == []
    assert report["classifier_accuracy_samples"] > 0.8
    assert report["active_units"] >= 1 and report["copy_distance_ratio"] > 0.1
