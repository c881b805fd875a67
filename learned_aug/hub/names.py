"""Name resolution: a bundled name, then a local folder, then a Hub repo id.

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
from learned_aug.io import CONFIG_NAME, CheckpointError
from learned_aug.models import Generator, model_class


def bundled_names() -> list[str]:
    """Names of the pretrained generators shipped inside the package."""
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / CONFIG_NAME).is_file())


def resolve(name_or_path: str | Path, *, revision: str | None = None) -> str:
    """Where a generator lives: a bundled folder, a local folder, or a Hub repo id.

    The order is fixed: a bundled name wins over a local folder of the same name, and a local
    folder over a Hub repo id.

    Args:
        name_or_path: a bundled name, a local folder, or a Hub repo id (``"user/repo"``).
        revision: a Hub branch, tag or commit; only meaningful for a Hub repo id.

    Raises:
        ValueError: when the name is none of these (listing the bundled names), or when a
            ``revision`` is given for a bundled name or a local folder.

    Example:
        >>> resolve("user/my-vae")
        'user/my-vae'
    """
    text = str(name_or_path)
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
    name_or_path: str | Path,
    *,
    revision: str | None = None,
    device: str = "cpu",
    **hub_kwargs: Any,
) -> Generator:
    """Load any learned-aug generator; its class comes from ``config.json``'s ``model_type``.

    Args:
        name_or_path: a bundled name (see ``bundled_names()``), a local folder, or a Hub repo id.
        revision: Hub branch, tag or commit.
        device: where the weights are loaded (``map_location``).
        **hub_kwargs: passed to huggingface_hub (``cache_dir``, ``token``, ``local_files_only``).

    Example:
        >>> import tempfile
        >>> from learned_aug import VAE, VAEConfig, load_generator
        >>> folder = tempfile.mkdtemp()
        >>> VAE(VAEConfig(image_size=(8, 8), latent_dim=2)).save_pretrained(folder)
        >>> type(load_generator(folder)).__name__
        'VAE'
    """
    location = resolve(name_or_path, revision=revision)
    if revision is not None:
        hub_kwargs["revision"] = revision
    config = read_config(location, **hub_kwargs)
    cls = model_class(config, str(name_or_path))
    generator = cls.from_pretrained(location, map_location=device, **hub_kwargs)
    generator.name_or_path = location  # where SyntheticDataset looks for its latent bank
    return generator


def check_repo_id(repo_id: str) -> str:
    """``repo_id`` if it is a valid Hub repo id (``"name"`` or ``"user/name"``), else ValueError."""
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise ValueError(f"repo_id {repo_id!r} is not a Hub repo id: {err}") from None
    return repo_id
