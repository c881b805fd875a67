"""How LearnedAugment finds a sample's label (labels_getter), conditions a label-aware generator
on it, and classifies images without one (the generative classifier)."""

from __future__ import annotations

import pytest
import torch
from conftest import DIGITS, TINY
from torchvision import datasets, tv_tensors
from torchvision.transforms import v2

from learned_aug import VAE, LearnedAugment, VAEConfig, load_generator
from learned_aug.transforms import default_labels_getter


@pytest.fixture(scope="module")
def cvae() -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(image_size=(28, 28), classes=DIGITS, conditional=True, **TINY)).eval()


@pytest.fixture(scope="module")
def image(mnist) -> torch.Tensor:
    return mnist.x[0].clone()


def reconstruction(model, x: torch.Tensor, label: int) -> torch.Tensor:
    """What 'reconstruct' makes of one float image given ``label``."""
    with torch.no_grad():
        return model.reconstruct(x[None], torch.tensor([label]))[0]


def classified(model, x: torch.Tensor) -> int:
    with torch.no_grad():
        return int(model.infer_labels(x[None]))


def other_label(model, x: torch.Tensor) -> int:
    """A class the generator does not pick for ``x``: conditioning on it shows."""
    return (classified(model, x) + 1) % 10


def spy(monkeypatch, model) -> list[tuple[int, ...]]:
    """Record the shape of every batch the generator classifies."""
    shapes: list[tuple[int, ...]] = []
    score = model.class_log_likelihood

    def recorded(x):
        shapes.append(tuple(x.shape))
        return score(x)

    monkeypatch.setattr(model, "class_log_likelihood", recorded)
    return shapes


@pytest.mark.parametrize(
    ("sample", "label"),
    [
        (("image", 7), 7),
        (["image", 7], 7),
        (("image", torch.tensor(3)), torch.tensor(3)),
        ({"image": 0, "label": 2}, 2),
        ({"image": 0, "Labels": 4}, 4),
        ({"image": 0, "target": 5}, 5),
        (("image", 7, 8), None),  # not a pair
        ((7, "image"), None),  # the second item is no label
        (("image", True), None),
        (("image", "seven"), None),
        (("image", torch.tensor(0.5)), None),
        (("image", {"labels": torch.tensor([1, 2])}), None),  # a detection target
        ({"image": 0, "index": 3}, None),
        ("image", None),
    ],
)
def test_the_default_getter_reads_only_torchvisions_places(sample, label):
    found = default_labels_getter(sample)
    if isinstance(label, torch.Tensor):
        assert found is sample[1]
    else:
        assert found == label


def test_the_label_of_a_pair_conditions_and_passes_through(cvae, image):
    k = other_label(cvae, image)
    out, label = LearnedAugment(cvae, "reconstruct")(image, k)
    assert label == k
    torch.testing.assert_close(out, reconstruction(cvae, image, k))
    tensor_label = torch.tensor(k)
    out = LearnedAugment(cvae, "reconstruct")({"image": image, "label": tensor_label})
    assert out["label"] is tensor_label
    torch.testing.assert_close(out["image"], reconstruction(cvae, image, k))


def test_an_image_alone_is_classified_at_the_generators_size(cvae, image, monkeypatch):
    big = torch.nn.functional.interpolate(image[None], size=(40, 36), mode="bilinear")[0]
    shapes = spy(monkeypatch, cvae)
    out = LearnedAugment(cvae, "reconstruct")(big)
    assert shapes == [(1, 1, 28, 28)]
    expected, _ = LearnedAugment(cvae, "reconstruct")(big, classified(cvae, image))
    assert out.shape == big.shape
    torch.testing.assert_close(out, expected, atol=0.02, rtol=0)


@pytest.mark.parametrize(
    "make_sample",
    [
        lambda x, k: (x, k, k),  # an int outside the label's place
        lambda x, k: {"image": x, "index": k},
        lambda x, k: {"image": x, "labels": torch.tensor([k])},  # per-box labels of one image
        lambda x, k: (x, torch.tensor([k, k])),  # two labels for one image
        lambda x, k: (x, 10),  # out of range
        lambda x, k: (x, -1),
        lambda x, k: (x, torch.tensor(float(k))),  # not an integer
    ],
    ids=["triple", "other-key", "per-box", "wrong-length", "too-high", "negative", "float"],
)
def test_integers_that_are_not_a_fitting_label_never_condition(cvae, image, make_sample):
    aug = LearnedAugment(cvae, "reconstruct")
    sample = make_sample(image, other_label(cvae, image))
    out = aug(sample)
    if isinstance(sample, dict):
        got, passed = out["image"], [(out[k], sample[k]) for k in sample if k != "image"]
    else:
        got, passed = out[0], list(zip(out[1:], sample[1:], strict=True))
    torch.testing.assert_close(got, reconstruction(cvae, image, classified(cvae, image)))
    assert all(a is b for a, b in passed)


def test_labels_getter_none_never_reads_a_label(cvae, image):
    k = other_label(cvae, image)
    out, label = LearnedAugment(cvae, "reconstruct", labels_getter=None)(image, k)
    assert label == k
    torch.testing.assert_close(out, reconstruction(cvae, image, classified(cvae, image)))


def test_a_callable_labels_getter_finds_labels_anywhere(cvae, image):
    k = other_label(cvae, image)
    aug = LearnedAugment(cvae, "reconstruct", labels_getter=lambda s: s["meta"]["digit"])
    out = aug({"pixels": image, "meta": {"digit": k}})
    torch.testing.assert_close(out["pixels"], reconstruction(cvae, image, k))


def test_a_batch_is_classified_in_one_call_and_batch_labels_condition_rows(
    cvae, mnist, monkeypatch
):
    x, y = mnist.x[:6], mnist.y[:6]
    shapes = spy(monkeypatch, cvae)
    aug = LearnedAugment(cvae, "reconstruct")
    out = aug(x)
    assert shapes == [(6, 1, 28, 28)]
    with torch.no_grad():
        torch.testing.assert_close(out, cvae.reconstruct(x, cvae.infer_labels(x)))
    shapes.clear()
    out, labels = aug(x, y)
    assert shapes == [] and labels is y
    with torch.no_grad():
        torch.testing.assert_close(out, cvae.reconstruct(x, y))


def test_only_the_images_about_to_be_augmented_are_classified(cvae, mnist, monkeypatch):
    x = mnist.x[:40]
    shapes = spy(monkeypatch, cvae)
    out = LearnedAugment(cvae, "reconstruct", p=0.5, rng=0)(x)
    augmented = int((~(out == x).flatten(1).all(dim=1)).sum())
    assert len(shapes) == 1 and 5 < shapes[0][0] < 35
    assert shapes[0][0] == augmented


def test_a_video_label_conditions_every_frame(cvae, mnist):
    frames = mnist.x[:3]
    k = other_label(cvae, frames[0])
    out, label = LearnedAugment(cvae, "reconstruct")(tv_tensors.Video(frames), k)
    assert isinstance(out, tv_tensors.Video) and label == k
    with torch.no_grad():
        expected = cvae.reconstruct(frames, torch.full((3,), k))
    torch.testing.assert_close(out.as_subclass(torch.Tensor), expected)
    clips = tv_tensors.Video(torch.stack([frames, frames]))  # (B=2, T=3, C, H, W)
    out, _ = LearnedAugment(cvae, "reconstruct")(clips, torch.tensor([k, k]))
    torch.testing.assert_close(out[1].as_subclass(torch.Tensor), expected)


def test_a_strategy_that_reads_no_label_classifies_nothing(monkeypatch, mnist):
    vq = load_generator("mnist-vqvae")
    shapes = spy(monkeypatch, vq)
    LearnedAugment(vq)(mnist.x[:4])  # the default strategy, vq-resample
    assert shapes == []
    LearnedAugment(vq, "prior", rng=0)(mnist.x[:4])
    assert shapes == [(4, 1, 28, 28)]


def test_a_torchvision_dataset_transform_sees_the_image_alone():
    # issue 13's first line: FakeData applies transform= to the image alone.
    augment = LearnedAugment.from_pretrained("mnist-vae")
    pipeline = v2.Compose(
        [
            v2.Grayscale(),
            v2.ToImage(),
            augment,
            v2.ToDtype(torch.float32, scale=True),
        ]
    )
    image, label = datasets.FakeData(size=2, image_size=(1, 28, 28), transform=pipeline)[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert isinstance(label, int)


# ------------------------------------------------------------------------ per-class generators
def test_labels_route_to_the_right_class_member(per_class, mnist_small):
    aug = LearnedAugment(per_class, "reconstruct")
    x = mnist_small.x[:1]
    out3, _ = aug(x[0], 3)
    with torch.no_grad():
        expected = per_class.members[3].reconstruct(x)[0]
    torch.testing.assert_close(out3, expected)
    assert not torch.allclose(aug(x[0], 8)[0], out3)


def test_a_per_class_generator_without_label_classifies_the_image(per_class, mnist_small):
    x = mnist_small.x[:1]
    with torch.no_grad():
        k = int(per_class.infer_labels(x))
    aug = LearnedAugment(per_class, "reconstruct")
    torch.testing.assert_close(aug(x[0]), aug(x[0], k)[0])


# ------------------------------------------------------------------------ labels_getter refused
@pytest.mark.parametrize(
    ("labels_getter", "error", "message"),
    [
        ("first", ValueError, r"labels_getter must be 'default', a callable or None, got 'first'"),
        (3, TypeError, r"labels_getter must be 'default', a callable or None, got int"),
    ],
)
def test_a_labels_getter_of_another_kind_is_refused(labels_getter, error, message):
    vae = VAE(VAEConfig(image_size=(8, 8), **TINY))
    with pytest.raises(error, match=message):
        LearnedAugment(vae, labels_getter=labels_getter)


def test_a_labels_getter_returning_no_label_says_what_it_must_return():
    vae = VAE(VAEConfig(image_size=(8, 8), **TINY))
    aug = LearnedAugment(vae, labels_getter=lambda sample: "seven")
    with pytest.raises(TypeError, match=r"labels_getter must return an int, an integer .*got str"):
        aug(torch.rand(1, 8, 8), 7)


def test_a_label_taken_for_the_image_says_where_torchvision_looks():
    vae = VAE(VAEConfig(image_size=(8, 8), **TINY))
    sample = {"label": torch.tensor(3), "image": torch.rand(1, 8, 8)}  # the label comes first
    with pytest.raises(ValueError, match=r"got shape \(\).*put the image first"):
        LearnedAugment(vae)(sample)
