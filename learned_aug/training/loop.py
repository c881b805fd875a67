"""``fit``: the training loop for every learned-aug generator.

A plain loop: shuffle, step, validate, keep the best weights, checkpoint. Each epoch reseeds
torch from ``(seed, epoch)``, so a run resumed from the checkpoint of epoch k replays epochs
k+1... exactly as the uninterrupted run did, and ends with the same weights.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from learned_aug.data import LabelledData, load_dataset, stratified_split
from learned_aug.models import Generator, create_generator
from learned_aug.training import checkpoint as ckpt
from learned_aug.training import distributed
from learned_aug.training.publish import publish_run

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
}
SCHEDULES = ("constant", "cosine")
# Training arguments that must match for a run to be resumed.
RESUME_KEYS = (
    "batch_size",
    "lr",
    "optimizer",
    "weight_decay",
    "val_fraction",
    "seed",
    "kl_warmup",
    "warmup_steps",
    "schedule",
)


class TrainingError(RuntimeError):
    """Training cannot go on (a NaN or inf loss, a checkpoint of another run)."""


@dataclass
class FitResult:
    """What ``fit`` returns: the generator with its best weights, and the history.

    Example:
        >>> from learned_aug import fit
        >>> result = fit("vae", "digits", epochs=1, latent_dim=2, progress=False)
        >>> result.model.sample(2).shape
        torch.Size([2, 1, 8, 8])
    """

    model: Generator
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.inf
    stopped_early: bool = False
    out: Path | None = None


def lr_at(
    step: int, *, lr: float, total_steps: int, warmup_steps: int = 0, schedule: str = "constant"
) -> float:
    """Learning rate at optimizer step ``step`` (0-based): linear warm-up, then constant/cosine."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if schedule == "cosine" and total_steps > warmup_steps:
        progress = (step - warmup_steps) / (total_steps - warmup_steps)
        return lr * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return lr


def kl_at(step: int, warmup_steps: int) -> float:
    """KL weight at step ``step``: a linear ramp from 0 to 1 over ``warmup_steps``."""
    return 1.0 if warmup_steps <= 0 else min(1.0, (step + 1) / warmup_steps)


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` picks CUDA when present, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919 + 17) % (2**63 - 1)


def _check_args(epochs, batch_size, lr, optimizer, val_fraction, schedule) -> None:
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")


def _check_data(data: LabelledData) -> None:
    if len(data) == 0:
        raise ValueError("data is empty: there is nothing to train on")
    counts = data.class_counts()
    empty = [c for c, n in zip(data.classes, counts, strict=True) if n == 0]
    if empty:
        raise ValueError(f"data has classes with no examples: {empty}; remove them or add data")
    bad = (~torch.isfinite(data.x.flatten(1))).any(dim=1).nonzero().flatten()
    if len(bad):
        raise ValueError(
            f"data holds NaN or inf values in {len(bad)} examples (first at index {int(bad[0])}); "
            "clean or impute them before training"
        )


def _build_model(
    model, data: LabelledData, per_class: bool, mix_in: float, seed: int, config: dict[str, Any]
) -> Generator:
    if isinstance(model, Generator):
        if config:
            raise TypeError(f"config arguments {sorted(config)} need model given as a name")
        if tuple(model.sample_shape) != tuple(data.sample_shape):
            raise ValueError(
                f"data has sample shape {tuple(data.sample_shape)}, but the generator expects "
                f"{tuple(model.sample_shape)}; resize/convert the data (image_size=, channels=)"
            )
        if model.conditional and len(model.classes) != len(data.classes):
            raise ValueError(
                f"data has {len(data.classes)} classes, but the class-conditional generator "
                f"knows {len(model.classes)} ({model.classes})"
            )
        return model
    if not isinstance(model, str):
        raise TypeError(f"model must be a Generator or a model name, got {type(model).__name__}")
    torch.manual_seed(seed)
    return create_generator(
        model, data.sample_shape, data.classes, per_class=per_class, mix_in=mix_in, **config
    )


@torch.no_grad()
def evaluate_loss(model: Generator, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    """Mean loss (with the full KL weight) over ``x``; NaN when ``x`` is empty."""
    if len(x) == 0:
        return math.nan
    model.eval()
    total = 0.0
    for xb, yb in zip(x.split(batch_size), y.split(batch_size), strict=True):
        total += float(model.loss(xb, yb)["loss"]) * len(xb)
    return total / len(x)


def fit(
    model: Generator | str,
    data: Any,
    *,
    per_class: bool = False,
    mix_in: float = 0.0,
    epochs: int = 50,
    batch_size: int = 64,
    lr: float = 1e-3,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    val_fraction: float = 0.15,
    patience: int | None = 10,
    kl_warmup: int = 0,
    warmup_steps: int = 0,
    schedule: str = "constant",
    seed: int = 0,
    device: str | torch.device = "auto",
    amp: bool | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    hooks: Sequence[Callable[[dict[str, Any]], None]] = (),
    **config: Any,
) -> FitResult:
    """Train a generator on labelled data, keeping the weights of the best validation epoch.

    Args:
        model: a Generator, or a registered model name (``"vae"``, ...) built for ``data``.
        data: anything ``learned_aug.data.load_dataset`` takes: a bundled name (``"mnist-5k"``),
            an ImageFolder path, a dataset, a tensor or an ``(x, y)`` pair.
        per_class: with a model name, one generator per class (the multi-VAE).
        mix_in: with ``per_class``, the fraction of other classes mixed into each member's data.
        epochs: the most epochs to train.
        batch_size: examples per optimizer step; under torchrun (several processes, DDP) the
            global batch, shared among the processes, so N processes take the steps one would.
        lr: peak learning rate.
        optimizer: ``"adam"`` (default), ``"adamw"`` or ``"rmsprop"``.
        weight_decay: the optimizer's weight decay.
        val_fraction: stratified validation split for early stopping (0.15 as in
            Garay-Maestre et al. 2019); 0 trains on everything and keeps the last weights.
        patience: epochs without a better validation loss before stopping; None never stops.
        kl_warmup: epochs over which the KL weight ramps linearly from 0 to 1.
        warmup_steps: optimizer steps of linear learning-rate warm-up.
        schedule: ``"constant"`` or ``"cosine"`` decay after the warm-up.
        seed: seeds the initial weights (for a model name), the split, shuffling and noise.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ...
        amp: mixed precision; default on for CUDA.
        out: run folder for the checkpoint, the best generator (config.json +
            model.safetensors), history.json/csv and samples.png; written by rank 0 alone
            when distributed.
        resume: continue the run in ``out`` from its last checkpoint.
        overwrite: replace a run already in ``out``.
        progress: show a tqdm progress bar.
        hooks: callables given a dict of the epoch's metrics after each epoch (in every
            process when distributed).
        **config: config fields for a model given by name (``latent_dim=3``, ``beta=4.0``).

    Returns:
        A ``FitResult`` whose ``model`` holds the best weights.

    Example:
        >>> from learned_aug import fit
        >>> result = fit("vae", "digits", per_class=True, epochs=1, latent_dim=3, progress=False)
        >>> len(result.history)
        1
    """
    _check_args(epochs, batch_size, lr, optimizer, val_fraction, schedule)
    distributed.init_from_env()
    data = load_dataset(data)
    _check_data(data)
    model = _build_model(model, data, per_class, mix_in, seed, config)
    run = None if out is None else Path(out)
    if run is not None and distributed.is_main():
        run = ckpt.prepare_out(out, resume=resume, overwrite=overwrite)
    distributed.barrier()  # the other processes read a checkpoint only once out is prepared
    dev = distributed.rank_device(resolve_device(device))
    use_amp = (dev.type == "cuda") if amp is None else bool(amp)
    args = {
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": optimizer,
        "weight_decay": weight_decay,
        "val_fraction": val_fraction,
        "seed": seed,
        "kl_warmup": kl_warmup,
        "warmup_steps": warmup_steps,
        "schedule": schedule,
        "epochs": epochs,
        "patience": patience,
    }
    # Only rank 0 writes the run folder; every process reads the checkpoint to resume.
    writer = run if distributed.is_main() else None
    trainer = _Trainer(model, data, args, dev, use_amp, writer, list(hooks))
    if run is not None and resume and (run / ckpt.CHECKPOINT_NAME).exists():
        trainer.restore(ckpt.load_checkpoint(run / ckpt.CHECKPOINT_NAME, dev))
    return trainer.train(progress)


class _Trainer:
    """State of one run; ``fit`` is its only user."""

    def __init__(self, model, data, args, device, amp, run, hooks):
        self.model, self.args, self.device, self.amp, self.run, self.hooks = (
            model.to(device),
            args,
            device,
            amp,
            run,
            hooks,
        )
        self.data = data
        train_idx, val_idx = stratified_split(data.y, args["val_fraction"], args["seed"])
        self.x, self.y = data.x[train_idx].to(device), data.y[train_idx].to(device)
        self.vx, self.vy = data.x[val_idx].to(device), data.y[val_idx].to(device)
        self.opt = OPTIMIZERS[args["optimizer"]](
            model.parameters(), lr=args["lr"], weight_decay=args["weight_decay"]
        )
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp)
        self.steps_per_epoch = math.ceil(len(self.x) / args["batch_size"])
        self.epoch, self.history, self.bad_epochs = 0, [], 0
        self.best_val, self.best_epoch = math.inf, 0
        self.best_state = copy.deepcopy(model.state_dict())
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.loss_fn = distributed.loss_function(self.model)

    def restore(self, state: dict[str, Any]) -> None:
        saved = json.loads(state["args"])
        changed = {
            k: (saved.get(k), self.args[k]) for k in RESUME_KEYS if saved.get(k) != self.args[k]
        }
        config = json.loads(json.dumps(self.model.config.to_dict()))
        if changed or json.loads(state["config"]) != config:
            raise TrainingError(
                f"cannot resume the run in {str(self.run)!r}: its settings differ "
                f"{changed or '(model config)'} (saved, given); use overwrite=True to start anew"
            )
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.best_state = state["best_model"]
        self.epoch, self.bad_epochs = int(state["epoch"]), int(state["bad_epochs"])
        self.best_val, self.best_epoch = float(state["best_val"]), int(state["best_epoch"])
        self.history = json.loads(state["history"])

    def train(self, progress: bool) -> FitResult:
        epochs = self.args["epochs"]
        stopped = self._should_stop()
        bar = tqdm(
            total=epochs,
            initial=self.epoch,
            desc="fit",
            unit="epoch",
            disable=not progress or self.rank != 0,
            dynamic_ncols=True,
        )
        with bar:
            while self.epoch < epochs and not stopped:
                row = self._run_epoch()
                bar.set_postfix(train=f"{row['train_loss']:.2f}", val=f"{row['val_loss']:.2f}")
                bar.update(1)
                stopped = self._should_stop()
        return self._finish(stopped and self.epoch < epochs)

    def _should_stop(self) -> bool:
        patience = self.args["patience"]
        return bool(self.vx.numel()) and patience is not None and self.bad_epochs >= patience

    def _run_epoch(self) -> dict[str, Any]:
        epoch, args, start = self.epoch, self.args, time.perf_counter()
        # Noise differs per process (rank 0's is the single-process noise); the order is shared.
        torch.manual_seed(_epoch_seed(args["seed"], epoch) + self.rank)
        order = torch.randperm(
            len(self.x), generator=torch.Generator().manual_seed(_epoch_seed(args["seed"], epoch))
        ).to(self.device)
        self.model.train()
        totals: dict[str, torch.Tensor] = {}
        for step, batch in enumerate(order.split(args["batch_size"])):
            # batch_size is the global batch: each process takes its share (one takes it all).
            idx, count = distributed.shard_batch(batch, self.rank, self.world)
            global_step = epoch * self.steps_per_epoch + step
            parts = self._step(global_step, idx, count / len(batch), epoch, step)
            for name, value in parts.items():
                totals[name] = totals.get(name, 0.0) + value * count
        totals = distributed.sum_over_ranks(totals)
        self.epoch = epoch + 1
        row = {"epoch": self.epoch, **{f"train_{k}": v / len(self.x) for k, v in totals.items()}}
        row["val_loss"] = self._val_loss()
        row["lr"] = self.opt.param_groups[0]["lr"]
        row["seconds"] = round(time.perf_counter() - start, 4)
        self._track_best(row)
        self.history.append(row)
        self._save()
        for hook in self.hooks:
            hook(dict(row))
        return row

    def _val_loss(self) -> float:
        vx, vy = self.vx[self.rank :: self.world], self.vy[self.rank :: self.world]
        local = evaluate_loss(self.model, vx, vy, self.args["batch_size"])
        return distributed.mean_over_ranks(local, len(vx))

    def _step(self, global_step: int, idx, share: float, epoch: int, step: int):
        """One optimizer step on rows ``idx``, ``share`` of the global batch."""
        args, total = self.args, self.args["epochs"] * self.steps_per_epoch
        for group in self.opt.param_groups:
            group["lr"] = lr_at(
                global_step,
                lr=args["lr"],
                total_steps=total,
                warmup_steps=args["warmup_steps"],
                schedule=args["schedule"],
            )
        kl = kl_at(global_step, args["kl_warmup"] * self.steps_per_epoch)
        # autocast only where it is on: entering a disabled one still costs per step.
        with torch.autocast(self.device.type) if self.amp else contextlib.nullcontext():
            parts = self.loss_fn(self.x[idx], self.y[idx], kl_weight=kl)
        loss = parts["loss"]
        # Summed over the processes, so that every process takes the same decision.
        if not torch.isfinite(distributed.all_reduce_sum(loss.detach().float() * share)):
            kept = f"; the last good checkpoint is kept in {str(self.run)!r}" if self.run else ""
            raise TrainingError(
                f"the loss became {float(loss.detach())} at epoch {epoch + 1}, step {step + 1}; "
                f"try a lower lr (now {args['lr']}) or check the data for NaN/inf{kept}"
            )
        self.opt.zero_grad(set_to_none=True)
        # DDP averages gradients over processes: weighting by world * share makes that average
        # the gradient of the global batch's mean loss, even for unequal shares.
        scaled = loss if self.world == 1 else loss * (self.world * share)
        self.scaler.scale(scaled).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        return {name: v.detach().float() for name, v in parts.items() if v.dim() == 0}

    def _track_best(self, row: dict[str, Any]) -> None:
        val = row["val_loss"] if self.vx.numel() else row["train_loss"]
        if val < self.best_val:
            self.best_val, self.best_epoch, self.bad_epochs = val, self.epoch, 0
            self.best_state = copy.deepcopy(self.model.state_dict())
            if self.run is not None:
                self._save_best()
        elif self.epoch > self.args["kl_warmup"]:
            self.bad_epochs += 1

    def _save_best(self) -> None:
        live = copy.deepcopy(self.model.state_dict())
        self.model.load_state_dict(self.best_state)
        self.model.save_weights(self.run)
        self.model.load_state_dict(live)

    def _save(self) -> None:
        if self.run is None:
            return
        ckpt.save_checkpoint(
            self.run / ckpt.CHECKPOINT_NAME,
            {
                "epoch": self.epoch,
                "model": self.model.state_dict(),
                "best_model": self.best_state,
                "optimizer": self.opt.state_dict(),
                "scaler": self.scaler.state_dict(),
                "best_val": self.best_val,
                "best_epoch": self.best_epoch,
                "bad_epochs": self.bad_epochs,
                "history": json.dumps(self.history),
                "args": json.dumps(self.args),
                "config": json.dumps(self.model.config.to_dict()),
            },
        )
        ckpt.save_history(self.run, self.history)

    def _finish(self, stopped_early: bool) -> FitResult:
        self.model.load_state_dict(self.best_state)
        self.model.eval()
        if self.run is not None:
            publish_run(self.run, self.model, self.data, self.args["seed"])
        return FitResult(
            self.model, self.history, self.best_epoch, self.best_val, stopped_early, self.run
        )
