"""How a SyntheticDataset item is drawn: item ``i`` a pure function of ``(seed, i)``.

Each item draws its strength, its bank row and its noise from its own counter-based stream
(``learned_aug.rng.ItemStreams``), so it is the same whatever batch, worker or order it is drawn
in (:func:`draw_items`); :func:`as_index` checks the index a dataset is asked for.
"""

from __future__ import annotations

import operator
from typing import Any

import torch
from torch import Tensor

from learned_aug.kernels import Latents
from learned_aug.models import Generator
from learned_aug.rng import ItemStreams, draw_strength
from learned_aug.strategies import Strategy


def draw_items(
    generator: Generator,
    strategy: Strategy,
    indices: Tensor,
    labels: Tensor | None,
    *,
    seed: int,
    attempt: int = 0,
) -> Tensor:
    """Generated items ``indices``, item ``i`` a pure function of ``(seed, i, attempt)``.

    What ``SyntheticDataset`` serves: each item draws its strength, its bank row (for a strategy
    that starts from a real example: of its class where the bank is labelled; ``strategy`` is
    bound, so it holds the bank) and its noise from its own counter-based stream, so it is the
    same whatever batch it is drawn in.
    """
    rngs = ItemStreams.for_items(seed, indices, attempt)
    strength = draw_strength(strategy.strength, len(indices), rngs)
    bank = strategy.bank
    if strategy.needs_source:
        if bank is None:
            raise ValueError(f"strategy {strategy.name!r} starts from bank codes: bind it first")
        rows = bank.pick(len(indices), labels, rngs)
        source = Latents(bank.codes[rows], None if bank.stds is None else bank.stds[rows])
    else:
        source = Latents(torch.empty(len(indices), 0))
    return strategy(generator, source, labels, strength, rngs).cpu()


def as_index(index: Any) -> int:
    """``index`` as an int; a float, a string or a bool is refused (a list would refuse it too)."""
    if not isinstance(index, bool):
        try:
            return operator.index(index)
        except TypeError:
            pass
    raise TypeError(
        f"SyntheticDataset indices must be integers, got {index!r} ({type(index).__name__})"
    )
