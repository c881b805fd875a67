"""What a finished run leaves beside its best weights, written once at the end of ``fit``: the
latent bank of its data (what the samplers start from), a quality report of the generator
(``quality.json``), the sample grid and the model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from learned_aug.data import LabelledData
from learned_aug.hub import write_model_card
from learned_aug.io import QUALITY_JSON, SAMPLES_NAME, atomic_write_text, save_sample_grid
from learned_aug.latent_bank import LatentBank
from learned_aug.models import Generator
from learned_aug.rng import check_alpha
from learned_aug.sampling import dataset_strategy, draw_items, get_strategy
from learned_aug.training.diagnostics import diagnose


def default_sampler(model: Generator, bank: LatentBank, seed: int):
    """``labels -> samples`` as ``SyntheticDataset(model, n, seed=seed)`` with its default
    strategy would draw them (the run's bank beside it)."""
    strategy = get_strategy(dataset_strategy(model, bank))
    from_bank = strategy.needs_source or strategy.needs_bank
    conditioned = model.conditional or (from_bank and bank.labelled)
    strength = check_alpha(strategy.default_alpha or 0.0)

    def draw(labels: torch.Tensor) -> torch.Tensor:
        indices = torch.arange(len(labels))
        return draw_items(
            model,
            strategy,
            indices,
            labels if conditioned else None,
            seed=seed,
            strength=strength,
            bank=bank,
        )

    return draw


def publish_run(run_dir: Path, model: Generator, data: LabelledData, seed: int) -> dict[str, Any]:
    """Write the bank, ``quality.json``, ``samples.png`` and the card into ``run_dir``; returns
    the quality report (its plain-words warnings are also raised as ``GeneratorWarning``)."""
    model.save_weights(run_dir)
    bank = LatentBank.build(model, data)
    bank.save(run_dir)
    report = diagnose(model, data, default_sampler(model, bank, seed))
    atomic_write_text(run_dir / QUALITY_JSON, json.dumps(report, indent=1))
    save_sample_grid(model, run_dir / SAMPLES_NAME, seed=seed)
    write_model_card(run_dir, model, seed=seed)
    return report
