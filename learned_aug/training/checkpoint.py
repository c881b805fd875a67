"""Run folders: the training checkpoint, the best generator, history and sample grid.

Every file is written atomically (temp file + rename), so a crash at any moment leaves the
previous version or the new one, never a partial file. The training checkpoint is one file,
``checkpoint.pt``, loaded with ``torch.load(weights_only=True)``: tensors, numbers, strings and
containers only, never arbitrary pickled objects.

``checkpoint.pt`` holds what ``resume`` needs and the run folder holds nowhere else: the live
weights, the optimizer and grad-scaler state, the epoch and early-stopping counters, the
settings, the model config and the history (a few kB, kept here so that it always agrees with
the weights). The best weights are not in it: they are ``model.safetensors``, with their digest
in the checkpoint. Each epoch writes ``checkpoint.pt`` first, then ``model.safetensors`` when the
epoch is the best so far, then the history; so after a crash at any moment either the
checkpoint's best epoch is its last epoch (the best weights are its live weights) or
``model.safetensors`` was completed before the checkpoint was (and its digest says so).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from learned_aug.checkpoint import CheckpointError, load_weights
from learned_aug.files import (
    CHECKPOINT_NAME,
    CONFIG_NAME,
    HISTORY_CSV,
    HISTORY_JSON,
    SAMPLES_NAME,
    WEIGHTS_NAME,
    atomic_write,
    atomic_write_text,
)
from learned_aug.sample_grid import save_sample_grid

__all__ = [
    "CHECKPOINT_FORMAT",
    "RUN_FILES",
    "file_size",
    "is_run_dir",
    "load_checkpoint",
    "prepare_out",
    "save_checkpoint",
    "save_history",
    "save_sample_grid",
]
# 2: the best weights live in model.safetensors (checked by "best_digest"), the settings in
# "settings" (a FitSettings as JSON). Format 1 came before FitSettings and was never released.
CHECKPOINT_FORMAT = 2
RUN_FILES = (CHECKPOINT_NAME, CONFIG_NAME, WEIGHTS_NAME, HISTORY_JSON)


def prepare_out(out: str | Path, *, resume: bool, overwrite: bool) -> Path:
    """Check ``out`` before any training: writable, and not silently holding another run."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out={str(out)!r} exists and is not a directory")
    held = [name for name in RUN_FILES if (out / name).exists()]
    if held and not (resume or overwrite):
        raise FileExistsError(
            f"out={str(out)!r} already holds a run ({', '.join(held)}); pass resume=True "
            "(--resume) to continue it or overwrite=True (--overwrite) to replace it"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise PermissionError(f"out={str(out)!r} is not writable: {err}") from err
    # A run killed while writing leaves atomic_write's temporary files (never the real ones).
    for name in (*RUN_FILES, HISTORY_CSV, SAMPLES_NAME):
        for stale in out.glob(f".{name}.*.tmp"):
            stale.unlink(missing_ok=True)
    if overwrite and not resume:
        for name in (CHECKPOINT_NAME, HISTORY_JSON, HISTORY_CSV, SAMPLES_NAME):
            (out / name).unlink(missing_ok=True)
    return out


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write the training state atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Load a training state written by ``save_checkpoint`` (no arbitrary unpickling)."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # torch raises several types for a damaged file
        raise ValueError(f"cannot read the training checkpoint {str(path)!r}: {err}") from err


def weights_digest(state: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict (names, dtypes, shapes and bytes): equal iff the weights are."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def saved_settings(state: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The settings a checkpoint was written with, checking its format."""
    version = int(state.get("format", 1))
    if version != CHECKPOINT_FORMAT or "settings" not in state:
        newer = version > CHECKPOINT_FORMAT
        fix = "upgrade learned-aug to resume it, or" if newer else "no release wrote it:"
        raise CheckpointError(
            f"{str(path)!r} is a training checkpoint of format {version}, but this learned-aug "
            f"reads format {CHECKPOINT_FORMAT}: {fix} start anew with overwrite=True (--overwrite)"
        )
    return json.loads(state["settings"])


def best_weights(
    state: Mapping[str, Any], model: torch.nn.Module, run_dir: Path, device: torch.device
) -> dict[str, torch.Tensor]:
    """The best weights a run resumed from ``state`` (its checkpoint) starts with.

    Loads ``model.safetensors`` into ``model`` (the caller then loads the live weights) unless
    the checkpoint's best epoch is its last one, whose best weights are its live weights.
    """
    if int(state["best_epoch"]) in (0, int(state["epoch"])):
        return {name: tensor.clone() for name, tensor in state["model"].items()}
    path = Path(run_dir) / WEIGHTS_NAME
    load_weights(model, path, device=device)
    best = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    if weights_digest(best) != state["best_digest"]:
        raise CheckpointError(
            f"{str(path)!r} does not hold the best weights (epoch {int(state['best_epoch'])}) "
            f"that {CHECKPOINT_NAME} expects: it was replaced or edited after the run wrote it. "
            f"Put the run's own {WEIGHTS_NAME} back, or start anew with overwrite=True "
            "(--overwrite)"
        )
    return best


def save_history(run_dir: Path, history: list[dict[str, Any]]) -> None:
    """history.json and history.csv, one row per epoch."""
    atomic_write_text(run_dir / HISTORY_JSON, json.dumps(history, indent=1))
    if not history:
        return
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(run_dir / HISTORY_CSV, text.getvalue())


def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` holds a generator checkpoint (config.json + model.safetensors)."""
    path = Path(path)
    return (path / CONFIG_NAME).is_file() and (path / WEIGHTS_NAME).is_file()


def file_size(path: Path) -> int:
    return os.path.getsize(path) if path.exists() else 0
