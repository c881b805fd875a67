"""Security: no unpickling on any load path, no writes outside the output folder, valid Hub ids."""

from __future__ import annotations

import ast
import json
import pathlib
from pathlib import Path

import pytest
import torch
from conftest import TINY

import learned_aug
from learned_aug import (
    CheckpointError,
    FitSettings,
    SyntheticDataset,
    create_generator,
    fit,
    load_generator,
    loading,
)
from learned_aug.cli import main
from learned_aug.loading import resolve
from learned_aug.synthetic import to_folder
from learned_aug.training.checkpoint import CHECKPOINT_NAME, load_checkpoint

PACKAGE = Path(learned_aug.__file__).parent
UNSAFE = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def _calls(tree: ast.AST, owner: str, name: str):
    """Calls of ``owner.name`` (e.g. ``torch.load``) in a module's syntax tree."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            value = node.func.value
            if node.func.attr == name and isinstance(value, ast.Name) and value.id == owner:
                yield node


def _is(call: ast.Call, keyword: str, value: bool) -> bool:
    given = next((k.value for k in call.keywords if k.arg == keyword), None)
    return isinstance(given, ast.Constant) and given.value is value


def unsafe_loads(source: str) -> list[str]:
    """What in ``source`` could unpickle: pickle-like imports, torch.load without
    weights_only=True, np.load with allow_pickle=True, eval / exec."""
    tree, found = ast.parse(source), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in UNSAFE]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE:
            found.append(f"from {node.module} import")
        elif isinstance(node, ast.Name) and node.id in ("eval", "exec"):
            found.append(node.id)
    found += [
        f"line {c.lineno}: torch.load without weights_only=True"
        for c in _calls(tree, "torch", "load")
        if not _is(c, "weights_only", True)
    ]
    found += [
        f"line {c.lineno}: np.load with allow_pickle=True"
        for c in _calls(tree, "np", "load")
        if _is(c, "allow_pickle", True)
    ]
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_the_scan_would_catch_every_unsafe_load():
    bad = (
        "import pickle\nfrom dill import loads\ntorch.load(f)\ntorch.load(f, weights_only=False)\n"
    )
    bad += "np.load(f, allow_pickle=True)\neval(s)\n"
    assert len(unsafe_loads(bad)) == 6
    assert unsafe_loads("torch.load(f, weights_only=True)\nnp.load(f)\n") == []
    assert len(SOURCES) > 10


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_load_path_can_unpickle(source):
    assert unsafe_loads(source.read_text(encoding="utf-8")) == []


class _Payload:
    """Unpickling this touches ``marker``: proof that a pickle ran code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.fixture
def run(tmp_path, digits) -> Path:
    one = FitSettings(epochs=1)
    fit("vae", digits.subset(range(200)), one, config=TINY, out=tmp_path / "run", progress=False)
    return tmp_path / "run"


def test_a_pickle_bomb_checkpoint_is_refused_without_running(run, tmp_path, digits):
    marker = tmp_path / "pwned"
    torch.save({"epoch": 1, "model": _Payload(marker)}, run / CHECKPOINT_NAME)
    two, small = FitSettings(epochs=2), digits.subset(range(200))
    with pytest.raises(ValueError, match="cannot read the training checkpoint"):
        fit("vae", small, two, config=TINY, out=run, resume=True, progress=False)
    assert not marker.exists()
    torch.load(run / CHECKPOINT_NAME, weights_only=False)  # the payload is live: it would run
    assert marker.exists()


def test_pickled_weights_beside_a_config_are_never_loaded(run, tmp_path):
    marker = tmp_path / "pwned"
    (run / "model.safetensors").unlink()
    for name in ("pytorch_model.bin", "model.pt"):
        torch.save({"weight": _Payload(marker)}, run / name)
    with pytest.raises(CheckpointError, match=r"model\.safetensors"):
        load_generator(run)
    with pytest.raises(ValueError):
        load_checkpoint(run / "model.pt")
    assert not marker.exists()


EVIL = ["../evil", "/abs", "..", "a/../../b", "..\\..\\win", "~root", "ok", "$HOME"]


def test_class_names_cannot_write_outside_the_output_folder(tmp_path):
    gen = create_generator("vae", (1, 8, 8), EVIL, per_class=True, **TINY)
    root = tmp_path / "out"
    to_folder(SyntheticDataset(gen, n=24, seed=0), root, progress=False)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) == 24
    assert all(p.resolve().is_relative_to(root.resolve()) for p in written)
    assert {p.parent.parent for p in written} == {root}  # one level: root/<class>/<i>.png
    assert len({p.parent for p in written}) == len(EVIL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_class_names_from_a_downloaded_config_cannot_escape(tmp_path):
    gen = create_generator("vae", (1, 8, 8), ["a", "b"], per_class=True, **TINY)
    gen.save_pretrained(tmp_path / "gen")
    config = json.loads((tmp_path / "gen" / "config.json").read_text())
    config["classes"] = ["../../x", "/etc"]
    (tmp_path / "gen" / "config.json").write_text(json.dumps(config))
    box = tmp_path / "box"
    argv = ["sample", str(tmp_path / "gen"), "-n", "4", "--no-progress"]
    assert main([*argv, "--out", str(box / "out")]) == 0
    written = [p for p in box.rglob("*") if p.is_file()]
    assert len(written) == 4 and all(p.is_relative_to(box / "out") for p in written)
    assert {p.parent.parent for p in written} == {box / "out"}  # out/<class>/<i>.png
    assert len({p.parent for p in written}) == 2


def test_classes_that_would_share_a_folder_are_refused(tmp_path):
    gen = create_generator("vae", (1, 8, 8), ["a/b", "a_b"], per_class=True, **TINY)
    with pytest.raises(ValueError, match=r"classes 'a/b' and 'a_b' would both be written to"):
        to_folder(SyntheticDataset(gen, n=2), tmp_path, progress=False)


def test_a_class_folder_that_is_a_symlink_out_is_refused(tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a").symlink_to(tmp_path / "outside", target_is_directory=True)
    gen = create_generator("vae", (1, 8, 8), ["a", "b"], per_class=True, **TINY)
    with pytest.raises(ValueError, match="would write outside"):
        to_folder(SyntheticDataset(gen, n=2), tmp_path / "out", progress=False)
    assert list((tmp_path / "outside").iterdir()) == []


@pytest.mark.parametrize(
    "repo_id",
    [
        "a/b/c",
        "user/..",
        "../../etc",
        "user/re po",
        "-user/repo",
        "user//repo",
        "x" * 97 + "/r",
        "user/repo.",
        "user/re--po",
        "",
        "   ",
    ],
)
def test_invalid_hub_repo_ids_are_refused_before_any_download(repo_id, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no local folder of that name
    monkeypatch.setattr(loading, "hf_hub_download", lambda *a, **k: pytest.fail("downloaded"))
    with pytest.raises(ValueError, match="no generator named"):
        resolve(repo_id)
    with pytest.raises(ValueError, match="no generator named"):
        load_generator(repo_id)


def test_a_valid_repo_id_goes_to_huggingface_hub(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert resolve("learned-aug/mnist-vae") == "learned-aug/mnist-vae"
