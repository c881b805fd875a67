"""The files of a generator folder and of a run, by name, and how every file is written.

Everything learned-aug writes is written through :func:`atomic_write` (a temporary file renamed
over the target), so a crash at any moment leaves the old file or the new one, never a partial
one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from huggingface_hub import constants

CONFIG_NAME = constants.CONFIG_NAME  # "config.json"
WEIGHTS_NAME = constants.SAFETENSORS_SINGLE_FILE  # "model.safetensors"
BANK_NAME = "latent_bank.safetensors"
CARD_NAME = "README.md"
SAMPLES_NAME = "samples.png"
TRAINING_JSON = "training.json"
HISTORY_JSON = "history.json"
HISTORY_CSV = "history.csv"
CHECKPOINT_NAME = "checkpoint.pt"
QUALITY_JSON = "quality.json"


def atomic_write(path: str | Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file over ``path``.

    A reader (or a crash at any moment) sees the old file or the new one, never a partial file.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "a.txt"
        >>> atomic_write(target, lambda tmp: Path(tmp).write_text("hi"))
        >>> target.read_text()
        'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        # mkstemp creates the file private (0600); give it the mode open() would have given it.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
