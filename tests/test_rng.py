"""Counter-based per-item streams (learned_aug.rng) and their use by SyntheticDataset; the
strength drawn per example."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from learned_aug import VAE, VAEConfig
from learned_aug.models.classwise import ClasswiseGenerator
from learned_aug.rng import (
    GAMMA,
    ItemStreams,
    check_strength,
    draw_strength,
    item_keys,
    mix,
    mix_int,
    uniform,
)

MASK = (1 << 64) - 1


def splitmix64(state: int, count: int) -> list[int]:
    """The reference generator (Steele et al. 2014), in Python integers."""
    out = []
    for _ in range(count):
        state = (state + GAMMA) & MASK
        out.append(mix_int(state))
    return out


def test_words_are_splitmix64():
    keys = item_keys(7, [0, 1, 2**40])
    words = ItemStreams(keys).words(5)
    for key, row in zip(keys.tolist(), words.tolist(), strict=True):
        # word c of a stream is mix(key + c * gamma): splitmix64 started at key - gamma
        assert row == splitmix64((key - GAMMA) & MASK, 5)


def test_mix_matches_the_python_reference_on_edge_words():
    values = [0, 1, 2**63 - 1, 2**63, MASK, 0x0123456789ABCDEF]
    got = mix(np.array(values, dtype=np.uint64)).tolist()
    assert got == [mix_int(v) for v in values]


def test_an_item_draws_the_same_whatever_its_batch():
    batch = ItemStreams.for_items(3, [10, 11, 12, 13])
    alone = ItemStreams.for_items(3, [12])
    u_batch, u_alone = batch.rand(), alone.rand()
    z_batch, z_alone = batch.randn((2, 3)), alone.randn((2, 3))
    assert u_batch[2] == u_alone[0]
    torch.testing.assert_close(z_batch[2], z_alone[0], rtol=0, atol=0)


def test_streams_differ_by_seed_index_and_attempt():
    a = ItemStreams.for_items(0, [5]).randn((8,))
    assert not torch.equal(a, ItemStreams.for_items(1, [5]).randn((8,)))
    assert not torch.equal(a, ItemStreams.for_items(0, [6]).randn((8,)))
    assert not torch.equal(a, ItemStreams.for_items(0, [5], attempt=1).randn((8,)))


def test_successive_draws_advance_the_stream():
    s = ItemStreams.for_items(0, [1, 2])
    assert not torch.equal(s.randn((4,)), s.randn((4,)))


def test_a_subset_shares_positions_with_its_parent():
    parent = ItemStreams.for_items(0, [1, 2, 3])
    twin = ItemStreams.for_items(0, [1, 2, 3])
    sub = parent.subset(torch.tensor([2, 0]))
    first = sub.randn((3,))
    torch.testing.assert_close(first, twin.randn((3,))[[2, 0]], rtol=0, atol=0)
    # rows 0 and 2 moved on; row 1 did not
    nxt = parent.rand()
    assert nxt[1] == ItemStreams.for_items(0, [2]).rand()[0]
    assert nxt[0] != ItemStreams.for_items(0, [1]).rand()[0]


def test_draws_have_the_right_distribution():
    s = ItemStreams.for_items(0, range(200))
    z = s.randn((100,)).flatten().double().numpy()
    u = s.rand((50,)).flatten().double().numpy()
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert u.min() >= 0 and u.max() < 1


def test_classwise_sampling_with_streams_is_per_item():
    member = VAEConfig(image_size=(8, 8), latent_dim=2, hidden_channels=(4,), hidden_dim=8)
    gen = ClasswiseGenerator.from_member(member, classes=["a", "b", "c"]).eval()
    labels = torch.tensor([0, 2, 1, 2])
    with torch.no_grad():
        batch = gen.sample(4, labels=labels, rng=ItemStreams.for_items(0, [7, 8, 9, 10]))
        alone = gen.sample(1, labels=labels[1:2], rng=ItemStreams.for_items(0, [8]))
    torch.testing.assert_close(batch[1:2], alone, rtol=0, atol=1e-6)


def test_randn_checks_the_number_of_streams():
    vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, hidden_channels=(4,), hidden_dim=8))
    with pytest.raises(ValueError, match="one stream per sample"):
        vae.sample(3, rng=ItemStreams.for_items(0, [1, 2]))


# ------------------------------------------------------------------------ strength
@pytest.mark.parametrize(
    ("strength", "expected"), [(0.2, (0.2, 0.2)), ((0.1, 0.5), (0.1, 0.5)), (0, (0.0, 0.0))]
)
def test_alpha_is_a_number_or_a_range(strength, expected):
    assert check_strength(strength) == expected


@pytest.mark.parametrize("strength", [-0.1, (0.5, 0.1), (0.1,), "big", True, float("nan")])
def test_bad_alpha_is_refused(strength):
    with pytest.raises((TypeError, ValueError), match="strength"):
        check_strength(strength)


def test_a_range_is_drawn_per_example_and_a_number_draws_nothing():
    rng = torch.Generator().manual_seed(0)
    drawn = draw_strength((0.1, 0.5), 1000, rng)
    assert drawn.min() >= 0.1 and drawn.max() < 0.5 and drawn.std() > 0.05
    state = rng.get_state()
    assert torch.equal(draw_strength((0.3, 0.3), 4, rng), torch.full((4,), 0.3))
    assert torch.equal(rng.get_state(), state)


def test_per_example_generators_make_draws_independent_of_the_batch():
    gens = [torch.Generator().manual_seed(s) for s in range(5)]
    alone = uniform(1, [torch.Generator().manual_seed(3)])
    assert uniform(5, gens)[3] == alone[0]
