"""Convolutional VAE and beta-VAE for images of any size and channel count."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Normal

from learned_aug.models.base import (
    Generator,
    GeneratorConfig,
    RandomSource,
    check_images,
    check_pair,
    check_positive,
    image_config_fields,
    register,
)

LIKELIHOODS = ("bernoulli", "gaussian")


@dataclass
class VAEConfig(GeneratorConfig):
    """Config of a convolutional (beta-)VAE.

    Args:
        image_size: (H, W) of the images; any size, square or not.
        channels: 1 for grayscale, 3 for RGB.
        latent_dim: size d of the latent space.
        hidden_channels: channels of the stride-2 conv blocks of the encoder (mirrored by the
            decoder); each halves the spatial size.
        hidden_dim: width of the fully connected layer between the convs and the latent.
        likelihood: ``"bernoulli"`` (binary cross-entropy, for near-binary images like digits) or
            ``"gaussian"`` (squared error, for natural images).
        beta: weight of the KL term (beta-VAE; 1.0 is the plain VAE).
        beta_norm: use beta_norm = beta * d / N (N = C * H * W) as the KL weight (Higgins et al.).
        num_classes: 0 for an unconditional VAE; K > 0 makes encoder and decoder conditional on
            the class (a CVAE), so ``sample(labels=...)`` draws the requested classes.
        refine: end the decoder with a full-resolution block and a 3x3 conv (smoother images);
            ``False`` upsamples straight to the image channels, about 3x cheaper to decode.
    """

    model_type: str = "vae"
    image_size: tuple[int, int] = (28, 28)
    channels: int = 1
    latent_dim: int = 8
    hidden_channels: tuple[int, ...] = (32, 64)
    hidden_dim: int = 256
    likelihood: str = "bernoulli"
    beta: float = 1.0
    beta_norm: bool = False
    num_classes: int = 0
    refine: bool = True

    def __post_init__(self) -> None:
        self.image_size = check_pair(self.image_size, "image_size")
        if not isinstance(self.refine, bool):
            raise ValueError(f"refine must be True or False, got {self.refine!r}")
        self.hidden_channels = tuple(self.hidden_channels)
        check_positive("channels", self.channels)
        check_positive("latent_dim", self.latent_dim)
        check_positive("hidden_dim", self.hidden_dim)
        if not self.hidden_channels or any(int(c) < 1 for c in self.hidden_channels):
            raise ValueError(
                f"hidden_channels must be a non-empty sequence of positive ints, "
                f"got {self.hidden_channels!r}"
            )
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if not (isinstance(self.beta, (int, float)) and self.beta >= 0):
            raise ValueError(f"beta must be a number >= 0, got {self.beta!r}")
        if self.num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {self.num_classes!r}")

    @property
    def kl_weight(self) -> float:
        """The weight of the KL term: beta, or beta * d / N with ``beta_norm``."""
        if self.beta_norm:
            n = self.channels * self.image_size[0] * self.image_size[1]
            return self.beta * self.latent_dim / n
        return float(self.beta)


def conv_encoder(in_channels: int, hidden: Sequence[int]) -> nn.Sequential:
    """Stride-2 conv blocks: each halves H and W (rounding up)."""
    layers: list[nn.Module] = []
    for c in hidden:
        layers += [nn.Conv2d(in_channels, c, 3, stride=2, padding=1), nn.SiLU()]
        in_channels = c
    return nn.Sequential(*layers)


# Below this much work per call (batch x in x out channels x input H x W), PyTorch's native
# transposed convolution beats oneDNN's on the CPU; above it oneDNN wins (measured per layer,
# forward and backward, batches 1-256: see ConvTranspose2d).
NATIVE_MAX_WORK = 50_000
NATIVE_MAX_OUT_CHANNELS = 4


class ConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` that picks the faster CPU kernel for the call's size.

    oneDNN's transposed convolution costs more to set up than to run when the call is small:
    on one image of a 16-channel 7x7 map it takes 70 us where the native im2col + GEMM kernel
    (``aten.slow_conv_transpose2d``) takes 29 us, and for a layer that outputs the image (1-4
    channels) the native kernel is 1.5-4x faster at every batch size, in training too. With more
    channels and larger batches oneDNN is up to 4x faster, so the native kernel runs only for
    calls below ``NATIVE_MAX_WORK`` or with at most ``NATIVE_MAX_OUT_CHANNELS`` outputs. Same
    parameters and state dict, same values up to float rounding; other devices, autocast,
    unbatched input and other settings take the parent's path.

    Example:
        >>> import torch
        >>> from learned_aug.models.vae import ConvTranspose2d
        >>> layer = ConvTranspose2d(4, 2, 4, stride=2, padding=1)
        >>> x = torch.randn(3, 4, 7, 7)
        >>> torch.allclose(layer(x), torch.nn.ConvTranspose2d.forward(layer, x), atol=1e-6)
        True
    """

    def _native(self, input: Tensor) -> bool:
        if (
            input.device.type != "cpu"
            or input.dim() != 4
            or input.shape[0] == 0  # the native kernel refuses an empty batch
            or input.dtype != self.weight.dtype
            or self.groups != 1
            or self.padding_mode != "zeros"
            or torch.is_autocast_enabled("cpu")
        ):
            return False
        b, c, h, w = input.shape
        return self.out_channels <= NATIVE_MAX_OUT_CHANNELS or (
            b * c * self.out_channels * h * w <= NATIVE_MAX_WORK
        )

    def forward(self, input: Tensor, output_size: list[int] | None = None) -> Tensor:
        if output_size is not None or not self._native(input):
            return super().forward(input, output_size)
        return torch.ops.aten.slow_conv_transpose2d(
            input,
            self.weight,
            self.kernel_size,
            self.bias,
            self.stride,
            self.padding,
            self.output_padding,
            self.dilation,
        )


def conv_decoder(hidden: Sequence[int], out_channels: int, refine: bool = True) -> nn.Sequential:
    """Mirror of ``conv_encoder``: each block doubles H and W; the caller crops.

    ``refine`` ends with a full-resolution block and a 3x3 conv (smoother images); without it
    the last transposed conv maps straight to the image channels, about 3x cheaper to decode.
    """
    layers: list[nn.Module] = []
    hidden = list(hidden)[::-1]
    for c_in, c_out in itertools.pairwise(hidden):
        layers += [ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.SiLU()]
    if not refine:
        return nn.Sequential(*layers, ConvTranspose2d(hidden[-1], out_channels, 4, 2, padding=1))
    layers += [
        ConvTranspose2d(hidden[-1], hidden[-1], 4, stride=2, padding=1),
        nn.SiLU(),
        nn.Conv2d(hidden[-1], out_channels, 3, padding=1),
    ]
    return nn.Sequential(*layers)


def _chain(blocks: nn.Sequential, x: Tensor) -> Tensor:
    """``blocks(x)`` without the container's own module call: one image through the model is a
    few dozen small calls, and each module dispatch costs about as much as a small op."""
    for layer in blocks:
        x = layer(x)
    return x


def bottom_size(image_size: tuple[int, int], levels: int) -> tuple[int, int]:
    """Spatial size after ``levels`` stride-2 convs."""
    h, w = image_size
    for _ in range(levels):
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    return h, w


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) summed over the latent, one value per sample."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def reconstruction_nll(out: Tensor, x: Tensor, likelihood: str) -> Tensor:
    """Negative log-likelihood of ``x`` under the decoder output, summed per sample.

    ``out`` holds logits for ``"bernoulli"`` and means in [0, 1] for ``"gaussian"``.
    """
    if likelihood == "bernoulli":
        nll = F.binary_cross_entropy_with_logits(out, x, reduction="none")
    else:
        nll = F.mse_loss(out, x, reduction="none")
    return nll.flatten(1).sum(dim=1)


@register("vae")
class VAE(Generator):
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

    def __init__(self, config: VAEConfig | dict):
        super().__init__(config)
        cfg = self.config
        self._bottom = (
            cfg.hidden_channels[-1],
            *bottom_size(cfg.image_size, len(cfg.hidden_channels)),
        )
        flat = math.prod(self._bottom)
        k = cfg.num_classes
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

    @classmethod
    def config_for(cls, sample_shape, classes, *, conditional: bool = False, **kwargs) -> VAEConfig:
        """A VAE config for images of ``sample_shape`` (C, H, W); ``conditional`` makes a CVAE."""
        fields = image_config_fields("vae", sample_shape, classes, conditional)
        return VAEConfig(**fields, **kwargs)

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return (self.config.channels, *self.config.image_size)

    @property
    def conditional(self) -> bool:
        return self.config.num_classes > 0

    def _onehot(self, labels: Tensor | None, n: int) -> Tensor | None:
        if not self.conditional:
            return None
        if labels is None:
            raise ValueError(
                f"this VAE is class-conditional (num_classes={self.config.num_classes}): "
                "pass labels"
            )
        labels = self._check_labels(labels, n)
        return F.one_hot(labels, self.config.num_classes).float()

    def _hidden(self, x: Tensor, labels: Tensor | None) -> Tensor:
        check_images(x, self.sample_shape)
        h = _chain(self.encoder, x).flatten(1)
        onehot = self._onehot(labels, len(x))
        if onehot is not None:
            h = torch.cat([h, onehot], dim=1)
        return _chain(self.enc_fc, h)

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Normal:
        """Posterior q(z | x) as a ``torch.distributions.Normal`` of shape (B, latent_dim)."""
        h = self._hidden(x, labels)
        mu, logvar = self.to_mu(h), self.to_logvar(h).clamp(-20.0, 10.0)
        return Normal(mu, torch.exp(0.5 * logvar), validate_args=False)

    def encode_mean(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The posterior mean (B, latent_dim) alone: ``encode(x).mean`` without the variance."""
        return self.to_mu(self._hidden(x, labels))

    def decode_logits(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Decoder output before the final squashing (logits or means)."""
        onehot = self._onehot(labels, len(z))
        if onehot is not None:
            z = torch.cat([z, onehot.to(z.dtype)], dim=1)
        h = _chain(self.dec_fc, z).view(len(z), *self._bottom)
        out = _chain(self.decoder, h)
        height, width = self.config.image_size
        if out.shape[-2:] == (height, width):
            return out
        return out[:, :, :height, :width]

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Decode latents (B, latent_dim) into images in [0, 1]."""
        out = self.decode_logits(z, labels)
        return torch.sigmoid(out) if self.config.likelihood == "bernoulli" else out.clamp(0, 1)

    def sample(self, n: int, labels=None, generator: RandomSource = None) -> Tensor:
        """Decode ``n`` latents drawn from the prior N(0, I)."""
        n = self._check_n(n)
        labels = self.sample_labels(n, labels)
        return self.decode(self.prior_latents(n, generator), labels)

    def prior_latents(self, n: int, generator: RandomSource = None) -> Tensor:
        """``n`` latents drawn from the prior N(0, I), shape ``(n, latent_dim)``."""
        return self.randn(n, (self.config.latent_dim,), generator)

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
        k, b = self.config.num_classes, len(x)
        features = _chain(self.encoder, x).flatten(1).repeat(k, 1)  # class-major: row c*b + i
        labels = torch.arange(k, device=x.device).repeat_interleave(b)
        onehot = F.one_hot(labels, k).to(features.dtype)
        h = _chain(self.enc_fc, torch.cat([features, onehot], dim=1))
        mu, logvar = self.to_mu(h), self.to_logvar(h).clamp(-20.0, 10.0)
        recon = reconstruction_nll(
            self.decode_logits(mu, labels), x.repeat(k, 1, 1, 1), self.config.likelihood
        )
        return -(recon + gaussian_kl(mu, logvar)).view(k, b).t()

    def loss(self, x: Tensor, labels: Tensor | None = None, *, kl_weight: float = 1.0):
        """Negative ELBO per sample, averaged: reconstruction + (warm-up * beta) * KL."""
        return self.elbo(x, x, labels, kl_weight=kl_weight)

    def elbo(
        self, x_in: Tensor, target: Tensor, labels: Tensor | None = None, *, kl_weight: float = 1.0
    ):
        """Negative ELBO of ``target`` with ``x_in`` at the encoder (a corrupted copy of it for
        a denoising VAE, ``target`` itself otherwise)."""
        q = self.encode(x_in, labels)
        z = q.rsample()
        recon = reconstruction_nll(self.decode_logits(z, labels), target, self.config.likelihood)
        kl = gaussian_kl(q.mean, 2 * q.stddev.log())
        per_sample = recon + kl_weight * self.config.kl_weight * kl
        return {
            "loss": per_sample.mean(),
            "recon": recon.mean(),
            "kl": kl.mean(),
            "per_sample": per_sample,
        }
