"""Latent strategies, the latent bank and the classifier filter, on real digits."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY

from learned_aug import (
    STRATEGIES,
    VAE,
    ClassifierFilter,
    ClasswiseGenerator,
    LatentBank,
    VAEConfig,
    build_latent_bank,
    find_bank,
    register_strategy,
)
from learned_aug.latent_bank import BANK_NAME
from learned_aug.sampling import (
    Latents,
    Strategy,
    check_alpha,
    draw_alpha,
    encode_mean,
    get_strategy,
    uniform,
)

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


def run(name, model, x, labels, alpha, seed=0, bank=None, **options):
    rng = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        return STRATEGIES[name](
            model, x, labels, torch.full((len(x),), alpha), rng, bank, **options
        )


def test_registry_holds_the_strategies_of_the_literature():
    assert {"reconstruct", "noise", "interpolate", "extrapolate", "prior"} <= set(STRATEGIES)
    assert STRATEGIES["interpolate"].needs_bank and not STRATEGIES["noise"].needs_bank
    assert not STRATEGIES["prior"].needs_source
    with pytest.raises(ValueError, match="strategy must be one of"):
        get_strategy("mixup")
    with pytest.raises(TypeError, match="strategy must be"):
        get_strategy(3)


def test_a_new_strategy_registers_and_is_found_by_name(vae, digits):
    def flip(model, images, labels, alpha, rng, bank, **options):
        return images.flip(-1)

    register_strategy("test-flip", default_alpha=0.1)(flip)
    try:
        strategy = get_strategy("test-flip")
        assert strategy.default_alpha == 0.1 and strategy.name == "test-flip"
        x = digits.x[:3]
        assert torch.equal(run("test-flip", vae, x, None, 0.0), x.flip(-1))
        with pytest.raises(ValueError, match="already registered"):
            register_strategy("test-flip")(lambda *a, **k: None)
    finally:
        del STRATEGIES["test-flip"]
    assert isinstance(get_strategy(flip), Strategy)


@pytest.mark.parametrize(
    ("alpha", "expected"), [(0.2, (0.2, 0.2)), ((0.1, 0.5), (0.1, 0.5)), (0, (0.0, 0.0))]
)
def test_alpha_is_a_number_or_a_range(alpha, expected):
    assert check_alpha(alpha) == expected


@pytest.mark.parametrize("alpha", [-0.1, (0.5, 0.1), (0.1,), "big", True, float("nan")])
def test_bad_alpha_is_refused(alpha):
    with pytest.raises((TypeError, ValueError), match="alpha"):
        check_alpha(alpha)


def test_a_range_is_drawn_per_example_and_a_number_draws_nothing():
    rng = torch.Generator().manual_seed(0)
    drawn = draw_alpha((0.1, 0.5), 1000, rng)
    assert drawn.min() >= 0.1 and drawn.max() < 0.5 and drawn.std() > 0.05
    state = rng.get_state()
    assert torch.equal(draw_alpha((0.3, 0.3), 4, rng), torch.full((4,), 0.3))
    assert torch.equal(rng.get_state(), state)


def test_per_example_generators_make_draws_independent_of_the_batch():
    gens = [torch.Generator().manual_seed(s) for s in range(5)]
    alone = uniform(1, [torch.Generator().manual_seed(3)])
    assert uniform(5, gens)[3] == alone[0]


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
    run("interpolate", vae, x, y, 1.0, bank=bank, k=3)  # alpha = 1 decodes the neighbour
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
        out = STRATEGIES["prior"](classwise, digits.x[:3], y, torch.zeros(3), gens, None)
        member = classwise.members[7].sample(1, generator=[torch.Generator().manual_seed(2)])
    assert out.shape == (3, 1, 8, 8)
    # member 7 decodes in one batched pass with member 3: equal up to float rounding
    torch.testing.assert_close(out[2], member[0], rtol=0, atol=1e-6)


def test_prior_refuses_labels_it_could_not_keep(vae, digits):
    with pytest.raises(ValueError, match="unconditional"):
        run("prior", vae, digits.x[:2], digits.y[:2], 0.0)
    assert run("prior", vae, digits.x[:2], None, 0.0).shape == (2, 1, 8, 8)


# ------------------------------------------------------------------------ latent bank
def test_neighbours_are_of_the_same_class_and_never_the_query(bank):
    z, y = bank.codes[:50], bank.labels[:50]
    picked = bank.neighbours(z, y, k=1, rng=torch.Generator().manual_seed(0))
    rows = torch.cdist(picked, bank.codes).argmin(dim=1)
    assert torch.equal(bank.labels[rows], y)
    assert not bool((rows == torch.arange(50)).any())


def test_neighbours_without_labels_come_from_the_whole_bank(bank):
    picked = bank.neighbours(bank.codes[:5], None, k=2)
    assert picked.shape == (5, bank.codes.shape[1])


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


def test_bank_saves_and_loads_beside_the_generator(vae, bank, tmp_path):
    vae.save_pretrained(tmp_path)
    bank.save(tmp_path)
    loaded = LatentBank.find(tmp_path)
    assert torch.equal(loaded.codes, bank.codes) and torch.equal(loaded.labels, bank.labels)
    assert loaded.classes == DIGITS
    assert find_bank(tmp_path) is not None and find_bank(tmp_path / "missing") is None
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
