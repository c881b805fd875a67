"""Kept for old imports: model cards now live in :mod:`learned_aug.hub.card`."""

from learned_aug.hub.card import (
    METRIC_HELP,
    RunInfo,
    card_data,
    is_generated,
    model_card,
    read_run,
    write_model_card,
)
from learned_aug.io import CARD_MARKER, CARD_NAME, HISTORY_JSON, SAMPLES_NAME, TRAINING_JSON

__all__ = [
    "CARD_MARKER",
    "CARD_NAME",
    "HISTORY_JSON",
    "METRIC_HELP",
    "SAMPLES_NAME",
    "TRAINING_JSON",
    "RunInfo",
    "card_data",
    "is_generated",
    "model_card",
    "read_run",
    "write_model_card",
]
