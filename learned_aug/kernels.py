"""The strategy kernels: how new examples are made from real ones, as pure functions.

This is the functional layer under the strategy objects of :mod:`learned_aug.strategies`
(``Noise(strength=0.2)`` calls :func:`noise`), as torchvision's ``functional`` sits under its
transform classes. Every kernel has one signature, ``fn(model, images, labels, alpha, rng, bank,
**options) -> images``:

- ``model``: a :class:`~learned_aug.models.Generator` (in eval mode; called under ``no_grad``);
- ``images``: a float batch ``(B, *model.sample_shape)`` in ``[0, 1]``, or :class:`Latents` (codes
  taken from a :class:`~learned_aug.latent_bank.LatentBank`, as ``SyntheticDataset`` passes them);
  :func:`encode_mean` turns either into codes;
- ``labels``: ``(B,)`` class indices or ``None``; they are handed to the model only when it is
  class-conditional (:func:`model_labels`), and select same-class neighbours in the bank;
- ``alpha``: ``(B,)`` strengths, one per example, already drawn
  (:func:`learned_aug.rng.draw_alpha` from the strategy's ``strength``);
- ``rng``: a ``torch.Generator``, one per example (then example ``i`` depends on its own
  generator alone), or ``None`` for torch's global RNG;
- ``bank``: the strategy's ``LatentBank`` or ``None``;
- ``options``: the strategy's own settings (``k`` neighbours, ``top_k`` codes, ``components``).

The literature they come from: reconstruction and prior sampling (Garay-Maestre et al. 2019;
van den Oord et al. 2017), and noise, interpolation and extrapolation in latent space toward a
same-class neighbour (Iser 2023): z' = mu_i + eps, eps ~ N(0, alpha^2 I); z' = mu_i +/- alpha
(mu_k - mu_i); the aggregate posterior, a draw from q(z | x_i) of a training example
(``"posterior"``), and a per-class Gaussian mixture fitted to the bank's codes (``"gmm"``; Chadebec
et al. 2022). Other generator kinds add theirs with
:func:`learned_aug.strategies.register_strategy`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Distribution

from learned_aug.models import Generator
from learned_aug.rng import uniform


@dataclass(frozen=True)
class Latents:
    """Latent codes standing in for a batch of images (rows of a latent bank).

    Args:
        z: the codes (posterior means for a Gaussian latent).
        sigma: the posterior standard deviations, shaped like ``z``, where the bank has them.

    Example:
        >>> Latents(torch.zeros(4, 3)).z.shape
        torch.Size([4, 3])
    """

    z: Tensor
    sigma: Tensor | None = None

    def __len__(self) -> int:
        return len(self.z)


# ------------------------------------------------------------------------ helpers
def model_labels(model: Generator, labels: Tensor | None) -> Tensor | None:
    """The labels the model is given: only a class-conditional model reads them."""
    return labels if model.conditional else None


def encode_mean(model: Generator, images: Tensor | Latents, labels: Tensor | None) -> Tensor:
    """The codes of ``images``: the posterior mean for a Gaussian latent, else what encode gives."""
    if isinstance(images, Latents):
        return images.z
    return model.encode_mean(images, model_labels(model, labels))


def _continuous(z: Tensor, strategy: str) -> Tensor:
    if not z.is_floating_point():
        raise TypeError(
            f"strategy {strategy!r} moves codes in a continuous latent space, but this "
            f"generator encodes to {z.dtype} codes; use 'reconstruct' or a strategy registered "
            "for this generator kind"
        )
    return z


def _per_example(alpha: Tensor, like: Tensor) -> Tensor:
    """Broadcast one strength per example over the rest of ``like``'s dimensions."""
    return alpha.to(like.device, like.dtype).view(-1, *([1] * (like.dim() - 1)))


# ------------------------------------------------------------------------ latent moves
def add_noise(z: Tensor, alpha: Tensor, eps: Tensor) -> Tensor:
    """z + alpha * eps: with eps ~ N(0, I), a draw from N(z, alpha^2 I)."""
    return z.addcmul(_per_example(alpha, z), eps)


def move_toward(z: Tensor, target: Tensor, alpha: Tensor) -> Tensor:
    """z + alpha (target - z): interpolation for alpha in [0, 1], extrapolation for alpha < 0."""
    return z + _per_example(alpha, z) * (target - z)


# ------------------------------------------------------------------------ strategies
def reconstruct(model, images, labels, alpha, rng, bank) -> Tensor:
    """Encode then decode (the posterior mean): the generator's version of each example."""
    return model.decode(encode_mean(model, images, labels), model_labels(model, labels))


def noise(model, images, labels, alpha, rng, bank) -> Tensor:
    """Decode z + eps with eps ~ N(0, alpha^2 I) around each example's code."""
    z = _continuous(encode_mean(model, images, labels), "noise")
    eps = model.randn(len(z), tuple(z.shape[1:]), rng).to(z.dtype)
    return model.decode(add_noise(z, alpha, eps), model_labels(model, labels))


def _toward_neighbour(model, images, labels, alpha, rng, bank, k: int, sign: float) -> Tensor:
    if bank is None:
        raise ValueError(
            "interpolation and extrapolation need a latent bank of the training codes: build "
            "one with learned_aug.build_latent_bank(generator, data)"
        )
    z = _continuous(encode_mean(model, images, labels), "interpolate")
    target = bank.neighbours(z, labels, k=k, rng=rng).to(z.device, z.dtype)
    return model.decode(move_toward(z, target, sign * alpha), model_labels(model, labels))


def interpolate(model, images, labels, alpha, rng, bank, *, k: int = 5) -> Tensor:
    """z' = mu_i + alpha (mu_k - mu_i), mu_k one of the k nearest same-class codes in the bank."""
    return _toward_neighbour(model, images, labels, alpha, rng, bank, k, 1.0)


def extrapolate(model, images, labels, alpha, rng, bank, *, k: int = 5) -> Tensor:
    """z' = mu_i - alpha (mu_k - mu_i): away from one of the k nearest same-class codes."""
    return _toward_neighbour(model, images, labels, alpha, rng, bank, k, -1.0)


def prior(model, images, labels, alpha, rng, bank) -> Tensor:
    """A fresh sample of the same class for each example (``model.sample``)."""
    if labels is not None and not model.conditional:
        raise ValueError(
            "strategy 'prior' draws fresh samples, but this generator is unconditional: they "
            "would not keep the example's label. Use a class-conditional or per-class generator, "
            "or a strategy that starts from the example ('noise', 'interpolate', ...)"
        )
    return model.sample(len(images), labels=labels, rng=rng)


def vq_resample(model, images, labels, alpha, rng, bank, *, top_k: int = 4) -> Tensor:
    """VQ-VAE reconstruction with variation: each code drawn among its ``top_k`` nearest codes
    at temperature alpha (0 is the plain reconstruction; see ``VQVAE.resample``)."""
    if not callable(getattr(model, "resample", None)):
        raise ValueError(
            f"strategy 'vq-resample' needs a VQ-VAE (model 'vqvae'), got {type(model).__name__}"
        )
    source = images.z.round().long() if isinstance(images, Latents) else images
    return model.resample(source, alpha, top_k=top_k, rng=rng)


def posterior(model, images, labels, alpha, rng, bank) -> Tensor:
    """A draw from each example's posterior q(z | x), widened by alpha: mu + alpha sigma eps.

    Started from bank rows (``SyntheticDataset``: a random training example of the class, so
    the samples follow the aggregate posterior, where the decoder was trained) or from images
    (``LearnedAugment``: a variant near each image).
    """
    if isinstance(images, Latents):
        if images.sigma is None:
            raise ValueError(
                "strategy 'posterior' needs the posterior standard deviations, and this latent "
                "bank has none (it predates them, or the latent is not Gaussian): rebuild it with "
                "learned_aug.build_latent_bank(generator, data)"
            )
        mu, sigma = images.z, images.sigma
    else:
        q = model.encode(images, model_labels(model, labels))
        if not isinstance(q, Distribution):
            raise TypeError(
                f"strategy 'posterior' needs a Gaussian posterior; {type(model).__name__} "
                "encodes to codes: use 'vq-resample'"
            )
        mu, sigma = q.mean, q.stddev
    mu = _continuous(mu, "posterior")
    sigma = sigma.to(mu.device, mu.dtype)
    eps = model.randn(len(mu), tuple(mu.shape[1:]), rng).to(mu.dtype)
    return model.decode(add_noise(mu, alpha, sigma * eps), model_labels(model, labels))


def gmm(model, images, labels, alpha, rng, bank, *, components: int = 10) -> Tensor:
    """A fresh latent from a diagonal Gaussian mixture fitted to the class's bank codes
    (Chadebec et al. 2022), its spread scaled by alpha; then decoded for that class."""
    if bank is None:
        raise ValueError(
            "strategy 'gmm' fits mixtures to a latent bank of the training codes: build one "
            "with learned_aug.build_latent_bank(generator, data)"
        )
    n = len(images)
    u, z = uniform(n, rng), None
    eps = model.randn(n, tuple(bank.codes.shape[1:]), rng).flatten(1).cpu()
    classes = labels.cpu() if labels is not None and bank.labelled else torch.full((n,), -1)
    for k in classes.unique().tolist():
        rows = (classes == k).nonzero().squeeze(1)
        weights, means, stds = bank.mixture(int(k), components)
        pick = torch.searchsorted(weights.cumsum(0), u[rows] * float(weights.sum()))
        pick = pick.clamp(max=len(weights) - 1)
        draw = add_noise(means[pick], alpha[rows], stds[pick] * eps[rows])
        z = draw.new_empty(n, draw.shape[1]) if z is None else z
        z[rows] = draw
    z = (z if z is not None else eps).view(n, *bank.codes.shape[1:]).to(model.device)
    return model.decode(z, model_labels(model, labels))
