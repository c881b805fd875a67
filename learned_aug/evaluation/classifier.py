"""How the protocol trains a classifier: one recipe, the same steps and batch for every condition.

A comparison is fair only where the conditions differ in their data and nothing else. So every
classifier trains for ``ClassifierRecipe.steps(n)`` optimizer steps (a rule of the number of real
training images, the same under every condition), on batches of ``batch_size`` rows, with AdamW,
a linear warm-up and a cosine decay, label smoothing and weight decay, and keeps its final
weights: no early stopping on a validation split of a few images (which stops some conditions
after 20 steps and others after 2,000), and so no image held out to select the classifier. A
condition chooses only what fills the batch: real images, more augmented views of them, or
synthetic samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from learned_aug.data import LabelledData
from learned_aug.synthetic.mix import MixSampler, Passes

# An augmentation of the batch, called as torchvision's transforms are on a sample: a v2
# transform (learned_aug.conventional's, LearnedAugment, v2.Compose of them, MixUp), or any
# callable (images, labels) -> (images, labels).
Augment = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class ClassifierRecipe:
    """The classifier's training settings, the same for every condition of a comparison.

    The number of steps grows with the data: ``epochs`` passes over the ``n`` real images in
    batches of ``batch_size``, at least ``min_steps`` and at most ``max_steps``. The learning
    rate and label smoothing were tuned once, for the baselines (no augmentation and
    RandAugment), on the tuning dataset (benchmarks/experiments/tune_classifier.py), then
    frozen; the step floor is a compute budget (docs/results.md says what doubling it gives).

    Args:
        batch_size: rows per optimizer step, real and synthetic together.
        lr: AdamW's peak learning rate.
        weight_decay: AdamW's decoupled weight decay.
        label_smoothing: cross-entropy label smoothing.
        warmup: the share of the steps over which the learning rate rises linearly from 0;
            then it decays to 0 along a cosine.
        epochs: passes over the real images the step rule asks for.
        min_steps: the fewest steps, whatever the data size.
        max_steps: the most steps.

    Example:
        >>> from learned_aug.evaluation import ClassifierRecipe
        >>> recipe = ClassifierRecipe()
        >>> recipe.steps(50) == recipe.min_steps, recipe.steps(10**6) == recipe.max_steps
        (True, True)
        >>> recipe.lr_at(0, 100), recipe.lr_at(100, 100)
        (0.0, 0.0)
    """

    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    warmup: float = 0.05
    epochs: float = 30.0
    min_steps: int = 400
    max_steps: int = 2000

    def __post_init__(self) -> None:
        for name in ("batch_size", "min_steps", "max_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.min_steps > self.max_steps:
            raise ValueError(
                f"min_steps={self.min_steps} is above max_steps={self.max_steps}; "
                "use min_steps <= max_steps"
            )
        for name in ("lr", "epochs"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("weight_decay", "label_smoothing", "warmup"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")

    def steps(self, n_real: int) -> int:
        """Optimizer steps for ``n_real`` real training images."""
        wanted = math.ceil(self.epochs * n_real / self.batch_size)
        return int(min(self.max_steps, max(self.min_steps, wanted)))

    def lr_at(self, step: int, total: int) -> float:
        """The learning rate of step ``step`` (0-based) of ``total``: warm-up, then cosine."""
        warm = max(1, round(self.warmup * total))
        if step < warm:
            return self.lr * step / warm
        progress = (step - warm) / max(1, total - warm)
        return self.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@dataclass
class TrainResult:
    """What ``train_classifier`` returns: the trained model and what its training did.

    ``real_per_step`` counts real rows of a batch (each augmented view of an image is a row),
    ``images_per_step`` the distinct real images among them.

    Example:
        >>> from learned_aug.evaluation import TrainResult
        >>> TrainResult(model=None, steps=400, batch_size=64).steps
        400
    """

    model: Any
    steps: int = 0
    batch_size: int = 0
    real_per_step: int = 0
    images_per_step: int = 0
    synthetic_per_step: int = 0
    final_loss: float = math.nan
    history: list[float] = field(default_factory=list)


def _to_model_layout(x: Tensor) -> Tensor:
    # channels_last convs run faster on CPU (oneDNN) than NCHW ones.
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def _autocast(model: nn.Module, amp: bool):
    device = next(model.parameters()).device.type
    return torch.autocast(device, dtype=torch.bfloat16, enabled=amp)


@torch.no_grad()
def predict_logits(
    model: nn.Module, x: Tensor, batch_size: int = 500, *, amp: bool = False
) -> Tensor:
    """Logits of ``model`` (in eval mode) for every row of ``x``, as float32."""
    model.eval()
    device = next(model.parameters()).device
    with _autocast(model, amp):
        out = [model(_to_model_layout(xb.to(device))).float().cpu() for xb in x.split(batch_size)]
    return torch.cat(out) if out else torch.empty(0)


def _check_targets(
    targets: Tensor | None, synthetic: LabelledData | None, train: LabelledData
) -> Tensor | None:
    if targets is None:
        return None
    shape = (len(synthetic) if synthetic is not None else 0, len(train.classes))
    if not isinstance(targets, Tensor) or tuple(targets.shape) != shape:
        raise ValueError(
            f"synthetic_targets must be a tensor of shape {shape} (a probability per synthetic "
            f"row and class), got {tuple(getattr(targets, 'shape', ())) or type(targets).__name__}"
        )
    return targets.float()


def _batch_plan(batch_size: int, share: float, views: int, augment: Any) -> tuple[int, int]:
    """(distinct real images, synthetic rows) of every batch."""
    if isinstance(views, bool) or not isinstance(views, int) or views < 1:
        raise ValueError(f"views must be a positive int, got {views!r}")
    if views > 1 and augment is None:
        raise ValueError(f"views={views} repeats each real image: it needs an augment")
    sampler = MixSampler((1 << 30, 1 << 30), batch_size, share)  # checks share, batch_size
    real, synthetic = sampler.real_per_batch, sampler.synthetic_per_batch
    if real % views:
        raise ValueError(
            f"views={views} does not divide the {real} real rows of a batch of {batch_size} "
            f"with share={share}; use a batch_size whose real part is a multiple of views"
        )
    return real // views, synthetic


class _Batches:
    """Draws every step's rows: real images in shuffled passes (each repeated ``views`` times,
    so each view is augmented by itself) and synthetic rows in passes of their own, as
    ``MixSampler`` draws them, from one ``torch.Generator``."""

    def __init__(self, train, synthetic, targets, images, synthetic_rows, views, seed):
        rng = torch.Generator().manual_seed(seed)
        self.train, self.synthetic, self.targets, self.views = train, synthetic, targets, views
        sizes = (len(train), len(synthetic) if synthetic is not None else 0)
        # MixSampler's passes, without its shrinking of a batch larger than the real set:
        # every condition keeps the same batch size.
        self._real, self._syn = Passes(sizes[0], rng), Passes(max(sizes[1], 1), rng)
        self.images, self.synthetic_rows = images, synthetic_rows

    def next(self) -> tuple[Tensor, Tensor, Tensor | None]:
        idx = self._real.take(self.images).repeat(self.views)
        x, y, soft = self.train.x[idx], self.train.y[idx], None
        if self.synthetic_rows:
            syn = self._syn.take(self.synthetic_rows)
            x, y = torch.cat([x, self.synthetic.x[syn]]), torch.cat([y, self.synthetic.y[syn]])
            soft = None if self.targets is None else self.targets[syn]
        return x, y, soft


def _loss(logits: Tensor, y: Tensor, soft: Tensor | None, smoothing: float) -> Tensor:
    """The batch mean of the cross-entropy; a teacher's soft targets for the synthetic rows."""
    if soft is None:
        return F.cross_entropy(logits, y, label_smoothing=smoothing)
    k = len(y) - len(soft)
    each = torch.cat(
        [
            F.cross_entropy(logits[:k], y[:k], reduction="none", label_smoothing=smoothing),
            F.cross_entropy(logits[k:], soft, reduction="none"),
        ]
    )
    return each.mean()


def train_classifier(
    model: nn.Module,
    train: LabelledData,
    recipe: ClassifierRecipe | None = None,
    *,
    augment: Augment | None = None,
    synthetic: LabelledData | None = None,
    synthetic_targets: Tensor | None = None,
    share: float = 0.5,
    views: int = 1,
    seed: int = 0,
    amp: bool = False,
) -> TrainResult:
    """Train ``model`` on ``train`` for ``recipe.steps(len(train))`` steps; keep the final weights.

    Every batch holds ``recipe.batch_size`` rows. Without ``synthetic`` they are all real
    images; with it, ``share`` of them are synthetic rows, as ``learned_aug.MixSampler`` mixes
    ``ConcatDataset([train, synthetic])`` (the documented way to mix). ``views`` repeats each
    real image of a batch that many times, each repeat augmented by itself: with ``views=2``
    and no synthetic rows, the batch holds as many real images as a half-synthetic batch, and
    the other half are more augmented views of them (the compute-matched control of a learned
    condition). Real images are drawn in shuffled passes, synthetic rows in passes of their own.

    Args:
        model: maps a batch to logits.
        train: the real training examples (the only real data the classifier sees).
        recipe: the training settings (default ``ClassifierRecipe()``).
        augment: a transform of every batch, real and synthetic rows together, called as
            ``x, y = augment(x, y)`` like a torchvision v2 transform on an ``(images, labels)``
            sample (``learned_aug.conventional``'s draw per image). It draws from its own
            random source, not ``seed``'s.
        synthetic: a ``LabelledData`` pool of synthetic examples.
        synthetic_targets: soft targets ``(len(synthetic), K)`` of the synthetic rows (a
            ``Teacher``'s): their loss is the cross-entropy to these probabilities.
        share: the synthetic fraction of each batch when ``synthetic`` is given, in [0, 1).
        views: augmented views of each real image per batch (``augment`` required above 1).
        seed: seeds the batches (one ``torch.Generator``) and dropout (torch's global one).
        amp: bfloat16 autocast: faster only on hardware with bf16 units
            (``learned_aug.precision.choose_autocast`` tells which).

    Returns:
        A ``TrainResult`` whose ``model`` holds the final weights, in eval mode.

    Example:
        >>> import torch
        >>> from learned_aug import load_dataset
        >>> from learned_aug.evaluation import ClassifierRecipe, default_classifier
        >>> from learned_aug.evaluation import train_classifier
        >>> data = load_dataset("wine")
        >>> recipe = ClassifierRecipe(min_steps=20, max_steps=20)
        >>> result = train_classifier(default_classifier(data), data, recipe)
        >>> result.steps, result.batch_size, result.synthetic_per_step
        (20, 64, 0)
    """
    recipe = recipe or ClassifierRecipe()
    has_synthetic = synthetic is not None and len(synthetic) > 0
    images, synthetic_rows = _batch_plan(
        recipe.batch_size, share if has_synthetic else 0.0, views, augment
    )
    targets = _check_targets(synthetic_targets, synthetic, train)
    batches = _Batches(train, synthetic, targets, images, synthetic_rows, views, seed)
    torch.manual_seed(seed)  # dropout
    if train.is_image:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    total = recipe.steps(len(train))
    result = TrainResult(
        model,
        steps=total,
        batch_size=recipe.batch_size,
        real_per_step=images * views,
        images_per_step=images,
        synthetic_per_step=synthetic_rows,
    )
    model.train()
    for step in range(total):
        x, y, soft = batches.next()
        if augment is not None:
            with torch.no_grad():  # the augmentation makes data; it is not trained
                x, y = augment(x, y)
        for group in opt.param_groups:
            group["lr"] = recipe.lr_at(step, total)
        with _autocast(model, amp):
            logits = model(_to_model_layout(x)).float()
        loss = _loss(logits, y, soft, recipe.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        result.history.append(float(loss.detach()))
    # The final loss: the mean of the last tenth of the steps (one batch is noisy).
    tail = result.history[-max(1, total // 10) :]
    result.final_loss = sum(tail) / len(tail)
    model.eval()
    return result
