"""Run folders: the training checkpoint, the best generator, history and sample grid.

Every file is written atomically (temp file + rename), so a crash at any moment leaves the
previous version or the new one, never a partial file. The training checkpoint is one file,
``checkpoint.pt``, loaded with ``torch.load(weights_only=True)``: tensors, numbers, strings and
containers only, never arbitrary pickled objects.
"""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from pathlib import Path
from typing import Any

import torch

from learned_aug.io import (
    CHECKPOINT_NAME,
    CONFIG_NAME,
    HISTORY_CSV,
    HISTORY_JSON,
    SAMPLES_NAME,
    WEIGHTS_NAME,
    atomic_write,
    atomic_write_text,
    save_sample_grid,
)

__all__ = [
    "RUN_FILES",
    "file_size",
    "is_run_dir",
    "load_checkpoint",
    "prepare_out",
    "save_checkpoint",
    "save_history",
    "save_sample_grid",
]
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


def save_history(out: Path, history: list[dict[str, Any]]) -> None:
    """history.json and history.csv, one row per epoch."""
    atomic_write_text(out / HISTORY_JSON, json.dumps(history, indent=1))
    if not history:
        return
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(out / HISTORY_CSV, text.getvalue())


def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` holds a generator checkpoint (config.json + model.safetensors)."""
    path = Path(path)
    return (path / CONFIG_NAME).is_file() and (path / WEIGHTS_NAME).is_file()


def file_size(path: Path) -> int:
    return os.path.getsize(path) if path.exists() else 0
