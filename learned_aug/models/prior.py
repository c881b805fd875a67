"""An autoregressive prior over the code grid of a VQ-VAE: a small class-conditional transformer.

A VQ-VAE alone reconstructs; to draw new images it needs a distribution over code grids. As
van den Oord et al. (2017) do with a PixelCNN, the grid is read in raster order and each code is
predicted from the codes before it, here by a small causal transformer (the first token is the
class, or a start token for an unconditional prior). Sampling runs position by position with a
key/value cache, with temperature and top-k; the noise is drawn up front, one Gumbel vector per
sample and position, so each sample depends only on its own random stream (Gumbel-max:
``argmax(logits / T + g)`` is a draw from ``softmax(logits / T)``). Its settings are one
:class:`PriorConfig`, the ``prior`` of a ``VQVAEConfig``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from learned_aug.models.config import check_positive

KVCache = list[tuple[Tensor, Tensor]]


def gumbel_from_normal(z: Tensor) -> Tensor:
    """Gumbel(0, 1) noise from standard normal noise (through the normal CDF).

    Going through ``Generator.randn`` reuses its one-stream-per-sample machinery (``rng``).
    """
    u = torch.special.ndtr(z.double()).clamp(1e-12, 1 - 1e-12)
    return (-torch.log(-torch.log(u))).float()


@dataclass
class PriorConfig:
    """Config of the prior over a VQ-VAE's codes: its transformer and how it samples.

    A ``VQVAEConfig`` holds one as ``prior``; ``config.json`` holds it as a nested object, and a
    dict of these fields given for ``prior`` becomes one.

    Args:
        dim: width of the transformer.
        layers: number of blocks.
        heads: attention heads (must divide ``dim``).
        dropout: dropout in attention and MLP during training, in [0, 1).
        temperature: default sampling temperature (``VQVAE.sample(temperature=)`` overrides
            it); 0 is greedy.
        top_k: default top-k of sampling (``VQVAE.sample(top_k=)`` overrides it); 0 keeps every
            code.

    Example:
        >>> from learned_aug.models.vqvae import VQVAEConfig
        >>> VQVAEConfig(prior={"dim": 32, "heads": 2}).prior
        PriorConfig(dim=32, layers=2, heads=2, dropout=0.1, temperature=1.0, top_k=0)
    """

    dim: int = 64
    layers: int = 2
    heads: int = 4
    dropout: float = 0.1
    temperature: float = 1.0
    top_k: int = 0

    def __post_init__(self) -> None:
        for name in ("dim", "layers", "heads"):
            check_positive(f"prior.{name}", getattr(self, name))
        if self.dim % self.heads:
            raise ValueError(
                f"prior.dim must be divisible by prior.heads, got {self.dim} and {self.heads}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"prior.dropout must be in [0, 1), got {self.dropout!r}")
        if self.temperature < 0:
            raise ValueError(f"prior.temperature must be >= 0, got {self.temperature!r}")
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 0:
            raise ValueError(f"prior.top_k must be an int >= 0, got {self.top_k!r}")


class _Block(nn.Module):
    """Pre-norm transformer block with causal self-attention and an optional KV cache."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), nn.Dropout(dropout)
        )

    def _split(self, t: Tensor) -> Tensor:
        b, n, d = t.shape
        return t.view(b, n, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, x: Tensor, cache: tuple[Tensor, Tensor] | None = None):
        q, k, v = (self._split(t) for t in self.qkv(self.norm1(x)).chunk(3, dim=-1))
        if cache is not None:  # incremental decoding: x holds the new positions only
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        attn = F.scaled_dot_product_attention(
            q,
            k,
            v,
            is_causal=cache is None,
            dropout_p=self.dropout if self.training else 0.0,
        )
        x = x + self.proj(attn.transpose(1, 2).reshape(x.shape))
        return x + self.mlp(self.norm2(x)), (k, v)


class CodePrior(nn.Module):
    """Causal transformer over a flattened code grid of ``length`` positions.

    Args:
        codebook_size: number of codes K.
        length: positions in the grid (H * W).
        num_classes: 0 for an unconditional prior, else the number of classes.
        config: the transformer's size and the sampling defaults (None: ``PriorConfig()``).

    The buffer ``class_counts`` counts the training sequences seen per class, so sampling a
    class the prior never saw can be refused.

    Example:
        >>> import torch
        >>> prior = CodePrior(8, length=4, num_classes=2, config=PriorConfig(16, layers=1, heads=2))
        >>> prior.logits(torch.zeros(3, 4, dtype=torch.long), torch.tensor([0, 1, 1])).shape
        torch.Size([3, 4, 8])
    """

    def __init__(
        self,
        codebook_size: int,
        length: int,
        num_classes: int = 0,
        config: PriorConfig | None = None,
    ):
        super().__init__()
        self.config = config = PriorConfig() if config is None else config
        dim = config.dim
        self.codebook_size, self.length, self.num_classes = codebook_size, length, num_classes
        self.start = nn.Embedding(max(num_classes, 1), dim)
        self.token = nn.Embedding(codebook_size, dim)
        self.position = nn.Parameter(torch.zeros(length, dim))
        nn.init.normal_(self.position, std=0.02)
        self.blocks = nn.ModuleList(
            _Block(dim, config.heads, config.dropout) for _ in range(config.layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, codebook_size)
        self.register_buffer("class_counts", torch.zeros(max(num_classes, 1)))

    @property
    def trained(self) -> bool:
        """Whether the prior has been trained on any sequence."""
        return bool(self.class_counts.sum() > 0)

    def check_seen(self, labels: Tensor, names: list[str]) -> None:
        """Refuse classes a trained prior never saw (an untrained prior has seen none)."""
        counts = self.class_counts.tolist()
        unseen = sorted({int(k) for k in labels.tolist() if counts[int(k)] == 0})
        if unseen and self.trained:
            seen = [c for c, m in zip(names, counts, strict=False) if m > 0]
            raise ValueError(
                f"the prior never saw class(es) {[names[k] for k in unseen]} in training, so it "
                f"cannot sample them; it was trained on {seen}"
            )

    def _starts(self, labels: Tensor | None, n: int) -> Tensor:
        if self.num_classes == 0 or labels is None:
            return torch.zeros(n, dtype=torch.long, device=self.position.device)
        return labels.to(self.position.device)

    def logits(self, codes: Tensor, labels: Tensor | None = None) -> Tensor:
        """Next-code logits ``(B, L, K)`` of code sequences ``(B, L)`` (teacher forcing)."""
        b = len(codes)
        x = torch.cat([self.start(self._starts(labels, b))[:, None], self.token(codes[:, :-1])], 1)
        x = x + self.position[None]
        for block in self.blocks:
            x, _ = block(x)
        return self.head(self.norm(x))

    def nll(self, codes: Tensor, labels: Tensor | None = None) -> Tensor:
        """Mean negative log-likelihood per code (nats), one value per sequence ``(B,)``."""
        logits = self.logits(codes, labels)
        nll = F.cross_entropy(logits.transpose(1, 2), codes, reduction="none")
        return nll.mean(1)

    @torch.no_grad()
    def count(self, labels: Tensor | None, n: int) -> None:
        """Record that ``n`` training sequences (of ``labels``) were seen."""
        starts = self._starts(labels, n)
        self.class_counts += torch.bincount(starts, minlength=len(self.class_counts)).float()

    @torch.no_grad()
    def generate(
        self,
        gumbel: Tensor,
        labels: Tensor | None = None,
        *,
        temperature: float | None = None,
        top_k: int | None = None,
    ) -> Tensor:
        """Sample code sequences ``(B, L)`` given Gumbel noise ``(B, L, K)`` drawn up front.

        Args:
            gumbel: the noise of every sample and position (see ``gumbel_from_normal``).
            labels: class of each sample (for a conditional prior).
            temperature: divides the logits; 0 takes the most likely code (greedy); None:
                ``config.temperature``.
            top_k: keep only the k most likely codes at each position; 0 keeps all; None:
                ``config.top_k``.
        """
        temp = self.config.temperature if temperature is None else float(temperature)
        k = self.config.top_k if top_k is None else int(top_k)
        b = len(gumbel)
        x = self.start(self._starts(labels, b))[:, None] + self.position[None, :1]
        caches: KVCache | list[None] = [None] * len(self.blocks)
        codes = torch.empty(b, self.length, dtype=torch.long, device=gumbel.device)
        for t in range(self.length):
            for i, block in enumerate(self.blocks):
                x, caches[i] = block(x, caches[i] if t else None)
            logits = self.head(self.norm(x[:, -1])).float()
            codes[:, t] = pick_codes(logits, gumbel[:, t], temp, k)
            if t + 1 < self.length:
                x = self.token(codes[:, t])[:, None] + self.position[None, t + 1 : t + 2]
        return codes


def pick_codes(logits: Tensor, gumbel: Tensor, temperature: float, top_k: int) -> Tensor:
    """Gumbel-max sampling from ``softmax(logits / temperature)`` restricted to the top k."""
    if top_k and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if temperature <= 0:
        return logits.argmax(-1)
    return (logits / temperature + gumbel.to(logits)).argmax(-1)
