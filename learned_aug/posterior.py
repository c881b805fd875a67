"""Deprecated: sampling near the codes of real data is now part of the one strategy registry.

``PosteriorSampler(generator, data, strategy, alpha)`` is kept for old code. It builds a
:class:`~learned_aug.latent_bank.LatentBank` of ``data`` and draws through
:class:`~learned_aug.datasets.SyntheticDataset` with the strategies of
:data:`learned_aug.sampling.STRATEGIES` (``"posterior"``: the aggregate posterior; ``"gmm"``: a
per-class Gaussian mixture; ``"interpolate"``; ``"prior"``). New code writes::

    SyntheticDataset(generator, n, strategy="posterior", bank=LatentBank.build(generator, data))
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from learned_aug.data import LabelledData
from learned_aug.datasets import SyntheticDataset
from learned_aug.latent_bank import LatentBank
from learned_aug.models import Generator
from learned_aug.sampling import STRATEGIES


class PosteriorSampler:
    """Deprecated alias: labelled samples near the codes of ``data`` (see the module docstring).

    Args:
        generator: a trained generator with a Gaussian posterior.
        data: the labelled examples whose codes anchor the samples (its training data).
        strategy: a name in ``learned_aug.sampling.STRATEGIES``.
        alpha: the strategy's strength.

    Example:
        >>> import warnings
        >>> from learned_aug import VAE, VAEConfig, load_dataset
        >>> data = load_dataset("digits").subset(range(40))
        >>> vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, hidden_channels=(8,)))
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", DeprecationWarning)
        ...     sampler = PosteriorSampler(vae, data, strategy="posterior", alpha=0.5)
        >>> x, y = sampler.sample(6, generator=torch.Generator().manual_seed(0))
        >>> x.shape, y.tolist()
        (torch.Size([6, 1, 8, 8]), [0, 1, 2, 3, 4, 5])
    """

    def __init__(
        self,
        generator: Generator,
        data: LabelledData,
        strategy: str = "posterior",
        alpha: float = 1.0,
    ):
        warnings.warn(
            "PosteriorSampler is deprecated: use SyntheticDataset(generator, n, strategy=..., "
            "bank=LatentBank.build(generator, data))",
            DeprecationWarning,
            stacklevel=2,
        )
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {sorted(STRATEGIES)}, got {strategy!r}")
        if not alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {alpha!r}")
        self.generator, self.strategy, self.alpha = generator, strategy, float(alpha)
        self.bank = LatentBank.build(generator, data)

    @torch.no_grad()
    def sample(
        self, n: int, labels: Tensor | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """``n`` samples and their labels (a balanced cycle over the classes by default)."""
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        seed = int(torch.randint(2**62, (), generator=gen))
        dataset = SyntheticDataset(
            self.generator,
            n,
            labels="balanced" if labels is None else labels,
            seed=seed,
            output="tensor",
            strategy=self.strategy,
            strength=self.alpha,
            bank=self.bank,
        )
        return dataset.generate(range(n)), torch.tensor(dataset.targets, dtype=torch.long)
