"""Vector quantizer of a VQ-VAE: EMA codebook, straight-through gradient, dead-code restart.

van den Oord et al. (2017), "Neural Discrete Representation Learning": an encoder output
``z_e`` is replaced by its nearest codebook vector ``e_k``; gradients pass straight through
(``z_e + sg(e_k - z_e)``), the commitment loss ``||z_e - sg(e_k)||^2`` keeps the encoder close
to its codes, and the codebook follows an exponential moving average of the encoder outputs
assigned to each code (their appendix A.1) instead of a codebook loss. Two fixes from practice:
the codebook is initialised from encoder outputs of the first training batch (data-dependent
initialisation), and codes no batch has used for ``dead_code_steps`` training steps are
re-seeded from random encoder outputs, so the codebook does not collapse onto a few codes.

All codebook state is held in buffers, so it saves and loads through ``model.safetensors``, and
every random choice uses torch's global RNG, which ``fit`` seeds per epoch: a run replays.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from learned_aug.models.collective import all_reduce, broadcast


@dataclass
class Quantized:
    """What the quantizer returns for a batch of encoder outputs ``(B, D, H, W)``.

    Attributes:
        quantized: the codebook vectors, with straight-through gradient to the encoder.
        codes: the code index of each position, ``(B, H, W)`` int64.
        commitment: ``||z_e - sg(e)||^2`` summed over each sample's positions, ``(B,)``.
        perplexity: exp of the entropy of the batch's code histogram (1 .. codebook_size).
        usage: fraction of the codebook the batch used.
    """

    quantized: Tensor
    codes: Tensor
    commitment: Tensor
    perplexity: Tensor
    usage: Tensor


def squared_distances(z: Tensor, codebook: Tensor) -> Tensor:
    """``||z_i - e_k||^2`` for rows ``z`` ``(N, D)`` and codes ``(K, D)``: ``(N, K)``."""
    codebook = codebook.to(z.dtype)
    return (
        z.pow(2).sum(1, keepdim=True) - 2.0 * z @ codebook.t() + codebook.pow(2).sum(1)[None, :]
    ).clamp_min(0.0)


def _random_rows(z: Tensor, k: int) -> Tensor:
    """``k`` rows of ``z`` chosen at random (with replacement when there are fewer than k)."""
    idx = (
        torch.randperm(len(z), device=z.device)[:k]
        if len(z) >= k
        else torch.randint(len(z), (k,), device=z.device)
    )
    return z[idx]


class VectorQuantizer(nn.Module):
    """Nearest-code quantization with an EMA codebook.

    Args:
        codebook_size: number of codes K.
        dim: size D of each code (the encoder's output channels).
        decay: EMA decay of the codebook statistics (0.99 in van den Oord et al.).
        dead_code_steps: training steps without any use after which a code is re-seeded from
            encoder outputs; 0 never restarts codes.
        eps: Laplace smoothing of the code counts (avoids dividing by zero).

    Example:
        >>> import torch
        >>> vq = VectorQuantizer(codebook_size=16, dim=4)
        >>> out = vq(torch.randn(2, 4, 3, 3))
        >>> out.codes.shape, out.quantized.shape
        (torch.Size([2, 3, 3]), torch.Size([2, 4, 3, 3]))
    """

    def __init__(
        self,
        codebook_size: int,
        dim: int,
        *,
        decay: float = 0.99,
        dead_code_steps: int = 100,
        eps: float = 1e-5,
    ):
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        self.codebook_size, self.dim = codebook_size, dim
        self.decay, self.dead_code_steps, self.eps = decay, dead_code_steps, eps
        embedding = torch.randn(codebook_size, dim)
        self.register_buffer("embedding", embedding)
        self.register_buffer("cluster_size", torch.ones(codebook_size))
        self.register_buffer("embed_sum", embedding.clone())
        self.register_buffer("unused_steps", torch.zeros(codebook_size, dtype=torch.int64))
        self.register_buffer("initialized", torch.tensor(False))

    def extra_repr(self) -> str:
        return f"codebook_size={self.codebook_size}, dim={self.dim}, decay={self.decay}"

    # ------------------------------------------------------------------ lookups
    def flatten(self, z_e: Tensor) -> Tensor:
        """``(B, D, H, W)`` -> ``(B * H * W, D)`` rows in the codebook's dtype, at least
        float32 (exact distances under mixed precision)."""
        dtype = torch.promote_types(self.embedding.dtype, torch.float32)
        return z_e.permute(0, 2, 3, 1).reshape(-1, self.dim).to(dtype)

    def nearest(self, z_e: Tensor) -> Tensor:
        """The nearest code of every position of ``z_e`` ``(B, D, H, W)``: ``(B, H, W)``."""
        b, _, h, w = z_e.shape
        return squared_distances(self.flatten(z_e), self.embedding).argmin(1).view(b, h, w)

    def lookup(self, codes: Tensor) -> Tensor:
        """Codebook vectors of ``codes`` ``(B, H, W)`` as ``(B, D, H, W)``."""
        return F.embedding(codes, self.embedding).permute(0, 3, 1, 2)

    def resample(self, z_e: Tensor, gumbel: Tensor, temperature: Tensor, k: int) -> Tensor:
        """Codes drawn among the ``k`` nearest, with probability falling with distance.

        At each position the logits are ``-(d_k - d_1) / (T * (d_2 - d_1))``: at temperature
        ``T`` the second-nearest code is ``exp(-1 / T)`` times as likely as the nearest, and
        ``T = 0`` gives the nearest code. ``gumbel`` ``(B, H, W, k)`` holds the Gumbel noise
        (drawn by the caller, one random stream per sample) and ``temperature`` is ``(B,)``.
        """
        b, _, h, w = z_e.shape
        k = min(max(int(k), 1), self.codebook_size)
        d = squared_distances(self.flatten(z_e), self.embedding).view(b, h, w, -1)
        d, idx = d.topk(k, dim=-1, largest=False)
        if k == 1:
            return idx[..., 0]
        gap = (d[..., 1:2] - d[..., :1]).clamp_min(1e-8)
        t = temperature.to(d).view(b, 1, 1, 1)
        logits = -(d - d[..., :1]) / (t.clamp_min(1e-8) * gap)
        pick = torch.where(t > 0, logits + gumbel.to(d), logits).argmax(-1, keepdim=True)
        return idx.gather(-1, pick).squeeze(-1)

    # ------------------------------------------------------------------ training
    def forward(self, z_e: Tensor) -> Quantized:
        """Quantize ``z_e`` ``(B, D, H, W)``; in training mode also update the codebook."""
        b, _, h, w = z_e.shape
        flat = self.flatten(z_e)
        if self.training and not bool(self.initialized):
            self._initialize(flat)
        codes = squared_distances(flat, self.embedding).argmin(1)
        counts = torch.bincount(codes, minlength=self.codebook_size).float()
        if self.training:
            self._update(flat, codes, counts)
        quantized = self.lookup(codes.view(b, h, w)).to(z_e.dtype)
        commitment = (z_e - quantized.detach()).pow(2).flatten(1).sum(1)
        probs = counts / counts.sum().clamp_min(1.0)
        perplexity = torch.exp(-(probs * probs.clamp_min(1e-10).log()).sum())
        return Quantized(
            quantized=z_e + (quantized - z_e).detach(),
            codes=codes.view(b, h, w),
            commitment=commitment,
            perplexity=perplexity,
            usage=(counts > 0).float().mean(),
        )

    @torch.no_grad()
    def _initialize(self, flat: Tensor) -> None:
        """Data-dependent initialisation: the codes start at random encoder outputs."""
        chosen = broadcast(_random_rows(flat, self.codebook_size).contiguous())
        self.embedding.copy_(chosen)
        self.embed_sum.copy_(chosen)
        self.cluster_size.fill_(1.0)
        self.unused_steps.zero_()
        self.initialized.fill_(True)

    @torch.no_grad()
    def _update(self, flat: Tensor, codes: Tensor, counts: Tensor) -> None:
        """EMA codebook update (van den Oord et al., appendix A.1), then dead-code restart."""
        sums = torch.zeros_like(self.embed_sum).index_add_(0, codes, flat)
        counts, sums = all_reduce(counts.clone()), all_reduce(sums)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (n + self.codebook_size * self.eps) * n
        self.embedding.copy_(self.embed_sum / smoothed[:, None])
        self.unused_steps.add_(1).masked_fill_(counts > 0, 0)
        if self.dead_code_steps > 0:
            self._restart(flat)

    @torch.no_grad()
    def _restart(self, flat: Tensor) -> None:
        dead = self.unused_steps >= self.dead_code_steps
        n_dead = int(dead.sum())
        if n_dead == 0:
            return
        fresh = broadcast(_random_rows(flat, n_dead).contiguous())
        self.embedding[dead] = fresh
        self.embed_sum[dead] = fresh
        self.cluster_size[dead] = 1.0
        self.unused_steps[dead] = 0
