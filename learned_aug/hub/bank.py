"""The latent bank of a generator wherever it lives: a bundled name, a folder or a Hub repo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, HFValidationError

from learned_aug.hub.names import load_generator, resolve
from learned_aug.io import BANK_NAME
from learned_aug.latent_bank import LatentBank
from learned_aug.models import Generator


def find_bank(location: str | Path, **hub_kwargs: Any) -> LatentBank | None:
    """The bank saved with the generator at ``location`` (a resolved folder or a Hub repo id,
    through the Hub cache), or ``None`` when there is none.

    Example:
        >>> len(find_bank(resolve("mnist-vae"))) > 0
        True
    """
    folder = Path(location)
    if folder.is_dir():
        return LatentBank.find(folder)
    try:
        return LatentBank.load(hf_hub_download(str(location), BANK_NAME, **hub_kwargs))
    except (EntryNotFoundError, HFValidationError, OSError):
        return None  # no bank in the repo, not in the offline cache, or no such repo


def build_latent_bank(
    generator: Generator | str | Path,
    data: Any,
    *,
    batch_size: int = 256,
    device: str = "cpu",
) -> LatentBank:
    """Build the latent bank of ``generator`` from ``data``; save it into a generator folder.

    Args:
        generator: a Generator, or a bundled name / local folder (a local folder gets the bank
            saved as ``latent_bank.safetensors`` beside the weights).
        data: the generator's training data, anything ``load_dataset`` reads.
        batch_size: examples encoded at once.
        device: where a loaded generator runs.

    Example:
        >>> from learned_aug import VAE, VAEConfig
        >>> vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, classes=list("0123456789")))
        >>> len(build_latent_bank(vae, "digits"))
        1797
    """
    folder = None
    if isinstance(generator, (str, Path)):
        location = resolve(generator)
        folder = Path(location) if Path(location).is_dir() else None
        generator = load_generator(location, device=device)
    bank = LatentBank.build(generator, data, batch_size=batch_size)
    if folder is not None:
        bank.save(folder)
    return bank
