"""Latent strategies: how new examples are made from real ones, as pure functions.

Every strategy has one signature, ``strategy(model, images, labels, alpha, rng, bank, **options)
-> images``:

- ``model``: a :class:`~learned_aug.models.Generator` (in eval mode; called under ``no_grad``);
- ``images``: a float batch ``(B, *model.sample_shape)`` in ``[0, 1]``, or :class:`Latents` (codes
  taken from a :class:`~learned_aug.latent_bank.LatentBank`, as ``SyntheticDataset`` passes them);
  :func:`encode_mean` turns either into codes;
- ``labels``: ``(B,)`` class indices or ``None``; they are handed to the model only when it is
  class-conditional (:func:`model_labels`), and select same-class neighbours in the bank;
- ``alpha``: ``(B,)`` strengths, one per example, already drawn (see :func:`draw_alpha`);
- ``rng``: a ``torch.Generator``, one per example (then example ``i`` depends on its own
  generator alone), or ``None`` for torch's global RNG;
- ``bank``: the generator's ``LatentBank`` or ``None``.

The literature they come from: reconstruction and prior sampling (Garay-Maestre et al. 2019;
van den Oord et al. 2017), and noise, interpolation and extrapolation in latent space toward a
same-class neighbour (Iser 2023): z' = mu_i + eps, eps ~ N(0, alpha^2 I); z' = mu_i +/- alpha
(mu_k - mu_i); the aggregate posterior, a draw from q(z | x_i) of a training example
(``"posterior"``), and a per-class Gaussian mixture fitted to the bank's codes (``"gmm"``; Chadebec
et al. 2022). Other generator kinds add theirs with :func:`register_strategy`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn
from torch.distributions import Distribution

from learned_aug.latent_bank import LatentBank
from learned_aug.models import Generator
from learned_aug.rng import ItemStreams, RandomSource, uniform
from learned_aug.rng import check_alpha as check_alpha  # their old import path
from learned_aug.rng import draw_alpha as draw_alpha

Alpha = float | tuple[float, float]


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


class StrategyFn(Protocol):
    def __call__(
        self,
        model: Generator,
        images: Tensor | Latents,
        labels: Tensor | None,
        alpha: Tensor,
        rng: RandomSource,
        bank: LatentBank | None,
        **options: Any,
    ) -> Tensor: ...


@dataclass(frozen=True)
class Strategy:
    """A registered strategy and what it needs.

    Args:
        fn: the strategy function (signature in the module docstring).
        default_alpha: the alpha (a number or a ``(low, high)`` range) used when none is given;
            ``None`` for a strategy that takes no alpha.
        needs_source: it reads the examples it is given (``False`` for ``"prior"``, which draws
            fresh samples and only uses how many there are).
        needs_bank: it needs a latent bank (neighbour search).
        reads_labels: it reads the examples' labels (class-aware generators are conditioned on
            them); ``LearnedAugment`` classifies images given without one only then.
        key: the name it is registered under in :data:`STRATEGIES`.

    Example:
        >>> STRATEGIES["interpolate"].needs_bank
        True
    """

    fn: StrategyFn
    default_alpha: Alpha | None = None
    needs_source: bool = True
    needs_bank: bool = False
    reads_labels: bool = True
    key: str | None = None

    @property
    def name(self) -> str:
        """The registered name (``"vq-resample"``), else the function's name."""
        return self.key or getattr(self.fn, "__name__", repr(self.fn))

    def __call__(self, model, images, labels, alpha, rng, bank, **options) -> Tensor:
        return self.fn(model, images, labels, alpha, rng, bank, **options)


STRATEGIES: dict[str, Strategy] = {}


def register_strategy(
    name: str,
    *,
    default_alpha: Alpha | None = None,
    needs_source: bool = True,
    needs_bank: bool = False,
    reads_labels: bool = True,
) -> Callable[[StrategyFn], StrategyFn]:
    """Decorator: register a strategy function under ``name`` in :data:`STRATEGIES`."""

    def wrap(fn: StrategyFn) -> StrategyFn:
        if name in STRATEGIES and STRATEGIES[name].fn is not fn:
            raise ValueError(f"a strategy named {name!r} is already registered")
        STRATEGIES[name] = Strategy(
            fn, default_alpha, needs_source, needs_bank, reads_labels, key=name
        )
        return fn

    return wrap


def get_strategy(strategy: str | Strategy | StrategyFn) -> Strategy:
    """The :class:`Strategy` of a registered name, a ``Strategy``, or a bare strategy function."""
    if isinstance(strategy, Strategy):
        return strategy
    if isinstance(strategy, str):
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {sorted(STRATEGIES)}, got {strategy!r}")
        return STRATEGIES[strategy]
    if callable(strategy):
        return Strategy(strategy)
    raise TypeError(
        f"strategy must be a name in {sorted(STRATEGIES)} or a callable, "
        f"got {type(strategy).__name__}"
    )


def default_strategy(model: Generator) -> str:
    """The strategy ``LearnedAugment`` and ``SyntheticDataset`` use when none is named.

    ``"noise"`` for generators with a continuous latent; ``"vq-resample"`` for VQ-VAEs, whose
    codes are discrete.

    Example:
        >>> from learned_aug import VAE, VAEConfig
        >>> default_strategy(VAE(VAEConfig(image_size=(8, 8), latent_dim=2)))
        'noise'
    """
    member = getattr(model, "members", None)
    kind = member[0] if member else model
    return "vq-resample" if callable(getattr(kind, "resample", None)) else "noise"


def dataset_strategy(model: Generator, bank: LatentBank | None) -> str:
    """The strategy ``SyntheticDataset`` uses when none is named: ``"posterior"`` (the aggregate
    posterior, where the decoder was trained) when the latent bank holds the posterior's standard
    deviations, else the generator's own ``"prior"``.

    Example:
        >>> from learned_aug import VAE, VAEConfig
        >>> dataset_strategy(VAE(VAEConfig(image_size=(8, 8), latent_dim=2)), None)
        'prior'
    """
    return "posterior" if bank is not None and bank.stds is not None else "prior"


# ------------------------------------------------------------------------ helpers
def model_labels(model: Generator, labels: Tensor | None) -> Tensor | None:
    """The labels the model is given: only a class-conditional model reads them."""
    return labels if model.conditional else None


def encode_mean(model: Generator, images: Tensor | Latents, labels: Tensor | None) -> Tensor:
    """The codes of ``images``: the posterior mean for a Gaussian latent, else what encode gives."""
    if isinstance(images, Latents):
        return images.z
    return model.encode_mean(images, model_labels(model, labels))


def _continuous(z: Tensor, strategy: str) -> Tensor:
    if not z.is_floating_point():
        raise TypeError(
            f"strategy {strategy!r} moves codes in a continuous latent space, but this "
            f"generator encodes to {z.dtype} codes; use 'reconstruct' or a strategy registered "
            "for this generator kind"
        )
    return z


def _per_example(alpha: Tensor, like: Tensor) -> Tensor:
    """Broadcast one strength per example over the rest of ``like``'s dimensions."""
    return alpha.to(like.device, like.dtype).view(-1, *([1] * (like.dim() - 1)))


# ------------------------------------------------------------------------ latent moves
def add_noise(z: Tensor, alpha: Tensor, eps: Tensor) -> Tensor:
    """z + alpha * eps: with eps ~ N(0, I), a draw from N(z, alpha^2 I)."""
    return z.addcmul(_per_example(alpha, z), eps)


def move_toward(z: Tensor, target: Tensor, alpha: Tensor) -> Tensor:
    """z + alpha (target - z): interpolation for alpha in [0, 1], extrapolation for alpha < 0."""
    return z + _per_example(alpha, z) * (target - z)


# ------------------------------------------------------------------------ strategies
@register_strategy("reconstruct")
def reconstruct(model, images, labels, alpha, rng, bank, **options) -> Tensor:
    """Encode then decode (the posterior mean): the generator's version of each example."""
    return model.decode(encode_mean(model, images, labels), model_labels(model, labels))


@register_strategy("noise", default_alpha=(0.0, 0.3))
def noise(model, images, labels, alpha, rng, bank, **options) -> Tensor:
    """Decode z + eps with eps ~ N(0, alpha^2 I) around each example's code."""
    z = _continuous(encode_mean(model, images, labels), "noise")
    eps = model.randn(len(z), tuple(z.shape[1:]), rng).to(z.dtype)
    return model.decode(add_noise(z, alpha, eps), model_labels(model, labels))


def _toward_neighbour(model, images, labels, alpha, rng, bank, k: int, sign: float) -> Tensor:
    if bank is None:
        raise ValueError(
            "interpolation and extrapolation need a latent bank of the training codes: build "
            "one with learned_aug.build_latent_bank(generator_folder, data) or pass bank=..."
        )
    z = _continuous(encode_mean(model, images, labels), "interpolate")
    target = bank.neighbours(z, labels, k=k, rng=rng).to(z.device, z.dtype)
    return model.decode(move_toward(z, target, sign * alpha), model_labels(model, labels))


@register_strategy("interpolate", default_alpha=(0.0, 0.5), needs_bank=True)
def interpolate(model, images, labels, alpha, rng, bank, *, k: int = 5, **options) -> Tensor:
    """z' = mu_i + alpha (mu_k - mu_i), mu_k one of the k nearest same-class codes in the bank."""
    return _toward_neighbour(model, images, labels, alpha, rng, bank, k, 1.0)


@register_strategy("extrapolate", default_alpha=(0.0, 0.5), needs_bank=True)
def extrapolate(model, images, labels, alpha, rng, bank, *, k: int = 5, **options) -> Tensor:
    """z' = mu_i - alpha (mu_k - mu_i): away from one of the k nearest same-class codes."""
    return _toward_neighbour(model, images, labels, alpha, rng, bank, k, -1.0)


@register_strategy("prior", needs_source=False)
def prior(model, images, labels, alpha, rng, bank, **options) -> Tensor:
    """A fresh sample of the same class for each example (``model.sample``)."""
    if labels is not None and not model.conditional:
        raise ValueError(
            "strategy 'prior' draws fresh samples, but this generator is unconditional: they "
            "would not keep the example's label. Use a class-conditional or per-class generator, "
            "or a strategy that starts from the example ('noise', 'interpolate', ...)"
        )
    return model.sample(len(images), labels=labels, generator=rng)


@register_strategy("vq-resample", default_alpha=(0.0, 1.0), reads_labels=False)
def vq_resample(model, images, labels, alpha, rng, bank, *, top_k: int = 4, **options) -> Tensor:
    """VQ-VAE reconstruction with variation: each code drawn among its ``top_k`` nearest codes
    at temperature alpha (0 is the plain reconstruction; see ``VQVAE.resample``)."""
    if not callable(getattr(model, "resample", None)):
        raise ValueError(
            f"strategy 'vq-resample' needs a VQ-VAE (model 'vqvae'), got {type(model).__name__}"
        )
    source = images.z.round().long() if isinstance(images, Latents) else images
    return model.resample(source, alpha, top_k=top_k, generator=rng)


@register_strategy("posterior", default_alpha=1.0)
def posterior(model, images, labels, alpha, rng, bank, **options) -> Tensor:
    """A draw from each example's posterior q(z | x), widened by alpha: mu + alpha sigma eps.

    Started from bank rows (``SyntheticDataset``: a random training example of the class, so
    the samples follow the aggregate posterior, where the decoder was trained) or from images
    (``LearnedAugment``: a variant near each image).
    """
    if isinstance(images, Latents):
        if images.sigma is None:
            raise ValueError(
                "strategy 'posterior' needs the posterior standard deviations, and this latent "
                "bank has none (it predates them, or the latent is not Gaussian): rebuild it with "
                "learned_aug.build_latent_bank(generator_folder, data)"
            )
        mu, sigma = images.z, images.sigma
    else:
        q = model.encode(images, model_labels(model, labels))
        if not isinstance(q, Distribution):
            raise TypeError(
                f"strategy 'posterior' needs a Gaussian posterior; {type(model).__name__} "
                "encodes to codes: use 'vq-resample'"
            )
        mu, sigma = q.mean, q.stddev
    mu = _continuous(mu, "posterior")
    sigma = sigma.to(mu.device, mu.dtype)
    eps = model.randn(len(mu), tuple(mu.shape[1:]), rng).to(mu.dtype)
    return model.decode(add_noise(mu, alpha, sigma * eps), model_labels(model, labels))


@register_strategy("gmm", default_alpha=1.0, needs_source=False, needs_bank=True)
def gmm(model, images, labels, alpha, rng, bank, *, components: int = 10, **options) -> Tensor:
    """A fresh latent from a diagonal Gaussian mixture fitted to the class's bank codes
    (Chadebec et al. 2022), its spread scaled by alpha; then decoded for that class."""
    if bank is None:
        raise ValueError("strategy 'gmm' fits mixtures to a latent bank: pass bank=...")
    n = len(images)
    u, z = uniform(n, rng), None
    eps = model.randn(n, tuple(bank.codes.shape[1:]), rng).flatten(1).cpu()
    classes = labels.cpu() if labels is not None and bank.labelled else torch.full((n,), -1)
    for k in classes.unique().tolist():
        rows = (classes == k).nonzero().squeeze(1)
        weights, means, stds = bank.mixture(int(k), components)
        pick = torch.searchsorted(weights.cumsum(0), u[rows] * float(weights.sum()))
        pick = pick.clamp(max=len(weights) - 1)
        draw = add_noise(means[pick], alpha[rows], stds[pick] * eps[rows])
        z = draw.new_empty(n, draw.shape[1]) if z is None else z
        z[rows] = draw
    z = (z if z is not None else eps).view(n, *bank.codes.shape[1:]).to(model.device)
    return model.decode(z, model_labels(model, labels))


# ------------------------------------------------------------------------ items
def draw_items(
    model: Generator,
    strategy: Strategy,
    indices: Tensor,
    labels: Tensor | None,
    *,
    seed: int,
    strength: tuple[float, float],
    bank: LatentBank | None,
    attempt: int = 0,
    options: dict[str, Any] | None = None,
) -> Tensor:
    """Generated items ``indices``, item ``i`` a pure function of ``(seed, i, attempt)``.

    What ``SyntheticDataset`` serves: each item draws its strength, its bank row (for a strategy
    that starts from a real example: of its class where the bank is labelled) and its noise from
    its own counter-based stream, so it is the same whatever batch it is drawn in.
    """
    rngs = ItemStreams.for_items(seed, indices, attempt)
    alpha = draw_alpha(strength, len(indices), rngs)
    if strategy.needs_source:
        if bank is None:
            raise ValueError(f"strategy {strategy.name!r} starts from bank codes: pass bank=...")
        rows = bank.pick(len(indices), labels, rngs)
        source = Latents(bank.codes[rows], None if bank.stds is None else bank.stds[rows])
    else:
        source = Latents(torch.empty(len(indices), 0))
    return strategy(model, source, labels, alpha, rngs, bank, **(options or {})).cpu()


# ------------------------------------------------------------------------ filtering
def _module_device(fn: Callable) -> torch.device | None:
    p = next(fn.parameters(), None) if isinstance(fn, nn.Module) else None
    return None if p is None else p.device


@dataclass
class ClassifierFilter:
    """Keep a generated sample only when a classifier is confident of its class.

    The "generative classifier" of Iser (2023): a sample whose class the classifier gives a
    probability below ``threshold`` is drawn again (try t of item i from its own seed, so item i
    stays a pure function of (seed, i)), up to ``max_tries`` tries; then the best try is kept.
    With ``relabel`` the classifier's prediction becomes the label and the threshold applies to
    its top probability (this labels the samples of an unconditional generator).

    Args:
        classifier: maps a float batch (B, C, H, W) in [0, 1], at the generator's size, to
            logits (B, K).
        threshold: the probability a sample needs, in [0, 1].
        relabel: label each sample with the classifier's prediction.
        max_tries: draws per item at most.

    Example:
        >>> import torch
        >>> f = ClassifierFilter(lambda x: torch.zeros(len(x), 2), threshold=0.5)
        >>> f.scores(torch.rand(3, 1, 8, 8), torch.tensor([0, 1, 0]))[0]
        tensor([0.5000, 0.5000, 0.5000])
    """

    classifier: Callable[[Tensor], Tensor]
    threshold: float = 0.5
    relabel: bool = False
    max_tries: int = 10

    def __post_init__(self) -> None:
        if not callable(self.classifier):
            raise TypeError(f"classifier must be callable, got {type(self.classifier).__name__}")
        if isinstance(self.classifier, nn.Module):
            self.classifier.eval()  # a score must not depend on the batch (dropout, batch norm)
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"threshold must be a probability in [0, 1], got {self.threshold!r}")
        if (
            isinstance(self.max_tries, bool)
            or not isinstance(self.max_tries, int)
            or (self.max_tries < 1)
        ):
            raise ValueError(f"max_tries must be a positive int, got {self.max_tries!r}")

    @torch.no_grad()
    def scores(self, samples: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """The probability of each sample's class (its top class with relabel) and the argmax."""
        device = _module_device(self.classifier)
        logits = self.classifier(samples if device is None else samples.to(device))
        if not isinstance(logits, Tensor) or logits.shape[:1] != samples.shape[:1]:
            raise ValueError(
                f"classifier must return logits (B, K) for a batch of {len(samples)}, got "
                f"{getattr(logits, 'shape', type(logits).__name__)}"
            )
        probs = logits.float().softmax(dim=1).cpu()
        if not self.relabel and len(labels) and int(labels.max()) >= probs.shape[1]:
            raise ValueError(
                f"the classifier scores {probs.shape[1]} classes, but samples have label "
                f"{int(labels.max())}"
            )
        top, pred = probs.max(dim=1)
        return (top if self.relabel else probs.gather(1, labels[:, None]).squeeze(1)), pred

    def apply(
        self, samples: Tensor, labels: Tensor, retry: Callable[[list[int], int], Tensor]
    ) -> tuple[Tensor, Tensor]:
        """Filter a batch: ``retry(rows, t)`` draws try ``t`` of those rows."""
        score, pred = self.scores(samples, labels)
        labels = pred if self.relabel else labels.clone()
        for attempt in range(1, self.max_tries):
            todo = (score < self.threshold).nonzero().squeeze(1)
            if not len(todo):
                break
            new = retry(todo.tolist(), attempt)
            new_score, new_pred = self.scores(new, labels[todo])
            better = new_score > score[todo]
            rows = todo[better]
            samples[rows], score[rows] = new[better], new_score[better]
            if self.relabel:
                labels[rows] = new_pred[better]
        return samples, labels
