"""Convolutional VAE and beta-VAE for images of any size and channel count."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Normal

from learned_aug.models.base import UNLABELLED, Generator, check_class_names, register
from learned_aug.models.config import (
    GeneratorConfig,
    check_conditional,
    check_pair,
    check_positive,
    check_widths,
)
from learned_aug.models.conv import bottom_size, chain, conv_decoder, conv_encoder, default_widths
from learned_aug.models.image import ImageGenerator, check_images
from learned_aug.models.likelihood import (
    check_likelihood,
    default_likelihood,
    gaussian_kl,
    reconstruction_nll,
    squash,
)
from learned_aug.models.relabel import relabel_columns
from learned_aug.rng import RandomSource


@dataclass
class VAEConfig(GeneratorConfig):
    """Config of a convolutional (beta-)VAE.

    Args:
        image_size: (H, W) of the images; any size, square or not.
        channels: 1 for grayscale, 3 for RGB.
        latent_dim: size d of the latent space.
        hidden_channels: channels of the stride-2 conv blocks of the encoder (mirrored by the
            decoder); each halves the spatial size. ``None``: as many as the image size calls
            for (:func:`default_widths`: 2 blocks up to 31 pixels, 3 at 32, 4 at 64, 5 at 128).
        hidden_dim: width of the fully connected layer between the convs and the latent.
        likelihood: ``"bernoulli"`` (binary cross-entropy, for near-binary images like
            digits), ``"gaussian"`` (squared error with a fixed variance) or ``"calibrated"``
            (a Gaussian whose variance is each image's own mean squared error: the optimal
            sigma of Rybkin et al. 2021, for natural images: the reconstruction is weighed
            against the KL term at the image's own noise level). ``None``:
            :func:`default_likelihood` (bernoulli for 1 channel, calibrated for 3).
        beta: weight of the KL term (beta-VAE; 1.0 is the plain VAE).
        beta_norm: use beta_norm = beta * d / N (N = C * H * W) as the KL weight (Higgins et al.).
        conditional: condition encoder and decoder on the class, one of ``classes`` (a CVAE),
            so that ``sample(labels=...)`` draws the requested classes; False: unconditional.
        refine: end the decoder with a full-resolution block and a 3x3 conv (smoother images);
            ``False`` upsamples straight to the image channels, cheaper to decode
            (docs/benchmarks.md says by how much).
        partner: train in pairs (the DAGAN idea, Antoniou et al. 2018): ``fit`` gives the
            encoder one image and the decoder another image of the same class to reconstruct
            (``learned_aug.training.pairs``), so that the posterior of an image generates other
            members of its class; ``loss`` itself stays the plain ELBO.
    """

    model_type: str = "vae"
    image_size: tuple[int, int] = (28, 28)
    channels: int = 1
    latent_dim: int = 8
    hidden_channels: tuple[int, ...] | None = None
    hidden_dim: int = 256
    likelihood: str | None = None
    beta: float = 1.0
    beta_norm: bool = False
    conditional: bool = False
    refine: bool = True
    partner: bool = False

    def __post_init__(self) -> None:
        self.image_size = check_pair(self.image_size, "image_size")
        for name in ("refine", "partner"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        check_positive("channels", self.channels)
        if self.hidden_channels is None:
            self.hidden_channels = default_widths(self.image_size)
        self.hidden_channels = check_widths(self.hidden_channels, "hidden_channels")
        check_positive("latent_dim", self.latent_dim)
        check_positive("hidden_dim", self.hidden_dim)
        if self.likelihood is None:
            self.likelihood = default_likelihood(self.channels)
        check_likelihood(self.likelihood)
        if not (isinstance(self.beta, (int, float)) and self.beta >= 0):
            raise ValueError(f"beta must be a number >= 0, got {self.beta!r}")
        check_conditional(self.conditional, self.classes)

    @property
    def kl_weight(self) -> float:
        """The weight of the KL term: beta, or beta * d / N with ``beta_norm``."""
        if self.beta_norm:
            n = self.channels * self.image_size[0] * self.image_size[1]
            return self.beta * self.latent_dim / n
        return float(self.beta)


@register("vae")
class VAE(ImageGenerator, Generator):
    """Convolutional VAE / beta-VAE / conditional VAE on images in ``[0, 1]``.

    Example:
        >>> import torch
        >>> from learned_aug import VAE, VAEConfig
        >>> vae = VAE(VAEConfig(image_size=(28, 28), latent_dim=3, beta=4.0))
        >>> x = torch.rand(2, 1, 28, 28)
        >>> vae.reconstruct(x).shape
        torch.Size([2, 1, 28, 28])
        >>> vae.loss(x)["loss"].ndim
        0
    """

    config_class = VAEConfig
    config: VAEConfig
    accepts_unlabelled = True

    def __init__(self, config: VAEConfig | dict):
        super().__init__(config)
        cfg = self.config
        self._bottom = (
            cfg.hidden_channels[-1],
            *bottom_size(cfg.image_size, len(cfg.hidden_channels)),
        )
        flat = math.prod(self._bottom)
        k = len(cfg.classes) if cfg.conditional else 0
        self.encoder = conv_encoder(cfg.channels, cfg.hidden_channels)
        self.enc_fc = nn.Sequential(nn.Linear(flat + k, cfg.hidden_dim), nn.SiLU())
        self.to_mu = nn.Linear(cfg.hidden_dim, cfg.latent_dim)
        self.to_logvar = nn.Linear(cfg.hidden_dim, cfg.latent_dim)
        self.dec_fc = nn.Sequential(
            nn.Linear(cfg.latent_dim + k, cfg.hidden_dim),
            nn.SiLU(),
            nn.Linear(cfg.hidden_dim, flat),
            nn.SiLU(),
        )
        self.decoder = conv_decoder(cfg.hidden_channels, cfg.channels, cfg.refine)

    def _onehot(
        self, labels: Tensor | None, n: int, *, allow_unlabelled: bool = False
    ) -> Tensor | None:
        """The one-hot class inputs ``(n, K)``; with ``allow_unlabelled`` (training), a row
        labelled ``UNLABELLED`` gets the uniform ``1/K``: its class is unknown."""
        if not self.conditional:
            return None
        if labels is None:
            raise ValueError(
                f"this VAE is class-conditional ({len(self.classes)} classes): pass labels"
            )
        labels = self._check_labels(labels, n, allow_unlabelled=allow_unlabelled)
        k = len(self.classes)
        if not allow_unlabelled:
            return F.one_hot(labels, k).float()
        unknown = (labels == UNLABELLED).unsqueeze(1)
        onehot = F.one_hot(labels.clamp(min=0), k).float()
        return torch.where(unknown, torch.full_like(onehot, 1.0 / k), onehot)

    def _hidden(self, x: Tensor, onehot: Tensor | None) -> Tensor:
        check_images(x, self.sample_shape)
        h = chain(self.encoder, x).flatten(1)
        if onehot is not None:
            h = torch.cat([h, onehot], dim=1)
        return chain(self.enc_fc, h)

    def _posterior(self, x: Tensor, onehot: Tensor | None) -> Normal:
        h = self._hidden(x, onehot)
        mu, logvar = self.to_mu(h), self.to_logvar(h).clamp(-20.0, 10.0)
        return Normal(mu, torch.exp(0.5 * logvar), validate_args=False)

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Normal:
        """Posterior q(z | x) as a ``torch.distributions.Normal`` of shape (B, latent_dim)."""
        return self._posterior(x, self._onehot(labels, len(x)))

    def encode_mean(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The posterior mean (B, latent_dim) alone: ``encode(x).mean`` without the variance."""
        return self.to_mu(self._hidden(x, self._onehot(labels, len(x))))

    def decode_logits(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Decoder output before the final squashing (logits or means)."""
        return self._decode_logits(z, self._onehot(labels, len(z)))

    def _decode_logits(self, z: Tensor, onehot: Tensor | None) -> Tensor:
        if onehot is not None:
            z = torch.cat([z, onehot.to(z.dtype)], dim=1)
        h = chain(self.dec_fc, z).view(len(z), *self._bottom)
        out = chain(self.decoder, h)
        height, width = self.config.image_size
        if out.shape[-2:] == (height, width):
            return out
        return out[:, :, :height, :width]

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Decode latents (B, latent_dim) into images in [0, 1]."""
        return squash(self.decode_logits(z, labels), self.config.likelihood)

    def sample(self, n: int, labels=None, rng: RandomSource = None) -> Tensor:
        """Decode ``n`` latents drawn from the prior N(0, I)."""
        labels = self.sample_labels(n, labels)
        return self.decode(self.prior_latents(n, rng), labels)

    def prior_latents(self, n: int, rng: RandomSource = None) -> Tensor:
        """``n`` latents drawn from the prior N(0, I), shape ``(n, latent_dim)``."""
        return self.randn(n, (self.config.latent_dim,), rng)

    def with_classes(self, classes: Sequence[str]) -> VAE:
        """A copy of this VAE for ``classes`` (this one is left as is): every weight is kept,
        except that, class-conditional, the one-hot input columns of ``enc_fc[0]`` and
        ``dec_fc[0]`` follow the classes by name: a class both know keeps its column, a new one
        starts at the mean of the pretrained classes' columns (``relabel_columns``).

        Example:
            >>> vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, conditional=True,
            ...                     classes=["0", "1"]))
            >>> new = vae.with_classes(["1", "2", "3"])
            >>> new.classes, new.dec_fc[0].in_features - vae.dec_fc[0].in_features
            (['1', '2', '3'], 1)
        """
        classes = check_class_names(classes)
        if not self.conditional:
            return super().with_classes(classes)  # type: ignore[return-value]
        adapted = type(self)(dataclasses.replace(self.config, classes=classes))
        state = self.state_dict()
        for name in ("enc_fc.0.weight", "dec_fc.0.weight"):
            state[name] = relabel_columns(state[name], self.classes, classes)
        adapted.load_state_dict(state)
        return adapted.to(self.device, self.dtype).train(self.training)

    def class_log_likelihood(self, x: Tensor) -> Tensor:
        """``(B, K)``: the ELBO of each image under each class, with the posterior mean.

        log p(x | k) >= log p(x | mu_k) - KL(q(z | x, k) || N(0, I)), where q is the posterior
        given class k and mu_k its mean (no sampling: the same image always gets the same
        scores; for the ``"gaussian"`` likelihood, up to a constant shared by all classes). The
        convolutions see no class, so they run once; the rest runs once on the ``B * K``
        (image, class) pairs. Only a class-conditional VAE has classes to score.
        """
        if not self.conditional:
            return super().class_log_likelihood(x)
        check_images(x, self.sample_shape)
        k, b = len(self.classes), len(x)
        features = chain(self.encoder, x).flatten(1).repeat(k, 1)  # class-major: row c*b + i
        labels = torch.arange(k, device=x.device).repeat_interleave(b)
        onehot = F.one_hot(labels, k).to(features.dtype)
        h = chain(self.enc_fc, torch.cat([features, onehot], dim=1))
        mu, logvar = self.to_mu(h), self.to_logvar(h).clamp(-20.0, 10.0)
        recon = reconstruction_nll(
            self.decode_logits(mu, labels), x.repeat(k, 1, 1, 1), self.config.likelihood
        )
        return -(recon + gaussian_kl(mu, logvar)).view(k, b).t()

    def loss(
        self,
        x: Tensor,
        labels: Tensor | None = None,
        *,
        kl_weight: float = 1.0,
        target: Tensor | None = None,
    ):
        """Negative ELBO per sample, averaged: reconstruction + (warm-up * beta) * KL; of
        ``target`` (a partner of the same class, ``partner`` training) given ``x``, when given."""
        return self.elbo(x, x if target is None else target, labels, kl_weight=kl_weight)

    def elbo(
        self, x_in: Tensor, target: Tensor, labels: Tensor | None = None, *, kl_weight: float = 1.0
    ):
        """Negative ELBO of ``target`` with ``x_in`` at the encoder (a corrupted copy of it for
        a denoising VAE, ``target`` itself otherwise)."""
        # Training rows may be UNLABELLED (fit's unlabelled pool): their class input is 1/K.
        onehot = self._onehot(labels, len(x_in), allow_unlabelled=True)
        q = self._posterior(x_in, onehot)
        z = q.rsample()
        recon = reconstruction_nll(self._decode_logits(z, onehot), target, self.config.likelihood)
        kl = gaussian_kl(q.mean, 2 * q.stddev.log())
        per_sample = recon + kl_weight * self.config.kl_weight * kl
        return {
            "loss": per_sample.mean(),
            "recon": recon.mean(),
            "kl": kl.mean(),
            "per_sample": per_sample,
        }
