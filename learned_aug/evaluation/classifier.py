"""The classifiers of the few-shot protocol and their plain training loop.

``PaperCNN`` is the network of Garay-Maestre, Gallego and Calvo-Zaragoza (2019):
Conv64-Conv128-MaxPool-Drop0.5-Conv128-Conv128-MaxPool-Drop0.5-FC128-Drop0.5-FC, sized from the
input shape. ``TabularMLP`` is a small MLP for feature vectors. ``train_classifier`` trains
either (or any ``nn.Module`` mapping a batch to logits) with Adam and early stopping on a
validation split, mixing real and synthetic examples in every batch.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from learned_aug.data import LabelledData
from learned_aug.synthetic.mix import MixSampler

# An augmentation of the batch, called as torchvision's transforms are on a sample: a v2
# transform (learned_aug.conventional's, LearnedAugment, v2.Compose of them, MixUp), or any
# callable (images, labels) -> (images, labels).
Augment = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def _conv_side(side: int, padding: int) -> int:
    """Side after two 3x3 convs and a 2x2 max-pool."""
    return (side - 4 + 4 * padding) // 2


class PaperCNN(nn.Module):
    """The CNN of Garay-Maestre et al. (2019), sized from the input shape.

    Inputs of side >= 20 use unpadded convs, as the original Keras model; smaller inputs (8x8
    digits) use padded ones so the feature map does not vanish. Large inputs are pooled to at
    most 8x8 before the dense layer.

    Args:
        sample_shape: ``(C, H, W)`` of one image.
        num_classes: number of classes.
        dropout: dropout probability after each block and the dense layer.
        width: multiplies the conv channels (64, 128); 1.0 is the paper's network, smaller
            widths train proportionally faster on a CPU.

    Example:
        >>> import torch
        >>> from learned_aug.evaluation import PaperCNN
        >>> PaperCNN((1, 28, 28), 10)(torch.rand(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        sample_shape: tuple[int, ...],
        num_classes: int,
        dropout: float = 0.5,
        width: float = 1.0,
    ):
        super().__init__()
        if len(sample_shape) != 3:
            raise ValueError(f"sample_shape must be (C, H, W), got {tuple(sample_shape)}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        if not width > 0:
            raise ValueError(f"width must be > 0, got {width!r}")
        c, h, w = sample_shape
        c1, c2 = max(1, round(64 * width)), max(1, round(128 * width))
        pad = 0 if min(h, w) >= 20 else 1
        h, w = _conv_side(_conv_side(h, pad), pad), _conv_side(_conv_side(w, pad), pad)
        if min(h, w) < 1:
            raise ValueError(f"images of shape {tuple(sample_shape)} are too small for PaperCNN")
        pool = nn.AdaptiveMaxPool2d(8) if max(h, w) > 8 else nn.Identity()
        h, w = (min(h, 8), min(w, 8)) if max(h, w) > 8 else (h, w)
        self.features = nn.Sequential(
            nn.Conv2d(c, c1, 3, padding=pad),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=pad),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Dropout(dropout),
            nn.Conv2d(c2, c2, 3, padding=pad),
            nn.ReLU(),
            nn.Conv2d(c2, c2, 3, padding=pad),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Dropout(dropout),
            pool,
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c2 * h * w, 128),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class TabularMLP(nn.Module):
    """A small MLP for feature vectors, standardising its inputs with training statistics.

    Args:
        features: number of input features.
        num_classes: number of classes.
        hidden: width of the two hidden layers.
        mean: per-feature mean of the training data (default 0).
        std: per-feature standard deviation of the training data (default 1).

    Example:
        >>> import torch
        >>> from learned_aug.evaluation import TabularMLP
        >>> TabularMLP(30, 2)(torch.rand(4, 30)).shape
        torch.Size([4, 2])
    """

    def __init__(
        self,
        features: int,
        num_classes: int,
        hidden: int = 64,
        mean: Tensor | None = None,
        std: Tensor | None = None,
    ):
        super().__init__()
        self.register_buffer("mean", torch.zeros(features) if mean is None else mean.clone())
        self.register_buffer("std", torch.ones(features) if std is None else std.clamp_min(1e-6))
        self.net = nn.Sequential(
            nn.Linear(features, hidden),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net((x - self.mean) / self.std)


def default_classifier(data: LabelledData, width: float = 1.0) -> nn.Module:
    """``PaperCNN`` (of ``width``) for images, ``TabularMLP`` standardised on ``data`` for rows."""
    k = len(data.classes)
    if data.is_image:
        return PaperCNN(data.sample_shape, k, width=width)
    if data.x.dim() != 2:
        raise ValueError(
            f"data must be images (N, C, H, W) or rows (N, F), got {data.sample_shape}"
        )
    return TabularMLP(data.x.shape[1], k, mean=data.x.mean(0), std=data.x.std(0, unbiased=False))


@dataclass
class TrainResult:
    """What ``train_classifier`` returns: the model with its best weights and the history.

    Example:
        >>> from learned_aug.evaluation import TrainResult
        >>> TrainResult(model=None, best_epoch=3).best_epoch
        3
    """

    model: Any
    best_epoch: int = 0
    best_val_loss: float = math.inf
    steps: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


def _to_model_layout(x: Tensor) -> Tensor:
    # channels_last convs run several times faster on CPU (oneDNN) than NCHW ones.
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def _autocast(model: nn.Module, bf16: bool):
    device = next(model.parameters()).device.type
    return torch.autocast(device, dtype=torch.bfloat16, enabled=bf16)


@torch.no_grad()
def predict_logits(
    model: nn.Module, x: Tensor, batch_size: int = 500, *, bf16: bool = False
) -> Tensor:
    """Logits of ``model`` (in eval mode) for every row of ``x``, as float32."""
    model.eval()
    device = next(model.parameters()).device
    with _autocast(model, bf16):
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


def _check_train_args(batch_size, max_epochs, patience, synthetic_weight):
    for name, value in (("batch_size", batch_size), ("max_epochs", max_epochs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be a positive int or None, got {patience!r}")
    if not synthetic_weight >= 0:
        raise ValueError(f"synthetic_weight must be >= 0, got {synthetic_weight!r}")


@dataclass
class _Run:
    """What a training step needs besides the model: data sources and the optimizer."""

    train: LabelledData
    batches: MixSampler
    opt: torch.optim.Optimizer
    augment: Augment | None
    synthetic: LabelledData | None
    synthetic_weight: float
    bf16: bool
    synthetic_targets: Tensor | None = None
    augment_synthetic: bool = True


def _step(model: nn.Module, run: _Run) -> Tensor:
    """One optimizer step on a batch of real (and synthetic) examples; its loss."""
    idx = torch.tensor(run.batches.next_batch())
    k, n_real = run.batches.real_per_batch, len(run.train)
    x, y = run.train.x[idx[:k]], run.train.y[idx[:k]]
    syn = idx[k:] - n_real
    if run.synthetic is not None and len(syn):
        x, y = torch.cat([x, run.synthetic.x[syn]]), torch.cat([y, run.synthetic.y[syn]])
    if run.augment is not None:
        with torch.no_grad():  # the augmentation makes data; it is not trained
            if run.augment_synthetic or len(x) == k:
                x, y = run.augment(x, y)
            else:  # the real rows only, as a transform given to the real dataset alone
                xr, yr = run.augment(x[:k], y[:k])
                x, y = torch.cat([xr, x[k:]]), torch.cat([yr, y[k:]])
    with _autocast(model, run.bf16):
        logits = model(_to_model_layout(x)).float()
    if run.synthetic_targets is not None and len(syn):
        # A teacher's soft targets for the synthetic rows (cross_entropy takes probabilities).
        loss_each = torch.cat(
            [
                F.cross_entropy(logits[:k], y[:k], reduction="none"),
                F.cross_entropy(logits[k:], run.synthetic_targets[syn], reduction="none"),
            ]
        )
    else:
        loss_each = F.cross_entropy(logits, y, reduction="none")
    # The mean over the batch, as a DataLoader of MixSampler batches trains; synthetic_weight
    # scales the synthetic rows' terms.
    loss = (loss_each[:k].sum() + run.synthetic_weight * loss_each[k:].sum()) / len(x)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    run.opt.step()
    return loss.detach()


class _EarlyStopping:
    """Keeps the weights of the best validation loss and counts epochs without one."""

    def __init__(self, model: nn.Module, patience: int | None, validated: bool):
        self.patience, self.validated, self.bad = patience, validated, 0
        self.best_state = copy.deepcopy(model.state_dict())

    def update(self, model: nn.Module, result: TrainResult, epoch: int, val_loss: float) -> bool:
        """Record ``epoch``; whether training should stop for lack of progress."""
        if not self.validated or val_loss < result.best_val_loss:
            result.best_val_loss, result.best_epoch, self.bad = val_loss, epoch, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.bad += 1
        return self.validated and self.patience is not None and self.bad >= self.patience


def train_classifier(
    model: nn.Module,
    train: LabelledData,
    val: LabelledData | None,
    *,
    augment: Augment | None = None,
    synthetic: LabelledData | None = None,
    synthetic_weight: float = 1.0,
    synthetic_share: float = 0.5,
    synthetic_targets: Tensor | None = None,
    augment_synthetic: bool = True,
    batch_size: int = 32,
    lr: float = 1e-3,
    max_epochs: int = 200,
    max_steps: int | None = None,
    min_steps_per_epoch: int = 1,
    patience: int | None = 10,
    seed: int = 0,
    bf16: bool = False,
) -> TrainResult:
    """Train ``model`` with Adam, keeping the weights of its best validation loss.

    Every step takes ``batch_size`` real examples and, with ``synthetic``, as many synthetic
    ones as make them ``synthetic_share`` of the batch: the batches of
    ``learned_aug.MixSampler`` over ``ConcatDataset([train, synthetic])``, the documented way to
    mix, so a user's ``DataLoader`` with that sampler trains on what this measures. The loss is
    the mean over the batch (``synthetic_weight`` scales the synthetic rows' terms). Both parts
    are drawn without replacement, in shuffled passes, so each real example is seen once per
    pass. ``augment`` is applied to real and synthetic rows alike (unless
    ``augment_synthetic=False``).

    Args:
        model: maps a batch to logits.
        train: real training examples.
        val: validation examples for early stopping; None trains ``max_epochs`` and keeps the
            last weights.
        augment: a transform of every batch, real and synthetic rows together, called as
            ``x, y = augment(x, y)`` like a torchvision v2 transform on an ``(images, labels)``
            sample: ``learned_aug.conventional``'s (which draw per image), ``LearnedAugment``
            (which reads the labels), ``v2.Compose`` of them, ``v2.MixUp``. It draws from its
            own random source, not ``seed``'s.
        synthetic: a ``LabelledData`` pool of synthetic examples.
        synthetic_weight: weight of each synthetic row in the loss (1: the plain batch mean).
        synthetic_share: the synthetic fraction of each batch, in [0, 1).
        synthetic_targets: soft targets ``(len(synthetic), K)`` of the synthetic rows (a
            ``Teacher``'s): their loss is the cross-entropy to these probabilities instead of
            to ``synthetic.y`` (which the augmentation still sees).
        augment_synthetic: apply ``augment`` to the synthetic rows too (False: the real rows
            only, as a transform given to the real dataset alone).
        batch_size: real examples per step.
        lr: Adam learning rate.
        max_epochs: the most epochs. An epoch is ``ceil(len(train) / batch_size)`` steps (one
            pass over ``train``, rounded up to whole batches) or ``min_steps_per_epoch`` steps
            (several passes), whichever is more; the validation loss is taken after each.
        max_steps: a compute cap: training stops at the end of the epoch in which it reaches
            this many optimizer steps; None for no cap.
        min_steps_per_epoch: steps between validations for tiny training sets.
        patience: epochs without a better validation loss before stopping; None never stops.
        seed: seeds shuffling and synthetic draws (one ``torch.Generator``) and dropout
            (torch's global generator).
        bf16: bfloat16 autocast: faster only on hardware with bf16 units (CUDA of compute
            capability 8.0+, CPUs with AVX512-BF16 or AMX) and several times slower on others;
            ``learned_aug.speed.choose_autocast`` tells which.

    Returns:
        A ``TrainResult`` whose ``model`` holds the best weights, in eval mode.
    """
    _check_train_args(batch_size, max_epochs, patience, synthetic_weight)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout
    if train.is_image:
        model.to(memory_format=torch.channels_last)
    share = synthetic_share if synthetic is not None and len(synthetic) else 0.0
    sizes = (len(train), len(synthetic) if synthetic is not None else 0)
    run = _Run(
        train=train,
        batches=MixSampler(sizes, round(batch_size / (1 - share)), share, seed=gen),
        opt=torch.optim.Adam(model.parameters(), lr=lr),
        augment=augment,
        synthetic=synthetic,
        synthetic_weight=synthetic_weight,
        bf16=bf16,
        synthetic_targets=_check_targets(synthetic_targets, synthetic, train),
        augment_synthetic=augment_synthetic,
    )
    steps_per_epoch = max(math.ceil(len(train) / batch_size), min_steps_per_epoch)
    val = val if val is not None and len(val) else None
    result, stopping = TrainResult(model), _EarlyStopping(model, patience, val is not None)
    for epoch in range(1, max_epochs + 1):
        model.train()
        for _ in range(steps_per_epoch):
            loss = _step(model, run)
        result.steps += steps_per_epoch
        val_loss = _val_loss(model, val, bf16)
        result.history.append({"epoch": epoch, "loss": float(loss), "val_loss": val_loss})
        stop = stopping.update(model, result, epoch, val_loss)
        if stop or (max_steps is not None and result.steps >= max_steps):
            break
    model.load_state_dict(stopping.best_state)
    model.eval()
    return result


def _val_loss(model: nn.Module, val: LabelledData | None, bf16: bool) -> float:
    if val is None:
        return math.nan
    logits = predict_logits(model, val.x, bf16=bf16)
    return float(F.cross_entropy(logits, val.y))
