"""LearnedAugment's inputs: every type torchvision transforms take, batches, videos, samples
whose other leaves pass through, and inputs it refuses.

After the helpers of torchvision's test suite (test/test_transforms_v2.py), run over every
bundled image generator as well as tiny ones: ``check_transform`` (every input type, output type
== input type, pickle round trip, ``p=0`` identity), the sample-input smoke test (a big sample of
images, videos, boxes, masks, keypoints, labels and odd Python values, in a dict, a list and a
tuple: the structure comes back, images keep their type, everything else comes back as the same
object), and ``check_kernel``'s batched-vs-unbatched check (``(2,)`` and ``(2, 1)`` batch
dimensions, and the empty batches ``(0,)``, ``(5, 0)``, ``(0, 5)``).

Left out, as for any transform without a v1 twin: torchvision's v1-compatibility and
TorchScript checks (``_v1_transform_cls`` is None), and its CUDA-vs-CPU check.
"""

from __future__ import annotations

import copy
from pathlib import Path

import PIL.Image
import pytest
import torch
from conftest import DIGITS, TINY, check_transform, remake, u8
from torch.utils._pytree import tree_flatten
from torchvision import transforms as v1
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from learned_aug import VAE, LearnedAugment, Noise, Reconstruct, VAEConfig

SIZE = (28, 28)


@pytest.fixture(scope="module")
def gray() -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(image_size=SIZE, classes=DIGITS, **TINY))


@pytest.fixture(scope="module")
def rgb() -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(image_size=(16, 16), channels=3, **TINY))


def first_digits(mnist, n: int = 2) -> torch.Tensor:
    return u8(mnist.x[:n])


def make_input(kind: str, mnist):
    """Every input type LearnedAugment accepts, from real digits (28x28 gray)."""
    x = mnist.x[:12]
    return {
        "pil-L": lambda: TF.to_pil_image(u8(x[0])),
        "uint8-CHW": lambda: u8(x[1]),
        "float-CHW": lambda: x[2].clone(),
        "float64-CHW": lambda: x[3].double(),
        "uint8-BCHW": lambda: u8(x[:4]),
        "float-BCHW": lambda: x[4:8].clone(),
        "uint8-2x2CHW": lambda: u8(x[:4]).view(2, 2, 1, *SIZE).clone(),
        "tv-image": lambda: tv_tensors.Image(x[9]),
        "video": lambda: tv_tensors.Video(u8(x[:4])),
        "other-size": lambda: u8(TF.resize(x[10], [40, 36], antialias=True)),
    }[kind]()


KINDS = [
    "pil-L",
    "uint8-CHW",
    "float-CHW",
    "float64-CHW",
    "uint8-BCHW",
    "float-BCHW",
    "uint8-2x2CHW",
    "tv-image",
    "video",
    "other-size",
]


# ------------------------------------------------------------------------ check_transform
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("strategy", [Noise(), Reconstruct()], ids=["noise", "reconstruct"])
def test_check_transform_on_every_input_type(kind, strategy, gray, mnist):
    check_transform(LearnedAugment(gray, strategy), make_input(kind, mnist))


@pytest.mark.parametrize("kind", KINDS)
def test_check_transform_on_every_bundled_generator(bundled, kind, mnist):
    check_transform(bundled, make_input(kind, mnist))


@pytest.mark.parametrize("kind", ["pil-RGB", "uint8-CHW", "float-BCHW", "tv-image", "other-size"])
def test_check_transform_on_every_bundled_colour_generator(bundled_rgb, kind):
    from learned_aug import load_dataset

    x = load_dataset("cifar10-test").x[:4]
    inpt = {
        "pil-RGB": lambda: TF.to_pil_image(u8(x[0])),
        "uint8-CHW": lambda: u8(x[1]),
        "float-BCHW": lambda: x.clone(),
        "tv-image": lambda: tv_tensors.Image(x[2]),
        "other-size": lambda: u8(TF.resize(x[3], [48, 40], antialias=True)),
    }[kind]()
    check_transform(bundled_rgb, inpt)
    # an image alone is classified by the generator; a real CIFAR-10 image really changes
    out = bundled_rgb(x.clone())
    assert out.shape == x.shape and float((out - x).abs().mean()) > 0.01


def test_rgb_pil_images_keep_their_mode(rgb):
    image = PIL.Image.new("RGB", (20, 12), (200, 30, 90))
    check_transform(LearnedAugment(rgb, "reconstruct"), image)


def test_default_arguments_run_on_images_alone_and_on_pairs(bundled, mnist):
    image = TF.to_pil_image(first_digits(mnist)[0])
    out, label = bundled(image, 3)
    assert isinstance(out, PIL.Image.Image) and label == 3
    assert isinstance(bundled(image), PIL.Image.Image)


# ------------------------------------------------------------------------ samples
def test_samples_keep_structure_and_labels(gray, mnist):
    aug = LearnedAugment(gray, rng=0)
    x = mnist.x[0]
    image, label = aug((TF.to_pil_image(u8(x)), 3))
    assert isinstance(image, PIL.Image.Image) and label == 3
    sample = {"image": tv_tensors.Image(x), "label": torch.tensor(4), "name": "a digit"}
    out = aug(sample)
    assert out["label"] is sample["label"] and out["name"] == "a digit"
    assert isinstance(out["image"], tv_tensors.Image)
    _, labels = aug(u8(mnist.x[:4]), mnist.y[:4])
    assert labels is not None and torch.equal(labels, mnist.y[:4])


def _images(flat: list) -> list[bool]:
    """torchvision's rule for which leaves of a sample are images (public API only)."""
    explicit = any(
        isinstance(x, (tv_tensors.Image, tv_tensors.Video, PIL.Image.Image)) for x in flat
    )
    first_plain = next(
        (i for i, x in enumerate(flat) if type(x) is torch.Tensor and not explicit), None
    )
    return [
        isinstance(x, (tv_tensors.Image, tv_tensors.Video, PIL.Image.Image)) or i == first_plain
        for i, x in enumerate(flat)
    ]


def make_sample(image_or_video, mnist) -> dict:
    x = first_digits(mnist, 3)
    boxes = tv_tensors.BoundingBoxes(
        [[1, 2, 10, 12], [5, 5, 20, 20]], format="XYXY", canvas_size=SIZE
    )
    return {
        "image_or_video": image_or_video,
        "image_tv_tensor": tv_tensors.Image(x[1]),
        "video_tv_tensor": tv_tensors.Video(x),
        "image_pil": TF.to_pil_image(x[2]),
        "bounding_boxes": boxes,
        "labels": torch.tensor([3, 7]),  # one per box: never a class of the image
        "detection_mask": tv_tensors.Mask(torch.zeros(2, *SIZE, dtype=torch.bool)),
        "segmentation_mask": tv_tensors.Mask(torch.zeros(SIZE, dtype=torch.uint8)),
        "keypoints": tv_tensors.KeyPoints([[1.0, 2.0], [3.0, 4.0]], canvas_size=SIZE),
        "int": 0,
        "float": 0.0,
        "bool": True,
        "none": None,
        "str": "str",
        "path": Path.cwd(),
        "object": object(),
        "tensor": torch.empty(5),
    }


@pytest.mark.parametrize("kind", ["uint8-CHW", "tv-image", "pil-L", "video"])
@pytest.mark.parametrize("container", [dict, list, tuple])
def test_sample_input_smoke(bundled, kind, container, mnist):
    sample = make_sample(make_input(kind, mnist), mnist)
    inpt = sample if container is dict else container(sample.values())
    flat_in, spec_in = tree_flatten(inpt)
    out = bundled(inpt)
    flat_out, spec_out = tree_flatten(out)
    assert spec_out == spec_in
    for o, i, is_image in zip(flat_out, flat_in, _images(flat_in), strict=True):
        if is_image:
            assert type(o) is type(i) and o is not i
        else:
            assert o is i


# ------------------------------------------------------------------------ batches and videos
def test_batched_vs_unbatched(bundled, mnist):
    aug = remake(bundled, strategy="reconstruct")  # deterministic: draws cannot differ
    image = first_digits(mnist)[0]
    expected = aug(image)
    for batch_dims in [(2,), (2, 1)]:
        repeats = [*batch_dims, 1, 1, 1]
        actual = aug(image.repeat(repeats))
        torch.testing.assert_close(actual, expected.repeat(repeats), atol=1, rtol=0)
    for degenerate in [(0,), (5, 0), (0, 5)]:
        empty = torch.empty(*degenerate, *image.shape, dtype=image.dtype)
        assert aug(empty) is empty


def test_a_batch_runs_as_one_forward_pass(gray, mnist, monkeypatch):
    calls = []
    decode = gray.decode
    monkeypatch.setattr(gray, "decode", lambda z, labels=None: calls.append(len(z)) or decode(z))
    LearnedAugment(gray)(u8(mnist.x[:16]))
    assert calls == [16]


def test_p_gates_each_image_of_a_batch(gray, mnist):
    x = u8(mnist.x[:40])
    out = LearnedAugment(gray, p=0.5, rng=0)(x)
    unchanged = (out == x).flatten(1).all(dim=1)
    assert 5 < int(unchanged.sum()) < 35


def test_a_video_is_augmented_frame_by_frame(bundled, mnist):
    frames = first_digits(mnist, 3)
    video = remake(bundled, rng=1)(tv_tensors.Video(frames))
    assert isinstance(video, tv_tensors.Video)
    assert torch.equal(video.as_subclass(torch.Tensor), remake(bundled, rng=1)(frames))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.uint8])
def test_inputs_are_cast_to_the_generators_dtype(bundled, mnist, dtype):
    aug = copy.deepcopy(bundled).to(torch.float64)
    x = first_digits(mnist)
    x = x.to(dtype) / 255 if dtype.is_floating_point else x
    out = aug(x)
    assert out.dtype == dtype and out.shape == x.shape
    # the float64 generator reconstructs as the float32 one does, up to rounding
    in64, in32 = remake(aug, strategy="reconstruct"), remake(bundled, strategy="reconstruct")
    atol = 1e-4 if dtype.is_floating_point else 1  # one uint8 level
    torch.testing.assert_close(in64(x).double(), in32(x).double(), rtol=0, atol=atol)


# ------------------------------------------------------------------------ in pipelines
def test_compose_v2_and_v1_with_the_usual_transforms(per_class, gray, mnist):
    learned = LearnedAugment(per_class, Noise(0.3))
    image, label = mnist.x[0], int(mnist.y[0])
    pipeline = v2.Compose(
        [v2.ToImage(), v2.RandomRotation(10), learned, v2.ToDtype(torch.float32, scale=True)]
    )
    out, y = pipeline(TF.to_pil_image(u8(image)), label)
    assert out.shape == (1, 28, 28) and out.dtype == torch.float32 and y == label
    # v1 pipelines see the image alone: an unconditional generator needs no label.
    legacy = v1.Compose([v1.RandomRotation(10), LearnedAugment(gray), v1.ToTensor()])
    assert legacy(TF.to_pil_image(u8(image))).shape == (1, 28, 28)


def test_it_moves_with_to_and_stays_in_eval_mode(gray):
    aug = LearnedAugment(gray).to("cpu").train()
    assert set(aug.generator.parameters()) <= set(aug.parameters())
    assert not aug.generator.training


# ------------------------------------------------------------------------ refused inputs
def test_a_wrong_channel_count_names_expected_and_received(gray, rgb, mnist):
    with pytest.raises(ValueError, match=r"expects images with 1 channel\(s\), got 3"):
        LearnedAugment(gray)(PIL.Image.new("RGB", (28, 28)))
    with pytest.raises(ValueError, match=r"expects images with 3 channel\(s\), got 1"):
        LearnedAugment(rgb)(mnist.x[0])


def test_resize_false_refuses_another_size(gray):
    with pytest.raises(ValueError, match=r"size \(28, 28\), got \(40, 36\)"):
        LearnedAugment(gray, resize=False)(torch.zeros(1, 40, 36, dtype=torch.uint8))


@pytest.mark.parametrize(
    ("inpt", "match"),
    [
        (torch.rand(28, 28), r"\[\.\.\., C, H, W\]"),
        (torch.rand(1, 28, 28) * 255, r"values in \[0, 1\]"),
        (PIL.Image.new("RGBA", (28, 28)), "mode 'L' or 'RGB'"),
    ],
)
def test_inputs_it_cannot_read_are_clear_errors(gray, inpt, match):
    with pytest.raises(ValueError, match=match):
        LearnedAugment(gray)(inpt)
