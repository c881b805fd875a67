"""The reconstruction likelihoods of the VAEs (Bernoulli, Gaussian, calibrated Gaussian), their
config checks, and the Gaussian KL term of the ELBO."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

LIKELIHOODS = ("bernoulli", "gaussian", "calibrated")
CALIBRATED_FLOOR = 1e-5
"""The smallest per-pixel variance of the calibrated likelihood (about (1/255)^2 / 6): an
image reconstructed to rounding error is not rewarded without end."""


def default_likelihood(channels: int) -> str:
    """``"bernoulli"`` for grey images (digits, near-binary strokes), ``"calibrated"`` for
    colour photographs, whose pixels are not probabilities of ink."""
    return "calibrated" if channels == 3 else "bernoulli"


def check_likelihood(likelihood: str) -> None:
    """A ``likelihood`` config field: one of ``LIKELIHOODS``, else a ValueError naming it."""
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) summed over the latent, one value per sample."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def reconstruction_nll(out: Tensor, x: Tensor, likelihood: str, start_dim: int = 1) -> Tensor:
    """Negative log-likelihood of ``x`` under the decoder output, summed over each sample's
    dimensions from ``start_dim`` on.

    ``out`` holds logits for ``"bernoulli"`` and means in [0, 1] for the Gaussians. The
    calibrated Gaussian takes each image's own mean squared error as its variance:
    ``D/2 log(mse)``, up to a constant (``D`` pixel values).

    Example:
        >>> x = torch.full((1, 1, 2, 2), 0.5)
        >>> reconstruction_nll(x + 0.1, x, "gaussian")
        tensor([0.0400])
        >>> reconstruction_nll(x + 0.1, x, "calibrated")  # 2 * log(0.01 + 1e-5)
        tensor([-9.2083])
    """
    if likelihood == "bernoulli":
        nll = F.binary_cross_entropy_with_logits(out, x, reduction="none")
    else:
        nll = F.mse_loss(out, x, reduction="none")
    nll = nll.flatten(start_dim)
    if likelihood == "calibrated":
        return 0.5 * nll.shape[-1] * torch.log(nll.mean(dim=-1) + CALIBRATED_FLOOR)
    return nll.sum(dim=-1)


def squash(out: Tensor, likelihood: str) -> Tensor:
    """Decoder output into data in [0, 1]: the sigmoid of logits (``"bernoulli"``), or the
    means clamped (``"gaussian"``)."""
    return torch.sigmoid(out) if likelihood == "bernoulli" else out.clamp(0, 1)
