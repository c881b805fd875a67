"""Distributed training on PyTorch's own engine: 2 CPU processes on gloo, and sharded sampling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import TINY
from safetensors.torch import load_file, save_file

from learned_aug import FitSettings, Generator, create_generator, fit, load_dataset
from learned_aug.cli import main
from learned_aug.cli.arguments import parse_shard
from learned_aug.training import distributed

# 170 training rows in batches of 13: unequal shares, and a last batch of one row (a stand-in
# that counts 0 on rank 1).
SETTINGS = FitSettings(epochs=2, batch_size=13, seed=5, patience=None)
RUN = dict(progress=False, device="cpu")


def _noise_free(monkeypatch=None) -> None:
    """z = mu in the VAE loss: two processes draw other noise than one does, so only without
    noise can the test show that their gradients are the one-process gradients."""
    if monkeypatch is None:  # a worker process, which ends with the test
        torch.distributions.Normal.rsample = _mean
    else:
        monkeypatch.setattr(torch.distributions.Normal, "rsample", _mean)


def _mean(self, sample_shape=()):
    return self.mean


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    data = load_dataset("digits").subset(torch.arange(0, 1797, 9))  # 200 real digits
    model = create_generator("vae", data.sample_shape, data.classes, per_class=True, **TINY)
    return data, model


def _worker(rank: int, rendezvous: str, log: str, run: str) -> None:
    """One of two processes: record what it writes, train, save its final weights."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=2)
    writes: list[str] = []
    replace = os.replace
    os.replace = lambda src, dst: writes.append(str(dst)) or replace(src, dst)
    save_weights = Generator.save_weights
    Generator.save_weights = lambda self, d: writes.append(str(d)) or save_weights(self, d)
    _noise_free()
    data, model = _setup()
    result = fit(model, data, SETTINGS, out=run, **RUN)
    save_file(result.model.state_dict(), f"{log}/weights-{rank}.safetensors")
    Path(f"{log}/writes-{rank}.json").write_text(json.dumps(writes))
    Path(f"{log}/history-{rank}.json").write_text(json.dumps(result.history))
    dist.destroy_process_group()


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path, monkeypatch):
    log, run = tmp_path / "log", tmp_path / "run"
    log.mkdir()
    args = (str(tmp_path / "rdzv"), str(log), str(run))
    mp.start_processes(_worker, args=args, nprocs=2, start_method="fork")

    _noise_free(monkeypatch)
    data, model = _setup()
    one = fit(model, data, SETTINGS, **RUN)
    rank0 = load_file(log / "weights-0.safetensors")
    rank1 = load_file(log / "weights-1.safetensors")
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0), "DDP ranks drifted apart"
    single = {k: v.detach() for k, v in one.model.state_dict().items()}
    worst = max(float((rank0[k] - single[k]).abs().max()) for k in single)
    assert worst < 1e-5, worst  # the same steps as one process, to float rounding
    two = json.loads((log / "history-0.json").read_text())
    for a, b in zip(two, one.history, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
    timeless = [{k: v for k, v in row.items() if k != "seconds"} for row in two]
    history1 = json.loads((log / "history-1.json").read_text())
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in history1] == timeless

    written0 = json.loads((log / "writes-0.json").read_text())
    assert json.loads((log / "writes-1.json").read_text()) == []  # rank 0 alone writes
    assert {Path(p).name for p in written0} >= {"checkpoint.pt", "model.safetensors", "run"}
    assert load_file(run / "model.safetensors").keys() == rank0.keys()


def test_fit_nproc_2_relaunches_under_torchrun(tmp_path):
    args = ["--data", "digits", "--model", "vae", "--latent-dim", "2", "--epochs", "1"]
    args += ["--no-progress"]
    env, two = dict(os.environ, OMP_NUM_THREADS="1"), str(tmp_path / "two")
    done = subprocess.run(
        [sys.executable, "-m", "learned_aug.cli", "fit", *args, "--nproc", "2", "--out", two],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("best epoch") == 1  # printed by rank 0 only
    assert main(["fit", *args, "--out", str(tmp_path / "one")]) == 0
    two, one = (json.loads((tmp_path / r / "history.json").read_text()) for r in ("two", "one"))
    # Other noise per process, so close rather than equal.
    assert two[0]["val_loss"] == pytest.approx(one[0]["val_loss"], rel=0.05)
    assert json.loads((tmp_path / "two" / "training.json").read_text())["epochs_run"] == 1


@pytest.mark.parametrize(
    "size, world, expected",
    [(5, 2, [([0, 2, 4], 3), ([1, 3], 2)]), (1, 2, [([0], 1), ([0], 0)]), (3, 1, [([0, 1, 2], 3)])],
)
def test_shard_batch_deals_rows_and_stands_in_for_an_empty_share(size, world, expected):
    batch = torch.arange(size)
    got = [distributed.shard_batch(batch, r, world) for r in range(world)]
    assert [(idx.tolist(), count) for idx, count in got] == expected


def test_rank_helpers_without_a_process_group():
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    assert distributed.sum_over_ranks({"b": 2, "a": 1.5}) == {"b": 2.0, "a": 1.5}
    assert distributed.mean_over_ranks(3.0, 4) == 3.0


@pytest.mark.parametrize("text", ["3/3", "-1/2", "1", "a/b", "1/0", "1/2/3"])
def test_a_bad_shard_is_refused(text, capsys):
    with pytest.raises(ValueError, match="i/N"):
        parse_shard(text)
    with pytest.raises(SystemExit):
        main(["sample", "x", "-n", "3", "--out", "y", f"--shard={text}"])
    assert "i/N" in capsys.readouterr().err


@pytest.fixture
def generator_dir(tmp_path) -> Path:
    torch.manual_seed(0)
    tiny = dict(latent_dim=2, hidden_channels=(8,), hidden_dim=16)
    create_generator("vae", (1, 8, 8), ["a", "b", "c"], per_class=True, **tiny).save_pretrained(
        tmp_path / "gen"
    )
    return tmp_path / "gen"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.png")}


def test_sample_shards_are_disjoint_and_together_the_whole_set(
    tmp_path, generator_dir, monkeypatch
):
    common = ["sample", str(generator_dir), "-n", "31", "--seed", "4", "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "whole")]) == 0
    parts = []
    for i in range(3):
        assert main([*common, "--out", str(tmp_path / f"part{i}"), "--shard", f"{i}/3"]) == 0
        parts.append(_files(tmp_path / f"part{i}"))
    names = [set(p) for p in parts]
    assert all(not (names[i] & names[j]) for i in range(3) for j in range(i + 1, 3))
    whole = _files(tmp_path / "whole")
    assert len(whole) == 31 and {k: v for p in parts for k, v in p.items()} == whole

    # Under torchrun the shard comes from RANK / WORLD_SIZE; shards share one folder.
    shared = tmp_path / "shared"
    for i in range(3):
        monkeypatch.setenv("RANK", str(i))
        monkeypatch.setenv("WORLD_SIZE", "3")
        assert main([*common, "--out", str(shared)]) == 0
    assert _files(shared) == whole
