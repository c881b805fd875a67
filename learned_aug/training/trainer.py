"""One ``fit`` run: its state, the epoch loop, the best weights and the run folder's files.

A plain loop: shuffle, step, validate, keep the best weights, checkpoint. Each epoch reseeds
torch from ``(seed, epoch)``, so a run resumed from the checkpoint of epoch k replays epochs
k+1... exactly as the uninterrupted run did, and ends with the same weights. A VAE trained in
pairs (``partner=True``) draws each epoch's partners from that epoch's shuffling generator, and
its validation partners once from the seed, so they replay too.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from learned_aug.data import stratified_split
from learned_aug.latent_bank import LatentBank, attach_bank
from learned_aug.models import UNLABELLED, Generator
from learned_aug.quality import attach_quality
from learned_aug.training import checkpoint as ckpt
from learned_aug.training import distributed
from learned_aug.training.pairs import Partners, trains_in_pairs
from learned_aug.training.publish import publish_run
from learned_aug.training.settings import OPTIMIZERS, FitSettings


class TrainingError(RuntimeError):
    """Training cannot go on (a NaN or inf loss, a checkpoint of another run)."""


@dataclass
class FitResult:
    """What ``fit`` returns: the generator with its best weights, and the history.

    Example:
        >>> from learned_aug import FitSettings, fit
        >>> result = fit("vae", "digits", FitSettings(epochs=1), config={"latent_dim": 2},
        ...              progress=False)
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


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919 + 17) % (2**63 - 1)


@torch.no_grad()
def evaluate_loss(
    model: Generator,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    targets: torch.Tensor | None = None,
) -> float:
    """Mean loss (with the full KL weight) over ``x``; NaN when ``x`` is empty. ``targets``:
    what the decoder reconstructs from each row of ``x`` (its partners, ``partner=True``)."""
    if len(x) == 0:
        return math.nan
    model.eval()
    total = 0.0
    for start in range(0, len(x), batch_size):
        rows = slice(start, start + batch_size)
        extra = {} if targets is None else {"target": targets[rows]}
        total += float(model.loss(x[rows], y[rows], **extra)["loss"]) * len(x[rows])
    return total / len(x)


class _Trainer:
    """State of one run; ``fit`` is its only user."""

    def __init__(
        self, model, data, settings: FitSettings, device, amp, run_dir, hooks, source, pool=None
    ):
        self.model, self.settings, self.device, self.amp = model.to(device), settings, device, amp
        # data: what it trains on (with any augmented copies); source: the images themselves,
        # which the latent bank and the quality report are built from; pool: unlabelled rows
        # trained on besides, labelled UNLABELLED (never in the bank nor the report).
        self.run_dir, self.hooks, self.data, self.source = run_dir, hooks, data, source
        x, y = data.x, data.y
        train_idx, val_idx = stratified_split(y, settings.val_fraction, settings.seed)
        if pool is not None:
            # Split apart, so that the labelled rows split as they would without a pool.
            pool_train, pool_val = stratified_split(
                torch.zeros(len(pool), dtype=torch.long), settings.val_fraction, settings.seed
            )
            train_idx = torch.cat([train_idx, pool_train + len(x)])
            val_idx = torch.cat([val_idx, pool_val + len(x)])
            x = torch.cat([x, pool.to(x.dtype)])
            y = torch.cat([y, y.new_full((len(pool),), UNLABELLED)])
        self.x, self.y = x[train_idx].to(device), y[train_idx].to(device)
        self.vx, self.vy = x[val_idx].to(device), y[val_idx].to(device)
        # Pairs (partner=True): training partners are drawn each epoch (_run_epoch); the
        # validation ones once, so that early stopping compares epochs on the same pairs.
        self.partners = Partners(self.y) if trains_in_pairs(model) else None
        self.partner: torch.Tensor | None = None
        self.vt = None
        if self.partners is not None:
            seeded = torch.Generator().manual_seed(settings.seed)
            self.vt = self.vx[Partners(self.vy).draw(seeded).to(device)]
        self.opt = OPTIMIZERS[settings.optimizer](
            model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
        )
        # Loss scaling guards float16 gradients (CUDA); bfloat16 has float32's range.
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")
        self.steps_per_epoch = math.ceil(len(self.x) / settings.batch_size)
        self.epoch, self.history, self.bad_epochs = 0, [], 0
        self.best_val, self.best_epoch, self.best_digest = math.inf, 0, ""
        self.best_state = copy.deepcopy(model.state_dict())
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.loss_fn = distributed.loss_function(self.model)

    def restore(self, state: dict[str, Any], run_dir: Path) -> None:
        """Continue from a checkpoint ``state`` of the run in ``run_dir``."""
        saved = ckpt.saved_settings(state, run_dir / ckpt.CHECKPOINT_NAME)
        changed = self.settings.differences(saved)
        config = json.loads(json.dumps(self.model.config.to_dict()))
        if changed or json.loads(state["config"]) != config:
            raise TrainingError(
                f"cannot resume the run in {str(run_dir)!r}: its settings differ "
                f"{changed or '(model config)'} (saved, given); use overwrite=True to start anew"
            )
        self.best_state = ckpt.best_weights(state, self.model, run_dir, self.device)
        self.model.load_state_dict(state["model"])
        try:
            self.opt.load_state_dict(state["optimizer"])
        except ValueError as err:  # parameter groups of another shape
            raise TrainingError(
                f"cannot resume the run in {str(run_dir)!r}: its optimizer state does not fit "
                f"this model's parameters ({err}); a per-class run saved before the members "
                "were batched has one tensor per member. Its weights load (load_generator); "
                "start the training anew with overwrite=True (--overwrite)"
            ) from err
        if state["scaler"] and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.bad_epochs = int(state["epoch"]), int(state["bad_epochs"])
        self.best_val, self.best_epoch = float(state["best_val"]), int(state["best_epoch"])
        self.best_digest = state.get("best_digest", "")
        self.history = json.loads(state["history"])

    def train(self, progress: bool) -> FitResult:
        epochs = self.settings.epochs
        if epochs == self.epoch == 0:  # fit(init=...) untrained: the pretrained weights as is
            self.best_val = self._val_loss()
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
        patience = self.settings.patience
        return bool(self.vx.numel()) and patience is not None and self.bad_epochs >= patience

    def _run_epoch(self) -> dict[str, Any]:
        epoch, settings, start = self.epoch, self.settings, time.perf_counter()
        # Noise differs per process (rank 0's is the single-process noise); the order is shared.
        torch.manual_seed(_epoch_seed(settings.seed, epoch) + self.rank)
        shuffle = torch.Generator().manual_seed(_epoch_seed(settings.seed, epoch))
        order = torch.randperm(len(self.x), generator=shuffle).to(self.device)
        if self.partners is not None:  # after the order, from its stream: shared by every rank
            self.partner = self.partners.draw(shuffle).to(self.device)
        self.model.train()
        totals: dict[str, torch.Tensor] = {}
        for step, batch in enumerate(order.split(settings.batch_size)):
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
        improved = self._track_best(row)
        self.history.append(row)
        self._save(improved)
        for hook in self.hooks:
            hook(dict(row))
        return row

    def _val_loss(self) -> float:
        vx, vy = self.vx[self.rank :: self.world], self.vy[self.rank :: self.world]
        vt = None if self.vt is None else self.vt[self.rank :: self.world]
        local = evaluate_loss(self.model, vx, vy, self.settings.batch_size, vt)
        return distributed.mean_over_ranks(local, len(vx))

    def _step(self, global_step: int, idx, share: float, epoch: int, step: int):
        """One optimizer step on rows ``idx``, ``share`` of the global batch."""
        settings = self.settings
        for group in self.opt.param_groups:
            group["lr"] = lr_at(
                global_step,
                lr=settings.lr,
                total_steps=settings.epochs * self.steps_per_epoch,
                warmup_steps=settings.warmup_steps,
                schedule=settings.schedule,
            )
        kl = kl_at(global_step, settings.kl_warmup * self.steps_per_epoch)
        # autocast only where it is on: entering a disabled one still costs per step.
        with torch.autocast(self.device.type) if self.amp else contextlib.nullcontext():
            pair = {} if self.partner is None else {"target": self.x[self.partner[idx]]}
            parts = self.loss_fn(self.x[idx], self.y[idx], kl_weight=kl, **pair)
        loss = parts["loss"]
        # Summed over the processes, so that every process takes the same decision.
        if not torch.isfinite(distributed.all_reduce_sum(loss.detach().float() * share)):
            kept = f"; the last good checkpoint is kept in {str(self.run_dir)!r}"
            raise TrainingError(
                f"the loss became {float(loss.detach())} at epoch {epoch + 1}, step {step + 1}; "
                f"try a lower lr (now {settings.lr}) or check the data for NaN/inf"
                f"{kept if self.run_dir else ''}"
            )
        self.opt.zero_grad(set_to_none=True)
        # DDP averages gradients over processes: weighting by world * share makes that average
        # the gradient of the global batch's mean loss, even for unequal shares.
        scaled = loss if self.world == 1 else loss * (self.world * share)
        self.scaler.scale(scaled).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        return {name: v.detach().float() for name, v in parts.items() if v.dim() == 0}

    def _track_best(self, row: dict[str, Any]) -> bool:
        """Keep the weights of a new best epoch in memory; whether this epoch is one."""
        val = row["val_loss"] if self.vx.numel() else row["train_loss"]
        if val < self.best_val:
            self.best_val, self.best_epoch, self.bad_epochs = val, self.epoch, 0
            self.best_state = copy.deepcopy(self.model.state_dict())
            if self.run_dir is not None:
                self.best_digest = ckpt.weights_digest(self.best_state)
            return True
        if self.epoch > self.settings.kl_warmup:
            self.bad_epochs += 1
        return False

    def _save_best(self) -> None:
        live = copy.deepcopy(self.model.state_dict())
        self.model.load_state_dict(self.best_state)
        self.model.save_weights(self.run_dir)
        self.model.load_state_dict(live)

    def _save(self, improved: bool) -> None:
        """The checkpoint, then the best weights, then the history (see ``checkpoint``)."""
        if self.run_dir is None:
            return
        ckpt.save_checkpoint(
            self.run_dir / ckpt.CHECKPOINT_NAME,
            {
                "format": ckpt.CHECKPOINT_FORMAT,
                "epoch": self.epoch,
                "model": self.model.state_dict(),
                "optimizer": self.opt.state_dict(),
                "scaler": self.scaler.state_dict(),
                "best_val": self.best_val,
                "best_epoch": self.best_epoch,
                "best_digest": self.best_digest,
                "bad_epochs": self.bad_epochs,
                "history": json.dumps(self.history),
                "settings": json.dumps(self.settings.to_dict()),
                "config": json.dumps(self.model.config.to_dict()),
            },
        )
        if improved:
            self._save_best()
        ckpt.save_history(self.run_dir, self.history)

    def _finish(self, stopped_early: bool) -> FitResult:
        self.model.load_state_dict(self.best_state)
        self.model.eval()
        # The codes of its training data come with the model, as load_generator attaches them.
        attach_bank(self.model, LatentBank.build(self.model, self.source))
        # A report from before measured other weights; the one of this run comes with the
        # model as load_generator attaches quality.json (SyntheticDataset reads it).
        attach_quality(self.model, None)
        if self.run_dir is not None:
            report = publish_run(self.run_dir, self.model, self.source, self.settings.seed)
            attach_quality(self.model, report)
        return FitResult(
            self.model, self.history, self.best_epoch, self.best_val, stopped_early, self.run_dir
        )
