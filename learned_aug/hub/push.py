"""Pushing a generator folder to the Hub: what goes up (never training state), and the upload."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from huggingface_hub import HfApi
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from learned_aug.files import CONFIG_NAME
from learned_aug.hub.card import write_model_card
from learned_aug.loading import load_generator


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
    saved by ``save_pretrained``: ``config.json``, ``model.safetensors``, the latent bank and the
    quality report when the folder has them; then ``README.md`` (the model card, with the command
    and metrics ``folder`` records; a hand-written one is kept) and ``samples.png``. Training
    state (``checkpoint.pt``, a pickle) and logs never go.

    Returns:
        The names of the staged files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"folder {str(folder)!r} is not a folder; push a generator folder")
    generator = load_generator(folder)
    generator.save_pretrained(target)
    write_model_card(target, generator, run_dir=folder, repo_id=repo_id)
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
