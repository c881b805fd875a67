"""The latent bank (learned_aug.latent_bank): the codes, posterior spreads and labels of real
examples; neighbour search, draws of a class's rows, mixtures, and its file beside a generator."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY

from learned_aug import (
    VAE,
    LatentBank,
    VAEConfig,
    build_latent_bank,
    find_bank,
)
from learned_aug.files import BANK_NAME
from learned_aug.rng import ItemStreams

DIGITS = list("0123456789")


# ------------------------------------------------------------------------ what it holds
def test_the_bank_keeps_each_examples_posterior_mean_std_and_label(
    plain, sixty, plain_bank, tmp_path
):
    with torch.no_grad():
        q = plain.encode(sixty.x)
    torch.testing.assert_close(plain_bank.codes, q.mean)
    torch.testing.assert_close(plain_bank.stds, q.stddev)
    assert plain_bank.labels.tolist() == sixty.y.tolist()
    plain_bank.save(tmp_path)
    again = LatentBank.load(tmp_path)
    torch.testing.assert_close(again.stds, plain_bank.stds)


# ------------------------------------------------------------------------ neighbours and draws
def test_neighbours_are_of_the_same_class_and_never_the_query(bank):
    z, y = bank.codes[:50], bank.labels[:50]
    picked = bank.neighbours(z, y, k=1, rng=torch.Generator().manual_seed(0))
    rows = torch.cdist(picked, bank.codes).argmin(dim=1)
    assert torch.equal(bank.labels[rows], y)
    assert not bool((rows == torch.arange(50)).any())


def rows_of(bank: LatentBank, codes: torch.Tensor) -> torch.Tensor:
    """Which bank row each code is."""
    rows = torch.cdist(codes, bank.codes).argmin(dim=1)
    torch.testing.assert_close(bank.codes[rows], codes, rtol=0, atol=0)
    return rows


def test_neighbours_without_labels_come_from_the_whole_bank():
    # Six codes on a line, three of each class: with k=5 every other row is a neighbour of row 0.
    bank = LatentBank(torch.arange(6.0)[:, None], torch.tensor([0, 0, 0, 1, 1, 1]), ["a", "b"])
    query, streams = bank.codes[:1].expand(300, -1), ItemStreams.for_items(0, range(300))
    anyone = rows_of(bank, bank.neighbours(query, None, k=5, rng=streams))
    assert set(anyone.tolist()) == {1, 2, 3, 4, 5}  # both classes, never the query itself
    counts = torch.bincount(anyone, minlength=6)[1:]
    assert counts.min() > 30  # drawn uniformly among the k
    same = rows_of(bank, bank.neighbours(query, torch.zeros(300, dtype=torch.long), k=5))
    assert set(same.tolist()) == {1, 2}  # a label keeps to its class
    unlabelled = LatentBank(bank.codes, torch.full((6,), -1), [])
    loose = rows_of(unlabelled, unlabelled.neighbours(query, torch.zeros(300, dtype=torch.long)))
    assert set(loose.tolist()) == {1, 2, 3, 4, 5}  # an unlabelled bank has no class to keep to


def test_neighbours_without_labels_are_the_nearest_of_any_class(bank):
    z = bank.codes[:40]
    rows = rows_of(bank, bank.neighbours(z, None, k=2, rng=ItemStreams.for_items(1, range(40))))
    dist = torch.cdist(z, bank.codes).fill_diagonal_(torch.inf)
    nearest = dist.argsort(dim=1)[:, :2]
    assert bool((nearest == rows[:, None]).any(dim=1).all())
    assert bool((bank.labels[nearest] != bank.labels[:40, None]).any())  # classes do mix here


def test_neighbour_search_errors_name_the_problem(bank):
    with pytest.raises(ValueError, match="k must be"):
        bank.neighbours(bank.codes[:1], bank.labels[:1], k=0)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        bank.neighbours(bank.codes[:1], torch.tensor([12]))
    lonely = LatentBank(torch.zeros(2, 2), torch.tensor([0, 1]), ["a", "b"])
    with pytest.raises(ValueError, match="no other example of its class"):
        lonely.neighbours(torch.zeros(1, 2), torch.tensor([0]))


def test_pick_draws_rows_of_the_requested_class(bank):
    labels = torch.tensor([0, 5, 9, 5] * 25)
    rows = bank.pick(100, labels, torch.Generator().manual_seed(0))
    assert torch.equal(bank.labels[rows], labels)
    assert len(rows.unique()) > 30


def test_pick_without_labels_covers_the_whole_bank(bank):
    rows = bank.pick(6000, None, ItemStreams.for_items(0, range(6000)))
    assert set(rows.tolist()) == set(range(len(bank)))  # 300 rows, 20 draws each on average
    threes = bank.pick(3000, torch.full((3000,), 3), ItemStreams.for_items(0, range(3000)))
    assert set(threes.tolist()) == set((bank.labels == 3).nonzero().squeeze(1).tolist())


def test_gmm_mixtures_are_fitted_once_and_replay(plain_bank):
    assert plain_bank.mixture(2) is plain_bank.mixture(2)
    again = LatentBank(plain_bank.codes, plain_bank.labels, plain_bank.classes, plain_bank.stds)
    torch.testing.assert_close(again.mixture(2)[1], plain_bank.mixture(2)[1])


# ------------------------------------------------------------------------ beside a generator
def test_bank_saves_and_loads_beside_the_generator(vae, bank, tmp_path):
    vae.save_pretrained(tmp_path)
    bank.save(tmp_path)
    loaded = LatentBank.find(tmp_path)
    assert torch.equal(loaded.codes, bank.codes) and torch.equal(loaded.labels, bank.labels)
    assert loaded.classes == DIGITS
    assert torch.equal(find_bank(tmp_path).codes, bank.codes)
    vae.save_pretrained(tmp_path / "no-bank")
    assert find_bank(tmp_path / "no-bank") is None and LatentBank.find(tmp_path / "no-bank") is None
    with pytest.raises(ValueError, match="no generator named"):  # no generator there at all
        find_bank(tmp_path / "missing")
    with pytest.raises(ValueError, match="find_bank"):  # not a folder: maybe a Hub id
        LatentBank.find(tmp_path / "missing")


def test_build_latent_bank_saves_into_a_run_folder(vae, digits, tmp_path):
    vae.save_pretrained(tmp_path)
    bank = build_latent_bank(tmp_path, digits.subset(range(50)))
    assert (tmp_path / BANK_NAME).is_file() and len(bank) == 50
    with torch.no_grad():
        torch.testing.assert_close(bank.codes, vae.encode(digits.x[:50]).mean)


def test_a_per_class_bank_encodes_each_class_with_its_member(classwise, digits):
    data = digits.subset(range(60))
    bank = LatentBank.build(classwise, data)
    with torch.no_grad():
        for k in (2, 8):
            rows = data.y == k
            expected = classwise.members[k].encode(data.x[rows]).mean
            torch.testing.assert_close(bank.codes[rows], expected)


def test_a_bank_of_other_classes_is_refused(vae, digits):
    other = VAE(VAEConfig(image_size=(8, 8), classes=["a", "b"], **TINY))
    with pytest.raises(ValueError, match="classes"):
        LatentBank.build(other, digits.subset(range(20)))


def test_a_corrupted_bank_is_a_clear_error(tmp_path):
    (tmp_path / BANK_NAME).write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="not a readable latent bank"):
        LatentBank.load(tmp_path)
