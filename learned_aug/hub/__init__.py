"""Where generators live and how they travel: name resolution (bundled name -> local folder ->
Hub repo id), the latent bank lookup, model cards, and pushing to the Hub.

Modules, bottom to top: ``names`` (resolution, ``load_generator``), ``bank`` (``find_bank``,
``build_latent_bank``), ``card`` (the model card), ``push`` (staging and upload).
"""

from learned_aug.hub.bank import build_latent_bank, find_bank
from learned_aug.hub.card import model_card, write_model_card
from learned_aug.hub.names import (
    PRETRAINED_DIR,
    bundled_names,
    check_repo_id,
    load_generator,
    read_config,
    resolve,
)
from learned_aug.hub.push import UPLOAD_EXTRAS, push_folder, stage_upload

__all__ = [
    "PRETRAINED_DIR",
    "UPLOAD_EXTRAS",
    "build_latent_bank",
    "bundled_names",
    "check_repo_id",
    "find_bank",
    "load_generator",
    "model_card",
    "push_folder",
    "read_config",
    "resolve",
    "stage_upload",
    "write_model_card",
]
