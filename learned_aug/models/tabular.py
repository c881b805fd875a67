"""Tabular VAE: an MLP VAE over numeric feature vectors with continuous and categorical columns.

Iser (2023) augments PROBEN1-style tables with VAEs. Rows go in and come out in their own units:
continuous columns are standardised inside the model with an offset and scale kept in buffers
(so they travel in ``model.safetensors``), categorical columns (category codes ``0 .. K-1``, see
``learned_aug.data.tabular``) are one-hot encoded at the input, modelled with a softmax at the
output and decoded by argmax. The scaling is set from data by ``init_scaling`` or, when not set,
from the first training batch.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Normal

from learned_aug.data.schema import Column
from learned_aug.models.base import Generator, register
from learned_aug.models.collective import broadcast
from learned_aug.models.config import (
    GeneratorConfig,
    check_conditional,
    check_positive,
    check_widths,
)
from learned_aug.models.likelihood import gaussian_kl
from learned_aug.rng import RandomSource


@dataclass
class TabularVAEConfig(GeneratorConfig):
    """Config of a tabular VAE.

    Args:
        features: number of columns F of a row.
        columns: the schema, one dict per column (``{"name", "kind", "categories"}``, see
            ``learned_aug.data.Column``); empty means F continuous columns.
        latent_dim: size d of the latent space.
        hidden_dims: widths of the encoder's hidden layers (mirrored by the decoder).
        beta: weight of the KL term.
        conditional: condition encoder and decoder on the class, one of ``classes``; False:
            unconditional.
    """

    model_type: str = "tabular-vae"
    features: int = 1
    columns: list[dict[str, Any]] = field(default_factory=list)
    latent_dim: int = 4
    hidden_dims: tuple[int, ...] = (64, 64)
    beta: float = 1.0
    conditional: bool = False

    def __post_init__(self) -> None:
        check_positive("features", self.features)
        check_positive("latent_dim", self.latent_dim)
        self.hidden_dims = check_widths(self.hidden_dims, "hidden_dims")
        if not self.beta >= 0:
            raise ValueError(f"beta must be a number >= 0, got {self.beta!r}")
        check_conditional(self.conditional, self.classes)
        self.columns = [Column.from_dict(c).to_dict() for c in self.columns]
        if self.columns and len(self.columns) != self.features:
            raise ValueError(
                f"columns describe {len(self.columns)} features, but features={self.features}"
            )

    @property
    def schema(self) -> list[Column]:
        """The columns as ``Column`` objects (all continuous when ``columns`` is empty)."""
        if self.columns:
            return [Column.from_dict(c) for c in self.columns]
        return [Column(f"x{i}") for i in range(self.features)]


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.SiLU()]
    return nn.Sequential(*layers)


@register("tabular-vae")
class TabularVAE(Generator):
    """MLP VAE over rows ``(B, F)`` with continuous and categorical columns.

    Example:
        >>> import torch
        >>> from learned_aug.models.tabular import TabularVAE, TabularVAEConfig
        >>> cols = [{"name": "w"}, {"name": "c", "kind": "categorical", "categories": ["a", "b"]}]
        >>> vae = TabularVAE(TabularVAEConfig(features=2, columns=cols, latent_dim=2))
        >>> x = torch.tensor([[1.5, 0.0], [3.0, 1.0]])
        >>> vae.loss(x)["loss"].ndim, vae.sample(3).shape
        (0, torch.Size([3, 2]))
    """

    config_class = TabularVAEConfig
    config: TabularVAEConfig

    def __init__(self, config: TabularVAEConfig | dict):
        super().__init__(config)
        cfg, schema = self.config, self.config.schema
        self._cont = [i for i, c in enumerate(schema) if c.kind == "continuous"]
        self._cat = [(i, len(c.categories)) for i, c in enumerate(schema) if c.kind != "continuous"]
        width = len(self._cont) + sum(k for _, k in self._cat)
        hidden, k = list(cfg.hidden_dims), len(cfg.classes) if cfg.conditional else 0
        self.encoder = _mlp([width + k, *hidden])
        self.to_mu = nn.Linear(hidden[-1], cfg.latent_dim)
        self.to_logvar = nn.Linear(hidden[-1], cfg.latent_dim)
        self.decoder = nn.Sequential(
            _mlp([cfg.latent_dim + k, *hidden[::-1]]), nn.Linear(hidden[0], width)
        )
        self.register_buffer("offset", torch.zeros(len(self._cont)))
        self.register_buffer("scale", torch.ones(len(self._cont)))
        self.register_buffer("scaling_ready", torch.tensor(False))

    @classmethod
    def config_for(
        cls, sample_shape, classes, *, conditional: bool = False, columns=None, **kwargs
    ) -> TabularVAEConfig:
        """A config for rows of ``sample_shape`` ``(F,)``; ``columns`` gives the schema."""
        if len(sample_shape) != 1:
            raise ValueError(
                f"model 'tabular-vae' needs feature vectors of shape (F,), got sample shape "
                f"{tuple(sample_shape)}; use 'vae' or 'vqvae' for images"
            )
        columns = [Column.from_dict(c).to_dict() for c in (columns or [])]
        return TabularVAEConfig(
            features=sample_shape[0],
            columns=columns,
            classes=list(classes),
            conditional=bool(conditional and classes),
            **kwargs,
        )

    @property
    def sample_shape(self) -> tuple[int]:
        return (self.config.features,)

    @property
    def conditional(self) -> bool:
        return self.config.conditional

    @torch.no_grad()
    def init_scaling(self, x: Tensor) -> None:
        """Standardise the continuous columns with the mean and std of rows ``x``."""
        x = self._check_rows(x)[:, self._cont]
        std = x.std(0, unbiased=False) if len(x) > 1 else torch.ones_like(x[0])
        self.offset.copy_(broadcast(x.mean(0).contiguous()))
        self.scale.copy_(broadcast(torch.where(std > 1e-8, std, torch.ones_like(std))))
        self.scaling_ready.fill_(True)

    def _check_rows(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise TypeError(f"x must be a float tensor of rows, got {getattr(x, 'dtype', type(x))}")
        if x.dim() != 2 or x.shape[1] != self.config.features:
            raise ValueError(
                f"x must be rows of shape (B, {self.config.features}), got {tuple(x.shape)}"
            )
        bad = ~torch.isfinite(x)
        if bad.any():
            row, col = (int(v) for v in bad.nonzero()[0])
            raise ValueError(
                f"x has a non-finite value ({float(x[row, col])}) in row {row}, column "
                f"{self.config.schema[col].name!r}; fill or drop missing values first"
            )
        schema = self.config.schema
        for i, k in self._cat:
            codes = x[:, i]
            wrong = (codes != codes.round()) | (codes < 0) | (codes >= k)
            if wrong.any():
                row = int(wrong.nonzero()[0])
                raise ValueError(
                    f"column {schema[i].name!r} has the code {float(codes[row])} in row {row}, "
                    f"but it knows {k} categories {list(schema[i].categories)} (codes 0..{k - 1})"
                )
        return x

    def _inputs(self, x: Tensor) -> Tensor:
        x = self._check_rows(x)
        if self.training and not bool(self.scaling_ready):
            self.init_scaling(x)
        parts = [(x[:, self._cont] - self.offset) / self.scale]
        parts += [F.one_hot(x[:, i].long(), k).to(x.dtype) for i, k in self._cat]
        return torch.cat(parts, dim=1)

    def _with_class(self, h: Tensor, labels: Tensor | None) -> Tensor:
        if not self.conditional:
            return h
        if labels is None:
            raise ValueError(
                f"this tabular VAE is class-conditional ({len(self.classes)} classes): pass labels"
            )
        labels = self._check_labels(labels, len(h))
        return torch.cat([h, F.one_hot(labels, len(self.classes)).to(h.dtype)], dim=1)

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Normal:
        """Posterior q(z | x) over rows ``x`` ``(B, F)``."""
        h = self.encoder(self._with_class(self._inputs(x), labels))
        mu, logvar = self.to_mu(h), self.to_logvar(h).clamp(-20.0, 10.0)
        return Normal(mu, torch.exp(0.5 * logvar), validate_args=False)

    def _split(self, out: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Decoder output -> standardised continuous means and one logit block per column."""
        n = len(self._cont)
        sizes = [k for _, k in self._cat]
        return out[:, :n], list(out[:, n:].split(sizes, dim=1)) if sizes else []

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Rows in their own units: continuous values, and category codes by argmax."""
        cont, logits = self._split(self.decoder(self._with_class(z, labels)))
        rows = z.new_empty(len(z), self.config.features)
        rows[:, self._cont] = cont * self.scale + self.offset
        for (i, _), block in zip(self._cat, logits, strict=True):
            rows[:, i] = block.argmax(1).to(rows.dtype)
        return rows

    def sample(self, n: int, labels=None, rng: RandomSource = None) -> Tensor:
        """Decode ``n`` latents drawn from N(0, I) (of the given classes when conditional)."""
        labels = self.sample_labels(n, labels)
        return self.decode(self.randn(n, (self.config.latent_dim,), rng), labels)

    def _recon(self, out: Tensor, x: Tensor) -> Tensor:
        """Reconstruction loss per row: squared error (standardised units) + cross-entropy."""
        cont, logits = self._split(out)
        target = (x[:, self._cont] - self.offset) / self.scale
        recon = F.mse_loss(cont, target, reduction="none").sum(1)
        for (i, _), block in zip(self._cat, logits, strict=True):
            recon = recon + F.cross_entropy(block, x[:, i].long(), reduction="none")
        return recon

    def class_log_likelihood(self, x: Tensor) -> Tensor:
        """``(B, K)``: the ELBO of each row under each class, with the posterior mean.

        The score is minus the training loss at beta = 1 with z = mu (no sampling, so the same
        row always gets the same scores): the reconstruction term is the log-likelihood up to
        a constant shared by all classes. One pass over the ``B * K`` (row, class) pairs. Only
        a class-conditional tabular VAE has classes to score.
        """
        if not self.conditional:
            return super().class_log_likelihood(x)
        k, b = len(self.classes), len(x)
        rows = self._inputs(x).repeat(k, 1)  # class-major: row c * b + i
        labels = torch.arange(k, device=x.device).repeat_interleave(b)
        h = self.encoder(self._with_class(rows, labels))
        mu, logvar = self.to_mu(h), self.to_logvar(h).clamp(-20.0, 10.0)
        recon = self._recon(self.decoder(self._with_class(mu, labels)), x.repeat(k, 1))
        return -(recon + gaussian_kl(mu, logvar)).view(k, b).t()

    def loss(self, x: Tensor, labels: Tensor | None = None, *, kl_weight: float = 1.0):
        """Negative ELBO: squared error (standardised units) + cross-entropy + beta * KL."""
        q = self.encode(x, labels)
        recon = self._recon(self.decoder(self._with_class(q.rsample(), labels)), x)
        kl = gaussian_kl(q.mean, 2 * q.stddev.log())
        per_sample = recon + kl_weight * self.config.beta * kl
        return {
            "loss": per_sample.mean(),
            "recon": recon.mean(),
            "kl": kl.mean(),
            "per_sample": per_sample,
        }
