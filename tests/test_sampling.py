"""The strategy kernels of learned_aug.kernels, the latent bank and the classifier filter, on
real digits."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY

from learned_aug import (
    VAE,
    ClassifierFilter,
    ClasswiseGenerator,
    LatentBank,
    VAEConfig,
    build_latent_bank,
    find_bank,
)
from learned_aug import kernels as K
from learned_aug.files import BANK_NAME
from learned_aug.kernels import Latents, encode_mean
from learned_aug.rng import ItemStreams

DIGITS = list("0123456789")


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


def run(name, model, x, labels, strength, seed=0, bank=None, **options):
    """The kernel ``name`` of learned_aug.kernels on a batch, one strength for all."""
    rng = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        kernel = getattr(K, name.replace("-", "_"))
        return kernel(model, x, labels, torch.full((len(x),), strength), rng, bank, **options)


@pytest.mark.parametrize("name", ["reconstruct", "noise", "interpolate", "extrapolate"])
def test_every_strategy_keeps_shape_and_range_and_replays(name, vae, bank, digits):
    x, y = digits.x[:16], digits.y[:16]
    out = run(name, vae, x, y, 0.4, bank=bank)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert torch.equal(out, run(name, vae, x, y, 0.4, bank=bank))


def test_noise_and_interpolation_at_alpha_zero_are_reconstructions(vae, bank, digits):
    x, y = digits.x[:8], digits.y[:8]
    recon = run("reconstruct", vae, x, y, 0.0)
    for name in ("noise", "interpolate", "extrapolate"):
        torch.testing.assert_close(run(name, vae, x, y, 0.0, bank=bank), recon)
    assert not torch.allclose(run("noise", vae, x, y, 0.5, seed=1), recon)


def test_interpolation_moves_toward_a_same_class_neighbour(vae, bank, digits, monkeypatch):
    x, y = digits.x[300:340], digits.y[300:340]
    z = encode_mean(vae, x, y)
    decoded = []
    monkeypatch.setattr(vae, "decode", lambda code, labels=None: decoded.append(code) or code)
    run("interpolate", vae, x, y, 1.0, bank=bank, k=3)  # strength = 1 decodes the neighbour
    rows = torch.cdist(decoded[0], bank.codes).argmin(dim=1)
    torch.testing.assert_close(decoded[0], bank.codes[rows])
    assert torch.equal(bank.labels[rows], y)
    dist = torch.cdist(z, bank.codes).masked_fill(bank.labels[None] != y[:, None], torch.inf)
    assert bool((dist.argsort(dim=1)[:, :3] == rows[:, None]).any(dim=1).all())


def test_extrapolation_is_the_mirror_of_interpolation(vae, bank, digits):
    x, y = Latents(bank.codes[:6]), bank.labels[:6]
    rng = torch.Generator().manual_seed(4)
    target = bank.neighbours(x.z, y, k=5, rng=rng)
    with torch.no_grad():
        out = run("extrapolate", vae, x, y, 0.5, seed=4, bank=bank)
        torch.testing.assert_close(out, vae.decode(x.z - 0.5 * (target - x.z)))


def test_bank_strategies_say_when_the_bank_is_missing(vae, digits):
    with pytest.raises(ValueError, match="latent bank"):
        run("interpolate", vae, digits.x[:2], digits.y[:2], 0.3)


def test_prior_keeps_the_class_of_a_per_class_generator(classwise, digits):
    y = torch.tensor([3, 3, 7])
    gens = [torch.Generator().manual_seed(s) for s in range(3)]
    with torch.no_grad():
        out = K.prior(classwise, digits.x[:3], y, torch.zeros(3), gens, None)
        member = classwise.members[7].sample(1, rng=[torch.Generator().manual_seed(2)])
    assert out.shape == (3, 1, 8, 8)
    # member 7 decodes in one batched pass with member 3: equal up to float rounding
    torch.testing.assert_close(out[2], member[0], rtol=0, atol=1e-6)


def test_prior_refuses_labels_it_could_not_keep(vae, digits):
    with pytest.raises(ValueError, match="unconditional"):
        run("prior", vae, digits.x[:2], digits.y[:2], 0.0)
    out = run("prior", vae, digits.x[:2], None, 0.0, seed=5)
    with torch.no_grad():
        torch.testing.assert_close(out, vae.sample(2, rng=torch.Generator().manual_seed(5)))


def test_posterior_decodes_the_mean_plus_strength_times_sigma_eps(vae, digits):
    x = digits.x[:5]
    with torch.no_grad():
        q = vae.encode(x)
        eps = vae.randn(5, (3,), torch.Generator().manual_seed(2))
        expected = vae.decode(q.mean + 0.7 * q.stddev * eps)
        torch.testing.assert_close(run("posterior", vae, x, None, 0.7, seed=2), expected)
        torch.testing.assert_close(run("posterior", vae, x, None, 0.0), vae.decode(q.mean))
        rows = Latents(q.mean, q.stddev)  # from bank rows: the same draw
        torch.testing.assert_close(run("posterior", vae, rows, None, 0.7, seed=2), expected)


# ------------------------------------------------------------------------ latent bank
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


# ------------------------------------------------------------------------ classifier filter
def brightness_classifier(x):
    """Class 1 for bright images, class 0 for dark ones, confident far from mean 0.5."""
    m = x.flatten(1).mean(dim=1)
    return torch.stack([0.5 - m, m - 0.5], dim=1) * 40


def test_filter_redraws_rejected_samples_until_they_pass(digits):
    x = torch.cat([torch.zeros(3, 1, 8, 8), torch.ones(3, 1, 8, 8)])
    labels = torch.tensor([1, 1, 1, 1, 1, 1])
    f = ClassifierFilter(brightness_classifier, threshold=0.9, max_tries=3)

    def retry(rows, attempt):
        return torch.ones(len(rows), 1, 8, 8) * (1.0 if attempt == 2 else 0.0)

    out, kept_labels = f.apply(x.clone(), labels, retry)
    assert torch.equal(out, torch.ones(6, 1, 8, 8)) and torch.equal(kept_labels, labels)


def test_filter_keeps_the_best_try_when_none_passes_and_relabels():
    x = torch.full((2, 1, 4, 4), 0.45)
    f = ClassifierFilter(brightness_classifier, threshold=0.99, max_tries=3)
    out, _ = f.apply(x.clone(), torch.tensor([1, 1]), lambda rows, t: torch.full((2, 1, 4, 4), 0.6))
    assert torch.allclose(out, torch.full_like(out, 0.6))
    relabel = ClassifierFilter(brightness_classifier, threshold=0.0, relabel=True)
    _, labels = relabel.apply(torch.stack([torch.zeros(1, 4, 4), torch.ones(1, 4, 4)]), None, None)
    assert labels.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"threshold": 1.5}, "threshold"), ({"max_tries": 0}, "max_tries"), ({}, "callable")],
)
def test_filter_arguments_are_checked(kwargs, match):
    classifier = kwargs.pop("classifier", brightness_classifier if kwargs else "not callable")
    with pytest.raises((TypeError, ValueError), match=match):
        ClassifierFilter(classifier, **kwargs)
