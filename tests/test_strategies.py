"""Strategy objects, the one place to look for a strategy: their settings, defaults, repr and
equality, the arguments they refuse, the registry (STRATEGIES, register_strategy, as_strategy),
binding to a generator's latent bank, the default strategy of each generator kind, and the
contract every registered strategy keeps, as an object and inside LearnedAugment. What each
kernel makes of an example: test_kernels.py."""

from __future__ import annotations

import pytest
import torch
from conftest import DIGITS, TINY, check_transform, u8

import learned_aug
from learned_aug import (
    GMM,
    STRATEGIES,
    VAE,
    Extrapolate,
    Interpolate,
    LatentBank,
    LearnedAugment,
    Noise,
    Posterior,
    Prior,
    Reconstruct,
    Strategy,
    VAEConfig,
    VQResample,
    load_generator,
    register_strategy,
)
from learned_aug import kernels as K
from learned_aug.latent_bank import attach_bank
from learned_aug.strategies import as_strategy, augment_strategy, dataset_strategy


@pytest.fixture(scope="module")
def bank() -> LatentBank:
    torch.manual_seed(0)
    return LatentBank(torch.randn(20, 3), torch.arange(20) % 2, ["a", "b"], torch.rand(20, 3))


def vae(**kwargs) -> VAE:
    return VAE(VAEConfig(image_size=(8, 8), classes=DIGITS, **{**TINY, **kwargs})).eval()


# ------------------------------------------------------------------------ settings and defaults
DEFAULTS = {
    Reconstruct: ((0.0, 0.0), {}, "Reconstruct()"),
    Noise: ((0.0, 0.3), {}, "Noise(strength=(0.0, 0.3))"),
    Interpolate: ((0.0, 0.5), {"k": 5}, "Interpolate(strength=(0.0, 0.5), k=5)"),
    Extrapolate: ((0.0, 0.5), {"k": 5}, "Extrapolate(strength=(0.0, 0.5), k=5)"),
    Prior: ((0.0, 0.0), {}, "Prior()"),
    Posterior: ((1.0, 1.0), {}, "Posterior(strength=(1.0, 1.0))"),
    GMM: ((1.0, 1.0), {"components": 10}, "GMM(strength=(1.0, 1.0), components=10)"),
    VQResample: ((0.0, 1.0), {"k": 4}, "VQResample(strength=(0.0, 1.0), k=4)"),
}


@pytest.mark.parametrize("cls", DEFAULTS, ids=lambda c: c.__name__)
def test_each_strategy_has_its_defaults_and_a_repr(cls):
    strength, options, text = DEFAULTS[cls]
    s = cls()
    assert (s.strength, s.options, s.bank, repr(s)) == (strength, options, None, text)
    assert STRATEGIES[cls.name] is cls and as_strategy(cls.name) == s


def test_what_each_strategy_needs():
    needs = {name: (cls.needs_source, cls.needs_bank) for name, cls in STRATEGIES.items()}
    assert needs["interpolate"] == needs["extrapolate"] == (True, True)
    assert needs["noise"] == needs["reconstruct"] == needs["posterior"] == (True, False)
    assert needs["prior"] == (False, False) and needs["gmm"] == (False, True)
    assert not VQResample.reads_labels and Noise.reads_labels


def test_settings_are_kept_and_a_number_is_a_range():
    assert Noise(0.2).strength == (0.2, 0.2) and Noise(strength=(0.1, 0.4)).strength == (0.1, 0.4)
    assert Interpolate(0.3, k=3).options == {"k": 3}
    assert GMM(0.5, components=4).options == {"components": 4}
    assert VQResample(k=2).options == {"k": 2}
    assert repr(Interpolate(0.3, k=3)) == "Interpolate(strength=(0.3, 0.3), k=3)"


def test_equality_compares_class_settings_and_bank(bank):
    assert Noise() == Noise() and Noise(0.2) == Noise((0.2, 0.2))
    assert Noise(0.2) != Noise(0.3) and Interpolate(k=3) != Interpolate(k=4)
    assert Interpolate(k=3) != Extrapolate(k=3)  # same settings, another strategy
    assert Interpolate(bank=bank) == Interpolate(bank=bank) != Interpolate()
    assert repr(Interpolate(bank=bank)) == "Interpolate(strength=(0.0, 0.5), k=5, bank=<20 codes>)"
    with pytest.raises(TypeError, match="unhashable"):
        hash(Noise())


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: Interpolate(k=0), ValueError, "k must be a positive int, got 0"),
        (lambda: Extrapolate(k=2.5), ValueError, "k must be a positive int, got 2.5"),
        (lambda: Interpolate(k=True), ValueError, "k must be a positive int, got True"),
        (lambda: VQResample(k=-1), ValueError, "k must be a positive int, got -1"),
        (lambda: GMM(components=0), ValueError, "components must be a positive int, got 0"),
        (lambda: Noise(strength=-1), ValueError, r"strength must .*got -1"),
        (lambda: Posterior((0.5, 0.1)), ValueError, r"strength must .*got \(0.5, 0.1\)"),
        (lambda: Noise(float("nan")), ValueError, "strength must .*got nan"),
        (lambda: Noise("big"), TypeError, "strength.*'big'"),
        (lambda: Noise(bank="bank"), TypeError, "bank must be a LatentBank or None, got str"),
    ],
)
def test_bad_arguments_name_the_argument_and_the_value(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("cls", [Prior, Reconstruct], ids=lambda c: c.__name__)
@pytest.mark.parametrize("given", [{"strength": 0.3}, {}])
def test_a_strength_given_to_a_strategy_without_one_is_named(cls, given):
    args = () if given else (0.3,)
    with pytest.raises(ValueError, match=f"'{cls.name}' takes no strength, got strength=0.3"):
        cls(*args, **given)


# ------------------------------------------------------------------------ the registry
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_registered_strategy_keeps_the_contract(name):
    cls = STRATEGIES[name]
    assert issubclass(cls, Strategy) and cls.name == name and callable(cls.fn)
    default = cls()
    assert as_strategy(name) == default == as_strategy(cls)
    namespace = {c.__name__: c for c in STRATEGIES.values()}
    assert eval(repr(default), namespace) == default  # the repr is the constructor call
    assert getattr(learned_aug, cls.__name__, cls) is cls  # exported where it is built in


def test_as_strategy_takes_a_name_a_class_an_object_or_a_kernel():
    mine = Interpolate(0.2, k=2)
    assert as_strategy(mine) is mine
    assert as_strategy("noise") == Noise() and as_strategy(Prior) == Prior()
    kernel = as_strategy(K.reconstruct)
    assert isinstance(kernel, Strategy) and kernel.name == "reconstruct"
    assert kernel.strength == (0.0, 0.0) and type(kernel).fn is K.reconstruct


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ("mixup", ValueError, r"strategy must be one of \[.*'noise'.*\].*got 'mixup'"),
        (3, TypeError, r"strategy must be a name in \[.*\], a Strategy or a callable, got int"),
        (None, TypeError, "got NoneType"),
    ],
)
def test_as_strategy_errors_list_what_is_accepted(value, error, match):
    with pytest.raises(error, match=match):
        as_strategy(value)


@pytest.fixture
def registry():
    """STRATEGIES as it was, whatever a test registers."""
    before = dict(STRATEGIES)
    yield STRATEGIES
    STRATEGIES.clear()
    STRATEGIES.update(before)


def test_register_strategy_makes_a_class_of_a_kernel_function(registry, digits):
    def flip(generator, images, labels, strength, rng, bank, *, axis=-1):
        """Mirror the images."""
        return images.flip(axis)

    assert register_strategy("test-flip", default_strength=0.1, needs_bank=True)(flip) is flip
    cls = registry["test-flip"]
    assert cls.__name__ == "TestFlip" and cls.__doc__ == "Mirror the images."
    assert (cls.default_strength, cls.needs_bank, cls.fn) == (0.1, True, flip)
    s = as_strategy("test-flip")
    assert s == cls() and s.strength == (0.1, 0.1) and repr(s) == "TestFlip(strength=(0.1, 0.1))"
    x = digits.x[:3]
    assert torch.equal(cls(axis=-2)(vae(), x, None, torch.zeros(3), None), x.flip(-2))
    with pytest.raises(ValueError, match="'test-flip' is already registered"):
        register_strategy("test-flip")(flip)
    register_strategy("test-plain")(flip)  # no default_strength: it takes none
    with pytest.raises(ValueError, match=r"'test-plain' takes no strength, got strength=0\.3"):
        registry["test-plain"](0.3)


def test_register_strategy_registers_a_strategy_subclass(registry, digits):
    @register_strategy
    class Identity(Strategy):
        name = "test-identity"
        fn = staticmethod(lambda generator, images, labels, strength, rng, bank: images)

    assert registry["test-identity"] is Identity and as_strategy("test-identity") == Identity()
    assert register_strategy(Identity) is Identity  # registering it again is harmless
    x = digits.x[:2]
    assert torch.equal(Identity()(vae(), x, None, torch.zeros(2), None), x)
    with pytest.raises(TypeError, match="a Strategy subclass with a name"):
        register_strategy(type("Nameless", (Strategy,), {}))
    with pytest.raises(TypeError, match="a Strategy subclass with a name"):
        register_strategy(int)


# ------------------------------------------------------------------------ binding a bank
def test_bind_fills_in_the_generators_bank_on_a_copy(bank):
    gen = attach_bank(vae(), bank)
    mine = Interpolate(0.3)
    bound = mine.bind(gen)
    assert bound is not mine and bound.bank is bank and mine.bank is None
    assert bound == Interpolate(0.3, bank=bank)
    own = LatentBank(bank.codes[:4], bank.labels[:4], bank.classes)
    assert Interpolate(bank=own).bind(gen).bank is own  # a strategy's own bank wins
    noise = Noise()
    assert noise.bind(gen) is noise  # it searches no bank
    assert noise.bind(gen, from_bank=True).bank is bank  # but a dataset starts from its rows
    assert Prior().bind(gen, from_bank=True).bank is None  # it starts from nothing


@pytest.mark.parametrize(
    ("strategy", "from_bank", "what"),
    [
        (Interpolate(), False, "'interpolate' searches the codes of real examples"),
        (Interpolate(), True, "'interpolate' searches the codes of real examples"),
        (GMM(), True, "'gmm' searches the codes of real examples"),
        (Posterior(), True, "'posterior' starts from the codes of real examples"),
        (Reconstruct(), True, "'reconstruct' starts from the codes of real examples"),
    ],
)
def test_bind_without_any_bank_says_how_to_get_one(strategy, from_bank, what):
    with pytest.raises(ValueError, match=what) as err:
        strategy.bind(vae(), from_bank=from_bank)
    assert "learned_aug.build_latent_bank(generator, data)" in str(err.value)
    assert f"{type(strategy).__name__}(bank=...)" in str(err.value)


# ------------------------------------------------------------------------ defaults per generator
def test_each_generator_kind_has_its_default_strategies(bank):
    assert augment_strategy(vae()) == Noise() and dataset_strategy(vae()) == Prior()
    vq = load_generator("mnist-vqvae")
    assert augment_strategy(vq) == VQResample()
    with_stds = attach_bank(vae(), bank)
    assert dataset_strategy(with_stds) == Posterior()
    no_stds = LatentBank(bank.codes, bank.labels, bank.classes)  # a VQ bank, or an old one
    assert dataset_strategy(attach_bank(vae(), no_stds)) == Prior()


# ------------------------------------------------------------------------ as transforms
@pytest.fixture(scope="module")
def trained() -> torch.nn.Module:
    """The bundled per-class VAEs of MNIST, with their latent bank."""
    return load_generator("mnist-vae")


@pytest.fixture(scope="module")
def vq() -> torch.nn.Module:
    return load_generator("mnist-vqvae")


GENERATOR_FOR = {"vq-resample": "mnist-vqvae"}
"""The bundled generator each strategy runs on (a strategy not named here: mnist-vae, per-class
VAEs with their latent bank)."""


@pytest.fixture(scope="module")
def generators(trained, vq) -> dict[str, torch.nn.Module]:
    return {"mnist-vae": trained, "mnist-vqvae": vq}


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_registered_strategy_is_a_transform(name, generators, mnist):
    generator = generators[GENERATOR_FOR.get(name, "mnist-vae")]
    aug = LearnedAugment(generator, name)
    x, y = u8(mnist.x[:3]), mnist.y[:3]
    check_transform(aug, x)
    out, labels = aug(x, y)
    assert labels is y and out.shape == x.shape and out.dtype == torch.uint8
    again, _ = LearnedAugment(generator, name, rng=3)(x, y)
    assert torch.equal(again, LearnedAugment(generator, name, rng=3)(x, y)[0])
