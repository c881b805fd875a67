"""Convolutional VAE and beta-VAE for images of any size and channel count."""

from __future__ import annotations

import dataclasses
import itertools
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
from learned_aug.models.image import ImageGenerator, check_images
from learned_aug.models.relabel import relabel_columns
from learned_aug.rng import RandomSource

LIKELIHOODS = ("bernoulli", "gaussian", "calibrated")
CALIBRATED_FLOOR = 1e-5
"""The smallest per-pixel variance of the calibrated likelihood (about (1/255)^2 / 6): an
image reconstructed to rounding error is not rewarded without end."""
WIDTHS = (32, 64, 128, 256, 256, 256)
"""Channels of the stride-2 conv blocks, in order; an image gets as many as its size calls for
(:func:`default_widths`)."""


def default_widths(image_size: tuple[int, int]) -> tuple[int, ...]:
    """The conv blocks an image size calls for: enough stride-2 blocks to bring the smaller
    side to about 4-7 pixels (at least 2), widths from :data:`WIDTHS`.

    Example:
        >>> [default_widths((s, s)) for s in (8, 28, 32, 64)]
        [(32, 64), (32, 64), (32, 64, 128), (32, 64, 128, 256)]
    """
    levels = max(2, int(math.log2(max(min(image_size), 1) / 4)))
    return WIDTHS[: min(levels, len(WIDTHS))]


def default_likelihood(channels: int) -> str:
    """``"bernoulli"`` for grey images (digits, near-binary strokes), ``"calibrated"`` for
    colour photographs, whose pixels are not probabilities of ink."""
    return "calibrated" if channels == 3 else "bernoulli"


def check_likelihood(likelihood: str) -> None:
    """A ``likelihood`` config field: one of ``LIKELIHOODS``, else a ValueError naming it."""
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")


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
        h = _chain(self.encoder, x).flatten(1)
        if onehot is not None:
            h = torch.cat([h, onehot], dim=1)
        return _chain(self.enc_fc, h)

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
        h = _chain(self.dec_fc, z).view(len(z), *self._bottom)
        out = _chain(self.decoder, h)
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
        features = _chain(self.encoder, x).flatten(1).repeat(k, 1)  # class-major: row c*b + i
        labels = torch.arange(k, device=x.device).repeat_interleave(b)
        onehot = F.one_hot(labels, k).to(features.dtype)
        h = _chain(self.enc_fc, torch.cat([features, onehot], dim=1))
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
