"""SyntheticDataset, the one place for it: item i of (seed, i), item types and composition
with real datasets, export, the labels it hands out (and the check of the labels an
unconditional generator's samples inherit from the latent bank, against its quality report),
the latent samplers it draws with, its filter, and its arguments."""

from __future__ import annotations

import copy
import dataclasses
import os
import warnings

import PIL.Image
import pytest
import torch
import torch.nn.functional as F
from conftest import BAD, DIGITS, GOOD, QUICK, RUN, TINY, u8
from torch.utils.data import ConcatDataset, DataLoader
from torchvision.datasets import FakeData, ImageFolder
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from learned_aug import (
    STRATEGIES,
    VAE,
    ClassifierFilter,
    Interpolate,
    LatentBank,
    LearnedAugment,
    Noise,
    Posterior,
    SyntheticDataset,
    VAEConfig,
    fit,
    load_dataset,
    load_generator,
)
from learned_aug.latent_bank import attach_bank, bank_of
from learned_aug.quality import attach_quality, quality_of
from learned_aug.synthetic import UNLABELLED, to_folder
from learned_aug.synthetic.items import draw_items
from learned_aug.synthetic.trust import LABEL_TRUST, UncheckedLabelsWarning, label_bar
from learned_aug.training.publish import default_sampler

GRAY = v2.Compose([v2.Grayscale(), v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


@pytest.fixture(scope="module")
def per_class_dir(per_class, tmp_path_factory) -> str:
    """The per-class VAEs saved with their latent bank."""
    folder = tmp_path_factory.mktemp("per-class")
    per_class.save_pretrained(folder)
    bank_of(per_class).save(folder)
    return str(folder)


@pytest.fixture(scope="module")
def single(mnist_small):
    """One unconditional VAE for all classes (Iser's single VAE), with its latent bank.

    Trained without a run folder, it has no quality report: the classes its samples inherit
    from the bank are served with an ``UncheckedLabelsWarning`` (see "bank labels, trusted?"),
    which the tests of the mechanics below expect (``unchecked()``).
    """
    settings = dataclasses.replace(QUICK, epochs=8, batch_size=32, lr=3e-3)
    return fit("vae", mnist_small, settings, config=TINY, **RUN).model


@pytest.fixture(scope="module")
def nearest_mean(mnist_small):
    """A real classifier: logits are minus the distance to each class's mean digit."""
    means = torch.stack([mnist_small.x[mnist_small.y == k].mean(0) for k in range(10)])

    def classify(x: torch.Tensor) -> torch.Tensor:
        return -torch.cdist(x.flatten(1), means.flatten(1)) * 2.0

    return classify


def unchecked():
    """The warning of bank labels no quality report vouches for (the ``single`` fixture's)."""
    return pytest.warns(UncheckedLabelsWarning, match="unchecked")


def as_batches(dataset, num_workers: int, batch_size: int = 16):
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers)
    return [(x.clone(), y.clone()) for x, y in loader]


# ------------------------------------------------------------------------ item i of (seed, i)
@pytest.mark.parametrize("strategy", ["prior", "noise", "interpolate"])
def test_an_item_is_a_pure_function_of_seed_and_index(per_class, strategy):
    a = SyntheticDataset(per_class, n=40, seed=3, strategy=strategy)
    b = SyntheticDataset(per_class, n=40, seed=3, strategy=strategy)
    one_by_one = torch.stack([b[i][0] for i in (17, 3, 39, 0)])
    batched = torch.stack([x for x, _ in a.__getitems__([17, 3, 39, 0])])
    torch.testing.assert_close(one_by_one, batched, rtol=0, atol=1e-5)
    again = SyntheticDataset(per_class, n=40, seed=3, strategy=strategy)
    assert torch.equal(again.generate([17, 3])[0], a.generate([17, 3])[0])  # the same seed
    other = SyntheticDataset(per_class, n=40, seed=4, strategy=strategy)
    assert not torch.equal(other[17][0], a[17][0])  # a near-constant decoder: exact check
    assert [a[i][1] for i in range(12)] == a.targets[:12] == [i % 10 for i in range(12)]


def test_generate_returns_the_samples_and_labels_of_the_items(per_class):
    dataset = SyntheticDataset(per_class, n=30, labels=[i % 3 for i in range(30)], seed=1)
    samples, labels = dataset.generate([4, 29, 0, -1])
    assert samples.shape == (4, 1, 28, 28) and samples.dtype == torch.float32
    assert labels.tolist() == [dataset.targets[i] for i in (4, 29, 0, 29)] == [1, 2, 0, 2]
    torch.testing.assert_close(samples[1], dataset[29][0], rtol=0, atol=1e-5)
    torch.testing.assert_close(samples[3], samples[1], rtol=0, atol=0)
    assert dataset.check_indices(torch.tensor([-1, 3])) == [29, 3]
    assert dataset.check_indices([0, -30]) == [0, 0]


def test_items_do_not_depend_on_the_chunk_size(per_class):
    dataset = SyntheticDataset(per_class, n=40, seed=2, strategy="noise")
    default = torch.stack([dataset[i][0] for i in (0, 13, 39)])
    small = SyntheticDataset(per_class, n=40, seed=2, strategy="noise")
    small.chunk_size = 8
    assert SyntheticDataset.chunk_size == 256  # set on the instance only
    chunked = torch.stack([small[i][0] for i in (0, 13, 39)])
    torch.testing.assert_close(chunked, default, rtol=0, atol=1e-5)
    assert sorted(small._cache) == [0, 1, 4]  # the chunks of 0, 13 and 39 stay decoded
    small.cache_bytes = 1  # at least two chunks are kept: the least recently used goes
    small[0], small[20]  # 0 was used last but one, 20 is in a new chunk
    assert list(small._cache) == [0, 2]


def test_random_access_decodes_each_chunk_once(per_class, monkeypatch):
    dataset = SyntheticDataset(per_class, n=64, seed=2, strategy="noise")
    dataset.chunk_size = 8
    calls = []
    generate = dataset.generate
    monkeypatch.setattr(dataset, "generate", lambda idx: calls.append(1) or generate(idx))
    order = torch.randperm(64, generator=torch.Generator().manual_seed(0)).tolist()
    for i in order * 2:  # two shuffled epochs, as a MixSampler reads them
        dataset[i]
    assert len(calls) == 8


def test_draw_items_is_what_a_dataset_serves(per_class):
    dataset = SyntheticDataset(per_class, n=20, seed=5, strategy=Posterior(0.5))
    indices = torch.tensor([3, 11])
    labels = torch.tensor([3, 1])
    drawn = draw_items(per_class, dataset.strategy, indices, labels, seed=5)
    torch.testing.assert_close(drawn, dataset.generate([3, 11])[0], rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="bind it first"):
        draw_items(per_class, Posterior(0.5), indices, labels, seed=5)


@pytest.mark.parametrize("strategy", ["prior", "interpolate"])
def test_workers_give_identical_batches(per_class, nearest_mean, strategy):
    dataset = SyntheticDataset(
        per_class, n=48, strategy=strategy, filter=ClassifierFilter(nearest_mean)
    )
    alone, workers = as_batches(dataset, 0), as_batches(dataset, 2)
    assert len(alone) == 3
    for (x0, y0), (x2, y2) in zip(alone, workers, strict=True):
        assert torch.equal(x0, x2) and torch.equal(y0, y2)


def test_targets_and_classes_are_known_without_generating(per_class, monkeypatch):
    dataset = SyntheticDataset(per_class, n=25, labels=[4] * 5 + [9] * 20)
    monkeypatch.setattr(dataset.generator, "sample", None)  # generating would fail now
    monkeypatch.setattr(dataset.generator, "decode", None)
    assert dataset.targets == [4] * 5 + [9] * 20
    assert dataset.classes == list("0123456789")
    assert dataset.class_to_idx["7"] == 7 and len(dataset) == 25


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_a_hundred_million_items_construct_in_constant_memory(per_class):
    small = SyntheticDataset(per_class, n=10**3)
    _ = small[999], small.targets[-1]
    before = _rss_bytes()
    big = SyntheticDataset(small.generator, n=10**8)
    assert big[10**8 - 1][1] == big.targets[-1] == (10**8 - 1) % 10
    assert _rss_bytes() - before < 20 * 2**20  # the labels alone of 10**8 items are 800 MB


# ------------------------------------------------------------------------ item types
def test_a_transform_gets_pil_images_and_no_transform_gives_tensors(per_class):
    plain = SyntheticDataset(per_class, n=3, seed=1)
    seen = []
    with_transform = SyntheticDataset(per_class, n=3, seed=1, transform=seen.append)
    tensor, _ = plain[2]
    with_transform[2]
    (image,) = seen
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32
    assert isinstance(image, PIL.Image.Image) and (image.mode, image.size) == ("L", (28, 28))
    assert torch.equal(TF.pil_to_tensor(image), u8(tensor.clamp(0, 1)))


def test_like_matches_the_item_type_of_the_real_data(per_class, mnist_small, tmp_path):
    image, label = SyntheticDataset.like(mnist_small, per_class, n=4)[1]
    real_image, real_label = mnist_small[1]
    assert type(image) is type(real_image) and image.dtype == real_image.dtype
    assert image.shape == real_image.shape and type(label) is type(real_label) is int
    for i in range(10):  # an ImageFolder without a transform: PIL images (RGB, its loader's)
        (tmp_path / str(i)).mkdir()
        TF.to_pil_image(mnist_small.x[i]).save(tmp_path / str(i) / "a.png")
    folder = ImageFolder(tmp_path)
    image, label = SyntheticDataset.like(folder, per_class, n=4)[1]
    assert isinstance(image, PIL.Image.Image) and image.mode == folder[0][0].mode == "RGB"
    assert image.size == folder[0][0].size and label == 1


def test_composes_with_a_real_torchvision_dataset(per_class, mnist_small, tmp_path):
    for i in range(20):
        folder = tmp_path / mnist_small.classes[int(mnist_small.y[i])]
        folder.mkdir(exist_ok=True)
        TF.to_pil_image(mnist_small.x[i]).save(folder / f"{i}.png")
    real = ImageFolder(tmp_path, transform=GRAY)
    synthetic = SyntheticDataset(per_class, n=30, transform=GRAY)
    (image, label), (fake, fake_label) = real[0], synthetic[0]
    assert type(image) is type(fake) and image.shape == fake.shape == (1, 28, 28)
    assert type(label) is type(fake_label) is int
    loader = DataLoader(ConcatDataset([real, synthetic]), batch_size=25, shuffle=True)
    x, y = next(iter(loader))
    assert x.shape == (25, 1, 28, 28) and y.dtype == torch.int64
    assert sum(len(b[1]) for b in loader) == 50


def test_a_torchvision_dataset_joins_with_the_same_transform_on_both_sides(per_class):
    real = FakeData(size=40, image_size=(1, 28, 28), num_classes=10, transform=GRAY)
    synthetic = SyntheticDataset(per_class, n=24, transform=GRAY)
    (image, label), (fake, fake_label) = real[0], synthetic[0]
    assert type(image) is type(fake) and image.shape == fake.shape == (1, 28, 28)
    assert type(label) is type(fake_label) is int
    x, y = next(iter(DataLoader(ConcatDataset([real, synthetic]), batch_size=64, shuffle=True)))
    assert x.shape == (64, 1, 28, 28) and y.shape == (64,)


def test_compose_learned_augment_on_real_digits_with_synthetic_ones(
    per_class, per_class_dir, mnist_small
):
    augment = LearnedAugment.from_pretrained(per_class_dir, strategy="interpolate", rng=0)
    to_float = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    x, y = mnist_small.x[:6], mnist_small.y[:6]
    real = [to_float(*augment(TF.to_pil_image(xi), int(yi))) for xi, yi in zip(x, y, strict=True)]
    assert all(r[0].shape == (1, 28, 28) and r[1] == int(yi) for r, yi in zip(real, y, strict=True))
    synthetic = SyntheticDataset(per_class, n=6, transform=v2.Compose([v2.ToImage()]))
    assert all(isinstance(synthetic[i][0], torch.Tensor) for i in range(6))


def test_the_bundled_data_and_generator_join_with_defaults():
    # The design card's line, as written: no conversion argument.
    synthetic = SyntheticDataset(load_generator("mnist-vae"), n=5000)
    loader = DataLoader(
        ConcatDataset([load_dataset("mnist-5k"), synthetic]), batch_size=64, shuffle=True
    )
    x, y = next(iter(loader))
    assert x.shape == (64, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert len(loader.dataset) == 10_000


# ------------------------------------------------------------------------ export
def test_to_folder_writes_an_imagefolder_of_the_items(per_class, tmp_path):
    dataset = SyntheticDataset(per_class, n=23, seed=1)
    to_folder(dataset, tmp_path, progress=False, batch_size=10)
    folder = ImageFolder(tmp_path)
    assert folder.classes == dataset.classes and len(folder) == 23
    assert sorted(folder.targets) == sorted(dataset.targets)
    image = PIL.Image.open(folder.samples[0][0])
    assert image.mode == "L" and image.size == (28, 28)
    for i in (0, 11, 22):  # each file holds item i, in the folder of its class
        path = tmp_path / dataset.classes[dataset.targets[i]] / f"{i:02d}.png"
        written = TF.pil_to_tensor(PIL.Image.open(path)).int()
        expected = u8(dataset[i][0].clamp(0, 1)).int()  # up to rounding at a level's edge
        torch.testing.assert_close(written, expected, rtol=0, atol=1)


# ----------------------------------------------------------------- no silent wrong label
def test_a_single_vae_with_a_bank_makes_labelled_samples(single):
    with unchecked():
        dataset = SyntheticDataset(single, n=20, strategy=Interpolate(0.5))
    assert dataset.classes == list("0123456789") and dataset.targets[:3] == [0, 1, 2]
    image, label = dataset[13]
    assert isinstance(image, torch.Tensor) and image.shape == (1, 28, 28) and label == 3


def test_an_unconditional_generator_samples_near_real_examples_of_each_class(single):
    with unchecked():
        dataset = SyntheticDataset(single, n=20)  # the default: its bank's aggregate posterior
    bank = bank_of(single)
    assert dataset.strategy == Posterior(bank=bank) and dataset.classes == list("0123456789")
    # At strength 0 a draw is the decoded code of a real example of the item's class.
    with unchecked():
        at_mean = SyntheticDataset(single, n=20, strategy=Posterior(0.0))
    samples, labels = at_mean.generate(range(20))
    with torch.no_grad():
        decoded = single.decode(bank.codes)
    gap = (samples[:, None] - decoded[None]).flatten(2).abs().amax(2)  # (item, bank row)
    nearest = gap.argmin(dim=1)
    assert float(gap.min(dim=1).values.max()) < 1e-3  # up to a batch's float rounding
    assert bank.labels[nearest].tolist() == labels.tolist() == list(dataset.targets)


@pytest.mark.parametrize("labels", ["balanced", None, [1, 2]])
def test_an_unconditional_generator_is_refused_and_told_how_to_get_labels(single, labels):
    with pytest.raises(ValueError, match="cannot say which class") as err:
        SyntheticDataset(single, n=2, labels=labels, strategy="prior")
    for way in ("--per-class", "strategy='interpolate'", "relabel=True", "labels='unlabelled'"):
        assert way in str(err.value)


def test_unlabelled_samples_cannot_pass_for_a_real_class(single, mnist_small, tmp_path):
    synthetic = SyntheticDataset.like(mnist_small, single, n=30, labels="unlabelled")
    assert synthetic.classes == [] and synthetic.class_to_idx == {}
    assert list(synthetic.targets) == [UNLABELLED] * 30 == [synthetic[i][1] for i in range(30)]
    assert synthetic.generate(range(30))[1].tolist() == [UNLABELLED] * 30
    joined = ConcatDataset([mnist_small, synthetic])
    batches = list(DataLoader(joined, batch_size=64, shuffle=True))
    y = torch.cat([b[1] for b in batches])
    assert (y == UNLABELLED).sum() == 30  # every synthetic item, and no real class index
    assert set(y[y != UNLABELLED].tolist()) <= set(range(len(mnist_small.classes)))
    x, y = next((x, y) for x, y in batches if (y == UNLABELLED).any())
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(torch.zeros(len(x), len(mnist_small.classes)), y)
    to_folder(synthetic, tmp_path / "out", progress=False)
    assert len(list((tmp_path / "out").glob("*.png"))) == 30  # no class folder
    with pytest.raises(FileNotFoundError, match="class folder"):
        ImageFolder(tmp_path / "out")


def test_a_classifier_labels_an_unconditional_generator_for_real_data(single, mnist_small):
    def classify(x):  # a real classifier: minus the distance to each class's mean digit
        means = torch.stack([mnist_small.x[mnist_small.y == k].mean(0) for k in range(10)])
        return -torch.cdist(x.flatten(1), means.flatten(1))

    relabel = ClassifierFilter(classify, threshold=0.0, relabel=True)
    synthetic = SyntheticDataset.like(mnist_small, single, n=20, filter=relabel)
    assert synthetic.classes == mnist_small.classes
    x = torch.stack([synthetic[i][0] for i in range(20)])
    assert synthetic.targets == classify(x).argmax(1).tolist()


# ------------------------------------------------------------------------ bank labels, trusted?

WAYS = (
    "config={'conditional': True}",
    "--per-class",
    "ClassifierFilter(classifier, relabel=True)",
    "target_transform=Teacher(classifier)",
)


def hand_built(data, report: dict | None, **config) -> VAE:
    """An untrained VAE with the latent bank of ``data`` and ``report`` attached, as a user
    builds one in memory."""
    torch.manual_seed(0)
    vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, hidden_channels=(4,), **config))
    attach_bank(vae, LatentBank.build(vae.eval(), data))
    return attach_quality(vae, report)


def no_warning(make):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return make()


def test_a_collapsed_unconditional_generator_is_refused_with_its_numbers(collapsed):
    model, out = collapsed
    measured, needed = label_bar(quality_of(model), 10)
    for generator in (model, load_generator(out)):
        with pytest.raises(ValueError, match="no longer look like their source") as err:
            SyntheticDataset(generator, 10)
        message = str(err.value)
        assert f"classifier_accuracy_samples={measured:.4g}" in message
        assert f"{measured:.1%}" in message and f"below the {needed:.1%} required" in message
        for way in (*WAYS, "labels='unlabelled'"):
            assert way in message


@pytest.mark.parametrize("strategy", [None, "posterior", Interpolate(0.5), "noise"])
def test_every_strategy_that_starts_from_bank_codes_is_checked(few, strategy):
    with pytest.raises(ValueError, match=r"classifier_accuracy_samples=0\.12"):
        SyntheticDataset(hand_built(few, BAD), 10, strategy=strategy)


@pytest.mark.parametrize(
    ("measured", "refused"), [(0.5, False), (0.499, True), (0.85, False), (0.1, True)]
)
def test_the_bar_is_half_way_from_chance_to_the_real_images(few, measured, refused):
    report = {"classifier_accuracy_samples": measured, "classifier_accuracy_real_val": 0.9}
    assert label_bar(report, 10) == (measured, pytest.approx(0.1 + LABEL_TRUST * (0.9 - 0.1)))
    assert label_bar(report, 10)[1] == pytest.approx(0.5)
    generator = hand_built(few, report)
    if refused:
        with pytest.raises(ValueError, match=r"below the 50\.0% required"):
            SyntheticDataset(generator, 10)
    else:
        dataset = no_warning(lambda: SyntheticDataset(generator, 10))
        assert dataset.classes == DIGITS and dataset.targets[:3] == [0, 1, 2]


def test_a_good_report_passes_and_the_labels_are_the_bank_codes_classes(few):
    generator = hand_built(few, GOOD)
    dataset = no_warning(lambda: SyntheticDataset(generator, 20, seed=3))
    samples, labels = dataset.generate(range(20))
    assert labels.tolist() == [i % 10 for i in range(20)] == list(dataset.targets)
    # fit measures the report on exactly these draws (the sampler skips the check it feeds).
    torch.testing.assert_close(default_sampler(generator, 3)(labels), samples, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("report", "why"),
    [
        (None, "no quality report is attached"),
        ({"active_units": 2, "copy_distance_ratio": 0.9}, "does not measure them"),
        ({"classifier_accuracy_samples": 0.9, "classifier_accuracy_real_val": 0.1}, "above chance"),
        ({"classifier_accuracy_samples": "0.9", "classifier_accuracy_real_val": 0.9}, "measure"),
    ],
)
def test_labels_no_report_can_judge_are_served_with_a_warning(few, report, why):
    generator = hand_built(few, report)
    with pytest.warns(UncheckedLabelsWarning, match="labels of this unconditional VAE's") as seen:
        dataset = SyntheticDataset(generator, 10)
    message = str(seen[0].message)
    assert "unchecked" in message and why in message
    assert all(way in message for way in (*WAYS, "labels='unlabelled'"))
    assert issubclass(seen[0].category, UserWarning) and seen[0].filename == __file__
    assert dataset.targets[:2] == [0, 1]


def test_a_class_conditional_generator_is_never_checked(few):
    generator = hand_built(few, BAD, classes=DIGITS, conditional=True)
    assert no_warning(lambda: SyntheticDataset(generator, 10)).targets[:2] == [0, 1]
    no_warning(lambda: SyntheticDataset(attach_quality(generator, None), 10))


def test_per_class_generators_are_never_checked(few):
    per_class = fit("vae", few, QUICK, config={"per_class": True, **TINY}, **RUN).model
    attach_quality(per_class, BAD)
    assert no_warning(lambda: SyntheticDataset(per_class, 10)).classes == DIGITS


def test_a_relabelling_classifier_or_no_labels_need_no_report(few):
    generator = hand_built(few, BAD)
    teacher = ClassifierFilter(lambda x: x.flatten(1)[:, :10], threshold=0.0, relabel=True)
    relabelled = no_warning(lambda: SyntheticDataset(generator, 10, filter=teacher))
    assert relabelled.classes == DIGITS
    unlabelled = no_warning(lambda: SyntheticDataset(generator, 10, labels="unlabelled"))
    assert list(unlabelled.targets) == [-1] * 10
    no_warning(lambda: SyntheticDataset(attach_quality(generator, None), 10, labels="unlabelled"))


def test_a_filter_that_keeps_the_bank_labels_is_checked_like_none(few):
    keep = ClassifierFilter(lambda x: x.flatten(1)[:, :10], threshold=0.5)
    with pytest.raises(ValueError, match=r"classifier_accuracy_samples=0\.12"):
        SyntheticDataset(hand_built(few, BAD), 10, filter=keep)


# ------------------------------------------------------------------------ the latent samplers

# An untrained unconditional VAE: the classes its samples take from the bank codes they start
# from are unchecked (no quality report), and warned about. These tests check which code a
# sample decodes, not whether it still looks like its class.
UNCHECKED = "ignore::learned_aug.synthetic.trust.UncheckedLabelsWarning"


@pytest.mark.filterwarnings(UNCHECKED)
@pytest.mark.parametrize("strategy", ["posterior", "gmm", "noise", "interpolate", "reconstruct"])
def test_every_latent_sampler_runs_through_synthetic_dataset(plain, plain_bank, strategy):
    data = SyntheticDataset(plain, n=20, seed=0, strategy=STRATEGIES[strategy](bank=plain_bank))
    x, y = data.generate(range(20))
    assert x.shape == (20, 1, 8, 8) and x.dtype == torch.float32
    assert data.targets == y.tolist() == [i % 10 for i in range(20)]
    assert torch.equal(x[7], data[7][0])  # item i is the same alone and in a batch


# ------------------------------------------------------------------------ the classifier filter
def test_the_classifier_filter_keeps_confident_samples(single, nearest_mean):
    kwargs = {"n": 80, "strategy": Noise((0.5, 1.0))}
    with unchecked():
        plain = SyntheticDataset(single, **kwargs)

    def confidence(dataset):
        x, y = dataset.generate(range(80))
        assert y.tolist() == dataset.targets
        return nearest_mean(x).softmax(1).gather(1, y[:, None]).squeeze(1)

    before = confidence(plain)
    threshold = float(before.median())
    with unchecked():  # a filter that keeps the bank's labels does not vouch for them
        kept = SyntheticDataset(single, **kwargs, filter=ClassifierFilter(nearest_mean, threshold))
    after = confidence(kept)
    assert (after >= threshold).float().mean() > (before >= threshold).float().mean() + 0.2
    passed = before >= threshold  # items accepted at the first try are left as they were
    first, filtered = plain.generate(range(80))[0], kept.generate(range(80))[0]
    assert torch.equal(first[passed], filtered[passed])
    assert bool((after >= before - 1e-6).all())


def test_relabel_lets_the_classifier_label_an_unconditional_generator(single, nearest_mean):
    relabel = ClassifierFilter(nearest_mean, threshold=0.0, relabel=True)
    dataset = SyntheticDataset(single, n=30, filter=relabel)
    assert dataset.classes == list("0123456789")
    samples, labels = dataset.generate(range(30))
    predicted = nearest_mean(samples).argmax(1).tolist()
    assert dataset.targets == predicted == labels.tolist() == [dataset[i][1] for i in range(30)]


# ------------------------------------------------------------------------ arguments
def test_a_generator_without_a_bank_cannot_start_from_real_codes(single, tmp_path):
    single.save_pretrained(tmp_path)
    bank_of(single).save(tmp_path)
    loaded = load_generator(tmp_path)  # its bank is found where it was saved
    with unchecked():  # no quality.json was saved beside it
        assert SyntheticDataset(loaded, n=2, strategy="noise").strategy.bank is not None
    in_memory = attach_bank(copy.deepcopy(loaded), None)  # as one built in memory
    with pytest.raises(ValueError, match="needs a latent bank"):
        SyntheticDataset(in_memory, n=2, strategy="noise")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"filter": len}, TypeError, "filter must be a ClassifierFilter or None, got builtin"),
        ({"filter": ClassifierFilter(len), "strategy": "prior"}, ValueError, "relabel=True"),
        ({"strategy": "mixup"}, ValueError, "strategy must be one of"),
        ({"n": -1}, ValueError, "n must be a non-negative int, got -1"),
        ({"seed": "0"}, TypeError, "seed must be an int, got '0'"),
    ],
)
def test_arguments_are_checked(single, kwargs, error, match):
    with pytest.raises(error, match=match):
        SyntheticDataset(single, **{"n": 2, **kwargs})


def test_the_generator_must_be_a_generator_object(per_class_dir):
    with pytest.raises(TypeError, match=r"SyntheticDataset\(load_generator\('mnist-vae'\), n\)"):
        SyntheticDataset("mnist-vae", n=2)
    with pytest.raises(TypeError, match="got the name"):
        SyntheticDataset(per_class_dir, n=2)
    with pytest.raises(TypeError, match="Generator, got Linear"):
        SyntheticDataset(torch.nn.Linear(2, 2), n=2)
