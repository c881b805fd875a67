"""What a finished run leaves beside its best weights, written once at the end of ``fit``: the
latent bank of its data (what the samplers start from), a quality report of the generator
(``quality.json``), the sample grid and the model card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from learned_aug.data import LabelledData
from learned_aug.files import SAMPLES_NAME
from learned_aug.functional import for_inference
from learned_aug.hub import write_model_card
from learned_aug.latent_bank import bank_of
from learned_aug.models import Generator
from learned_aug.quality import write_quality
from learned_aug.sample_grid import save_sample_grid
from learned_aug.strategies import dataset_strategy
from learned_aug.synthetic.items import draw_items
from learned_aug.synthetic.labels import label_source
from learned_aug.training.diagnostics import diagnose


def default_sampler(model: Generator, seed: int):
    """``labels -> samples`` exactly as ``SyntheticDataset(model, n, labels, seed=seed)``
    draws them with its defaults (the bank attached to the model), without the dataset's check
    of the labels against the quality report: this is what measures that report."""
    strategy = dataset_strategy(model).bind(model, from_bank=True)
    labelled = label_source(model, strategy) is not None

    def draw(labels: torch.Tensor) -> torch.Tensor:
        indices = torch.arange(len(labels))
        given = labels if labelled else None
        return draw_items(for_inference(model), strategy, indices, given, seed=seed)

    return draw


def publish_run(run_dir: Path, model: Generator, data: LabelledData, seed: int) -> dict[str, Any]:
    """Write the bank, ``quality.json``, ``samples.png`` and the card into ``run_dir``; returns
    the quality report (its plain-words warnings are also raised as ``GeneratorWarning``)."""
    model.save_weights(run_dir)
    bank = bank_of(model)
    if bank is None:
        raise ValueError("publish_run needs the model's latent bank: attach_bank(model, bank)")
    bank.save(run_dir)
    report = diagnose(model, data, default_sampler(model, seed))
    write_quality(run_dir, report)
    save_sample_grid(model, run_dir / SAMPLES_NAME, seed=seed)
    write_model_card(run_dir, model, seed=seed)
    return report
