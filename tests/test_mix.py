"""MixSampler: the one documented way to mix real and synthetic examples."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import ConcatDataset, DataLoader, TensorDataset

from learned_aug import MixSampler


def _parts(n_real: int, n_synthetic: int) -> ConcatDataset:
    real = TensorDataset(torch.arange(n_real), torch.zeros(n_real, dtype=torch.long))
    synthetic = TensorDataset(torch.arange(n_synthetic), torch.ones(n_synthetic, dtype=torch.long))
    return ConcatDataset([real, synthetic])


@pytest.mark.parametrize(("n_synthetic", "share"), [(5000, 0.5), (20, 0.5), (5000, 0.25)])
def test_every_batch_holds_the_share_whatever_the_sizes(n_synthetic, share):
    data = _parts(50, n_synthetic)
    loader = DataLoader(data, batch_sampler=MixSampler(data, batch_size=16, share=share, rng=0))
    batches = [y for _, y in loader]
    assert len(batches) == len(loader) == -(-50 // (16 - round(16 * share)))
    assert all(int(y.sum()) == round(16 * share) and len(y) == 16 for y in batches)


def test_each_real_image_once_an_epoch_and_synthetic_without_replacement():
    data = _parts(48, 100)
    sampler = MixSampler(data, batch_size=32, share=0.5, rng=1)
    epoch = [i for batch in sampler for i in batch]
    real = sorted(i for i in epoch if i < 48)
    synthetic = [i - 48 for i in epoch if i >= 48]
    assert real == list(range(48))
    assert len(synthetic) == 48 and len(set(synthetic)) == 48
    assert min(synthetic) >= 0 and max(synthetic) < 100


def test_a_small_real_part_shrinks_the_batch_to_keep_the_share():
    sampler = MixSampler((10, 1000), batch_size=64, share=0.75, rng=0)
    batch = sampler.next_batch()
    assert sum(i < 10 for i in batch) == 10 and sum(i >= 10 for i in batch) == 30


def test_share_zero_is_plain_shuffled_batches():
    sampler = MixSampler((10, 0), batch_size=4, share=0.0, rng=0)
    drawn = [i for _ in range(2) for batch in sampler for i in batch]
    assert len(sampler) == 3 and len(drawn) == 24  # a batch crossing a pass continues the next
    assert sorted(drawn[:10]) == sorted(drawn[10:20]) == list(range(10))


def test_the_order_is_a_function_of_the_seed():
    def epochs(seed):
        sampler = MixSampler((30, 300), batch_size=8, share=0.5, rng=seed)
        return [list(sampler) for _ in range(2)]

    assert epochs(3) == epochs(3)
    assert epochs(3) != epochs(4)
    first, second = epochs(3)
    assert first != second, "every epoch is reshuffled"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"share": 1.0}, "share must be a fraction in \\[0, 1\\), got 1.0"),
        ({"share": -0.1}, "share must be"),
        ({"batch_size": 0}, "batch_size must be a positive int, got 0"),
        ({"batch_size": 1, "share": 0.9}, "leaves no real example"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MixSampler((10, 10), **kwargs)


def test_the_data_must_be_two_parts():
    with pytest.raises(ValueError, match="ConcatDataset\\(\\[real, synthetic\\]\\)"):
        MixSampler(ConcatDataset([_parts(2, 2)] * 3))
    with pytest.raises(ValueError, match="synthetic examples, but that part is empty"):
        MixSampler((10, 0), share=0.5)
