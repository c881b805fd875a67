"""The classifiers the protocol trains: a small CNN for images, an MLP for feature vectors.

``ConvNet`` is the protocol's image classifier: three conv blocks with batch normalisation, a
2x2 average pool and a linear head, fast on a CPU. ``PaperCNN`` is the network of
Garay-Maestre, Gallego and Calvo-Zaragoza (2019):
Conv64-Conv128-MaxPool-Drop0.5-Conv128-Conv128-MaxPool-Drop0.5-FC128-Drop0.5-FC, sized from the
input shape. ``TabularMLP`` is a small MLP for feature vectors.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from learned_aug.data import LabelledData


def _conv_side(side: int, padding: int) -> int:
    """Side after two 3x3 convs and a 2x2 max-pool."""
    return (side - 4 + 4 * padding) // 2


def _check_images(sample_shape: tuple[int, ...], num_classes: int) -> None:
    """An image classifier's arguments: a ``(C, H, W)`` shape and at least two classes."""
    if len(sample_shape) != 3:
        raise ValueError(f"sample_shape must be (C, H, W), got {tuple(sample_shape)}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")


class ConvNet(nn.Module):
    """The protocol's image classifier: three conv blocks and a linear head.

    Each block is a 3x3 conv, batch normalisation, ReLU and a 2x2 max-pool (the last one an
    average pool to 2x2 instead, which keeps where in the image a feature was, where a global
    pool loses it; benchmarks/experiments/tune_classifier.py --architectures compares the two),
    with ``width``, twice and four times ``width`` channels; the head is dropout and a linear
    layer.
    Any image size from 8x8 up works.

    Args:
        sample_shape: ``(C, H, W)`` of the images.
        num_classes: number of classes.
        width: channels of the first block.
        dropout: dropout before the head.

    Example:
        >>> import torch
        >>> from learned_aug.evaluation import ConvNet
        >>> ConvNet((3, 32, 32), 10)(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self, sample_shape: tuple[int, ...], num_classes: int, width: int = 16, dropout: float = 0.2
    ):
        super().__init__()
        _check_images(sample_shape, num_classes)
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive int, got {width!r}")
        c, w = sample_shape[0], width

        def block(cin: int, cout: int, pool: nn.Module) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), pool]

        self.features = nn.Sequential(
            *block(c, w, nn.MaxPool2d(2)),
            *block(w, 2 * w, nn.MaxPool2d(2)),
            *block(2 * w, 4 * w, nn.AdaptiveAvgPool2d(2)),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * w * 4, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


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
        _check_images(sample_shape, num_classes)
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

    While training, Gaussian noise of ``noise`` standard deviations is added to each
    standardised feature: on 5-20 rows a class the regulariser a logistic regression's L2
    penalty gives (for a linear model the two are equivalent, Bishop 1995), which the recipe's
    decoupled weight decay does not. 0.3 was chosen for the baselines on tuning seeds of the two
    tables among 18 candidates (benchmarks/experiments/tune_classifier.py --tables).

    Args:
        features: number of input features.
        num_classes: number of classes.
        hidden: width of the two hidden layers.
        mean: per-feature mean of the training data (default 0).
        std: per-feature standard deviation of the training data (default 1).
        noise: standard deviation of the training noise on the standardised features.

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
        noise: float = 0.3,
    ):
        super().__init__()
        if not noise >= 0:
            raise ValueError(f"noise must be >= 0, got {noise!r}")
        self.noise = float(noise)
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
        x = (x - self.mean) / self.std
        if self.training and self.noise > 0:
            x = x + self.noise * torch.randn_like(x)
        return self.net(x)


def default_classifier(data: LabelledData) -> nn.Module:
    """``ConvNet`` for images, ``TabularMLP`` standardised on ``data`` for feature vectors.

    Example:
        >>> from learned_aug import load_dataset
        >>> from learned_aug.evaluation import default_classifier
        >>> type(default_classifier(load_dataset("digits"))).__name__
        'ConvNet'
    """
    k = len(data.classes)
    if data.is_image:
        return ConvNet(data.sample_shape, k)
    if data.x.dim() != 2:
        raise ValueError(
            f"data must be images (N, C, H, W) or rows (N, F), got {data.sample_shape}"
        )
    return TabularMLP(data.x.shape[1], k, mean=data.x.mean(0), std=data.x.std(0, unbiased=False))
