"""SyntheticDataset: determinism, strategies, filtering, and composition with real datasets."""

from __future__ import annotations

import os

import PIL.Image
import pytest
import torch
import torch.nn.functional as F
from conftest import TINY
from torch.utils.data import ConcatDataset, DataLoader
from torchvision.datasets import FakeData, ImageFolder
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from learned_aug import (
    LatentBank,
    LearnedAugment,
    SyntheticDataset,
    fit,
    load_dataset,
    load_generator,
)
from learned_aug.datasets import UNLABELLED

GRAY = v2.Compose([v2.Grayscale(), v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


@pytest.fixture(scope="module")
def mnist_small(mnist):
    return mnist.subset(range(0, 5000, 10))  # 500 real digits, 50 per class


@pytest.fixture(scope="module")
def per_class_dir(mnist_small, tmp_path_factory):
    """Per-class VAEs trained briefly on real digits, saved with their latent bank."""
    folder = tmp_path_factory.mktemp("per-class")
    model = fit(
        "vae", mnist_small, per_class=True, epochs=1, progress=False, device="cpu", **TINY
    ).model
    model.save_pretrained(folder)
    LatentBank.build(model, mnist_small).save(folder)
    return str(folder)


@pytest.fixture(scope="module")
def single_dir(mnist_small, tmp_path_factory):
    """One unconditional VAE for all classes (Iser's single VAE), with its latent bank."""
    folder = tmp_path_factory.mktemp("single")
    model = fit(
        "vae", mnist_small, epochs=8, batch_size=32, lr=3e-3, progress=False, device="cpu", **TINY
    ).model
    model.save_pretrained(folder)
    LatentBank.build(model, mnist_small).save(folder)
    return str(folder)


@pytest.fixture(scope="module")
def nearest_mean(mnist_small):
    """A real classifier: logits are minus the distance to each class's mean digit."""
    means = torch.stack([mnist_small.x[mnist_small.y == k].mean(0) for k in range(10)])

    def classify(x: torch.Tensor) -> torch.Tensor:
        return -torch.cdist(x.flatten(1), means.flatten(1)) * 2.0

    return classify


def as_batches(dataset, num_workers: int, batch_size: int = 16):
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers)
    return [(x.clone(), y.clone()) for x, y in loader]


@pytest.mark.parametrize("strategy", ["prior", "noise", "interpolate"])
def test_an_item_is_a_pure_function_of_seed_and_index(per_class_dir, strategy):
    a = SyntheticDataset(per_class_dir, n=40, seed=3, strategy=strategy, output="tensor")
    b = SyntheticDataset(per_class_dir, n=40, seed=3, strategy=strategy, output="tensor")
    one_by_one = torch.stack([b[i][0] for i in (17, 3, 39, 0)])
    batched = torch.stack([x for x, _ in a.__getitems__([17, 3, 39, 0])])
    torch.testing.assert_close(one_by_one, batched, rtol=0, atol=1e-5)
    other = SyntheticDataset(per_class_dir, n=40, seed=4, strategy=strategy, output="tensor")
    assert not torch.equal(other[17][0], a[17][0])  # a near-constant decoder: exact check
    assert [a[i][1] for i in range(12)] == a.targets[:12] == [i % 10 for i in range(12)]


@pytest.mark.parametrize("strategy", ["prior", "interpolate"])
def test_workers_give_identical_batches(per_class_dir, nearest_mean, strategy):
    dataset = SyntheticDataset(
        per_class_dir, n=48, strategy=strategy, output="tensor", classifier=nearest_mean
    )
    alone, workers = as_batches(dataset, 0), as_batches(dataset, 2)
    assert len(alone) == 3
    for (x0, y0), (x2, y2) in zip(alone, workers, strict=True):
        assert torch.equal(x0, x2) and torch.equal(y0, y2)


def test_targets_and_classes_are_known_without_generating(per_class_dir, monkeypatch):
    dataset = SyntheticDataset(per_class_dir, n=25, labels=[4] * 5 + [9] * 20)
    monkeypatch.setattr(dataset.generator, "sample", None)  # generating would fail now
    monkeypatch.setattr(dataset.generator, "decode", None)
    assert dataset.targets == [4] * 5 + [9] * 20
    assert dataset.classes == list("0123456789")
    assert dataset.class_to_idx["7"] == 7 and len(dataset) == 25


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_a_hundred_million_items_construct_in_constant_memory(per_class_dir):
    small = SyntheticDataset(per_class_dir, n=10**3)
    _ = small[999], small.targets[-1]
    before = _rss_bytes()
    big = SyntheticDataset(small.generator, n=10**8)
    assert big[10**8 - 1][1] == big.targets[-1] == (10**8 - 1) % 10
    assert _rss_bytes() - before < 20 * 2**20  # the labels alone of 10**8 items are 800 MB


def test_composes_with_a_real_torchvision_dataset(per_class_dir, mnist_small, tmp_path):
    for i in range(20):
        folder = tmp_path / mnist_small.classes[int(mnist_small.y[i])]
        folder.mkdir(exist_ok=True)
        TF.to_pil_image(mnist_small.x[i]).save(folder / f"{i}.png")
    real = ImageFolder(tmp_path, transform=GRAY)
    synthetic = SyntheticDataset(per_class_dir, n=30, transform=GRAY)
    (image, label), (fake, fake_label) = real[0], synthetic[0]
    assert type(image) is type(fake) and image.shape == fake.shape == (1, 28, 28)
    assert type(label) is type(fake_label) is int
    loader = DataLoader(ConcatDataset([real, synthetic]), batch_size=25, shuffle=True)
    x, y = next(iter(loader))
    assert x.shape == (25, 1, 28, 28) and y.dtype == torch.int64
    assert sum(len(b[1]) for b in loader) == 50


def test_compose_learned_augment_on_real_digits_with_synthetic_ones(per_class_dir, mnist_small):
    augment = LearnedAugment.from_pretrained(per_class_dir, strategy="interpolate", rng=0)
    to_float = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    x, y = mnist_small.x[:6], mnist_small.y[:6]
    real = [to_float(*augment(TF.to_pil_image(xi), int(yi))) for xi, yi in zip(x, y, strict=True)]
    assert all(r[0].shape == (1, 28, 28) and r[1] == int(yi) for r, yi in zip(real, y, strict=True))
    synthetic = SyntheticDataset(per_class_dir, n=6, transform=v2.Compose([v2.ToImage()]))
    assert all(isinstance(synthetic[i][0], torch.Tensor) for i in range(6))


def test_to_folder_writes_an_imagefolder(per_class_dir, tmp_path):
    dataset = SyntheticDataset(per_class_dir, n=23, seed=1)
    dataset.to_folder(tmp_path, progress=False, batch_size=10)
    folder = ImageFolder(tmp_path)
    assert folder.classes == dataset.classes and len(folder) == 23
    assert sorted(folder.targets) == sorted(dataset.targets)
    image = PIL.Image.open(folder.samples[0][0])
    assert image.mode == "L" and image.size == (28, 28)


def test_a_single_vae_with_a_bank_makes_labelled_samples(single_dir):
    dataset = SyntheticDataset(single_dir, n=20, strategy="interpolate", strength=0.5)
    assert dataset.classes == list("0123456789") and dataset.targets[:3] == [0, 1, 2]
    image, label = dataset[13]
    assert isinstance(image, torch.Tensor) and image.shape == (1, 28, 28) and label == 3


# ----------------------------------------------------------------- no silent wrong label
def test_an_unconditional_generator_samples_near_real_examples_of_each_class(single_dir):
    dataset = SyntheticDataset(single_dir, n=20)  # the default: its bank's aggregate posterior
    assert dataset.strategy == "posterior" and dataset.classes == list("0123456789")
    rows = dataset.bank.pick(20, torch.tensor(dataset.targets))
    assert dataset.bank.labels[rows].tolist() == list(dataset.targets)


@pytest.mark.parametrize("labels", ["balanced", None, [1, 2]])
def test_an_unconditional_generator_is_refused_and_told_how_to_get_labels(single_dir, labels):
    with pytest.raises(ValueError, match="cannot say which class") as err:
        SyntheticDataset(single_dir, n=2, labels=labels, strategy="prior")
    for way in ("--per-class", "strategy='interpolate'", "relabel=True", "labels='unlabelled'"):
        assert way in str(err.value)


def test_unlabelled_samples_cannot_pass_for_a_real_class(single_dir, mnist_small, tmp_path):
    synthetic = SyntheticDataset(single_dir, n=30, labels="unlabelled", like=mnist_small)
    assert synthetic.classes == [] and synthetic.class_to_idx == {}
    assert list(synthetic.targets) == [UNLABELLED] * 30 == [synthetic[i][1] for i in range(30)]
    joined = ConcatDataset([mnist_small, synthetic])
    batches = list(DataLoader(joined, batch_size=64, shuffle=True))
    y = torch.cat([b[1] for b in batches])
    assert (y == UNLABELLED).sum() == 30  # every synthetic item, and no real class index
    assert set(y[y != UNLABELLED].tolist()) <= set(range(len(mnist_small.classes)))
    x, y = next((x, y) for x, y in batches if (y == UNLABELLED).any())
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(torch.zeros(len(x), len(mnist_small.classes)), y)
    synthetic.to_folder(tmp_path / "out", progress=False)
    assert len(list((tmp_path / "out").glob("*.png"))) == 30  # no class folder
    with pytest.raises(FileNotFoundError, match="class folder"):
        ImageFolder(tmp_path / "out")


def test_a_classifier_labels_an_unconditional_generator_for_real_data(single_dir, mnist_small):
    def classify(x):  # a real classifier: minus the distance to each class's mean digit
        means = torch.stack([mnist_small.x[mnist_small.y == k].mean(0) for k in range(10)])
        return -torch.cdist(x.flatten(1), means.flatten(1))

    synthetic = SyntheticDataset(
        single_dir, n=20, classifier=classify, threshold=0.0, relabel=True, like=mnist_small
    )
    assert synthetic.classes == mnist_small.classes
    x = torch.stack([synthetic[i][0] for i in range(20)])
    assert synthetic.targets == classify(x).argmax(1).tolist()


# ----------------------------------------------------------------- joining real data
def test_the_bundled_data_and_generator_join_with_defaults():
    # The design card's line, as written: no output= or like= argument.
    synthetic = SyntheticDataset(load_generator("mnist-vae"), n=5000)
    loader = DataLoader(
        ConcatDataset([load_dataset("mnist-5k"), synthetic]), batch_size=64, shuffle=True
    )
    x, y = next(iter(loader))
    assert x.shape == (64, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert len(loader.dataset) == 10_000


def test_like_matches_the_item_type_of_the_real_data(per_class_dir, mnist_small, tmp_path):
    image, label = SyntheticDataset(per_class_dir, n=4, like=mnist_small)[1]
    real_image, real_label = mnist_small[1]
    assert type(image) is type(real_image) and image.dtype == real_image.dtype
    assert image.shape == real_image.shape and type(label) is type(real_label) is int
    for i in range(10):  # an ImageFolder without a transform: PIL images (RGB, its loader's)
        (tmp_path / str(i)).mkdir()
        TF.to_pil_image(mnist_small.x[i]).save(tmp_path / str(i) / "a.png")
    folder = ImageFolder(tmp_path)
    image, label = SyntheticDataset(per_class_dir, n=4, like=folder)[1]
    assert isinstance(image, PIL.Image.Image) and image.mode == folder[0][0].mode == "RGB"
    assert image.size == folder[0][0].size and label == 1


def test_a_torchvision_dataset_joins_with_the_same_transform_on_both_sides(per_class_dir):
    real = FakeData(size=40, image_size=(1, 28, 28), num_classes=10, transform=GRAY)
    synthetic = SyntheticDataset(per_class_dir, n=24, transform=GRAY)
    (image, label), (fake, fake_label) = real[0], synthetic[0]
    assert type(image) is type(fake) and image.shape == fake.shape == (1, 28, 28)
    assert type(label) is type(fake_label) is int
    x, y = next(iter(DataLoader(ConcatDataset([real, synthetic]), batch_size=64, shuffle=True)))
    assert x.shape == (64, 1, 28, 28) and y.shape == (64,)


def test_the_classifier_filter_keeps_confident_samples(single_dir, nearest_mean):
    kwargs = {"n": 80, "output": "tensor", "strategy": "noise", "strength": (0.5, 1.0)}
    plain = SyntheticDataset(single_dir, **kwargs)

    def confidence(dataset):
        x, y = dataset.generate(range(80)), torch.tensor(dataset.targets)
        return nearest_mean(x).softmax(1).gather(1, y[:, None]).squeeze(1)

    before = confidence(plain)
    threshold = float(before.median())
    kept = SyntheticDataset(single_dir, **kwargs, classifier=nearest_mean, threshold=threshold)
    after = confidence(kept)
    assert (after >= threshold).float().mean() > (before >= threshold).float().mean() + 0.2
    passed = before >= threshold  # items accepted at the first try are left as they were
    assert torch.equal(plain.generate(range(80))[passed], kept.generate(range(80))[passed])
    assert bool((after >= before - 1e-6).all())


def test_relabel_lets_the_classifier_label_an_unconditional_generator(single_dir, nearest_mean):
    dataset = SyntheticDataset(
        single_dir, n=30, output="tensor", classifier=nearest_mean, threshold=0.0, relabel=True
    )
    assert dataset.classes == list("0123456789")
    predicted = nearest_mean(dataset.generate(range(30))).argmax(1).tolist()
    assert dataset.targets == predicted == [dataset[i][1] for i in range(30)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strategy": "noise", "bank": None}, None),
        ({"relabel": True}, "needs a classifier"),
        ({"classifier": len, "strategy": "prior"}, "relabel=True"),
        ({"strategy": "mixup"}, "strategy must be one of"),
        ({"output": "numpy"}, "output must be"),
        ({"strength": (0.5, 0.1)}, "strength"),
    ],
)
def test_arguments_are_checked(single_dir, kwargs, match):
    if match is None:  # a generator in memory, without a bank, cannot start from real codes
        from learned_aug import load_generator

        generator = load_generator(single_dir)
        SyntheticDataset(generator, n=2, **kwargs)  # loaded: its bank is found where it was
        generator.name_or_path = None  # as one built in memory
        with pytest.raises(ValueError, match="needs a latent bank"):
            SyntheticDataset(generator, n=2, **kwargs)
        return
    with pytest.raises(ValueError, match=match):
        SyntheticDataset(single_dir, n=2, **kwargs)
