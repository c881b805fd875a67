"""LearnedAugment's randomness: a seed or a torch.Generator replays, each image of a sample
draws its own, pickled and deep-copied transforms replay the same draws, and DataLoader
workers run it."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from conftest import DIGITS, TINY, remake, u8
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from learned_aug import VAE, Interpolate, LearnedAugment, Noise, VAEConfig
from learned_aug.latent_bank import bank_of


@pytest.fixture(scope="module")
def gray() -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(image_size=(28, 28), classes=DIGITS, **TINY))


def test_seed_and_generator_make_the_output_reproducible(gray, mnist_small):
    x = u8(mnist_small.x[:6])
    a = LearnedAugment(gray, Noise((0.2, 0.8)), rng=3)(x)
    b = LearnedAugment(gray, Noise((0.2, 0.8)), rng=torch.Generator().manual_seed(3))(x)
    c = LearnedAugment(gray, Noise((0.2, 0.8)), rng=4)(x)
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(0)
    d = LearnedAugment(gray, Noise(0.5))(x)
    torch.manual_seed(0)
    assert torch.equal(d, LearnedAugment(gray, Noise(0.5))(x))


def test_several_images_of_a_sample_each_draw_their_own(bundled, mnist):
    x = u8(mnist.x[:4])
    # Both explicit images: beside a tv_tensors.Image, torchvision leaves plain tensors alone.
    batch, single = tv_tensors.Image(x[:3]), tv_tensors.Image(x[3])
    out_batch, out_single = remake(bundled, rng=5)((batch, single))
    one_by_one = remake(bundled, rng=5)
    assert torch.equal(out_batch, one_by_one(batch))
    assert torch.equal(out_single, one_by_one(single))


def test_compose_random_apply_random_choice_and_deepcopy(bundled, mnist):
    image = tv_tensors.Image(u8(mnist.x[0]))
    expected = remake(bundled, rng=3)(image)
    pipelines = [
        v2.Compose([remake(bundled, rng=3)]),
        v2.RandomApply([remake(bundled, rng=3)], p=1.0),
        v2.RandomChoice([remake(bundled, rng=3)]),
        copy.deepcopy(remake(bundled, rng=3)),
    ]
    for pipeline in pipelines:
        out = pipeline(image)
        assert isinstance(out, tv_tensors.Image) and torch.equal(out, expected)
    out, label = v2.Compose([v2.RandomHorizontalFlip(p=1.0), bundled])(image, 4)
    assert isinstance(out, tv_tensors.Image) and label == 4


def test_a_pickled_transform_keeps_its_strategy_bank_and_draws(per_class, mnist_small):
    aug = LearnedAugment(per_class, Interpolate(0.4, k=3), rng=11)
    again = pickle.loads(pickle.dumps(aug))
    assert repr(again.strategy) == repr(aug.strategy) == repr(Interpolate(0.4, k=3).bind(per_class))
    assert again.strategy.bank is not bank_of(per_class)  # a copy, with the same codes
    assert torch.equal(again.strategy.bank.codes, bank_of(per_class).codes)
    x, y = u8(mnist_small.x[:5]), mnist_small.y[:5]
    assert torch.equal(again(x, y)[0], aug(x, y)[0])


class _Digits(Dataset):
    def __init__(self, data, transform):
        self.data, self.transform = data, transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i):
        return self.transform(TF.to_pil_image(u8(self.data.x[i])), int(self.data.y[i]))


def test_a_dataloader_with_workers_runs_the_pipeline(per_class, mnist_small):
    transform = v2.Compose(
        [v2.ToImage(), LearnedAugment(per_class, Noise(0.2)), v2.ToDtype(torch.float32, scale=True)]
    )
    loader = DataLoader(
        _Digits(mnist_small.subset(range(32)), transform), batch_size=8, num_workers=2
    )
    batches = list(loader)
    assert len(batches) == 4
    x, y = batches[0]
    assert x.shape == (8, 1, 28, 28) and torch.equal(y, mnist_small.y[:8])
