"""``FitSettings``: what ``fit`` trains with, checked once, and what a resume must keep."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from learned_aug.conventional import CONVENTIONAL

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
}
SCHEDULES = ("constant", "cosine")

# Field metadata: whether a run resumed from its checkpoint must be given the same value.
# Changing one of these would not continue the run but start another from its middle.
MUST_MATCH = {"must_match_to_resume": True}
# These may change on resume: more epochs extend a run, another patience stops it elsewhere.
MAY_CHANGE = {"must_match_to_resume": False}


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class FitSettings:
    """The training settings of one ``fit`` run: ``fit(model, data, FitSettings(...))``.

    Everything a run trains with besides the model, the data and where it runs (``out``,
    ``device``, ...). Every value is checked when the object is made; an error names the
    argument, the value given and what is accepted. All are saved in the run's checkpoint, and
    those whose metadata says ``must_match_to_resume`` are compared when the run is resumed.
    ``dataclasses.replace(settings, epochs=10)`` makes a changed copy.

    Args:
        epochs: the most epochs to train (may grow on resume: the run is extended; under the
            cosine schedule the decay then stretches over the new total). 0 trains nothing:
            only with ``fit(init=...)``, to use the pretrained generator as it is.
        batch_size: examples per optimizer step (the global batch when distributed).
        lr: peak learning rate.
        optimizer: a key of ``OPTIMIZERS``.
        weight_decay: the optimizer's weight decay.
        val_fraction: stratified validation split for early stopping, in [0, 1).
        patience: epochs without a better validation loss before stopping; None never stops.
        kl_warmup: epochs over which the KL weight ramps linearly from 0 to 1.
        warmup_steps: optimizer steps of linear learning-rate warm-up.
        schedule: ``"constant"`` or ``"cosine"`` decay after the warm-up.
        seed: seeds the initial weights, the split, shuffling and noise.
        augment: train on the images plus ``augment_copies`` copies of them under this
            conventional augmentation (a key of ``learned_aug.conventional.CONVENTIONAL``,
            ``"randaugment"``, ...), so the generator learns that variety too; None: the
            images alone. Images only.
        augment_copies: how many augmented copies of every image ``augment`` adds.
        prior_epochs: the most epochs of a VQ-VAE's second stage, its prior (trained at
            ``learned_aug.training.stages.PRIOR_LR``); None: ``epochs``; 0: the autoencoder
            alone (a one-stage run). Only for a VQ-VAE (or per-class VQ-VAEs) at its first
            stage.
        amp: mixed precision (float16 on CUDA, bfloat16 on the CPU); None turns it on where
            it is faster: on CUDA, and on CPUs whose bf16 units make a timed step faster
            (``learned_aug.precision``; never on a CPU without AVX512-BF16/AMX).

    Example:
        >>> from learned_aug.training.settings import FitSettings
        >>> settings = FitSettings(epochs=5, lr=3e-4)
        >>> settings.differences({**settings.to_dict(), "lr": 1e-3})
        {'lr': (0.001, 0.0003)}
    """

    epochs: int = field(default=50, metadata=MAY_CHANGE)
    batch_size: int = field(default=64, metadata=MUST_MATCH)
    lr: float = field(default=1e-3, metadata=MUST_MATCH)
    optimizer: str = field(default="adam", metadata=MUST_MATCH)
    weight_decay: float = field(default=0.0, metadata=MUST_MATCH)
    val_fraction: float = field(default=0.15, metadata=MUST_MATCH)
    patience: int | None = field(default=10, metadata=MAY_CHANGE)
    kl_warmup: int = field(default=0, metadata=MUST_MATCH)
    warmup_steps: int = field(default=0, metadata=MUST_MATCH)
    schedule: str = field(default="constant", metadata=MUST_MATCH)
    seed: int = field(default=0, metadata=MUST_MATCH)
    augment: str | None = field(default=None, metadata=MUST_MATCH)
    augment_copies: int = field(default=4, metadata=MUST_MATCH)
    prior_epochs: int | None = field(default=None, metadata=MAY_CHANGE)
    amp: bool | None = field(default=None, metadata=MAY_CHANGE)

    def __post_init__(self) -> None:
        self._check_ints()
        if self.augment is not None and self.augment not in CONVENTIONAL:
            raise ValueError(
                f"augment must be None or one of {sorted(CONVENTIONAL)}, got {self.augment!r}"
            )
        self._check_reals()
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {self.schedule!r}")
        if self.amp is not None and not isinstance(self.amp, bool):
            raise ValueError(
                f"amp must be True, False or None (on where it is faster), got {self.amp!r}"
            )

    def _check_ints(self) -> None:
        for name, low, what in (
            ("epochs", 0, "an int >= 0 (0: no training, only with fit(init=...))"),
            ("batch_size", 1, "a positive int"),
            ("kl_warmup", 0, "an int >= 0 (epochs)"),
            ("warmup_steps", 0, "an int >= 0 (optimizer steps)"),
            ("augment_copies", 1, "a positive int (copies of every image)"),
        ):
            value = getattr(self, name)
            if not _is_int(value) or value < low:
                raise ValueError(f"{name} must be {what}, got {value!r}")
        if self.patience is not None and (not _is_int(self.patience) or self.patience < 1):
            raise ValueError(
                f"patience must be a positive int (epochs) or None (never stop early), "
                f"got {self.patience!r}"
            )
        if not _is_int(self.seed):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        prior = self.prior_epochs
        if prior is not None and (not _is_int(prior) or prior < 0):
            raise ValueError(
                "prior_epochs must be None (as many as epochs), 0 (no prior stage) or a positive "
                f"int, got {prior!r}"
            )

    def _check_reals(self) -> None:
        checks = (
            ("lr", lambda v: v > 0, "a finite number > 0"),
            ("weight_decay", lambda v: v >= 0, "a finite number >= 0"),
            ("val_fraction", lambda v: 0 <= v < 1, "a number in [0, 1) (0: no validation)"),
        )
        for name, ok, what in checks:
            value = getattr(self, name)
            if not _is_real(value) or not ok(value):
                raise ValueError(f"{name} must be {what}, got {value!r}")
            object.__setattr__(self, name, float(value))  # numpy scalars become JSON-able

    @classmethod
    def resume_fields(cls) -> tuple[str, ...]:
        """The names of the settings a resumed run must keep."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata["must_match_to_resume"])

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-able dict (saved in the checkpoint)."""
        return dataclasses.asdict(self)

    def differences(self, saved: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
        """``{name: (saved value, this value)}`` for every must-match setting that differs.

        ``saved`` is a checkpoint's settings dict; a setting it lacks differs (saved as None).
        """
        found = {}
        for name in self.resume_fields():
            before, now = saved.get(name), getattr(self, name)
            if before != now:
                found[name] = (before, now)
        return found
