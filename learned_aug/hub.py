"""Name resolution (a bundled name, then a local folder, then a Hub repo id) and pushing.

Hub downloads and uploads go through huggingface_hub (``hf_hub_download``, ``upload_folder``),
so its cache, offline mode (``HF_HUB_OFFLINE=1``), revisions and tokens work as they do
everywhere else.
"""

from __future__ import annotations

import difflib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from learned_aug.bundled import PRETRAINED_DIR
from learned_aug.latent_bank import BANK_NAME
from learned_aug.models import MODELS, CheckpointError, Generator
from learned_aug.models.base import CONFIG_NAME

# Files of a generator folder that go to the Hub besides what save_pretrained writes. Training
# state (checkpoint.pt, a pickle) and logs never do.
UPLOAD_EXTRAS = (BANK_NAME,)


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
    kind = config.get("model_type") if isinstance(config, dict) else None
    if kind not in MODELS:
        raise CheckpointError(
            f"{CONFIG_NAME} of {str(name_or_path)!r} has model_type={kind!r}; this learned-aug "
            f"knows {sorted(MODELS)}"
        )
    return MODELS[kind].from_pretrained(location, map_location=device, **hub_kwargs)


def check_repo_id(repo_id: str) -> str:
    """``repo_id`` if it is a valid Hub repo id (``"name"`` or ``"user/name"``), else ValueError."""
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise ValueError(f"repo_id {repo_id!r} is not a Hub repo id: {err}") from None
    return repo_id


def stage_upload(folder: str | Path, target: str | Path, repo_id: str | None = None) -> list[str]:
    """Write into ``target`` exactly the files :func:`push_folder` uploads for ``folder``.

    The generator is loaded strictly first (a damaged or pickled checkpoint stops here), then
    saved: ``config.json``, ``model.safetensors``, ``README.md`` (the model card, with the
    command and metrics ``folder`` records; a hand-written one is kept), ``samples.png``, and
    the latent bank when the folder has one.

    Returns:
        The names of the staged files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"folder {str(folder)!r} is not a folder; push a generator folder")
    generator = load_generator(folder)
    generator.save_pretrained(target, model_card_kwargs={"run_dir": folder, "repo_id": repo_id})
    for name in UPLOAD_EXTRAS:
        if (folder / name).is_file():
            shutil.copyfile(folder / name, Path(target) / name)
    return sorted(p.name for p in Path(target).iterdir() if p.is_file())


def push_folder(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    branch: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
) -> str:
    """Upload the generator in ``folder`` to the Hub repo ``repo_id`` in one commit.

    Everything is checked before the first request: the repo id, and the folder (loaded
    strictly). What is uploaded is what :func:`stage_upload` writes, never training state.

    Args:
        folder: a generator folder, e.g. the ``out`` of ``fit``.
        repo_id: ``"user/name"`` or ``"org/name"``; created if missing.
        private: create the repo as private.
        branch: the branch to commit to, created if missing (default: ``main``).
        commit_message: the commit's message.
        token: a Hub token (default: ``HF_TOKEN`` or the one saved by ``hf auth login``).

    Returns:
        The URL of the commit.
    """
    check_repo_id(repo_id)
    with tempfile.TemporaryDirectory() as staged:
        stage_upload(folder, staged, repo_id)
        api = HfApi(token=token)
        repo_id = api.create_repo(repo_id, private=private or None, exist_ok=True).repo_id
        if branch:
            api.create_branch(repo_id, branch=branch, exist_ok=True)
        kind = json.loads((Path(staged) / CONFIG_NAME).read_text())["model_type"]
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=staged,
            commit_message=commit_message or f"Upload learned-aug {kind} generator",
            revision=branch,
        )
    return str(commit.commit_url)
