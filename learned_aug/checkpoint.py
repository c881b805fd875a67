"""A generator's checkpoint: ``config.json`` + ``model.safetensors``, and the files beside it.

Weights are read from safetensors only: learned-aug never unpickles a download. A checkpoint is
a local folder or a Hub repo; :func:`weights_file` finds its weights and :func:`saved_file` the
other files saved beside them (the latent bank, the quality report).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, HFValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_model
from torch import nn

from learned_aug.files import CONFIG_NAME, WEIGHTS_NAME, atomic_write, atomic_write_text

FORMAT_VERSION = 1
"""The checkpoint format this package writes; ``config.json`` of a newer one is refused."""

# Weights in these formats unpickle arbitrary code when loaded: learned-aug never reads them.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
NO_SAFETENSORS = (
    f"a checkpoint needs its weights as {WEIGHTS_NAME}; learned-aug loads safetensors only and "
    "never unpickles weights (pytorch_model.bin, *.pt): convert them with "
    "safetensors.torch.save_file, or re-save the generator with save_pretrained"
)


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be loaded: corrupted, mismatched or of another kind."""


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


def saved_file(location: str | Path, filename: str, **hub_kwargs: Any) -> Path | None:
    """The file ``filename`` saved beside the generator at ``location`` (a local folder, or a
    Hub repo id through huggingface_hub's cache; ``hub_kwargs`` go to ``hf_hub_download``), or
    ``None`` when there is none.

    Example:
        >>> import tempfile
        >>> saved_file(tempfile.mkdtemp(), "latent_bank.safetensors") is None
        True
    """
    if Path(location).is_dir():
        file = Path(location) / filename
        return file if file.is_file() else None
    try:
        return Path(hf_hub_download(str(location), filename, **hub_kwargs))
    except (EntryNotFoundError, HFValidationError, OSError):
        return None  # no such file in the repo, not in the offline cache, or no such repo
