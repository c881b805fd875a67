"""VQ-VAE with a learned, class-conditional prior over its code grid.

Training has two stages on one model (van den Oord et al. 2017): first the autoencoder
(encoder, EMA codebook, decoder), then the autoregressive prior on the frozen codes of the
training images. ``model.stage`` picks what ``loss`` trains, so the ordinary ``fit`` loop runs
either stage; ``learned_aug.fit("vqvae", ...)`` runs both (stage one in
``out/autoencoder/``, stage two in ``out/``, each with its own resumable checkpoint). The final
folder holds one ``config.json`` and one ``model.safetensors`` with both stages.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor, nn

from learned_aug.models.base import Generator, register
from learned_aug.models.config import (
    GeneratorConfig,
    check_conditional,
    check_nested,
    check_pair,
    check_positive,
    check_widths,
)
from learned_aug.models.conv import bottom_size, conv_decoder, conv_encoder
from learned_aug.models.image import ImageGenerator, check_images
from learned_aug.models.likelihood import (
    check_likelihood,
    default_likelihood,
    reconstruction_nll,
    squash,
)
from learned_aug.models.prior import CodePrior, PriorConfig, gumbel_from_normal, pick_codes
from learned_aug.models.quantizer import VectorQuantizer
from learned_aug.rng import RandomSource

STAGES = ("autoencoder", "prior")
AUTOENCODER_DIR = "autoencoder"


class UntrainedPriorWarning(UserWarning):
    """``sample`` was called on a VQ-VAE whose prior has not been trained."""


@dataclass
class VQVAEConfig(GeneratorConfig):
    """Config of a VQ-VAE and its prior.

    Args:
        image_size: (H, W) of the images.
        channels: 1 for grayscale, 3 for RGB.
        hidden_channels: channels of the stride-2 conv blocks; each halves H and W, so
            (32, 64) turns 28x28 images into a 7x7 grid of codes.
        res_blocks: residual blocks at the grid resolution in encoder and decoder.
        embedding_dim: size D of each code vector.
        codebook_size: number of codes K.
        commitment: weight beta of the commitment loss (0.25 in van den Oord et al.).
        ema_decay: decay of the EMA codebook updates.
        dead_code_steps: training steps a code may go unused before it is re-seeded.
        likelihood: ``"bernoulli"`` (BCE, near-binary images), ``"gaussian"`` (MSE) or
            ``"calibrated"`` (a Gaussian with each image's own variance); None (default):
            bernoulli for 1 channel, calibrated for 3, as the VAE. docs/benchmarks.md compares
            gaussian and calibrated on CIFAR-10 (benchmarks/bench_vq_likelihood.py).
        conditional: make the prior class-conditional, over ``classes``; False: unconditional.
        prior: the prior over the codes, its transformer and sampling defaults: a
            ``PriorConfig``, or a dict of its fields (``{"dim": 48, "layers": 2}``; the others
            keep their defaults).
    """

    model_type: str = "vqvae"
    image_size: tuple[int, int] = (28, 28)
    channels: int = 1
    hidden_channels: tuple[int, ...] = (32, 64)
    res_blocks: int = 1
    embedding_dim: int = 16
    codebook_size: int = 64
    commitment: float = 0.25
    ema_decay: float = 0.99
    dead_code_steps: int = 20
    likelihood: str | None = None
    conditional: bool = False
    prior: PriorConfig = field(default_factory=PriorConfig)

    def __post_init__(self) -> None:
        self.image_size = check_pair(self.image_size, "image_size")
        self.hidden_channels = check_widths(self.hidden_channels, "hidden_channels")
        for name in ("channels", "embedding_dim", "codebook_size"):
            check_positive(name, getattr(self, name))
        if self.likelihood is None:
            self.likelihood = default_likelihood(self.channels)
        check_likelihood(self.likelihood)
        check_conditional(self.conditional, self.classes)
        for name in ("res_blocks", "dead_code_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay!r}")
        if self.commitment < 0:
            raise ValueError(f"commitment must be >= 0, got {self.commitment!r}")
        self.prior = check_nested(self.prior, PriorConfig, "prior")

    @property
    def grid_size(self) -> tuple[int, int]:
        """(H, W) of the code grid."""
        return bottom_size(self.image_size, len(self.hidden_channels))


class _Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


@register("vqvae")
class VQVAE(ImageGenerator, Generator):
    """VQ-VAE (van den Oord et al. 2017) with an autoregressive, class-conditional code prior.

    ``encode`` gives the code grid ``(B, h, w)`` (int64), ``decode`` turns codes into images,
    ``sample`` draws code grids from the prior, ``resample`` reconstructs with codes drawn among
    the nearest ones (augmentation by variation). ``stage`` is ``"autoencoder"`` or ``"prior"``
    and picks what ``loss`` trains.

    Example:
        >>> import torch
        >>> from learned_aug.models.vqvae import VQVAE, VQVAEConfig
        >>> cfg = VQVAEConfig(image_size=(8, 8), hidden_channels=(8,), codebook_size=16,
        ...                   prior={"dim": 16, "layers": 1}, conditional=True, classes=["a", "b"])
        >>> vq = VQVAE(cfg)
        >>> x = torch.rand(2, 1, 8, 8)
        >>> vq.encode(x).shape, vq.reconstruct(x).shape
        (torch.Size([2, 4, 4]), torch.Size([2, 1, 8, 8]))
        >>> sorted(vq.loss(x)) == ["codebook_usage", "commitment", "loss", "per_sample",
        ...                        "perplexity", "recon"]
        True
    """

    config_class = VQVAEConfig
    config: VQVAEConfig

    def __init__(self, config: VQVAEConfig | dict):
        super().__init__(config)
        cfg = self.config
        top, d = cfg.hidden_channels[-1], cfg.embedding_dim
        self.encoder = nn.Sequential(
            conv_encoder(cfg.channels, cfg.hidden_channels),
            *(_Residual(top) for _ in range(cfg.res_blocks)),
            nn.SiLU(),
            nn.Conv2d(top, d, 1),
        )
        self.quantizer = VectorQuantizer(
            cfg.codebook_size, d, decay=cfg.ema_decay, dead_code_steps=cfg.dead_code_steps
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(d, top, 3, padding=1),
            *(_Residual(top) for _ in range(cfg.res_blocks)),
            nn.SiLU(),
            conv_decoder(cfg.hidden_channels, cfg.channels),
        )
        h, w = cfg.grid_size
        num_classes = len(cfg.classes) if cfg.conditional else 0
        self.prior = CodePrior(cfg.codebook_size, h * w, num_classes, cfg.prior)
        self._stage = "autoencoder"

    @classmethod
    def config_for(
        cls, sample_shape, classes, *, conditional: bool = True, **kwargs
    ) -> VQVAEConfig:
        """A config for images of ``sample_shape``; the prior is class-conditional by default."""
        return super().config_for(sample_shape, classes, conditional=conditional, **kwargs)

    # ------------------------------------------------------------------ surface
    @property
    def stage(self) -> str:
        """What ``loss`` trains: ``"autoencoder"`` or ``"prior"`` (the codes are then frozen)."""
        return self._stage

    @stage.setter
    def stage(self, value: str) -> None:
        if value not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {value!r}")
        self._stage = value

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The code grid ``(B, h, w)`` of images ``x`` (nearest codes; no codebook update)."""
        check_images(x, self.sample_shape)
        return self.quantizer.nearest(self.encoder(x))

    def decode_logits(self, quantized: Tensor) -> Tensor:
        out = self.decoder(quantized)
        height, width = self.config.image_size
        return out[:, :, :height, :width]

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images in [0, 1] from code grids ``(B, h, w)`` (int64, or whole-number floats)."""
        if z.is_floating_point() and torch.equal(z, z.round()):
            z = z.long()  # codes stored as floats (a latent bank)
        if z.is_floating_point() or z.dim() != 3 or tuple(z.shape[1:]) != self.config.grid_size:
            raise ValueError(
                f"a VQ-VAE decodes integer code grids (B, *{self.config.grid_size}), got "
                f"{z.dtype} of shape {tuple(z.shape)}"
            )
        if z.numel() and (z.min() < 0 or z.max() >= self.config.codebook_size):
            raise ValueError(
                f"codes must lie in [0, {self.config.codebook_size - 1}], got values in "
                f"[{int(z.min())}, {int(z.max())}]"
            )
        return squash(self.decode_logits(self.quantizer.lookup(z)), self.config.likelihood)

    def _sample_labels(self, n: int, labels) -> Tensor | None:
        labels = self.sample_labels(n, labels)
        if labels is not None:
            self.prior.check_seen(labels, self.classes)
        return labels

    def sample(
        self,
        n: int,
        labels=None,
        rng: RandomSource = None,
        *,
        temperature: float | None = None,
        top_k: int | None = None,
    ) -> Tensor:
        """Draw code grids from the prior (of the given classes) and decode them.

        Args:
            n: number of samples.
            labels: class of each sample (a conditional prior; default: classes in turn).
            rng: one ``torch.Generator``, or one per sample.
            temperature: overrides ``config.prior.temperature``; 0 is greedy.
            top_k: overrides ``config.prior.top_k``; 0 keeps all codes.
        """
        labels = self._sample_labels(n, labels)
        h, w = self.config.grid_size
        gumbel = gumbel_from_normal(self.randn(n, (h * w, self.config.codebook_size), rng))
        if self.prior.trained:
            codes = self.prior.generate(gumbel, labels, temperature=temperature, top_k=top_k)
        else:
            warnings.warn(
                "this VQ-VAE's prior is not trained: each code is drawn independently from the "
                "codebook's usage, which gives texture, not objects. Train the prior with "
                "fit('vqvae', ...) or by setting model.stage = 'prior' and fitting again",
                UntrainedPriorWarning,
                stacklevel=2,
            )
            logits = self.quantizer.cluster_size.clamp_min(1e-6).log().expand(n, h * w, -1)
            codes = pick_codes(logits, gumbel, 1.0, 0)
        return self.decode(codes.view(n, h, w), labels)

    def resample(
        self,
        x: Tensor,
        temperature: float | Tensor = 1.0,
        *,
        k: int = 4,
        rng: RandomSource = None,
    ) -> Tensor:
        """Reconstruct ``x`` with each code drawn among its ``k`` nearest codebook entries
        (variation).

        Args:
            x: images ``(B, C, H, W)``, or code grids ``(B, h, w)`` (then the neighbours of
                each code vector are used).
            temperature: one value or one per sample; 0 is the plain reconstruction. At
                temperature T the second-nearest code is exp(-1/T) times as likely as the
                nearest.
            k: how many of the nearest codebook entries are candidates (``top_k`` is the
                prior's, in ``sample``).
            rng: one ``torch.Generator``, or one per sample.
        """
        if x.is_floating_point():
            z_e = self.encoder(check_images(x, self.sample_shape))
        else:
            z_e = self.quantizer.lookup(x)
        b, _, h, w = z_e.shape
        k = min(max(int(k), 1), self.config.codebook_size)
        gumbel = gumbel_from_normal(self.randn(b, (h, w, k), rng))
        t = torch.as_tensor(temperature, dtype=torch.float32).expand(b)
        return self.decode(self.quantizer.resample(z_e, gumbel, t, k))

    def class_log_likelihood(self, x: Tensor) -> Tensor:
        """``(B, K)``: the ELBO of each image under each class of the prior.

        The encoder is deterministic and sees no class, so the bound is
        log p(x | k) >= log p(x | z_q) + log p(z_q | k): the reconstruction term, shared by
        every class, plus the class-conditional prior's log-likelihood of the image's code
        grid. One encoder and decoder pass, and one prior pass over the ``B * K``
        (codes, class) pairs. A class the prior never saw in training scores ``-inf``.
        """
        if not self.conditional:
            return super().class_log_likelihood(x)
        if not self.prior.trained:
            raise ValueError(
                "this VQ-VAE's prior is not trained, so it cannot score classes: train it with "
                "fit('vqvae', ...) (or model.stage = 'prior' and fit again)"
            )
        check_images(x, self.sample_shape)
        k, b = len(self.classes), len(x)
        codes = self.quantizer.nearest(self.encoder(x))
        recon = reconstruction_nll(
            self.decode_logits(self.quantizer.lookup(codes)), x, self.config.likelihood
        )
        labels = torch.arange(k, device=x.device).repeat_interleave(b)  # class-major
        flat = codes.flatten(1)
        prior_nll = self.prior.nll(flat.repeat(k, 1), labels) * flat.shape[1]  # nats per grid
        scores = -(recon.repeat(k) + prior_nll).view(k, b).t()
        unseen = self.prior.class_counts[:k] == 0
        return scores.masked_fill(unseen.to(scores.device), float("-inf"))

    # ------------------------------------------------------------------ training
    def loss(self, x: Tensor, labels: Tensor | None = None, *, kl_weight: float = 1.0):
        """The loss of the current ``stage`` (``kl_weight`` is ignored: there is no KL term)."""
        return self._losses[self.stage](self, x, labels)

    def _autoencoder_loss(self, x: Tensor, labels: Tensor | None) -> dict[str, Tensor]:
        check_images(x, self.sample_shape)
        q = self.quantizer(self.encoder(x))
        recon = reconstruction_nll(self.decode_logits(q.quantized), x, self.config.likelihood)
        per_sample = recon + self.config.commitment * q.commitment
        return {
            "loss": per_sample.mean(),
            "recon": recon.mean(),
            "commitment": q.commitment.mean(),
            "perplexity": q.perplexity,
            "codebook_usage": q.usage,
            "per_sample": per_sample,
        }

    def _prior_loss(self, x: Tensor, labels: Tensor | None) -> dict[str, Tensor]:
        with torch.no_grad():  # the autoencoder is frozen: only the prior learns
            codes = self.encode(x).flatten(1)
        labels = labels if self.conditional else None
        if self.conditional and labels is None:
            raise ValueError("this VQ-VAE's prior is class-conditional: pass labels to train it")
        per_sample = self.prior.nll(codes, labels)
        if self.training:
            self.prior.count(labels, len(codes))
        return {"loss": per_sample.mean(), "prior_nll": per_sample.mean(), "per_sample": per_sample}

    _losses: ClassVar[dict[str, Callable[[VQVAE, Tensor, Tensor | None], dict[str, Tensor]]]] = {
        "autoencoder": _autoencoder_loss,
        "prior": _prior_loss,
    }


def set_stage(model: nn.Module, stage: str) -> None:
    """Set ``stage`` on every VQ-VAE in ``model`` (itself, or a per-class container's members)."""
    found = [m for m in model.modules() if isinstance(m, VQVAE)]
    if not found:
        raise TypeError(f"model must be or contain a VQVAE, got {type(model).__name__}")
    for m in found:
        m.stage = stage
