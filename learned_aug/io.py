"""The ground layer of files: names, atomic writes, checkpoints, sample grids, errors.

Everything that writes a file writes it here, atomically (a temporary file renamed over the
target), so a crash at any moment leaves the old file or the new one, never a partial one.
A checkpoint is a folder with ``config.json`` and ``model.safetensors``; weights are read from
safetensors only: learned-aug never unpickles a download.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import constants, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError
from PIL import Image, PngImagePlugin
from safetensors import SafetensorError
from safetensors.torch import load_file, save_model
from torch import nn
from torchvision.utils import make_grid

# ----------------------------------------------------------------------- the files of a run
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
CARD_MARKER = "<!-- learned-aug: generated model card; delete this line to keep hand edits -->"
"""A ``README.md`` holding this line was written by learned-aug and may be rewritten; one
without it was written by hand and is never overwritten."""
SEED_KEY = "learned-aug:seed"
"""The PNG text field of ``samples.png`` that records the seed its samples were drawn with."""
FORMAT_VERSION = 1
"""The checkpoint format this package writes; ``config.json`` of a newer one is refused."""

BASIC_CARD = f"""---
{{{{ card_data }}}}
---

# learned-aug generator

{CARD_MARKER}

A [learned-aug]({{{{ repo_url }}}}) generator (`config.json` + `model.safetensors`). Load it with
`learned_aug.load_generator(<folder or repo id>)`. `learned-aug fit` and `learned-aug push`
replace this card with one that records the training command, metrics and samples.
"""
"""The card ``save_pretrained`` writes where a folder has none; the full card is written by
``learned_aug.hub.write_model_card`` at the end of ``fit`` and by ``learned-aug push``."""

# Weights in these formats unpickle arbitrary code when loaded: learned-aug never reads them.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
NO_SAFETENSORS = (
    f"a checkpoint needs its weights as {WEIGHTS_NAME}; learned-aug loads safetensors only and "
    "never unpickles weights (pytorch_model.bin, *.pt): convert them with "
    "safetensors.torch.save_file, or re-save the generator with save_pretrained"
)


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be loaded: corrupted, mismatched or of another kind."""


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


def load_weights(model: nn.Module, model_file: str | Path, *, device: str | torch.device = "cpu"):
    """Strictly load ``model.safetensors`` into ``model`` with errors that say what is wrong."""
    model_file = Path(model_file)
    if not model_file.is_file():
        pickled = sorted(p.name for p in model_file.parent.glob("*") if p.suffix in PICKLE_SUFFIXES)
        found = f" (found pickled {pickled}, which are refused)" if pickled else ""
        raise CheckpointError(f"no {WEIGHTS_NAME} at {model_file}{found}: {NO_SAFETENSORS}")
    try:
        state = load_file(str(model_file), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(
            f"{model_file} is not a readable safetensors file (truncated or corrupted?): {err}"
        ) from err
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{model_file} does not match its config.json: missing keys {missing[:8]}"
            f"{'...' if len(missing) > 8 else ''}, unexpected keys {unexpected[:8]}"
            f"{'...' if len(unexpected) > 8 else ''}"
        )
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise CheckpointError(
                f"{model_file}: weight {key!r} has shape {tuple(tensor.shape)}, but config.json "
                f"implies {tuple(expected[key].shape)}; the weights do not match the config"
            )
    model.load_state_dict(state, strict=True)
    return model


def save_checkpoint(directory: str | Path, model: nn.Module, config: dict[str, Any]) -> None:
    """Write ``model.safetensors`` (the weights of ``model``) and ``config.json`` (``config``,
    with its ``model_type`` and ``format_version``) into ``directory``, each atomically.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> save_checkpoint(folder, nn.Linear(2, 1), {"model_type": "x", "format_version": 1})
        >>> sorted(p.name for p in folder.iterdir())
        ['config.json', 'model.safetensors']
    """
    directory = Path(directory)
    metadata = {
        "format": "pt",
        "model_type": config["model_type"],
        "format_version": str(config["format_version"]),
    }
    atomic_write(directory / WEIGHTS_NAME, lambda tmp: save_model(model, tmp, metadata=metadata))
    atomic_write_text(directory / CONFIG_NAME, json.dumps(config, indent=2, sort_keys=True))


def weights_file(
    model_id: str,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    force_download: bool = False,
    local_files_only: bool = False,
    token: str | bool | None = None,
) -> str:
    """The ``model.safetensors`` of a checkpoint: in a local folder, or downloaded from (or found
    in the offline cache of) a Hub repo. Safetensors only, never a pickle: a repo without it
    raises a CheckpointError."""
    if os.path.isdir(model_id):
        return os.path.join(model_id, WEIGHTS_NAME)
    try:
        return hf_hub_download(
            repo_id=model_id,
            filename=WEIGHTS_NAME,
            revision=revision,
            cache_dir=cache_dir,
            force_download=force_download,
            token=token,
            local_files_only=local_files_only,
        )
    except EntryNotFoundError as err:
        raise CheckpointError(f"{model_id!r} (revision {revision!r}): {NO_SAFETENSORS}") from err


@torch.no_grad()
def save_sample_grid(model: Any, path: str | Path, *, per_class: int = 8, seed: int = 0):
    """A PNG grid of ``model``'s samples (one row per class for a class-aware generator).

    ``model`` is any generator (``sample``, ``sample_shape``, ``conditional``, ``classes``,
    ``device``). The seed is recorded in the PNG (:data:`SEED_KEY`), so a model card can say
    which seed drew it. Returns the path, or ``None`` for tabular generators (no picture).
    """
    if len(model.sample_shape) != 3:
        return None
    rng = torch.Generator(device=model.device).manual_seed(seed)
    if model.conditional:
        labels = torch.arange(len(model.classes)).repeat_interleave(per_class)
        images = model.sample(len(labels), labels=labels, rng=rng)
    else:
        images = model.sample(8 * per_class, rng=rng)
    grid = make_grid(images.float().cpu(), nrow=per_class, padding=2, pad_value=0.5)
    array = grid.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    image = Image.fromarray(array[..., 0] if array.shape[2] == 1 else array)
    info = PngImagePlugin.PngInfo()
    info.add_text(SEED_KEY, str(seed))
    atomic_write(path, lambda tmp: image.save(tmp, format="png", pnginfo=info))
    return Path(path)


def sample_grid_seed(path: str | Path) -> int | None:
    """The seed recorded in a ``samples.png`` written by :func:`save_sample_grid`, if any."""
    try:
        with Image.open(path) as image:
            text = getattr(image, "text", {}).get(SEED_KEY)
    except OSError:
        return None
    return int(text) if text is not None and text.lstrip("-").isdigit() else None
