"""The quality report ``fit`` measures on a generator (``quality.json``), which travels with it.

``fit`` writes it beside the weights and attaches it to the generator it returns; every way of
loading a generator reads it back and attaches it (:func:`attach_quality`, :func:`quality_of`).
``SyntheticDataset`` reads it before it hands out the classes an unconditional generator's
samples inherit from the latent bank (``learned_aug.synthetic.trust``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from torch import nn

from learned_aug.checkpoint import CheckpointError
from learned_aug.files import QUALITY_JSON, atomic_write_text

M = TypeVar("M", bound=nn.Module)  # a generator: attach_quality returns the one it was given


def attach_quality(generator: M, report: dict[str, Any] | None) -> M:
    """Give ``generator`` the quality report measured on it (``fit`` attaches the one it writes
    to ``quality.json``, loading the one saved beside the generator); returns the generator.
    ``None`` removes it.

    Like the bank, a plain attribute outside the weights. ``SyntheticDataset`` reads it before
    it hands out the classes an unconditional generator's samples inherit from the bank.

    Example:
        >>> from learned_aug import VAE, VAEConfig
        >>> vae = attach_quality(VAE(VAEConfig(image_size=(8, 8), latent_dim=2)), {"cas": 0.9})
        >>> quality_of(vae)
        {'cas': 0.9}
    """
    if report is not None and not isinstance(report, dict):
        raise TypeError(
            f"report must be a dict (the quality report fit writes) or None, "
            f"got {type(report).__name__}"
        )
    generator.__dict__["quality"] = None if report is None else dict(report)
    return generator


def quality_of(generator: nn.Module) -> dict[str, Any] | None:
    """The quality report attached to ``generator``, or ``None`` (none was measured or saved).

    Example:
        >>> from learned_aug import VAE, VAEConfig
        >>> quality_of(VAE(VAEConfig(image_size=(8, 8), latent_dim=2))) is None
        True
    """
    return generator.__dict__.get("quality")


def read_quality(file: str | Path) -> dict[str, Any]:
    """The quality report in ``file`` (a ``quality.json`` that ``fit`` wrote)."""
    try:
        report = json.loads(Path(file).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{file} is not valid JSON: {err}") from err
    if not isinstance(report, dict):
        raise CheckpointError(
            f"{file} must hold a JSON object (the quality report fit writes), got "
            f"{type(report).__name__}; delete it or run fit again"
        )
    return report


def write_quality(folder: str | Path, report: dict[str, Any]) -> Path:
    """Write ``report`` to ``folder/quality.json`` atomically; returns its path."""
    path = Path(folder) / QUALITY_JSON
    atomic_write_text(path, json.dumps(report, indent=1))
    return path
