"""The names the command line offers, copied so that parsing imports no torch.

``learned-aug --help`` must answer at once, so the parser cannot import the registries it
offers choices from (they import torch). Their names are copied here, the command line's only
copy; tests/test_cli.py checks that each equals its registry, so adding a model, an augmentation
or an optimizer means adding its name here too.
"""

from __future__ import annotations

MODEL_NAMES = ("classwise", "dvae", "tabular-vae", "vae", "vqvae")
"""Keys of ``learned_aug.models.MODELS``."""

CONVENTIONAL_NAMES = ("affine", "autoaugment", "flip", "randaugment", "trivialaugment")
"""Keys of ``learned_aug.conventional.CONVENTIONAL`` (``learned-aug fit --augment``)."""

OPTIMIZER_NAMES = ("adam", "adamw", "rmsprop")
"""Keys of ``learned_aug.training.OPTIMIZERS``."""

LIKELIHOOD_NAMES = ("bernoulli", "gaussian", "calibrated")
"""``learned_aug.models.likelihood.LIKELIHOODS`` (``learned-aug fit --likelihood``)."""

DATASET_NAMES = (
    "mnist-5k",
    "digits",
    "cifar10",
    "cifar10-test",
    "retina",
    "retina-test",
    "faces-orl",
    "faces-orl-test",
    "letters-omniglot",
    "letters-omniglot-test",
    "breast-cancer",
    "wine",
)
"""Keys of ``learned_aug.data.BUNDLED``: the real datasets that ship inside packages."""


DEFAULT_SIZES = (50, 100, 250, 500, 1000)
"""``learned_aug.evaluation.protocol.DEFAULT_SIZES``: training images per draw."""

DEFAULT_CONDITIONS = (
    "none",
    "trivialaugment",
    "randaugment",
    "randaugment-views",
    "learned",
    "randaugment+learned",
)
"""``learned_aug.evaluation.DEFAULT_CONDITIONS``: the conditions ``learned-aug evaluate``
compares on images by default: no augmentation, TrivialAugmentWide, RandAugment, the
compute-matched control (the learned half of each batch replaced by a second RandAugment view of
each real image), the default learned path (what ``learned-aug fit`` trains without model
flags, sampled by ``SyntheticDataset`` with its defaults) and RandAugment with it."""

TABULAR_CONDITIONS = ("none", "learned")
"""The conditions ``learned-aug evaluate`` compares on tabular data by default (RandAugment
works on images only)."""

QUICK_SIZE = 100
"""The one training size of ``learned-aug evaluate --quick``."""
QUICK_SEEDS = 3
"""The seeds of ``learned-aug evaluate --quick``: enough for its verdict to tell a gain from
the noise between seeds where the gain is large (one seed never can)."""
