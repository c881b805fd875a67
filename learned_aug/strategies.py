"""Strategy objects: a latent strategy with its settings, as ``RandAugment`` carries its magnitude.

``LearnedAugment(generator, Interpolate(strength=0.3, k=5))`` and
``SyntheticDataset(generator, n, strategy=Posterior(strength=0.5))`` take one object that holds
everything the strategy needs: its strength (a number, or a ``(low, high)`` range drawn per
example), its options and, for the strategies that search the training codes, the latent bank.
A name (``"interpolate"``) is the shorthand for the class with its defaults. The work is done by
the pure kernels of :mod:`learned_aug.kernels`.

:data:`STRATEGIES` maps each name to its class; :func:`register_strategy` adds a kernel function
(or a ``Strategy`` subclass) under a new name.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, ClassVar

from torch import Tensor

from learned_aug import kernels as K
from learned_aug.latent_bank import LatentBank, bank_of
from learned_aug.models import Generator
from learned_aug.rng import RandomSource, check_strength

Strength = float | tuple[float, float]
StrategyFn = Callable[..., Tensor]
"""A kernel: ``fn(generator, images, labels, strength, rng, bank, **options) -> images`` (see
:mod:`learned_aug.kernels`)."""


class Strategy:
    """How a generator makes a new example from a real one, with its settings.

    A subclass names its kernel (``fn``), its default strength and what it needs; an instance
    holds the settings. Calling it runs the kernel on a batch.

    Args:
        strength: how far the kernel moves from the example: a number, or a ``(low, high)``
            range drawn per example; ``None``: the class's ``default_strength``. Strategies
            without a strength (``Reconstruct``, ``Prior``) refuse one.
        bank: the latent bank of the training codes, for the strategies that read it;
            ``None``: the bank ``load_generator`` (or ``fit``) attached to the generator.
        **options: the kernel's keyword options (only for strategies registered from a function).

    Example:
        >>> s = Interpolate(strength=0.3, k=3)
        >>> s.strength, s.options, s.needs_bank
        ((0.3, 0.3), {'k': 3}, True)
        >>> STRATEGIES["noise"]()
        Noise(strength=(0.0, 0.3))
    """

    name: ClassVar[str] = ""
    fn: ClassVar[StrategyFn]
    default_strength: ClassVar[Strength | None] = None
    """``None``: the strategy takes no strength."""
    needs_source: ClassVar[bool] = True
    """It starts from the example it is given (``False`` for ``Prior``, which draws afresh)."""
    needs_bank: ClassVar[bool] = False
    """It searches the latent bank (neighbours, mixtures)."""
    reads_labels: ClassVar[bool] = True
    """It reads the labels (images without one are then classified by the generator)."""

    def __init__(
        self, strength: Strength | None = None, *, bank: LatentBank | None = None, **options: Any
    ):
        if strength is not None and self.default_strength is None:
            raise ValueError(f"strategy {self.name!r} takes no strength, got strength={strength!r}")
        chosen = self.default_strength if strength is None else strength
        self.strength = check_strength(0.0 if chosen is None else chosen, "strength")
        if bank is not None and not isinstance(bank, LatentBank):
            raise TypeError(f"bank must be a LatentBank or None, got {type(bank).__name__}")
        self.bank = bank
        self.options = dict(options)

    def __call__(
        self,
        generator: Generator,
        images: Tensor | K.Latents,
        labels: Tensor | None,
        strength: Tensor,
        rng: RandomSource,
    ) -> Tensor:
        """Run the kernel on a batch (``strength``: one drawn strength per example)."""
        return type(self).fn(generator, images, labels, strength, rng, self.bank, **self.options)

    def uses_bank(self, from_bank: bool) -> bool:
        """Whether it needs a bank: to search it, or (``from_bank``) to start from its rows."""
        return self.needs_bank or (from_bank and self.needs_source)

    def bind(self, generator: Generator, *, from_bank: bool = False) -> Strategy:
        """This strategy ready to run on ``generator``: a copy holding the generator's latent
        bank where it needs one and was given none; refuses when there is none to be had."""
        if self.bank is not None or not self.uses_bank(from_bank):
            return self
        bank = bank_of(generator)
        if bank is None:
            what = "searches" if self.needs_bank else "starts from"
            raise ValueError(
                f"strategy {self.name!r} {what} the codes of real examples and needs a latent "
                "bank, but none was given "
                f"and the generator has none: load the generator with load_generator (which "
                "finds the bank fit saved beside it), build one with "
                f"learned_aug.build_latent_bank(generator, data), or pass "
                f"{type(self).__name__}(bank=...)"
            )
        bound = copy.copy(self)
        bound.bank = bank
        return bound

    def __repr__(self) -> str:
        parts = [] if self.default_strength is None else [f"strength={self.strength}"]
        parts += [f"{k}={v!r}" for k, v in self.options.items()]
        if self.bank is not None:
            parts.append(f"bank=<{len(self.bank)} codes>")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and (self.strength, self.options) == (other.strength, other.options)
            and self.bank is other.bank
        )

    __hash__ = None  # type: ignore[assignment]


STRATEGIES: dict[str, type[Strategy]] = {}
"""Every strategy class by name: ``STRATEGIES["interpolate"](k=3)`` is ``Interpolate(k=3)``."""


def register_strategy(
    name: str | type[Strategy],
    *,
    default_strength: Strength | None = None,
    needs_source: bool = True,
    needs_bank: bool = False,
    reads_labels: bool = True,
) -> Any:
    """Register a strategy under a name in :data:`STRATEGIES`.

    On a ``Strategy`` subclass (``@register_strategy``): registers it under its ``name``. With a
    name (``@register_strategy("mine", default_strength=0.2)``) on a kernel function of the
    signature of :mod:`learned_aug.kernels`: makes a ``Strategy`` class around it (its keyword
    options become the instance's ``options``) and registers that; the function is returned
    unchanged.

    Example:
        >>> @register_strategy("halfway", default_strength=0.5, needs_bank=True)
        ... def halfway(generator, images, labels, strength, rng, bank, *, k=5):
        ...     return K.interpolate(generator, images, labels, strength, rng, bank, k=k)
        >>> STRATEGIES["halfway"](k=2)
        Halfway(strength=(0.5, 0.5), k=2)
        >>> del STRATEGIES["halfway"]
    """
    if isinstance(name, type):
        return _add(name)

    def wrap(fn: StrategyFn) -> StrategyFn:
        attrs = {
            "name": name,
            "fn": staticmethod(fn),
            "default_strength": default_strength,
            "needs_source": needs_source,
            "needs_bank": needs_bank,
            "reads_labels": reads_labels,
            "__doc__": fn.__doc__,
            "__module__": fn.__module__,
        }
        _add(type(_class_name(name), (Strategy,), attrs))
        return fn

    return wrap


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


def _add(cls: type[Strategy]) -> type[Strategy]:
    if not (isinstance(cls, type) and issubclass(cls, Strategy)) or not cls.name:
        raise TypeError(f"register_strategy takes a Strategy subclass with a name, got {cls!r}")
    if STRATEGIES.get(cls.name, cls) is not cls:
        raise ValueError(f"a strategy named {cls.name!r} is already registered")
    STRATEGIES[cls.name] = cls
    return cls


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


# ------------------------------------------------------------------------ the strategies
@register_strategy
class Reconstruct(Strategy):
    """Encode then decode (the posterior mean): the generator's version of each example.

    Example:
        >>> Reconstruct()
        Reconstruct()
    """

    name = "reconstruct"
    fn = staticmethod(K.reconstruct)

    def __init__(self, strength: None = None, *, bank: LatentBank | None = None):
        super().__init__(strength, bank=bank)  # a strength is refused, by name


@register_strategy
class Noise(Strategy):
    """Decode z + eps, eps ~ N(0, strength^2 I), around each example's code (Iser 2023).

    Args:
        strength: the noise's standard deviation; by default drawn in [0, 0.3] per example.
        bank: where ``SyntheticDataset`` takes its starting codes (by default the generator's).

    Example:
        >>> Noise(strength=0.2)
        Noise(strength=(0.2, 0.2))
    """

    name = "noise"
    fn = staticmethod(K.noise)
    default_strength = (0.0, 0.3)

    def __init__(self, strength: Strength | None = None, *, bank: LatentBank | None = None):
        super().__init__(strength, bank=bank)


@register_strategy
class Interpolate(Strategy):
    """z' = mu_i + strength (mu_k - mu_i), toward one of the ``k`` nearest same-class codes of
    the latent bank (Iser 2023).

    Args:
        strength: how far toward the neighbour; by default drawn in [0, 0.5] per example.
        k: the number of nearest same-class codes one is drawn from.
        bank: the latent bank of the training codes (by default the generator's).

    Example:
        >>> Interpolate(k=3)
        Interpolate(strength=(0.0, 0.5), k=3)
    """

    name = "interpolate"
    fn = staticmethod(K.interpolate)
    default_strength = (0.0, 0.5)
    needs_bank = True

    def __init__(
        self, strength: Strength | None = None, *, k: int = 5, bank: LatentBank | None = None
    ):
        super().__init__(strength, bank=bank, k=_positive_int(k, "k"))


@register_strategy
class Extrapolate(Interpolate):
    """z' = mu_i - strength (mu_k - mu_i): away from one of the ``k`` nearest same-class codes.

    Args:
        strength: how far away; by default drawn in [0, 0.5] per example.
        k: the number of nearest same-class codes one is drawn from.
        bank: the latent bank of the training codes (by default the generator's).

    Example:
        >>> Extrapolate(strength=0.2)
        Extrapolate(strength=(0.2, 0.2), k=5)
    """

    name = "extrapolate"
    fn = staticmethod(K.extrapolate)


@register_strategy
class Prior(Strategy):
    """A fresh sample of the example's class (``generator.sample``); it reads no example.

    Example:
        >>> Prior().needs_source
        False
    """

    name = "prior"
    fn = staticmethod(K.prior)
    needs_source = False

    def __init__(self, strength: None = None) -> None:
        super().__init__(strength)  # a strength is refused, by name


@register_strategy
class Posterior(Strategy):
    """A draw from the example's posterior, widened by strength: mu + strength sigma eps.

    Started from bank rows (``SyntheticDataset``'s default: a random training example of the
    class, so samples follow the aggregate posterior) or from images (``LearnedAugment``).

    Args:
        strength: the factor on the posterior's standard deviation (1: the posterior itself).
        bank: where ``SyntheticDataset`` takes its starting codes (by default the generator's).

    Example:
        >>> Posterior(strength=0.5)
        Posterior(strength=(0.5, 0.5))
    """

    name = "posterior"
    fn = staticmethod(K.posterior)
    default_strength = 1.0

    def __init__(self, strength: Strength | None = None, *, bank: LatentBank | None = None):
        super().__init__(strength, bank=bank)


@register_strategy
class GMM(Strategy):
    """A fresh code from a diagonal Gaussian mixture fitted to the class's bank codes
    (Chadebec et al. 2022), its spread scaled by strength.

    Args:
        strength: the factor on the components' standard deviations.
        components: mixture components per class at most.
        bank: the latent bank of the training codes (by default the generator's).

    Example:
        >>> GMM(components=4)
        GMM(strength=(1.0, 1.0), components=4)
    """

    name = "gmm"
    fn = staticmethod(K.gmm)
    default_strength = 1.0
    needs_source = False
    needs_bank = True

    def __init__(
        self,
        strength: Strength | None = None,
        *,
        components: int = 10,
        bank: LatentBank | None = None,
    ):
        super().__init__(strength, bank=bank, components=_positive_int(components, "components"))


@register_strategy
class VQResample(Strategy):
    """A VQ-VAE's reconstruction with variation: each code drawn among its ``k`` nearest
    codebook entries at temperature strength (0: the plain reconstruction).

    Args:
        strength: the temperature; by default drawn in [0, 1] per example.
        k: the number of nearest codebook entries each code is drawn among.

    Example:
        >>> VQResample(k=2)
        VQResample(strength=(0.0, 1.0), k=2)
    """

    name = "vq-resample"
    fn = staticmethod(K.vq_resample)
    default_strength = (0.0, 1.0)
    reads_labels = False

    def __init__(self, strength: Strength | None = None, *, k: int = 4):
        super().__init__(strength, k=_positive_int(k, "k"))


# ------------------------------------------------------------------------ choosing one
def as_strategy(strategy: str | Strategy | type[Strategy] | StrategyFn) -> Strategy:
    """A strategy object from what a user passes: a name in :data:`STRATEGIES` (its defaults),
    a ``Strategy`` or ``Strategy`` subclass, or a bare kernel function.

    Example:
        >>> as_strategy("interpolate")
        Interpolate(strength=(0.0, 0.5), k=5)
    """
    if isinstance(strategy, Strategy):
        return strategy
    if isinstance(strategy, str):
        if strategy not in STRATEGIES:
            raise ValueError(
                f"strategy must be one of {sorted(STRATEGIES)}, a Strategy or a kernel "
                f"function, got {strategy!r}"
            )
        return STRATEGIES[strategy]()
    if isinstance(strategy, type) and issubclass(strategy, Strategy):
        return strategy()
    if callable(strategy):
        name = getattr(strategy, "__name__", "custom")
        attrs = {"name": name, "fn": staticmethod(strategy), "default_strength": 0.0}
        return type(_class_name(name), (Strategy,), attrs)()
    raise TypeError(
        f"strategy must be a name in {sorted(STRATEGIES)}, a Strategy or a callable, got "
        f"{type(strategy).__name__}"
    )


def augment_strategy(generator: Generator) -> Strategy:
    """``LearnedAugment``'s default: ``VQResample()`` for a VQ-VAE (discrete codes), else
    ``Noise()`` (a small step around the image's code; it needs no bank).

    Example:
        >>> from learned_aug import VAE, VAEConfig
        >>> augment_strategy(VAE(VAEConfig(image_size=(8, 8), latent_dim=2)))
        Noise(strength=(0.0, 0.3))
    """
    members = getattr(generator, "members", None)
    kind = members[0] if members else generator
    return VQResample() if callable(getattr(kind, "resample", None)) else Noise()


def dataset_strategy(generator: Generator) -> Strategy:
    """``SyntheticDataset``'s default: ``Posterior()`` (the aggregate posterior, where the
    decoder was trained) when the generator's latent bank holds the posterior's standard
    deviations (``fit`` saves one with every run), else ``Prior()``.

    Example:
        >>> from learned_aug import VAE, VAEConfig
        >>> dataset_strategy(VAE(VAEConfig(image_size=(8, 8), latent_dim=2)))
        Prior()
    """
    bank = bank_of(generator)
    return Posterior() if bank is not None and bank.stds is not None else Prior()
