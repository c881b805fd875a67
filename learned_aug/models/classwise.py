"""One generator per class behind the Generator surface (the "multi-VAE" of the literature)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, Normal

from learned_aug.models.base import MODELS, Generator, GeneratorConfig, RandomSource, register
from learned_aug.rng import ItemStreams


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


@register("classwise")
class ClasswiseGenerator(Generator):
    """One member generator per class, trained on that class (plus optional mix-in).

    ``sample(n, labels)`` asks each class's member for its samples, so the samples carry the
    class of the member that made them. Saved and loaded as one folder.

    Example:
        >>> import torch
        >>> from learned_aug import ClasswiseGenerator, VAEConfig
        >>> member = VAEConfig(image_size=(8, 8), latent_dim=3, hidden_channels=(8, 16))
        >>> gen = ClasswiseGenerator.from_member(member, classes=["a", "b"])
        >>> gen.sample(4, labels=[0, 1, 1, 0]).shape
        torch.Size([4, 1, 8, 8])
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
        self.members = nn.ModuleList(
            member_cls(member_cls.config_class.from_dict({**self.config.member, "classes": [c]}))
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

    def _groups(self, labels: Tensor | None, n: int) -> list[tuple[int, Tensor | None]]:
        """(class, row indices) of each class present, ascending; indices None: every row."""
        if labels is None:
            raise ValueError("a ClasswiseGenerator routes by class: pass labels")
        labels = self._check_labels(labels, n)
        if n == 1 or (n and bool((labels == labels[0]).all())):  # one class: no gather/scatter
            return [(int(labels[0]), None)]
        # Only the classes present, so a call with few classes routes few times, not K times.
        return [(k, (labels == k).nonzero().squeeze(1)) for k in labels.unique().tolist()]

    def _route(self, labels, n: int, fn: Callable[[nn.Module, Tensor | None], Any]) -> list:
        return [(idx, fn(self.members[k], idx)) for k, idx in self._groups(labels, n)]

    def encode(self, x: Tensor, labels: Tensor | None = None) -> Any:
        parts = self._route(labels, len(x), lambda m, idx: m.encode(_rows(x, idx)))
        if len(parts) == 1 and parts[0][0] is None:
            return parts[0][1]
        if isinstance(parts[0][1], Distribution):
            loc = _scatter([(i, q.mean) for i, q in parts], len(x))
            scale = _scatter([(i, q.stddev) for i, q in parts], len(x))
            return Normal(loc, scale, validate_args=False)
        return _scatter(parts, len(x))

    def encode_mean(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        parts = self._route(labels, len(x), lambda m, idx: m.encode_mean(_rows(x, idx)))
        return _scatter(parts, len(x))

    def decode(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return _scatter(self._route(labels, len(z), lambda m, i: m.decode(_rows(z, i))), len(z))

    def sample(self, n: int, labels=None, generator: RandomSource = None) -> Tensor:
        """``n`` samples; ``labels`` default to a balanced cycle over the classes."""
        n = self._check_n(n)
        labels = self.sample_labels(n, labels)
        if n == 0:
            return torch.empty(0, *self.sample_shape, device=self.device)
        first = self.members[0]
        if callable(getattr(first, "prior_latents", None)) and not first.conditional:
            # Members share one config: draw every latent in one go (sample i from its own
            # stream when given one per sample), then route the decoding by class.
            return self.decode(first.prior_latents(n, generator), labels)

        def draw(member: nn.Module, idx: Tensor):
            if generator is None or isinstance(generator, torch.Generator) or idx is None:
                return member.sample(n if idx is None else len(idx), generator=generator)
            if isinstance(generator, ItemStreams):
                return member.sample(len(idx), generator=generator.subset(idx))
            return member.sample(len(idx), generator=[generator[i] for i in idx.tolist()])

        return _scatter(self._route(labels, n, draw), n)

    def loss(self, x: Tensor, labels: Tensor | None = None, *, kl_weight: float = 1.0):
        """Each member's loss on its class's rows (plus the mix-in), weighted by row count."""
        if labels is None:
            raise ValueError("a ClasswiseGenerator trains per class: pass labels")
        totals: dict[str, Tensor] = {}
        count = 0
        for k, rows in self._groups(labels, len(x)):
            idx = torch.arange(len(x), device=x.device) if rows is None else rows
            idx = self._with_mix_in(idx, labels)
            parts = self.members[k].loss(x[idx], kl_weight=kl_weight)
            for name, value in parts.items():
                if value.dim() == 0:
                    totals[name] = totals.get(name, 0) + value * len(idx)
            count += len(idx)
        return {name: value / count for name, value in totals.items()}

    def _with_mix_in(self, idx: Tensor, labels: Tensor) -> Tensor:
        mix_in = self.config.mix_in
        if mix_in <= 0:
            return idx
        others = (labels != labels[idx[0]]).nonzero().squeeze(1)
        m = min(len(others), round(len(idx) * mix_in / (1 - mix_in)))
        if m == 0:
            return idx
        pick = others[torch.randperm(len(others), device=others.device)[:m]]
        return torch.cat([idx, pick])
