"""The strategy kernels: how new examples are made from real ones, as pure functions.

This is the functional layer under the strategy objects of :mod:`learned_aug.strategies`
(``Noise(strength=0.2)`` calls :func:`noise`), as torchvision's ``functional`` sits under its
transform classes. Every kernel has one signature,
``fn(generator, images, labels, strength, rng, bank, **options) -> images``:

- ``generator``: a :class:`~learned_aug.models.Generator` (in eval mode; called under
  ``no_grad``);
- ``images``: a float batch ``(B, *generator.sample_shape)`` in ``[0, 1]``, or :class:`Latents`
  (codes taken from a :class:`~learned_aug.latent_bank.LatentBank`, as ``SyntheticDataset``
  passes them); :func:`encode_mean` turns either into codes;
- ``labels``: ``(B,)`` class indices or ``None``; they are handed to the generator only when it
  is class-conditional (:func:`labels_for`), and select same-class neighbours in the bank;
- ``strength``: ``(B,)`` strengths, one per example, already drawn
  (:func:`learned_aug.rng.draw_strength` from the strategy's ``strength``);
- ``rng``: a ``torch.Generator``, one per example (then example ``i`` depends on its own
  stream alone), or ``None`` for torch's global RNG;
- ``bank``: the strategy's ``LatentBank`` or ``None``;
- ``options``: the strategy's own settings (``k`` nearest codes, ``components``).

The literature they come from: reconstruction and prior sampling (Garay-Maestre et al. 2019;
van den Oord et al. 2017), and noise, interpolation and extrapolation in latent space toward a
same-class neighbour (Iser 2023): z' = mu_i + eps, eps ~ N(0, strength^2 I);
z' = mu_i +/- strength (mu_k - mu_i); the aggregate posterior, a draw from q(z | x_i) of a
training example (``"posterior"``), and a per-class Gaussian mixture fitted to the bank's codes
(``"gmm"``; Chadebec et al. 2022). Other generator kinds add theirs with
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
def labels_for(generator: Generator, labels: Tensor | None) -> Tensor | None:
    """The labels the generator is given: only a class-conditional generator reads them."""
    return labels if generator.conditional else None


def encode_mean(generator: Generator, images: Tensor | Latents, labels: Tensor | None) -> Tensor:
    """The codes of ``images``: the posterior mean for a Gaussian latent, else what encode gives."""
    if isinstance(images, Latents):
        return images.z
    return generator.encode_mean(images, labels_for(generator, labels))


def _continuous(z: Tensor, strategy: str) -> Tensor:
    if not z.is_floating_point():
        raise TypeError(
            f"strategy {strategy!r} moves codes in a continuous latent space, but this "
            f"generator encodes to {z.dtype} codes; use 'reconstruct' or a strategy registered "
            "for this generator kind"
        )
    return z


def _per_example(strength: Tensor, like: Tensor) -> Tensor:
    """Broadcast one strength per example over the rest of ``like``'s dimensions."""
    return strength.to(like.device, like.dtype).view(-1, *([1] * (like.dim() - 1)))


# ------------------------------------------------------------------------ latent moves
def add_noise(z: Tensor, strength: Tensor, eps: Tensor) -> Tensor:
    """z + strength * eps: with eps ~ N(0, I), a draw from N(z, strength^2 I)."""
    return z.addcmul(_per_example(strength, z), eps)


def move_toward(z: Tensor, target: Tensor, strength: Tensor) -> Tensor:
    """z + strength (target - z): interpolation for strength in [0, 1], extrapolation below 0."""
    return z + _per_example(strength, z) * (target - z)


# ------------------------------------------------------------------------ strategies
def reconstruct(generator, images, labels, strength, rng, bank) -> Tensor:
    """Encode then decode (the posterior mean): the generator's version of each example."""
    return generator.decode(encode_mean(generator, images, labels), labels_for(generator, labels))


def noise(generator, images, labels, strength, rng, bank) -> Tensor:
    """Decode z + eps with eps ~ N(0, strength^2 I) around each example's code."""
    z = _continuous(encode_mean(generator, images, labels), "noise")
    eps = generator.randn(len(z), tuple(z.shape[1:]), rng).to(z.dtype)
    return generator.decode(add_noise(z, strength, eps), labels_for(generator, labels))


def _toward_neighbour(
    generator, images, labels, strength, rng, bank, k: int, sign: float
) -> Tensor:
    if bank is None:
        raise ValueError(
            "interpolation and extrapolation need a latent bank of the training codes: build "
            "one with learned_aug.build_latent_bank(generator, data)"
        )
    z = _continuous(encode_mean(generator, images, labels), "interpolate")
    target = bank.neighbours(z, labels, k=k, rng=rng).to(z.device, z.dtype)
    return generator.decode(move_toward(z, target, sign * strength), labels_for(generator, labels))


def interpolate(generator, images, labels, strength, rng, bank, *, k: int = 5) -> Tensor:
    """z' = mu_i + strength (mu_k - mu_i), mu_k one of the k nearest same-class bank codes."""
    return _toward_neighbour(generator, images, labels, strength, rng, bank, k, 1.0)


def extrapolate(generator, images, labels, strength, rng, bank, *, k: int = 5) -> Tensor:
    """z' = mu_i - strength (mu_k - mu_i): away from one of the k nearest same-class codes."""
    return _toward_neighbour(generator, images, labels, strength, rng, bank, k, -1.0)


def prior(generator, images, labels, strength, rng, bank) -> Tensor:
    """A fresh sample of the same class for each example (``generator.sample``)."""
    if labels is not None and not generator.conditional:
        raise ValueError(
            "strategy 'prior' draws fresh samples, but this generator is unconditional: they "
            "would not keep the example's label. Use a class-conditional or per-class generator, "
            "or a strategy that starts from the example ('noise', 'interpolate', ...)"
        )
    return generator.sample(len(images), labels=labels, rng=rng)


def vq_resample(generator, images, labels, strength, rng, bank, *, k: int = 4) -> Tensor:
    """VQ-VAE reconstruction with variation: each code drawn among its ``k`` nearest codes
    at temperature strength (0 is the plain reconstruction; see ``VQVAE.resample``)."""
    if not callable(getattr(generator, "resample", None)):
        raise ValueError(
            f"strategy 'vq-resample' needs a VQ-VAE (model 'vqvae'), got {type(generator).__name__}"
        )
    source = images.z.round().long() if isinstance(images, Latents) else images
    return generator.resample(source, strength, k=k, rng=rng)


def posterior(generator, images, labels, strength, rng, bank) -> Tensor:
    """A draw from each example's posterior q(z | x), widened by strength: mu + strength sigma eps.

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
        q = generator.encode(images, labels_for(generator, labels))
        if not isinstance(q, Distribution):
            raise TypeError(
                f"strategy 'posterior' needs a Gaussian posterior; {type(generator).__name__} "
                "encodes to codes: use 'vq-resample'"
            )
        mu, sigma = q.mean, q.stddev
    mu = _continuous(mu, "posterior")
    sigma = sigma.to(mu.device, mu.dtype)
    eps = generator.randn(len(mu), tuple(mu.shape[1:]), rng).to(mu.dtype)
    return generator.decode(add_noise(mu, strength, sigma * eps), labels_for(generator, labels))


def gmm(generator, images, labels, strength, rng, bank, *, components: int = 10) -> Tensor:
    """A fresh latent from a diagonal Gaussian mixture fitted to the class's bank codes
    (Chadebec et al. 2022), its spread scaled by strength; then decoded for that class."""
    if bank is None:
        raise ValueError(
            "strategy 'gmm' fits mixtures to a latent bank of the training codes: build one "
            "with learned_aug.build_latent_bank(generator, data)"
        )
    n = len(images)
    u, z = uniform(n, rng), None
    eps = generator.randn(n, tuple(bank.codes.shape[1:]), rng).flatten(1).cpu()
    classes = labels.cpu() if labels is not None and bank.labelled else torch.full((n,), -1)
    for k in classes.unique().tolist():
        rows = (classes == k).nonzero().squeeze(1)
        weights, means, stds = bank.mixture(int(k), components)
        pick = torch.searchsorted(weights.cumsum(0), u[rows] * float(weights.sum()))
        pick = pick.clamp(max=len(weights) - 1)
        draw = add_noise(means[pick], strength[rows], stds[pick] * eps[rows])
        z = draw.new_empty(n, draw.shape[1]) if z is None else z
        z[rows] = draw
    z = (z if z is not None else eps).view(n, *bank.codes.shape[1:]).to(generator.device)
    return generator.decode(z, labels_for(generator, labels))
