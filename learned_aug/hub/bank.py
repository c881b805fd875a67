"""The latent bank of a generator wherever it lives: a bundled name, a folder or a Hub repo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, HFValidationError

from learned_aug.hub.names import load_generator, resolve
from learned_aug.io import BANK_NAME
from learned_aug.latent_bank import LatentBank
from learned_aug.latent_bank import build_latent_bank as build_local
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
    """:func:`learned_aug.latent_bank.build_latent_bank` that also takes a bundled name or a Hub
    repo id: a name that resolves to a local folder gets the bank saved there.

    Example:
        >>> from learned_aug import VAE, VAEConfig
        >>> vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, classes=list("0123456789")))
        >>> len(build_latent_bank(vae, "digits"))
        1797
    """
    if isinstance(generator, (str, Path)):
        location = resolve(generator)
        local = Path(location).is_dir()
        generator = Path(location) if local else load_generator(location, device=device)
    return build_local(generator, data, batch_size=batch_size, device=device)
