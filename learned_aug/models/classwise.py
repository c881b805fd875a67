"""One generator per class behind the Generator surface (the "multi-VAE" of the literature)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, Normal

from learned_aug.models.base import MODELS, Generator, register
from learned_aug.models.config import GeneratorConfig
from learned_aug.models.image import check_images
from learned_aug.models.likelihood import gaussian_kl, reconstruction_nll
from learned_aug.models.stacked import StackedVAEs
from learned_aug.models.tabular import TabularVAE
from learned_aug.models.vae import VAE, VAEConfig
from learned_aug.rng import ItemStreams, RandomSource


@dataclass
class ClasswiseConfig(GeneratorConfig):
    """Config of a per-class generator.

    Args:
        member: config dict of one member (its ``model_type`` names the kind); each class gets a
            member built from it.
        mix_in: fraction of each member's training batch drawn from the other classes (Iser 2023
            mixes in 20%); 0 trains every member on its own class alone (Garay-Maestre et al.).
    """

    model_type: str = "classwise"
    member: dict[str, Any] = field(default_factory=dict)
    mix_in: float = 0.0

    def __post_init__(self) -> None:
        # The member config is stored as it reads back from config.json (lists, not tuples).
        self.member = json.loads(json.dumps(self.member))
        if not 0.0 <= float(self.mix_in) < 1.0:
            raise ValueError(f"mix_in must be in [0, 1), got {self.mix_in!r}")
        kind = self.member.get("model_type") if isinstance(self.member, dict) else None
        if self.member and (kind not in MODELS or kind == "classwise"):
            raise ValueError(
                f"member must be the config dict of a registered generator, got model_type="
                f"{kind!r}; accepted: {sorted(k for k in MODELS if k != 'classwise')}"
            )


def _scatter(parts: list[tuple[Tensor | None, Tensor]], n: int) -> Tensor:
    """Put each (index, values) part back at its rows of an n-row tensor (index None: all)."""
    if len(parts) == 1 and parts[0][0] is None:
        return parts[0][1]
    first = parts[0][1]
    out = first.new_empty((n, *first.shape[1:]))
    for idx, values in parts:
        out[idx] = values
    return out


def _rows(x: Tensor, idx: Tensor | None) -> Tensor:
    return x if idx is None else x[idx]


def elbo_at_mean(member: nn.Module, x: Tensor) -> Tensor:
    """``(B,)`` ELBO of each example under an unconditional ``member`` at ``z = mu``:
    ``-(reconstruction NLL + beta * KL)``, deterministic."""
    vae = getattr(member, "vae", member)  # a DenoisingVAE scores with its VAE
    if isinstance(vae, VAE):
        q = vae.encode(x)
        recon = reconstruction_nll(vae.decode_logits(q.mean), x, vae.config.likelihood)
        return -(recon + vae.config.kl_weight * gaussian_kl(q.mean, 2 * q.stddev.log()))
    if isinstance(member, TabularVAE):  # TabularVAE.loss's terms, at the mean
        q = member.encode(x)
        cont, logits = member._split(member.decoder(q.mean))
        target = (x[:, member._cont] - member.offset) / member.scale
        recon = (cont - target).pow(2).sum(1)
        for (i, _), block in zip(member._cat, logits, strict=True):
            recon = recon + torch.nn.functional.cross_entropy(
                block, x[:, i].long(), reduction="none"
            )
        return -(recon + member.config.beta * gaussian_kl(q.mean, 2 * q.stddev.log()))
    raise NotImplementedError(
        f"per-class members of kind {member.config.model_type!r} have no per-example ELBO to "
        "score classes with (the generative classifier needs VAE or tabular-VAE members); pass "
        "labels, or classify the images with a classifier of your own"
    )


@register("classwise")
class ClasswiseGenerator(Generator):
    """One member generator per class, trained on that class (plus optional mix-in).

    ``sample(n, labels)`` asks each class's member for its samples, so the samples carry the
    class of the member that made them. VAE members run as one batched computation (their
    weights stacked, see :class:`~learned_aug.models.stacked.StackedVAEs`); other kinds run one
    member at a time. ``members[k]`` is member ``k`` as a plain generator either way.
    Saved and loaded as one folder, one ``members.{k}.<name>`` key per member weight.

    Example:
        >>> import torch
        >>> from learned_aug import ClasswiseGenerator, VAEConfig
        >>> member = VAEConfig(image_size=(8, 8), latent_dim=3, hidden_channels=(8, 16))
        >>> gen = ClasswiseGenerator.from_member(member, classes=["a", "b"])
        >>> gen.sample(4, labels=[0, 1, 1, 0]).shape
        torch.Size([4, 1, 8, 8])
        >>> gen.class_log_likelihood(torch.rand(3, 1, 8, 8)).shape
        torch.Size([3, 2])
    """

    config_class = ClasswiseConfig
    config: ClasswiseConfig

    def __init__(self, config: ClasswiseConfig | dict):
        super().__init__(config)
        if not self.config.classes:
            raise ValueError("a ClasswiseGenerator needs classes: config.classes is empty")
        if not self.config.member:
            raise ValueError("a ClasswiseGenerator needs a member config: config.member is empty")
        member_cls = MODELS[self.config.member["model_type"]]
        member = {**self.config.member, "classes": []}
        if member_cls is VAE and not member.get("conditional"):
            self.members = StackedVAEs(VAEConfig.from_dict(member), self.config.classes)
        else:
            self.members = nn.ModuleList(
                member_cls(member_cls.config_class.from_dict({**member, "classes": [c]}))
                for c in self.config.classes
            )

    @classmethod
    def from_member(
        cls, member: GeneratorConfig, classes: list[str], mix_in: float = 0.0
    ) -> ClasswiseGenerator:
        """One member per class, each built from the ``member`` config."""
        member_dict = member.to_dict()
        member_dict["classes"] = []
        return cls(ClasswiseConfig(classes=list(classes), member=member_dict, mix_in=mix_in))

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.members[0].sample_shape

    @property
    def conditional(self) -> bool:
        return True

    @property
    def _batched(self) -> StackedVAEs | None:
        return self.members if isinstance(self.members, StackedVAEs) else None

    def _labels(self, labels, n: int) -> Tensor:
        if labels is None:
            raise ValueError(
                "a ClasswiseGenerator routes by class: pass labels (or infer them with "
                "infer_labels(x))"
            )
        return self._check_labels(labels, n)

    def _groups(self, labels: Tensor | None, n: int) -> list[tuple[int, Tensor | None]]:
        """(class, row indices) of each class present, ascending; indices None: every row."""
        labels = self._labels(labels, n)
        if n == 1 or (n and bool((labels == labels[0]).all())):  # one class: no gather/scatter
            return [(int(labels[0]), None)]
        # Only the classes present, so a call with few classes routes few times, not K times.
        return [(k, (labels == k).nonzero().squeeze(1)) for k in labels.unique().tolist()]

    def _route(self, labels, n: int, fn: Callable[[nn.Module, Tensor | None], Any]) -> list:
        return [(idx, fn(self.members[k], idx)) for k, idx in self._groups(labels, n)]

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Any:
        if self._batched is not None:
            check_images(x, self.sample_shape)
            return self._batched.encode(x, self._labels(labels, len(x)))
        parts = self._route(labels, len(x), lambda m, idx: m.encode(_rows(x, idx)))
        if len(parts) == 1 and parts[0][0] is None:
            return parts[0][1]
        if isinstance(parts[0][1], Distribution):
            loc = _scatter([(i, q.mean) for i, q in parts], len(x))
            scale = _scatter([(i, q.stddev) for i, q in parts], len(x))
            return Normal(loc, scale, validate_args=False)
        return _scatter(parts, len(x))

    def encode_mean(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        if self._batched is not None:
            check_images(x, self.sample_shape)
            return self._batched.encode_mean(x, self._labels(labels, len(x)))
        parts = self._route(labels, len(x), lambda m, idx: m.encode_mean(_rows(x, idx)))
        return _scatter(parts, len(x))

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self._batched is not None:
            return self._batched.decode(z, self._labels(labels, len(z)))
        return _scatter(self._route(labels, len(z), lambda m, i: m.decode(_rows(z, i))), len(z))

    def sample(self, n: int, labels=None, rng: RandomSource = None) -> Tensor:
        """``n`` samples; ``labels`` default to a balanced cycle over the classes."""
        labels = self.sample_labels(n, labels)
        if n == 0:
            return torch.empty(0, *self.sample_shape, device=self.device)
        if self._batched is not None:  # sample i from its own stream when given one per sample
            return self.decode(self.randn(n, (self.members[0].config.latent_dim,), rng), labels)
        first = self.members[0]
        if callable(getattr(first, "prior_latents", None)) and not first.conditional:
            # Members share one config: draw every latent in one go, then route the decoding.
            return self.decode(first.prior_latents(n, rng), labels)

        def draw(member: nn.Module, idx: Tensor):
            if rng is None or isinstance(rng, torch.Generator) or idx is None:
                return member.sample(n if idx is None else len(idx), rng=rng)
            if isinstance(rng, ItemStreams):
                return member.sample(len(idx), rng=rng.subset(idx))
            return member.sample(len(idx), rng=[rng[i] for i in idx.tolist()])

        return _scatter(self._route(labels, n, draw), n)

    def loss(self, x: Tensor, labels: Tensor | None = None, *, kl_weight: float = 1.0):
        """Each member's loss on its class's rows (plus the mix-in), weighted by row count."""
        if labels is None:
            raise ValueError("a ClasswiseGenerator trains per class: pass labels")
        labels = self._check_labels(labels, len(x))
        members, rows = self._pairs(labels)
        if self._batched is not None:
            check_images(x, self.sample_shape)
            return self._batched.loss(x, members, rows, kl_weight=kl_weight)
        totals: dict[str, Tensor] = {}
        for k in members.unique().tolist():
            idx = rows[members == k]
            parts = self.members[k].loss(x[idx], kl_weight=kl_weight)
            for name, value in parts.items():
                if value.dim() == 0:
                    totals[name] = totals.get(name, 0) + value * len(idx)
        return {name: value / len(rows) for name, value in totals.items()}

    def _pairs(self, labels: Tensor) -> tuple[Tensor, Tensor]:
        """The (member, row) pairs a training batch gives: each row to its class's member,
        plus ``mix_in`` of each member's pairs drawn from the other classes' rows."""
        n, k, mix_in = len(labels), len(self.classes), self.config.mix_in
        rows = torch.arange(n, device=labels.device)
        if mix_in <= 0 or n == 0:
            return labels, rows
        counts = torch.bincount(labels, minlength=k)
        want = torch.round(counts.double() * mix_in / (1 - mix_in)).long()
        extra = torch.where(counts > 0, torch.minimum(n - counts, want), 0)
        if not bool(extra.any()):
            return labels, rows
        # Each member's other-class rows in a random order (its own rows sorted last).
        classes = torch.arange(k, device=labels.device)
        scores = torch.rand(k, n, device=labels.device)
        scores.masked_fill_(labels.unsqueeze(0) == classes.unsqueeze(1), 2.0)
        order = scores.argsort(dim=1)
        take = rows.unsqueeze(0) < extra.unsqueeze(1)
        extra_members = classes.unsqueeze(1).expand(k, n)[take]
        return torch.cat([labels, extra_members]), torch.cat([rows, order[take]])

    def class_log_likelihood(self, x: Tensor) -> Tensor:
        """``(B, K)``: the ELBO of each example under each class's member, at the posterior
        mean (deterministic); VAE members score all classes in one batched pass."""
        check_images(x, self.sample_shape)
        if self._batched is not None:
            return self._batched.class_log_likelihood(x)
        return torch.stack([elbo_at_mean(m, x) for m in self.members], dim=1)
