"""Per-item random streams for a whole batch at once: counter-based, vectorised.

``SyntheticDataset`` makes item ``i`` a pure function of ``(seed, i)``. A ``torch.Generator``
per item does that, but costs a Python-level construction, seeding and draw per item, which on a
small decoder is a quarter of the time of a batch. :class:`ItemStreams` gives each item its own
stream the way SplitMix64 does (Steele et al. 2014): the ``c``-th 64-bit word of item ``i`` is
``mix(key_i + c * gamma)``, so a batch draws every item's words in a few tensor operations, and
item ``i``'s values depend only on its key and on how many words it has drawn before.

The words are computed in numpy's uint64 arithmetic, which wraps modulo 2**64 by definition;
``tests/test_rng.py`` checks them against a pure-Python SplitMix64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

_MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15  # the golden-ratio increment of SplitMix64
_MUL1, _MUL2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_U64 = np.uint64


def mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on uint64 words (a bijection of 64-bit words)."""
    x = (x ^ (x >> _U64(30))) * _U64(_MUL1)
    x = (x ^ (x >> _U64(27))) * _U64(_MUL2)
    return x ^ (x >> _U64(31))


def mix_int(value: int) -> int:
    """:func:`mix` on one Python int (the reference the array version is tested against)."""
    value &= _MASK
    value = ((value ^ (value >> 30)) * _MUL1) & _MASK
    value = ((value ^ (value >> 27)) * _MUL2) & _MASK
    return value ^ (value >> 31)


def item_keys(seed: int, indices: Sequence[int] | Tensor, attempt: int = 0) -> np.ndarray:
    """The stream key of each item: a pure function of ``(seed, index, attempt)``."""
    base = _U64(mix_int(int(seed) * GAMMA + 1))
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    with np.errstate(over="ignore"):
        keys = mix(base + idx.astype(_U64) * _U64(GAMMA))
        if attempt:
            keys = mix(keys + _U64(mix_int(int(attempt) + GAMMA)))
    return keys


class ItemStreams:
    """One independent random stream per item, drawn for the whole batch in one go.

    Pass it wherever an ``rng`` takes one ``torch.Generator`` per sample (``Generator.sample``,
    ``Generator.randn``, the strategies): sample ``i`` then depends only on its own stream.
    ``subset(rows)`` is a view on some items that shares their positions, so drawing through it
    advances them in this object too.

    Args:
        keys: ``(n,)`` uint64 stream keys (see :func:`item_keys`).

    Example:
        >>> streams = ItemStreams.for_items(seed=0, indices=[5, 6, 7])
        >>> alone = ItemStreams.for_items(seed=0, indices=[6])
        >>> torch.equal(streams.randn((3,))[1], alone.randn((3,))[0])
        True
    """

    def __init__(self, keys: np.ndarray, *, _counts: np.ndarray | None = None, _rows=None):
        self._keys = np.asarray(keys, dtype=_U64).reshape(-1)
        self._counts = np.zeros(len(self._keys), dtype=_U64) if _counts is None else _counts
        self._rows: np.ndarray | None = _rows

    @classmethod
    def for_items(cls, seed: int, indices: Sequence[int] | Tensor, attempt: int = 0) -> ItemStreams:
        """The streams of items ``indices`` of a dataset with ``seed`` (try ``attempt``)."""
        return cls(item_keys(seed, indices, attempt))

    def __len__(self) -> int:
        return len(self._keys) if self._rows is None else len(self._rows)

    def __repr__(self) -> str:
        return f"ItemStreams(n={len(self)})"

    def subset(self, rows: Sequence[int] | Tensor) -> ItemStreams:
        """The streams of ``rows`` (positions in this object), sharing their positions."""
        rows = np.asarray(torch.as_tensor(rows, dtype=torch.long).reshape(-1).cpu())
        if self._rows is not None:
            rows = self._rows[rows]
        return ItemStreams(self._keys, _counts=self._counts, _rows=rows)

    def words(self, per_item: int) -> np.ndarray:
        """The next ``per_item`` random 64-bit words of each stream, ``(n, per_item)`` uint64."""
        rows = slice(None) if self._rows is None else self._rows
        counter = self._counts[rows][:, None] + np.arange(per_item, dtype=_U64)
        self._counts[rows] += _U64(per_item)
        with np.errstate(over="ignore"):
            return mix(self._keys[rows][:, None] + counter * _U64(GAMMA))

    def rand(self, shape: tuple[int, ...] = ()) -> Tensor:
        """Uniform draws in [0, 1), ``(n, *shape)`` float32 (24 random bits each)."""
        m = math.prod(shape)
        u = (self.words(m) >> _U64(40)).astype(np.float32) * np.float32(2.0**-24)
        return torch.from_numpy(u).view(len(self), *shape)

    def randn(self, shape: tuple[int, ...] = ()) -> Tensor:
        """Standard normal draws, ``(n, *shape)`` float32 (Box-Muller on 53-bit uniforms)."""
        m = math.prod(shape)
        u = (self.words(2 * m) >> _U64(11)).astype(np.float64) * 2.0**-53
        z = np.sqrt(-2.0 * np.log1p(-u[:, :m])) * np.cos(2.0 * np.pi * u[:, m:])
        return torch.from_numpy(z.astype(np.float32)).view(len(self), *shape)


# --------------------------------------------------------------------- randomness of a batch
RandomSource = torch.Generator | Sequence[torch.Generator] | ItemStreams | None
"""Where a batch's randomness comes from: torch's global RNG (``None``), one
``torch.Generator`` for the batch, or one stream per example (a sequence of generators, or
:class:`ItemStreams`), so that example ``i`` depends on its own stream alone."""


def as_rng(rng: int | torch.Generator | None) -> torch.Generator | None:
    """What an ``rng`` argument draws from: a new ``torch.Generator`` seeded with an int; a
    ``torch.Generator`` itself; or None, torch's global RNG.

    Example:
        >>> a, b = as_rng(3), as_rng(3)
        >>> torch.equal(torch.rand(2, generator=a), torch.rand(2, generator=b))
        True
    """
    if rng is None or isinstance(rng, torch.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, int):
        raise TypeError(f"rng must be None, an int seed or a torch.Generator, got {rng!r}")
    return torch.Generator().manual_seed(rng)


def uniform(n: int, rng: RandomSource) -> Tensor:
    """``n`` draws from U[0, 1) on the CPU: from one generator, or one from each of ``n``."""
    if rng is None or isinstance(rng, torch.Generator):
        return torch.rand(n, generator=rng)
    if isinstance(rng, ItemStreams) and len(rng) == n:
        return rng.rand()
    if len(rng) != n:
        raise ValueError(f"rng must hold one torch.Generator per example ({n}), got {len(rng)}")
    return torch.tensor([float(torch.rand((), generator=g)) for g in rng])


def normal(
    n: int, shape: tuple[int, ...], rng: RandomSource, device: torch.device | str = "cpu"
) -> Tensor:
    """Standard normal draws ``(n, *shape)``: from one generator (on its device; torch's global
    RNG on ``device`` for None), or sample ``i`` from stream ``i`` of ``n``.

    Example:
        >>> batch = [torch.Generator().manual_seed(s) for s in (0, 1)]
        >>> alone = [torch.Generator().manual_seed(1)]
        >>> torch.equal(normal(2, (3,), batch)[1], normal(1, (3,), alone)[0])
        True
    """
    if rng is None or isinstance(rng, torch.Generator):
        device = rng.device if rng is not None else device
        return torch.randn(n, *shape, generator=rng, device=device)
    if len(rng) != n:
        raise ValueError(
            f"rng must hold one stream per sample ({n}: a torch.Generator each, or "
            f"ItemStreams), got {len(rng)}"
        )
    if isinstance(rng, ItemStreams):
        return rng.randn(tuple(shape))
    draws = [torch.randn(*shape, generator=g, device=g.device) for g in rng]
    return torch.stack(draws) if draws else torch.empty(0, *shape)


def check_strength(strength: object, name: str = "strength") -> tuple[float, float]:
    """``strength`` as a ``(low, high)`` range: a number ``s`` is ``(s, s)``; both must be >= 0.

    Example:
        >>> check_strength(0.3), check_strength((0.0, 0.5))
        ((0.3, 0.3), (0.0, 0.5))
    """
    if isinstance(strength, (int, float)) and not isinstance(strength, bool):
        low = high = float(strength)
    elif (
        isinstance(strength, Sequence)
        and len(strength) == 2
        and all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in strength)
    ):
        low, high = float(strength[0]), float(strength[1])
    else:
        raise TypeError(
            f"{name} must be a number or a (low, high) pair of numbers, got {strength!r}"
        )
    if not (math.isfinite(low) and math.isfinite(high)) or not 0.0 <= low <= high:
        raise ValueError(f"{name} must satisfy 0 <= low <= high (finite), got {strength!r}")
    return low, high


def draw_strength(strength: tuple[float, float], n: int, rng: RandomSource) -> Tensor:
    """``n`` strengths from the range ``strength``; a fixed strength consumes no randomness."""
    low, high = strength
    if low == high:
        return torch.full((n,), low)
    if rng is None or isinstance(rng, torch.Generator):
        return torch.empty(n).uniform_(low, high, generator=rng)
    return low + (high - low) * uniform(n, rng)
