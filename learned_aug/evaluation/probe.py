"""Linear probe: how much class information a frozen encoder's features hold.

Rajagopalan (2021) judges a denoising VAE by its encoder: the encoder is frozen, each image is
mapped to its features, and a linear classifier (here scikit-learn's logistic regression on
standardised features) is trained on the features of a training set and scored on a held-out
set. Better features separate the classes with a line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import Distribution

from learned_aug.data import LabelledData, load_dataset
from learned_aug.evaluation.metrics import scores
from learned_aug.models import Generator


@dataclass
class ProbeResult:
    """Scores of a linear probe on held-out data (each in [0, 1]).

    Example:
        >>> ProbeResult(0.9, 0.89, 0.9, 100, 50, 8).accuracy
        0.9
    """

    accuracy: float
    macro_f1: float
    weighted_f1: float
    n_train: int
    n_test: int
    feature_dim: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _as_features(latent: Any, generator: Generator) -> Tensor:
    if isinstance(latent, Distribution):  # a Gaussian posterior: its mean
        return latent.mean.flatten(1).float()
    if latent.is_floating_point():
        return latent.flatten(1).float()
    # Discrete codes (a VQ-VAE's grid): one-hot per position, so a line can weigh each code.
    k = getattr(generator.config, "codebook_size", int(latent.max()) + 1)
    return F.one_hot(latent.flatten(1), k).flatten(1).float()


@torch.no_grad()
def encoder_features(generator: Generator, x: Tensor, *, batch_size: int = 256) -> Tensor:
    """The frozen encoder's features of ``x``: the posterior mean, or one-hot codes.

    Raises:
        ValueError: for an encoder that reads the label (a class-conditional or per-class
            generator), whose features would leak the answer to the probe.
    """
    if generator.conditional:
        raise ValueError(
            f"a linear probe needs an encoder that does not see the label, but this "
            f"{type(generator).__name__} is class-conditional; train an unconditional one"
        )
    was_training = generator.training
    generator.eval()
    try:
        parts = [
            _as_features(generator.encode(xb.to(generator.device)), generator).cpu()
            for xb in x.split(batch_size)
        ]
    finally:
        generator.train(was_training)
    return torch.cat(parts)


def linear_probe(
    generator: Generator,
    train: Any,
    test: Any,
    *,
    C: float = 1.0,
    max_iter: int = 2000,
    batch_size: int = 256,
    seed: int = 0,
) -> ProbeResult:
    """Fit a logistic regression on the frozen encoder's features of ``train``; score ``test``.

    Args:
        generator: a trained, unconditional generator (its encoder is used, never trained).
        train: labelled data for the probe (anything ``load_dataset`` takes).
        test: held-out labelled data with the same classes.
        C: inverse L2 regularisation strength of the logistic regression.
        max_iter: iterations of the solver.
        batch_size: images encoded at once.
        seed: seed of the solver.

    Returns:
        Accuracy, macro F1 and weighted F1 on ``test``.

    Example:
        >>> from learned_aug import VAE, VAEConfig, load_dataset
        >>> from learned_aug.evaluation.probe import linear_probe
        >>> data = load_dataset("digits")
        >>> vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=4, hidden_channels=(8,)))
        >>> result = linear_probe(vae, data.subset(range(300)), data.subset(range(300, 500)))
        >>> 0.0 <= result.accuracy <= 1.0
        True
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, test = load_dataset(train), load_dataset(test)
    _check_split(train, test)
    f_train = encoder_features(generator, train.x, batch_size=batch_size).numpy()
    f_test = encoder_features(generator, test.x, batch_size=batch_size).numpy()
    probe = make_pipeline(
        StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    )
    probe.fit(f_train, train.y.numpy())
    predicted = torch.as_tensor(probe.predict(f_test))
    s = scores(test.y, predicted)
    return ProbeResult(
        s["accuracy"], s["macro_f1"], s["weighted_f1"], len(train), len(test), f_train.shape[1]
    )


def _check_split(train: LabelledData, test: LabelledData) -> None:
    if train.classes != test.classes:
        raise ValueError(
            f"train and test must have the same classes, got {train.classes} and {test.classes}"
        )
    if len(set(train.y.tolist())) < 2:
        raise ValueError("train needs examples of at least two classes for a probe")
    if len(test) == 0:
        raise ValueError("test is empty: there is nothing to score the probe on")
