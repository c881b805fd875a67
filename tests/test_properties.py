"""Property-based tests (hypothesis) of LearnedAugment over its inputs.

Shapes, dtypes, PIL modes, batch sizes and value ranges are drawn at random; whatever the input,
the output has the input's type, shape (or PIL size and mode) and dtype, stays in the dtype's
range, and nothing crashes. Inputs outside what a transform can read get a clear ValueError.
"""

from __future__ import annotations

import PIL.Image
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torchvision import tv_tensors

from learned_aug import STRATEGIES, VAE, LearnedAugment, VAEConfig, create_generator
from learned_aug import functional as F

TINY = dict(latent_dim=2, hidden_channels=(8,), hidden_dim=16)
torch.manual_seed(0)
GENERATORS = {c: VAE(VAEConfig(image_size=(8, 8), channels=c, **TINY)) for c in (1, 3)}
PER_CLASS = create_generator("vae", (1, 8, 8), list("abc"), per_class=True, **TINY)
DTYPES = (torch.uint8, torch.uint16, torch.float16, torch.bfloat16, torch.float32, torch.float64)
FILLS = ("uniform", "zeros", "top", "extremes")
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _top(dtype: torch.dtype) -> float:
    return 1.0 if dtype.is_floating_point else float(torch.iinfo(dtype).max)


def _values(shape: tuple[int, ...], dtype: torch.dtype, fill: str, seed: int) -> torch.Tensor:
    """Image values over the dtype's whole range: uniform, all 0, all max, or only 0 and max."""
    g = torch.Generator().manual_seed(seed)
    unit = {
        "uniform": torch.rand(shape, generator=g, dtype=torch.float64),
        "zeros": torch.zeros(shape, dtype=torch.float64),
        "top": torch.ones(shape, dtype=torch.float64),
        "extremes": (torch.rand(shape, generator=g) < 0.5).double(),
    }[fill]
    return (unit * _top(dtype)).round().to(dtype) if not dtype.is_floating_point else unit.to(dtype)


@st.composite
def images(draw, channels: tuple[int, ...] = (1, 3)):
    """A PIL image (L / RGB), a plain tensor CHW or BCHW, or a tv_tensors.Image, any size."""
    c, kind = draw(st.sampled_from(channels)), draw(st.sampled_from(["pil", "tensor", "tv_tensor"]))
    h, w = draw(st.integers(1, 20)), draw(st.integers(1, 20))
    fill, seed = draw(st.sampled_from(FILLS)), draw(st.integers(0, 2**31 - 1))
    if kind == "pil":
        x = _values((h, w, c), torch.uint8, fill, seed)
        return PIL.Image.fromarray(x.squeeze(-1).numpy() if c == 1 else x.numpy())
    batch = draw(st.sampled_from([(), (1,), (2,), (3,)]))
    x = _values((*batch, c, h, w), draw(st.sampled_from(DTYPES)), fill, seed)
    return tv_tensors.Image(x) if kind == "tv_tensor" else x


def _check_like(out, inpt) -> None:
    assert type(out) is type(inpt)
    if isinstance(inpt, PIL.Image.Image):
        assert (out.mode, out.size) == (inpt.mode, inpt.size)
        return
    assert (out.dtype, out.shape) == (inpt.dtype, inpt.shape)
    values = out.double()
    assert torch.isfinite(values).all()
    assert values.min() >= 0 and values.max() <= _top(out.dtype)


def _strategy(name: str, strength):
    """The strategy ``name`` with ``strength`` where it takes one (None: its default)."""
    cls = STRATEGIES[name]
    return cls() if cls.default_strength is None or strength is None else cls(strength)


def _generator_for(inpt):
    c = len(inpt.getbands()) if isinstance(inpt, PIL.Image.Image) else inpt.shape[-3]
    return GENERATORS[c]


@SETTINGS
@given(
    inpt=images(),
    strategy=st.sampled_from(["noise", "reconstruct", "prior"]),
    p=st.sampled_from([0.0, 0.5, 1.0]),
    strength=st.one_of(
        st.none(), st.floats(0.0, 1.0), st.tuples(st.just(0.0), st.floats(0.0, 1.0))
    ),
    seed=st.integers(0, 2**31 - 1),
)
def test_any_image_keeps_its_type_shape_dtype_and_range(inpt, strategy, p, strength, seed):
    # strategy and p positionally: LearnedAugment(generator, strategy, p)
    aug = LearnedAugment(_generator_for(inpt), _strategy(strategy, strength), p, rng=seed)
    out = aug(inpt)
    _check_like(out, inpt)
    if p == 0.0:
        assert out is inpt
    again = LearnedAugment(_generator_for(inpt), _strategy(strategy, strength), p, rng=seed)(inpt)
    same = out.tobytes() == again.tobytes() if isinstance(out, PIL.Image.Image) else None
    assert same if same is not None else torch.equal(out, again)  # a seed replays exactly


@SETTINGS
@given(
    inpt=images(channels=(1,)),
    label=st.integers(0, 2),
    as_tensor=st.booleans(),
)
def test_a_labelled_sample_keeps_its_label_and_structure(inpt, label, as_tensor):
    if isinstance(inpt, torch.Tensor) and inpt.dim() == 4:
        label = torch.full((len(inpt),), label) if as_tensor else label
    elif as_tensor:
        label = torch.tensor(label)
    image, out_label = LearnedAugment(PER_CLASS, rng=0)((inpt, label))
    _check_like(image, inpt)
    assert out_label is label


def test_inf_pixels_are_refused():
    x = torch.rand(1, 8, 8)
    x[0, 3, 3] = float("inf")
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        LearnedAugment(GENERATORS[1], rng=0)(x)


@SETTINGS
@given(
    low=st.floats(-2.0, 1.0, allow_nan=False),
    high=st.floats(0.0, 3.0, allow_nan=False),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_floats_outside_0_1_are_refused_clearly(low, high, dtype):
    x = torch.linspace(min(low, high), max(low, high), 64, dtype=dtype).reshape(1, 8, 8)
    aug = LearnedAugment(GENERATORS[1], rng=0)
    if x.min() >= -F.RANGE_TOLERANCE and x.max() <= 1 + F.RANGE_TOLERANCE:
        _check_like(aug(x), x)
    else:
        with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
            aug(x)


@SETTINGS
@given(inpt=images(channels=(3,)))
def test_a_channel_mismatch_is_a_clear_error_whatever_the_input(inpt):
    with pytest.raises(ValueError, match=r"expects images with 1 channel\(s\), got 3"):
        LearnedAugment(GENERATORS[1], rng=0)(inpt)


@SETTINGS
@given(
    batch=st.integers(1, 3),
    channels=st.sampled_from([1, 3]),
    h=st.integers(1, 20),
    w=st.integers(1, 20),
    seed=st.integers(0, 2**31 - 1),
)
def test_uint8_to_model_and_back_at_the_same_size_is_exact(batch, channels, h, w, seed):
    x = _values((batch, channels, h, w), torch.uint8, "uniform", seed)
    assert torch.equal(F.from_model(F.to_model(x, (channels, h, w)), torch.uint8, (h, w)), x)


def test_nan_pixels_are_refused():
    x = torch.rand(1, 8, 8)
    x[0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        LearnedAugment(GENERATORS[1], rng=0)(x)


def test_bool_images_are_refused_with_the_accepted_dtypes():
    with pytest.raises(TypeError, match=r"uint8 .* or float in \[0, 1\], got dtype torch.bool"):
        LearnedAugment(GENERATORS[1], rng=0)(torch.zeros(1, 8, 8, dtype=torch.bool))


def test_a_partly_applied_batch_keeps_uint16():
    # Found by hypothesis: p < 1 copies the augmented rows back with index_copy_, which has no
    # uint16 kernel.
    x = torch.tensor([[[[63572]]], [[[46387]]]], dtype=torch.uint16)
    out = LearnedAugment(GENERATORS[1], strategy="noise", p=0.5, rng=0)(x)
    assert out.dtype == torch.uint16 and out.shape == x.shape
