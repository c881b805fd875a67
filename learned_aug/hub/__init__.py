"""The Hub edge: model cards and pushing a generator folder to the Hub.

Loading (bundled name -> local folder -> Hub repo id, with the latent bank) is
:mod:`learned_aug.loading`; this package writes what travels: ``card`` (the model card) and
``push`` (staging and upload). Only ``fit`` (its card) and the command line use it.
"""

from learned_aug.hub.card import model_card, write_model_card
from learned_aug.hub.push import check_repo_id, push_folder, stage_upload

__all__ = [
    "check_repo_id",
    "model_card",
    "push_folder",
    "stage_upload",
    "write_model_card",
]
