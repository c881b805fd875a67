"""torchvision's own transform checks, run on LearnedAugment over every bundled image generator.

After the helpers of torchvision's test suite (test/test_transforms_v2.py): ``check_transform``
(pickle round trip, every input type, output type == input type), the sample-input smoke test
(a big sample of images, videos, boxes, masks, keypoints, labels and odd Python values, in a
dict, a list and a tuple: the structure comes back, images keep their type, everything else
comes back as the same object), and ``check_kernel``'s batched-vs-unbatched check (``(2,)`` and
``(2, 1)`` batch dimensions, and the empty batches ``(0,)``, ``(5, 0)``, ``(0, 5)``). Plus what
torchvision users do with a transform: Compose / RandomApply / RandomChoice / deepcopy, videos,
several images in one sample, and a generator moved to float64.

Left out, as for any transform without a v1 twin: torchvision's v1-compatibility and
TorchScript checks (``_v1_transform_cls`` is None), and its CUDA-vs-CPU check (no GPU here).
"""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import PIL.Image
import pytest
import torch
from torch.utils._pytree import tree_flatten
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from learned_aug import Generator, LearnedAugment, bundled_names, load_generator

SIZE = (28, 28)


@pytest.fixture(scope="module", params=bundled_names())
def name(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def loaded(name) -> LearnedAugment:
    aug = LearnedAugment.from_pretrained(name) if _is_image(name) else None
    if aug is None:
        pytest.skip(f"{name} is a tabular generator: LearnedAugment augments images")
    return aug


def _is_image(name: str) -> bool:
    return len(load_generator(name).sample_shape) == 3


def fresh(aug: LearnedAugment, **kwargs) -> LearnedAugment:
    """``aug``'s generator and bank with other arguments (one loaded generator per module)."""
    kwargs.setdefault("strategy", aug.strategy)
    return LearnedAugment(aug.generator, bank=aug.bank, **kwargs)


def classifies(aug: LearnedAugment) -> None:
    """Images alone are classified by a label-conditioned generator: xfail until it can."""
    gen = aug.generator
    if gen.conditional and type(gen).class_log_likelihood is Generator.class_log_likelihood:
        pytest.xfail(f"{type(gen).__name__}.class_log_likelihood is not implemented yet")


def digits(mnist, n: int = 2) -> torch.Tensor:
    return mnist.x[:n].mul(255).round().to(torch.uint8)


def make_input(kind: str, mnist):
    x = digits(mnist, 4)
    return {
        "pil": lambda: TF.to_pil_image(x[0]),
        "uint8": lambda: x[0].clone(),
        "float32": lambda: x[0].float() / 255,
        "float64": lambda: x[0].double() / 255,
        "tv-image": lambda: tv_tensors.Image(x[0]),
        "batch": lambda: x.clone(),
        "batch-2x2": lambda: x.view(2, 2, 1, *SIZE).clone(),
        "video": lambda: tv_tensors.Video(x.clone()),
        "other-size": lambda: TF.resize(x[0], [40, 36], antialias=True),
    }[kind]()


def same(a, b) -> bool:
    if isinstance(a, PIL.Image.Image):
        return a.tobytes() == b.tobytes()
    return torch.equal(a, b)


def check_transform(aug: LearnedAugment, inpt) -> None:
    """torchvision's check_transform, plus the same-draws and p=0 checks of this project."""
    again = pickle.loads(pickle.dumps(aug))
    assert type(again) is LearnedAugment
    out = aug(inpt)
    assert type(out) is type(inpt)
    if isinstance(inpt, PIL.Image.Image):
        assert (out.mode, out.size) == (inpt.mode, inpt.size)
    else:
        assert (out.shape, out.dtype) == (inpt.shape, inpt.dtype)
    seeded = fresh(aug, rng=7)
    assert same(seeded(inpt), pickle.loads(pickle.dumps(fresh(aug, rng=7)))(inpt))
    assert fresh(aug, p=0.0)(inpt) is inpt


KINDS = ["pil", "uint8", "float32", "float64", "tv-image", "batch", "batch-2x2", "video"]


@pytest.mark.parametrize("kind", [*KINDS, "other-size"])
def test_check_transform(loaded, kind, mnist):
    classifies(loaded)
    check_transform(loaded, make_input(kind, mnist))


def test_default_arguments_run_on_images_alone_and_on_pairs(loaded, mnist):
    image = TF.to_pil_image(digits(mnist)[0])
    out, label = loaded(image, 3)
    assert isinstance(out, PIL.Image.Image) and label == 3
    classifies(loaded)
    assert isinstance(loaded(image), PIL.Image.Image)


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
    x = digits(mnist, 3)
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


@pytest.mark.parametrize("kind", ["uint8", "tv-image", "pil", "video"])
@pytest.mark.parametrize("container", [dict, list, tuple])
def test_sample_input_smoke(loaded, kind, container, mnist):
    classifies(loaded)
    sample = make_sample(make_input(kind, mnist), mnist)
    inpt = sample if container is dict else container(sample.values())
    flat_in, spec_in = tree_flatten(inpt)
    out = loaded(inpt)
    flat_out, spec_out = tree_flatten(out)
    assert spec_out == spec_in
    for o, i, is_image in zip(flat_out, flat_in, _images(flat_in), strict=True):
        if is_image:
            assert type(o) is type(i) and o is not i
        else:
            assert o is i


def test_batched_vs_unbatched(loaded, mnist):
    classifies(loaded)
    aug = fresh(loaded, strategy="reconstruct")  # deterministic: draws cannot differ
    image = digits(mnist)[0]
    expected = aug(image)
    for batch_dims in [(2,), (2, 1)]:
        repeats = [*batch_dims, 1, 1, 1]
        actual = aug(image.repeat(repeats))
        torch.testing.assert_close(actual, expected.repeat(repeats), atol=1, rtol=0)
    for degenerate in [(0,), (5, 0), (0, 5)]:
        empty = torch.empty(*degenerate, *image.shape, dtype=image.dtype)
        assert aug(empty) is empty


def test_several_images_of_a_sample_each_draw_their_own(loaded, mnist):
    classifies(loaded)
    x = digits(mnist, 4)
    # Both explicit images: beside a tv_tensors.Image, torchvision leaves plain tensors alone.
    batch, single = tv_tensors.Image(x[:3]), tv_tensors.Image(x[3])
    out_batch, out_single = fresh(loaded, rng=5)((batch, single))
    one_by_one = fresh(loaded, rng=5)
    assert torch.equal(out_batch, one_by_one(batch))
    assert torch.equal(out_single, one_by_one(single))


def test_a_video_is_augmented_frame_by_frame(loaded, mnist):
    classifies(loaded)
    frames = digits(mnist, 3)
    video = fresh(loaded, rng=1)(tv_tensors.Video(frames))
    assert isinstance(video, tv_tensors.Video)
    assert torch.equal(video.as_subclass(torch.Tensor), fresh(loaded, rng=1)(frames))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.uint8])
def test_inputs_are_cast_to_the_generators_dtype(loaded, mnist, dtype):
    classifies(loaded)
    aug = copy.deepcopy(loaded).to(torch.float64)
    x = digits(mnist)
    x = x.to(dtype) / 255 if dtype.is_floating_point else x
    out = aug(x)
    assert out.dtype == dtype and out.shape == x.shape


def test_compose_random_apply_random_choice_and_deepcopy(loaded, mnist):
    classifies(loaded)
    image = tv_tensors.Image(digits(mnist)[0])
    expected = fresh(loaded, rng=3)(image)
    pipelines = [
        v2.Compose([fresh(loaded, rng=3)]),
        v2.RandomApply([fresh(loaded, rng=3)], p=1.0),
        v2.RandomChoice([fresh(loaded, rng=3)]),
        copy.deepcopy(fresh(loaded, rng=3)),
    ]
    for pipeline in pipelines:
        out = pipeline(image)
        assert isinstance(out, tv_tensors.Image) and torch.equal(out, expected)
    out, label = v2.Compose([v2.RandomHorizontalFlip(p=1.0), loaded])(image, 4)
    assert isinstance(out, tv_tensors.Image) and label == 4
