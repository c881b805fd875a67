"""Faults: a run killed with SIGKILL mid-epoch resumes to the same weights; NaN; unwritable out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY
from safetensors.torch import load_file

from learned_aug import FitSettings, TrainingError, create_generator, fit, load_generator
from learned_aug.cli import main
from learned_aug.files import atomic_write
from learned_aug.training import checkpoint, trainer
from learned_aug.training.checkpoint import (
    CHECKPOINT_NAME,
    HISTORY_JSON,
    load_checkpoint,
    prepare_out,
)

# A small real run: scikit-learn digits, about a second per epoch on one thread.
FIT = ["fit", "--data", "digits", "--model", "vae", "--latent-dim", "2", "--batch-size", "16"]
FIT += ["--seed", "1"]
FIT += ["--epochs", "4", "--patience", "100", "--no-progress"]
ONE = FitSettings(epochs=1)


def _epochs_done(run: Path) -> int:
    try:
        return len(json.loads((run / HISTORY_JSON).read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def _history(run: Path) -> list[dict]:
    """history.json without the wall-clock seconds."""
    rows = json.loads((run / HISTORY_JSON).read_text())
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def _start_and_kill_mid_epoch(run: Path) -> int:
    """Start ``learned-aug fit`` in a subprocess and SIGKILL it halfway through epoch 2."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "learned_aug.cli", *FIT, "--out", str(run)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while _epochs_done(run) < 1:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "epoch 1 never finished"
            time.sleep(0.02)
        first = json.loads((run / HISTORY_JSON).read_text())[0]["seconds"]
        time.sleep(first / 2)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    return _epochs_done(run)


def test_sigkill_mid_epoch_then_resume_gives_the_uninterrupted_weights(tmp_path, monkeypatch):
    assert main([*FIT, "--out", str(tmp_path / "full")]) == 0
    run = tmp_path / "killed"
    done = _start_and_kill_mid_epoch(run)
    assert 1 <= done < 4, "the kill must land inside the run, not after it"

    # What the kill left is the previous or the new version of each file, never a partial one.
    state = load_checkpoint(run / CHECKPOINT_NAME)
    assert int(state["epoch"]) in (done, done + 1)  # killed before or after saving the history
    load_generator(run)  # config.json + model.safetensors read back strictly

    # Resume must continue from the checkpoint, not start over (which would end the same).
    epochs_run = []
    run_epoch = trainer._Trainer._run_epoch
    monkeypatch.setattr(
        trainer._Trainer,
        "_run_epoch",
        lambda self: epochs_run.append(self.epoch) or run_epoch(self),
    )
    assert main([*FIT, "--out", str(run), "--resume"]) == 0
    assert epochs_run == list(range(int(state["epoch"]), 4))
    assert not list(run.glob(".*.tmp")), "resume clears the temporary files the kill left"
    full, resumed = (
        load_file(tmp_path / "full/model.safetensors"),
        load_file(run / "model.safetensors"),
    )
    assert full.keys() == resumed.keys()
    assert all(torch.equal(full[k], resumed[k]) for k in full), "resume is not bit-identical"
    assert _history(run) == _history(tmp_path / "full")


class _Crash(BaseException):
    """Stands for the process dying: nothing after it runs."""


@pytest.mark.parametrize("write", ["checkpoint", "best weights", "history"])
def test_a_crash_at_any_write_of_an_epoch_resumes_to_the_uninterrupted_run(
    tmp_path, digits, monkeypatch, write
):
    """Each epoch writes checkpoint.pt, then model.safetensors (a new best), then the history;
    an atomic write that dies leaves the previous file, as if it had not started."""
    monkeypatch.setattr(trainer._Trainer, "_val_loss", lambda self: [5.0, 3.0, 4.0][self.epoch - 1])
    kwargs = dict(settings=FitSettings(epochs=3, patience=None), config=TINY, progress=False)
    full = fit("vae", digits, out=tmp_path / "full", **kwargs)
    assert full.best_epoch == 2
    owner, name = {
        "checkpoint": (checkpoint, "save_checkpoint"),
        "best weights": (trainer._Trainer, "_save_best"),
        "history": (checkpoint, "save_history"),
    }[write]
    original, calls = getattr(owner, name), []

    def dies_at_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # epoch 2, its best epoch
            raise _Crash
        return original(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(owner, name, dies_at_epoch_2)
        with pytest.raises(_Crash):
            fit("vae", digits, out=tmp_path / "cut", **kwargs)
    resumed = fit("vae", digits, out=tmp_path / "cut", resume=True, **kwargs)
    a, b = (load_file(tmp_path / d / "model.safetensors") for d in ("full", "cut"))
    assert all(torch.equal(a[k], b[k]) for k in a), "resume is not bit-identical"
    assert _history(tmp_path / "cut") == _history(tmp_path / "full")
    assert resumed.best_epoch == 2 and resumed.best_val_loss == 3.0


def test_a_write_that_dies_midway_leaves_the_previous_file(tmp_path):
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"previous")

    def dies_midway(tmp: str) -> None:
        Path(tmp).write_bytes(b"half of the new")
        raise KeyboardInterrupt  # as a crash would, between writing and renaming

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, dies_midway)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_resume_clears_only_the_temporary_files_a_killed_write_leaves(tmp_path):
    left = [tmp_path / ".checkpoint.pt.k3j2.tmp", tmp_path / ".model.safetensors.x9.tmp"]
    mine = [tmp_path / ".notes.tmp", tmp_path / "checkpoint.pt.tmp"]
    for path in left + mine:
        path.write_bytes(b"partial")
    prepare_out(tmp_path, resume=True, overwrite=False)
    assert [p.exists() for p in left + mine] == [False, False, True, True]


def test_a_diverging_cli_run_names_epoch_and_step_and_writes_nothing_partial(tmp_path, capsys):
    code = main([*FIT, "--lr", "1e6", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "loss became nan at epoch 1, step 2" in err and "lower lr" in err
    assert not (tmp_path / CHECKPOINT_NAME).exists()  # nothing good to keep yet
    assert not list(tmp_path.glob(".*.tmp"))


def test_nan_keeps_the_last_good_checkpoint_and_the_run_resumes_from_it(tmp_path, digits):
    model = create_generator("vae", digits.sample_shape, digits.classes, per_class=True, **TINY)

    def diverge(row):  # a blow-up during epoch 2, after epoch 1's checkpoint was written
        if row["epoch"] == 1:
            with torch.no_grad():
                model.members[3].to_mu.weight.fill_(float("nan"))

    kwargs = dict(settings=FitSettings(epochs=2, seed=2), progress=False)
    with pytest.raises(TrainingError, match=r"loss became (nan|inf) at epoch 2, step 1;.*kept in"):
        fit(model, digits, out=tmp_path, hooks=[diverge], **kwargs)
    state = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert int(state["epoch"]) == 1
    assert all(torch.isfinite(t).all() for t in state["model"].values())

    fresh = create_generator("vae", digits.sample_shape, digits.classes, per_class=True, **TINY)
    resumed = fit(fresh, digits, out=tmp_path, resume=True, **kwargs)
    assert [row["epoch"] for row in resumed.history] == [1, 2]
    assert all(torch.isfinite(p).all() for p in resumed.model.parameters())


def test_an_out_under_a_file_is_reported_before_any_training(tmp_path, digits, capsys):
    (tmp_path / "file").write_text("not a folder")
    out = tmp_path / "file" / "run"
    epochs = []
    with pytest.raises(PermissionError, match=r"out=.*file/run.* is not writable"):
        fit("vae", digits, ONE, config=TINY, out=out, hooks=[epochs.append], progress=False)
    assert epochs == []
    assert main([*FIT, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "is not writable" in err and "best epoch" not in err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_a_read_only_out_is_reported_before_any_training(tmp_path, digits):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="is not writable"):
            fit("vae", digits, ONE, config=TINY, out=tmp_path / "run", progress=False)
    finally:
        tmp_path.chmod(0o700)


def test_an_optimizer_state_of_another_shape_is_refused_with_the_way_out(tmp_path, digits):
    import torch

    from learned_aug import TrainingError, fit

    few = digits.subset(range(60))
    config = {"latent_dim": 2, "hidden_channels": (4,), "hidden_dim": 8}
    kw = {"config": config, "out": tmp_path, "progress": False, "device": "cpu"}
    fit("vae", few, ONE, **kw)
    path = tmp_path / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    group = state["optimizer"]["param_groups"][0]
    group["params"] = group["params"][:-1]  # as a per-class run saved before batching
    torch.save(state, path)
    with pytest.raises(TrainingError, match=r"optimizer state does not fit.*overwrite=True"):
        fit("vae", few, FitSettings(epochs=2), resume=True, **kw)
