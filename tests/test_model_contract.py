"""One contract over every entry of MODELS: a generator that joins the registry is tested here
without a test file of its own (diffusers' ModelTesterMixin, as a parametrized test).

Each registered kind is built by ``create_generator`` for the data it takes (8x8 digits for
image models, wine rows for tabular ones), unconditional, class-conditional where the kind has
the option, and per class; then every part of the Generator surface is checked.
"""

from __future__ import annotations

import inspect
import json

import pytest
import torch
from torch.distributions import Distribution

from learned_aug import MODELS, LatentBank, create_generator, load_dataset, load_generator
from learned_aug.files import QUALITY_JSON
from learned_aug.latent_bank import bank_of
from learned_aug.models.base import Generator
from learned_aug.quality import quality_of


def _data_for(kind: str):
    """The small real data a kind of generator takes."""
    try:
        MODELS[kind].config_for((1, 8, 8), ["a"])
    except ValueError:
        return load_dataset("wine")
    return load_dataset("digits")


def _cases() -> list[tuple[str, str]]:
    cases = []
    for kind in sorted(k for k in MODELS if k != "classwise"):
        options = inspect.signature(MODELS[kind].config_for).parameters
        variants = ["plain", "per-class"] + (["conditional"] if "conditional" in options else [])
        cases += [(kind, variant) for variant in variants]
    return cases


CASES = _cases()
# One loader, three doors: the package's, the base class's (which picks the class from
# config.json, like transformers' AutoModel) and the model class's own.
DOORS = ["load_generator", "Generator.from_pretrained", "<its class>.from_pretrained"]


def _build(kind: str, variant: str) -> tuple[Generator, object]:
    data = _data_for(kind).subset(range(40))
    options = {}
    if "conditional" in inspect.signature(MODELS[kind].config_for).parameters:
        options["conditional"] = variant == "conditional"
    torch.manual_seed(0)
    gen = create_generator(
        kind, data.sample_shape, data.classes, per_class=variant == "per-class", **options
    )
    return gen.eval(), data


@pytest.fixture(scope="module", params=CASES, ids=[f"{k}-{v}" for k, v in CASES])
def case(request):
    return _build(*request.param)


def test_every_registered_kind_is_covered():
    kinds = {kind for kind, _ in CASES}
    assert kinds | {"classwise"} == set(MODELS)  # classwise: the per-class variant of each


def test_loss_is_a_differentiable_scalar(case):
    gen, data = case
    gen.train()
    parts = gen.loss(data.x[:8], data.y[:8])
    gen.eval()
    assert parts["loss"].dim() == 0 and parts["loss"].isfinite()
    parts["loss"].backward()
    assert any(p.grad is not None for p in gen.parameters())


def test_sample_shapes_with_and_without_labels(case):
    gen, _ = case
    rng = torch.Generator().manual_seed(0)
    with torch.no_grad():
        assert gen.sample(5, rng=rng).shape == (5, *gen.sample_shape)
        assert gen.sample(0).shape == (0, *gen.sample_shape)
        if gen.conditional:
            labels = torch.tensor([0, 1, 2, 1, 0])
            assert gen.sample(5, labels=labels, rng=rng).shape == (5, *gen.sample_shape)
        else:
            with pytest.raises(ValueError, match="unconditional"):
                gen.sample(2, labels=[0, 1])


def test_sampling_replays_from_a_seed(case):
    gen, _ = case
    with torch.no_grad():
        a = gen.sample(4, rng=torch.Generator().manual_seed(7))
        b = gen.sample(4, rng=torch.Generator().manual_seed(7))
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_encode_decode_and_reconstruct(case):
    gen, data = case
    x, y = data.x[:6], data.y[:6]
    labels = y if gen.conditional else None
    with torch.no_grad():
        latent = gen.encode(x, labels)
        codes = gen.encode_mean(x, labels)
        assert gen.decode(codes, labels).shape == x.shape
        assert gen.reconstruct(x, labels).shape == x.shape
    if isinstance(latent, Distribution):
        torch.testing.assert_close(codes, latent.mean)


@pytest.mark.parametrize("door", DOORS)
def test_save_and_load_round_trip_is_strict_and_exact(case, tmp_path, door):
    gen, data = case
    gen.save_pretrained(tmp_path)
    bank = LatentBank.build(gen, data)
    bank.save(tmp_path)  # what fit leaves beside the weights
    (tmp_path / QUALITY_JSON).write_text(json.dumps({"cas": 0.5}))
    load = {
        "load_generator": load_generator,
        "Generator.from_pretrained": Generator.from_pretrained,
        "<its class>.from_pretrained": type(gen).from_pretrained,
    }[door]
    loaded = load(tmp_path)  # the same weights, bank and quality report by each door
    assert type(loaded) is type(gen) and loaded.config == gen.config
    for key, value in gen.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)
    with torch.no_grad():
        a = gen.sample(3, rng=torch.Generator().manual_seed(1))
        b = loaded.sample(3, rng=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert torch.equal(bank_of(loaded).codes, bank.codes)
    assert quality_of(loaded) == {"cas": 0.5}


def test_dtype_and_device_moves(case):
    gen, data = case
    double = _build_like(gen).to(torch.float64)
    labels = data.y[:3] if gen.conditional else None
    with torch.no_grad():
        out = double.reconstruct(data.x[:3].double(), labels)
        assert out.dtype == torch.float64
        assert double.sample(2).dtype == torch.float64
    assert double.device == torch.device("cpu")


def _build_like(gen: Generator) -> Generator:
    copy = type(gen)(gen.config)
    copy.load_state_dict(gen.state_dict())
    return copy.eval()


def test_latent_bank_covers_the_data(case):
    gen, data = case
    bank = LatentBank.build(gen, data)
    assert len(bank) == len(data) and bank.labels.tolist() == data.y.tolist()
    gaussian = isinstance(
        gen.encode(data.x[:1], data.y[:1] if gen.conditional else None), Distribution
    )
    assert (bank.stds is not None) == gaussian
