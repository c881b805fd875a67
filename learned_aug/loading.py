"""Names of generators: a bundled name, then a local folder, then a Hub repo id.

``load_generator`` is the only place where a name becomes a generator; ``LearnedAugment`` and
``SyntheticDataset`` take objects (``LearnedAugment.from_pretrained`` calls this). It resolves
the name and hands the folder or repo id to ``Generator.from_pretrained``, the one loader, which
attaches the latent bank and the quality report saved beside the weights: ``load_generator``,
``Generator.from_pretrained`` and each model class's ``from_pretrained`` give the same generator.
Hub downloads go through huggingface_hub (``hf_hub_download``), so its cache, offline mode
(``HF_HUB_OFFLINE=1``), revisions and tokens work as they do everywhere else.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from huggingface_hub import hf_hub_download
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from learned_aug.bundled import PRETRAINED_DIR
from learned_aug.checkpoint import CheckpointError, saved_file
from learned_aug.files import BANK_NAME, CONFIG_NAME
from learned_aug.latent_bank import LatentBank, attach_bank
from learned_aug.models import Generator, model_class


def bundled_names() -> list[str]:
    """Names of the pretrained generators shipped inside the package."""
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / CONFIG_NAME).is_file())


def resolve(name: str | Path, *, revision: str | None = None) -> str:
    """Where a generator lives: a bundled folder, a local folder, or a Hub repo id.

    The order is fixed: a bundled name wins over a local folder of the same name, and a local
    folder over a Hub repo id.

    Args:
        name: a bundled name, a local folder, or a Hub repo id (``"user/repo"``).
        revision: a Hub branch, tag or commit; only meaningful for a Hub repo id.

    Raises:
        ValueError: when the name is none of these (listing the bundled names), or when a
            ``revision`` is given for a bundled name or a local folder.

    Example:
        >>> resolve("user/my-vae")
        'user/my-vae'
    """
    text = str(name)
    if not text.strip():
        raise ValueError(_not_found(text, "an empty name is not a Hub repo id"))
    path = Path(text).expanduser()
    if text in bundled_names():
        location, kind = str(PRETRAINED_DIR / text), "a bundled generator"
    elif path.is_dir():
        location, kind = str(path), "a local folder"
    elif path.exists():
        raise NotADirectoryError(f"{text!r} is a file; a generator is a folder with {CONFIG_NAME}")
    else:
        try:
            validate_repo_id(text)
        except HFValidationError as err:
            raise ValueError(_not_found(text, f"not a valid Hub repo id ({err})")) from None
        return text
    if revision is not None:
        raise ValueError(
            f"revision={revision!r} selects a version of a Hub repo, but {text!r} is {kind} "
            f"({location}); drop revision, or name the Hub repo id"
        )
    return location


def _not_found(text: str, why: str) -> str:
    close = difflib.get_close_matches(text, bundled_names(), n=3)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    return (
        f"no generator named {text!r}: not a bundled name, not a local folder, and "
        f"{why.rstrip('.')}.{hint} "
        f"Bundled names: {bundled_names()}; a local folder needs {CONFIG_NAME} and "
        "model.safetensors; a Hub id looks like 'user/repo'"
    )


def read_config(location: str, **hub_kwargs: Any) -> dict[str, Any]:
    """The config.json of a resolved location (downloaded through the Hub cache for a repo id)."""
    if Path(location).is_dir():
        file = Path(location) / CONFIG_NAME
        if not file.is_file():
            raise CheckpointError(
                f"{location!r} has no {CONFIG_NAME}: it is not a generator folder"
            )
    else:
        try:
            file = Path(hf_hub_download(location, CONFIG_NAME, **hub_kwargs))
        except Exception as err:  # offline, missing repo, missing file: say which name failed
            raise ValueError(_not_found(location, f"the Hub lookup failed: {err}")) from err
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{file} is not valid JSON: {err}") from err


def load_generator(
    name: str | Path,
    *,
    revision: str | None = None,
    device: str = "cpu",
    **hub_kwargs: Any,
) -> Generator:
    """Load any learned-aug generator; its class comes from ``config.json``'s ``model_type``.

    The latent bank saved beside it (``fit`` writes one with every run) comes with it
    (``learned_aug.latent_bank.bank_of(generator)``): the strategies that start from or search
    the training codes (``SyntheticDataset``'s default ``Posterior``, ``Interpolate``, ...) take
    it from there. So does the quality report ``fit`` saved (``quality.json``,
    ``learned_aug.quality.quality_of(generator)``), which ``SyntheticDataset`` reads before
    it labels an unconditional generator's samples with the classes of their bank codes.
    ``Generator.from_pretrained(folder_or_repo_id)``, which this calls once the name is
    resolved, gives the same generator.

    Args:
        name: a bundled name (see ``bundled_names()``), a local folder, or a Hub repo id.
        revision: Hub branch, tag or commit.
        device: where the weights and the bank are loaded (``map_location``).
        **hub_kwargs: passed to huggingface_hub (``cache_dir``, ``token``, ``local_files_only``).

    Example:
        >>> import tempfile
        >>> from learned_aug import VAE, VAEConfig, load_generator
        >>> folder = tempfile.mkdtemp()
        >>> VAE(VAEConfig(image_size=(8, 8), latent_dim=2)).save_pretrained(folder)
        >>> type(load_generator(folder)).__name__
        'VAE'
    """
    location = resolve(name, revision=revision)
    if revision is not None:
        hub_kwargs["revision"] = revision
    # Read first, so that a name that leads nowhere is an error naming it (with the bundled
    # names), and a config of an unknown kind one naming what was asked for.
    cls = model_class(read_config(location, **hub_kwargs), str(name))
    return cls.from_pretrained(location, map_location=device, **hub_kwargs)


def find_bank(location: str | Path, **hub_kwargs: Any) -> LatentBank | None:
    """The bank saved with the generator at ``location`` (a bundled name, a folder or a Hub repo
    id, through the Hub cache), or ``None`` when there is none.

    Example:
        >>> len(find_bank("mnist-vae")) > 0
        True
    """
    location = resolve(location, revision=hub_kwargs.get("revision"))
    file = saved_file(location, BANK_NAME, **hub_kwargs)
    return None if file is None else LatentBank.load(file)


def build_latent_bank(
    generator: Generator | str | Path,
    data: Any,
    *,
    batch_size: int = 256,
    device: str = "cpu",
) -> LatentBank:
    """Build the latent bank of ``generator`` from ``data`` (its training data, anything
    ``load_dataset`` reads) and attach it to the generator.

    A generator named by a bundled name, a local folder or a Hub id is loaded first; where the
    name is a local folder the bank is also saved there (``latent_bank.safetensors``), so
    ``load_generator`` finds it next time.

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
    attach_bank(generator, bank)
    return bank
