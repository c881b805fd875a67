"""One loader: every way to load a bundled generator gives the same generator, its latent bank
and quality report attached, so ``SyntheticDataset`` draws the same samples from each (diffusers:
``from_pretrained`` is the only door).

The doors: ``load_generator`` by name and by folder, ``LearnedAugment.from_pretrained``, the
model class's own ``from_pretrained`` and ``Generator.from_pretrained`` (huggingface_hub's
mixin), from the folder and from a Hub repo in huggingface_hub's offline cache. A class that is
not the checkpoint's refuses and names the loader that picks the class.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import huggingface_hub
import pytest
import torch
from test_hub import REPO, folder_files, put_in_cache

from learned_aug import (
    MODELS,
    VQVAE,
    CheckpointError,
    Generator,
    LatentBank,
    LearnedAugment,
    SyntheticDataset,
    bundled_names,
    load_generator,
)
from learned_aug.bundled import PRETRAINED_DIR
from learned_aug.files import BANK_NAME, CONFIG_NAME, QUALITY_JSON
from learned_aug.latent_bank import bank_of
from learned_aug.quality import quality_of, read_quality

NAMES = bundled_names()


def _model_class(name: str) -> type[Generator]:
    config = json.loads((PRETRAINED_DIR / name / CONFIG_NAME).read_text())
    return MODELS[config["model_type"]]


@pytest.fixture
def hub_repo(tmp_path, monkeypatch) -> Callable[[str], dict]:
    """``copy(name)``: the bundled generator ``name`` as the Hub repo ``REPO`` in an offline
    cache (HF_HUB_OFFLINE=1); returns the keyword arguments that load from that cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    def copy(name: str) -> dict:
        put_in_cache(tmp_path / "cache", REPO, folder_files(PRETRAINED_DIR / name))
        return {"cache_dir": tmp_path / "cache"}

    return copy


def _doors(name: str, hub: dict, image: bool) -> dict[str, Callable[[], Generator]]:
    """Every way to load the bundled generator ``name``, by what a user would type
    (``LearnedAugment`` for an ``image`` generator only: it augments images)."""
    folder, cls = PRETRAINED_DIR / name, _model_class(name)
    doors = {
        "load_generator(name)": lambda: load_generator(name),
        "load_generator(folder)": lambda: load_generator(folder),
        f"{cls.__name__}.from_pretrained(folder)": lambda: cls.from_pretrained(folder),
        "Generator.from_pretrained(folder)": lambda: Generator.from_pretrained(folder),
        "load_generator(repo)": lambda: load_generator(REPO, **hub),
        f"{cls.__name__}.from_pretrained(repo)": lambda: cls.from_pretrained(REPO, **hub),
        "Generator.from_pretrained(repo)": lambda: Generator.from_pretrained(REPO, **hub),
    }
    if image:
        doors["LearnedAugment.from_pretrained(name)"] = lambda: (
            LearnedAugment.from_pretrained(name).generator
        )
    return doors


def _samples(generator: Generator) -> tuple[torch.Tensor, torch.Tensor, str]:
    dataset = SyntheticDataset(generator, n=8, seed=0)
    samples, labels = dataset.generate(range(8))
    return samples, labels, repr(dataset.strategy)


@pytest.mark.parametrize("name", NAMES)
def test_every_door_gives_the_same_generator_bank_and_report(name, hub_repo):
    folder = PRETRAINED_DIR / name
    saved_bank = LatentBank.load(folder) if (folder / BANK_NAME).is_file() else None
    saved_quality = (
        read_quality(folder / QUALITY_JSON) if (folder / QUALITY_JSON).is_file() else None
    )
    reference = load_generator(name)
    expected = _samples(reference)
    image = len(reference.sample_shape) == 3
    for door, load in _doors(name, hub_repo(name), image).items():
        generator = load()
        assert type(generator) is _model_class(name), door
        bank = bank_of(generator)
        if saved_bank is None:
            assert bank is None, door
        else:
            assert bank is not None, f"{door} lost the latent bank"
            assert torch.equal(bank.codes, saved_bank.codes), door
            assert torch.equal(bank.labels, saved_bank.labels), door
        assert quality_of(generator) == saved_quality, door
        samples, labels, strategy = _samples(generator)
        assert strategy == expected[2], door
        assert torch.equal(samples, expected[0]) and torch.equal(labels, expected[1]), door


@pytest.mark.parametrize("name", NAMES)
def test_save_pretrained_keeps_the_bank_and_report_through_a_round_trip(name, tmp_path):
    # load -> save_pretrained -> load: the bank and the quality report come back with it.
    loaded = load_generator(name)
    loaded.save_pretrained(tmp_path)
    again = load_generator(tmp_path)
    assert quality_of(again) == quality_of(loaded)
    if bank_of(loaded) is None:
        assert bank_of(again) is None and not (tmp_path / BANK_NAME).exists()
    else:
        assert torch.equal(bank_of(again).codes, bank_of(loaded).codes)
        assert torch.equal(bank_of(again).labels, bank_of(loaded).labels)
        assert bank_of(again).classes == bank_of(loaded).classes
    assert _samples(again)[0].equal(_samples(loaded)[0])


def test_the_bundled_generators_carry_their_bank():
    # The doors above can only agree on a bank that is there: every bundled generator but a
    # VQ-VAE (whose prior draws the codes) ships one, and the strategies find it attached.
    for name in NAMES:
        if _model_class(name) is not VQVAE:
            assert (PRETRAINED_DIR / name / BANK_NAME).is_file(), name
            assert bank_of(Generator.from_pretrained(PRETRAINED_DIR / name)) is not None, name


@pytest.mark.parametrize("name", NAMES)
def test_a_class_that_is_not_the_checkpoints_refuses_and_names_the_loader(name):
    cls = _model_class(name)
    other = next(c for c in MODELS.values() if c is not cls)
    with pytest.raises(CheckpointError, match=r"learned_aug\.load_generator\(\.\.\.\)") as err:
        other.from_pretrained(PRETRAINED_DIR / name)
    assert repr(cls.config_class().model_type) in str(err.value)
