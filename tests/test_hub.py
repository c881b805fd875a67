"""Hub round trip without the network: huggingface_hub's own offline cache, local folders,
model cards, name resolution and the ``push`` command.

The cache is laid out exactly as huggingface_hub lays it out (``models--user--repo/blobs``,
``snapshots/<commit>``, ``refs/<branch>``; blobs named by their ETag) and checked with the
library's own ``scan_cache_dir``; loading then goes through the real ``hf_hub_download``
with ``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import huggingface_hub
import pytest
import torch
from huggingface_hub import ModelCard, scan_cache_dir
from huggingface_hub.file_download import repo_folder_name
from safetensors.torch import load_file, save_file

from learned_aug import (
    VAE,
    CheckpointError,
    FitSettings,
    LatentBank,
    LearnedAugment,
    VAEConfig,
    bundled_names,
    fit,
    load_generator,
)
from learned_aug.bundled import PRETRAINED_DIR
from learned_aug.card_template import CARD_MARKER
from learned_aug.cli import main
from learned_aug.hub import stage_upload, write_model_card
from learned_aug.hub.card import is_generated, model_card
from learned_aug.loading import resolve
from learned_aug.sample_grid import sample_grid_seed, save_sample_grid

REPO = "learned-aug-tests/tiny-vae"
CONFIG = {"image_size": (8, 8), "latent_dim": 2, "hidden_channels": (4,), "hidden_dim": 8}


def tiny_vae(seed: int = 0) -> VAE:
    torch.manual_seed(seed)
    return VAE(VAEConfig(classes=["a", "b"], conditional=True, **CONFIG)).eval()


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def put_in_cache(cache: Path, repo_id: str, files: dict[str, bytes], ref: str = "main") -> str:
    """Store ``files`` as one commit of ``repo_id`` the way ``hf_hub_download`` stores them.

    Blobs are named by their ETag (sha256 for LFS files such as safetensors, the git blob
    sha1 otherwise); snapshot entries are relative symlinks to them; ``refs/<ref>`` holds the
    commit hash. Returns the commit hash.
    """
    storage = cache / repo_folder_name(repo_id=repo_id, repo_type="model")
    commit = hashlib.sha1(json.dumps(sorted(files), default=str).encode() + ref.encode())
    for data in files.values():
        commit.update(data)
    commit = commit.hexdigest()
    for name, data in files.items():
        lfs = name.endswith((".safetensors", ".bin", ".png"))
        blob = (
            storage / "blobs" / (hashlib.sha256(data).hexdigest() if lfs else git_blob_sha1(data))
        )
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        pointer = storage / "snapshots" / commit / name
        pointer.parent.mkdir(parents=True, exist_ok=True)
        pointer.symlink_to(os.path.relpath(blob, pointer.parent))
    (storage / "refs").mkdir(exist_ok=True)
    (storage / "refs" / ref).write_text(commit)
    return commit


def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture
def offline(monkeypatch):
    """HF_HUB_OFFLINE=1 for this process: the variable, and the constant the library read."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture
def hub_cache(tmp_path, offline) -> tuple[Path, VAE, str]:
    """A cache holding one repo saved with ``save_pretrained``; returns (cache, model, commit)."""
    model = tiny_vae()
    model.save_pretrained(tmp_path / "saved")
    cache = tmp_path / "cache"
    commit = put_in_cache(cache, REPO, folder_files(tmp_path / "saved"))
    return cache, model, commit


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ----------------------------------------------------------------------------- offline cache
def test_the_cache_is_laid_out_as_huggingface_hub_reads_it(hub_cache):
    cache, _, commit = hub_cache
    info = scan_cache_dir(cache)
    assert not info.warnings
    (repo,) = info.repos
    assert repo.repo_id == REPO and repo.repo_type == "model"
    (revision,) = repo.revisions
    assert revision.commit_hash == commit and revision.refs == {"main"}
    assert {f.file_name for f in revision.files} >= {"config.json", "model.safetensors"}


def test_load_generator_reads_a_hub_repo_from_the_offline_cache(hub_cache):
    cache, model, commit = hub_cache
    loaded = load_generator(REPO, cache_dir=cache)
    assert type(loaded) is VAE and loaded.classes == ["a", "b"]
    assert same_weights(loaded, model) and not loaded.training
    g = torch.Generator().manual_seed(0)
    expected = model.sample(4, labels=[0, 1, 0, 1], rng=g)
    again = loaded.sample(4, labels=[0, 1, 0, 1], rng=torch.Generator().manual_seed(0))
    assert torch.equal(expected, again)
    # The class method reads the same repo, by branch or by commit.
    assert same_weights(VAE.from_pretrained(REPO, cache_dir=cache, revision=commit), model)


def test_revision_picks_a_branch_tag_or_commit(tmp_path, offline):
    cache = tmp_path / "cache"
    old, new = tiny_vae(seed=1), tiny_vae(seed=2)
    old.save_pretrained(tmp_path / "old")
    new.save_pretrained(tmp_path / "new")
    old_commit = put_in_cache(cache, REPO, folder_files(tmp_path / "old"), ref="v1")
    put_in_cache(cache, REPO, folder_files(tmp_path / "new"), ref="main")
    assert same_weights(load_generator(REPO, cache_dir=cache), new)
    assert same_weights(load_generator(REPO, cache_dir=cache, revision="v1"), old)
    assert same_weights(load_generator(REPO, cache_dir=cache, revision=old_commit), old)
    with pytest.raises(ValueError, match="no generator named") as err:
        load_generator(REPO, cache_dir=cache, revision="v2")
    assert "Bundled names" in str(err.value)


def test_the_offline_environment_variable_alone_is_enough(hub_cache):
    cache, _, _ = hub_cache
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache)}
    out = subprocess.run(
        [sys.executable, "-m", "learned_aug.cli", "info", REPO, "--revision", "main", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    info = json.loads(out)
    assert info["model_type"] == "vae" and info["classes"] == ["a", "b"]


def test_a_repo_with_only_pickled_weights_is_refused(tmp_path, offline):
    model = tiny_vae()
    model.save_pretrained(tmp_path / "saved")
    files = folder_files(tmp_path / "saved")
    del files["model.safetensors"]
    files["pytorch_model.bin"] = b"not loaded: learned-aug never unpickles"
    cache = tmp_path / "cache"
    put_in_cache(cache, REPO, files)
    with pytest.raises(CheckpointError, match="safetensors only and never unpickles"):
        load_generator(REPO, cache_dir=cache)
    local = tmp_path / "local"
    local.mkdir()
    for name, data in files.items():
        (local / name).write_bytes(data)
    with pytest.raises(CheckpointError, match=r"found pickled \['pytorch_model.bin'\]"):
        load_generator(local)


@pytest.mark.parametrize("damage", ["extra_key", "wrong_shape", "unknown_config_key"])
def test_loading_from_the_hub_is_strict(tmp_path, offline, damage):
    model = tiny_vae()
    model.save_pretrained(tmp_path / "saved")
    files = folder_files(tmp_path / "saved")
    state = load_file(tmp_path / "saved" / "model.safetensors")
    if damage == "extra_key":
        state["stowaway"] = torch.zeros(1)
    elif damage == "wrong_shape":
        state["to_mu.bias"] = torch.zeros(5)
    else:
        config = json.loads(files["config.json"])
        files["config.json"] = json.dumps({**config, "dropout": 0.5}).encode()
    save_file(state, tmp_path / "w.safetensors")
    files["model.safetensors"] = (tmp_path / "w.safetensors").read_bytes()
    cache = tmp_path / "cache"
    put_in_cache(cache, REPO, files)
    expected = {
        "extra_key": "stowaway",
        "wrong_shape": "to_mu.bias",
        "unknown_config_key": "dropout",
    }
    with pytest.raises(CheckpointError, match=expected[damage]):
        load_generator(REPO, cache_dir=cache)


# ----------------------------------------------------------------------------- name resolution
def test_bundled_generators_ship_complete_and_load():
    names = bundled_names()
    shipped = {"mnist-vae", "mnist-vqvae", "mnist-dvae", "wine-vae", "cifar10-vae", "omniglot-vae"}
    assert shipped <= set(names)
    for name in names:
        folder = PRETRAINED_DIR / name
        # the wheel carries them: omniglot-vae (32x32, 216 classes, 1.4M parameters) is the largest
        assert (folder / "model.safetensors").stat().st_size < 6_000_000
        card = ModelCard.load(folder / "README.md")
        assert card.data.library_name == "learned-aug" and "learned-aug" in card.data.tags
        assert f"python scripts/make_pretrained.py --only {name}" in card.text
        assert is_generated(folder / "README.md")
        gen = load_generator(name)
        if len(gen.sample_shape) == 3:
            assert (folder / "samples.png").is_file() and "](samples.png)" in card.text
        else:
            assert "Generated rows, seed 0" in card.text
    mnist = load_generator("mnist-vae")
    assert mnist.sample_shape == (1, 28, 28) and mnist.classes == list("0123456789")
    assert mnist.sample(3, labels=[0, 5, 9]).shape == (3, 1, 28, 28)


def test_a_bundled_name_comes_before_a_local_folder_of_the_same_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tiny_vae().save_pretrained(tmp_path / "mnist-vae")
    assert resolve("mnist-vae") == str(PRETRAINED_DIR / "mnist-vae")
    assert resolve("./mnist-vae") == "mnist-vae"  # a path is a path
    assert resolve(tmp_path / "mnist-vae") == str(tmp_path / "mnist-vae")


@pytest.mark.parametrize("name", ["", "a/b/c", "../up", "user/repo.git", "two--dashes", "x y"])
def test_invalid_names_list_the_bundled_ones(name):
    with pytest.raises(ValueError, match="Bundled names") as err:
        load_generator(name)
    assert "mnist-vae" in str(err.value) and repr(name) in str(err.value)


def test_a_typo_of_a_bundled_name_gets_a_suggestion(offline):
    with pytest.raises(ValueError, match="Did you mean 'mnist-vae'"):
        load_generator("mnist-vea")


@pytest.mark.parametrize("where", ["bundled", "folder"])
def test_revision_is_refused_where_it_cannot_apply(tmp_path, where):
    name = "mnist-vae" if where == "bundled" else str(tmp_path)
    if where == "folder":
        tiny_vae().save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="revision='v1' selects a version of a Hub repo"):
        load_generator(name, revision="v1")


# ----------------------------------------------------------------------------- model cards
def test_save_pretrained_writes_weights_config_and_a_card_that_fit_or_push_replaces(tmp_path):
    tiny_vae().save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.library_name == "learned-aug" and CARD_MARKER in card.text
    write_model_card(tmp_path, seed=5)
    card = ModelCard.load(tmp_path / "README.md")
    assert {"learned-aug", "vae", "safetensors"} <= set(card.data.tags)
    assert "![samples from this generator](samples.png)" in card.text
    assert "seed 5." in card.text and sample_grid_seed(tmp_path / "samples.png") == 5


def test_fit_writes_the_card_once_at_the_end_with_the_runs_seed(tmp_path, digits):
    run = tmp_path / "run"
    seen = []
    result = fit(
        "vae",
        digits,
        FitSettings(epochs=2, seed=3),
        config={"latent_dim": 2, "hidden_channels": (4,), "hidden_dim": 8},
        out=run,
        progress=False,
        device="cpu",
        hooks=[lambda row: seen.append((run / "README.md").exists())],
    )
    assert seen == [False, False]  # no card while training: one at the end
    text = (run / "README.md").read_text()
    assert "seed 3." in text and sample_grid_seed(run / "samples.png") == 3
    assert f"| best_val_loss | {result.best_val_loss:.4g} |" in text
    assert "| epochs_run | 2 |" in text
    assert len(LatentBank.load(run)) == len(digits)  # the bank of its data, for the samplers
    (run / "training.json").write_text(json.dumps({"command": "learned-aug fit --data digits"}))
    write_model_card(run)  # refreshes the generated card with what the folder records
    text = (run / "README.md").read_text()
    assert "learned-aug fit --data digits" in text and "seed 3." in text


def test_a_hand_written_readme_is_kept(tmp_path):
    (tmp_path / "README.md").write_text("# my own card\n")
    tiny_vae().save_pretrained(tmp_path)
    write_model_card(tmp_path)
    assert (tmp_path / "README.md").read_text() == "# my own card\n"
    assert model_card(tiny_vae(), run_dir=tmp_path).text.strip() == "# my own card"


def test_a_tabular_generator_card_shows_sample_rows():
    class Rows(VAE):  # the card only needs the Generator surface
        @property
        def sample_shape(self):
            return (64,)

        def sample(self, n, labels=None, rng=None):
            return super().sample(n, labels, rng).flatten(1)

    card = model_card(Rows(VAEConfig(classes=["a", "b"], conditional=True, **CONFIG)))
    assert "Generated rows, seed 0 (first columns)" in card.text and "| a |" in card.text


# ----------------------------------------------------------------------------- push
def run_push(tmp_path, *args: str) -> int:
    folder = tmp_path / "run"
    if not folder.exists():
        tiny_vae().save_pretrained(folder)
        save_sample_grid(tiny_vae(), folder / "samples.png", seed=0)
        (folder / "training.json").write_text(json.dumps({"command": "learned-aug fit x"}))
        (folder / "checkpoint.pt").write_bytes(b"training state: never uploaded")
    return main(["push", str(folder), *args])


def test_push_dry_run_writes_exactly_the_upload(tmp_path, capsys):
    assert run_push(tmp_path, "me/tiny", "--dry-run", str(tmp_path / "upload")) == 0
    files = sorted(p.name for p in (tmp_path / "upload").iterdir())
    assert files == ["README.md", "config.json", "model.safetensors", "samples.png"]
    text = (tmp_path / "upload" / "README.md").read_text()
    assert 'load_generator("me/tiny")' in text and "learned-aug fit x" in text
    assert same_weights(load_generator(tmp_path / "upload"), load_generator(tmp_path / "run"))
    assert "would upload" in capsys.readouterr().out


@pytest.mark.parametrize("repo_id", ["a/b/c", "bad name", "../x"])
def test_push_validates_the_repo_id_before_any_request(tmp_path, capsys, repo_id):
    assert run_push(tmp_path, repo_id) == 2
    assert "is not a Hub repo id" in capsys.readouterr().err


def test_push_refuses_what_is_not_a_generator_folder(tmp_path, capsys):
    assert main(["push", str(tmp_path / "missing"), "me/x"]) == 2
    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "pytorch_model.bin").write_bytes(b"x")
    assert main(["push", str(tmp_path / "pickled"), "me/x"]) == 2
    err = capsys.readouterr().err
    assert "is not a folder" in err and "not a generator folder" in err


def test_push_goes_through_huggingface_hub_up_to_the_network(tmp_path, capsys, offline):
    assert run_push(tmp_path, "me/tiny", "--private", "--branch", "dev") == 2
    assert "offline mode is enabled" in capsys.readouterr().err


def test_a_staged_upload_with_its_latent_bank_loads_back_from_the_cache(
    tmp_path, offline, monkeypatch, mnist
):
    staged = tmp_path / "staged"
    files = stage_upload(PRETRAINED_DIR / "mnist-vae", staged, REPO)
    assert "latent_bank.safetensors" in files and "checkpoint.pt" not in files
    cache = tmp_path / "cache"
    put_in_cache(cache, REPO, folder_files(staged))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    augment = LearnedAugment.from_pretrained(REPO, strategy="interpolate", rng=0)
    x, y = mnist.x[:6], mnist.y[:6]
    out, labels = augment(x, y)
    local = LearnedAugment.from_pretrained("mnist-vae", strategy="interpolate", rng=0)
    assert torch.equal(out, local(x, y)[0]) and torch.equal(labels, y)
    assert torch.equal(augment.strategy.bank.codes, local.strategy.bank.codes)


def test_a_grid_of_many_classes_shows_at_most_max_rows_of_them_evenly_spaced(tmp_path):
    from PIL import Image

    from learned_aug.sample_grid import MAX_ROWS

    torch.manual_seed(0)
    names = [f"c{i}" for i in range(100)]
    many = VAE(VAEConfig(classes=names, conditional=True, **CONFIG)).eval()
    few = VAE(VAEConfig(classes=names[:3], conditional=True, **CONFIG)).eval()
    sizes = {}
    for name, gen in (("many", many), ("few", few)):
        with Image.open(save_sample_grid(gen, tmp_path / f"{name}.png", per_class=4)) as image:
            sizes[name] = image.size
    # make_grid: 8x8 images with 2 pixels of padding, one row a class
    assert sizes == {"many": (4 * 10 + 2, MAX_ROWS * 10 + 2), "few": (42, 3 * 10 + 2)}
