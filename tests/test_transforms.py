"""LearnedAugment as a torchvision transform: every input type, Compose, pickling, workers."""

from __future__ import annotations

import pickle

import PIL.Image
import pytest
import torch
from conftest import TINY
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as v1
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from learned_aug import (
    VAE,
    ClasswiseGenerator,
    Generator,
    LatentBank,
    LearnedAugment,
    VAEConfig,
    fit,
)

DIGITS = list("0123456789")


@pytest.fixture(scope="module")
def gray() -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(image_size=(28, 28), classes=DIGITS, **TINY))


@pytest.fixture(scope="module")
def rgb() -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(image_size=(16, 16), channels=3, **TINY))


@pytest.fixture(scope="module")
def mnist_small(mnist):
    return mnist.subset(range(0, 5000, 10))  # 500 real digits, 50 per class


@pytest.fixture(scope="module")
def per_class(mnist_small) -> ClasswiseGenerator:
    """Per-class VAEs trained briefly on 500 real MNIST digits."""
    result = fit("vae", mnist_small, per_class=True, epochs=1, progress=False, device="cpu", **TINY)
    return result.model


def u8(x: torch.Tensor) -> torch.Tensor:
    return x.mul(255).round().to(torch.uint8)


def inputs_of(mnist_small):
    """Every input type LearnedAugment accepts, from real digits (28x28 gray)."""
    x = mnist_small.x
    return {
        "pil-L": TF.to_pil_image(u8(x[0])),
        "uint8-CHW": u8(x[1]),
        "float-CHW": x[2].clone(),
        "float64-CHW": x[3].double(),
        "uint8-BCHW": u8(x[:5]),
        "float-BCHW": x[5:9].clone(),
        "tv-image": tv_tensors.Image(x[9]),
        "resized-uint8": u8(TF.resize(x[10], [40, 36], antialias=True)),
    }


def check_transform(transform: LearnedAugment, inpt, **kwargs):
    """torchvision's check: same type/dtype/size/mode out, pickle round trip, p=0 identity."""
    out = transform(inpt)
    assert type(out) is type(inpt)
    if isinstance(inpt, PIL.Image.Image):
        assert (out.mode, out.size) == (inpt.mode, inpt.size)
    else:
        assert (out.dtype, out.shape) == (inpt.dtype, inpt.shape)
        if out.is_floating_point():
            assert out.min() >= 0 and out.max() <= 1
    again = pickle.loads(pickle.dumps(transform))
    assert type(again) is type(transform)
    seeded = LearnedAugment(transform.generator, transform.strategy, rng=7, bank=transform.bank)
    replay = pickle.loads(pickle.dumps(seeded))
    assert _same(seeded(inpt), replay(inpt))
    identity = LearnedAugment(transform.generator, transform.strategy, p=0.0, bank=transform.bank)
    assert identity(inpt) is inpt


def _same(a, b) -> bool:
    if isinstance(a, PIL.Image.Image):
        return a.tobytes() == b.tobytes()
    return torch.equal(a, b)


@pytest.mark.parametrize(
    "kind",
    [
        "pil-L",
        "uint8-CHW",
        "float-CHW",
        "float64-CHW",
        "uint8-BCHW",
        "float-BCHW",
        "tv-image",
        "resized-uint8",
    ],
)
@pytest.mark.parametrize("strategy", ["noise", "reconstruct"])
def test_check_transform_on_every_input_type(kind, strategy, gray, mnist_small):
    check_transform(LearnedAugment(gray, strategy), inputs_of(mnist_small)[kind])


def test_rgb_pil_images_keep_their_mode(rgb):
    image = PIL.Image.new("RGB", (20, 12), (200, 30, 90))
    check_transform(LearnedAugment(rgb, "reconstruct"), image)


def test_samples_keep_structure_and_labels(gray, mnist_small):
    aug = LearnedAugment(gray, rng=0)
    x = mnist_small.x[0]
    image, label = aug((TF.to_pil_image(u8(x)), 3))
    assert isinstance(image, PIL.Image.Image) and label == 3
    sample = {"image": tv_tensors.Image(x), "label": torch.tensor(4), "name": "a digit"}
    out = aug(sample)
    assert out["label"] is sample["label"] and out["name"] == "a digit"
    assert isinstance(out["image"], tv_tensors.Image)
    _, labels = aug(u8(mnist_small.x[:4]), mnist_small.y[:4])
    assert labels is not None and torch.equal(labels, mnist_small.y[:4])


def test_labels_route_to_the_right_class_member(per_class, mnist_small):
    aug = LearnedAugment(per_class, "reconstruct")
    x = mnist_small.x[:1]
    out3, _ = aug(x[0], 3)
    with torch.no_grad():
        expected = per_class.members[3].reconstruct(x)[0]
    torch.testing.assert_close(out3, expected)
    assert not torch.allclose(aug(x[0], 8)[0], out3)


def test_a_per_class_generator_without_label_classifies_the_image(per_class, mnist_small):
    if type(per_class).class_log_likelihood is Generator.class_log_likelihood:
        pytest.xfail("ClasswiseGenerator.class_log_likelihood lands with the classwise work")
    x = mnist_small.x[:1]
    with torch.no_grad():
        k = int(per_class.infer_labels(x))
    aug = LearnedAugment(per_class, "reconstruct")
    torch.testing.assert_close(aug(x[0]), aug(x[0], k)[0])


def test_a_batch_runs_as_one_forward_pass(gray, mnist_small, monkeypatch):
    calls = []
    decode = gray.decode
    monkeypatch.setattr(gray, "decode", lambda z, labels=None: calls.append(len(z)) or decode(z))
    LearnedAugment(gray)(u8(mnist_small.x[:16]))
    assert calls == [16]


def test_seed_and_generator_make_the_output_reproducible(gray, mnist_small):
    x = u8(mnist_small.x[:6])
    a = LearnedAugment(gray, strength=(0.2, 0.8), rng=3)(x)
    b = LearnedAugment(gray, strength=(0.2, 0.8), rng=torch.Generator().manual_seed(3))(x)
    c = LearnedAugment(gray, strength=(0.2, 0.8), rng=4)(x)
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(0)
    d = LearnedAugment(gray, strength=0.5)(x)
    torch.manual_seed(0)
    assert torch.equal(d, LearnedAugment(gray, strength=0.5)(x))


def test_p_gates_each_image_of_a_batch(gray, mnist_small):
    x = u8(mnist_small.x[:40])
    out = LearnedAugment(gray, p=0.5, rng=0)(x)
    unchanged = (out == x).flatten(1).all(dim=1)
    assert 5 < int(unchanged.sum()) < 35


def test_a_wrong_channel_count_names_expected_and_received(gray, rgb, mnist_small):
    with pytest.raises(ValueError, match=r"expects images with 1 channel\(s\), got 3"):
        LearnedAugment(gray)(PIL.Image.new("RGB", (28, 28)))
    with pytest.raises(ValueError, match=r"expects images with 3 channel\(s\), got 1"):
        LearnedAugment(rgb)(mnist_small.x[0])


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


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"p": 1.5}, ValueError, "p must be"),
        ({"strength": -1.0}, ValueError, "strength"),
        ({"strategy": "interpolate"}, ValueError, "needs a latent bank"),
        ({"strategy": "mixup"}, ValueError, "strategy must be one of"),
        ({"rng": "seed"}, TypeError, "rng must be"),
        ({"bank": "bank"}, TypeError, "bank must be"),
    ],
)
def test_arguments_are_checked(gray, kwargs, error, match):
    with pytest.raises(error, match=match):
        LearnedAugment(gray, **kwargs)


def test_it_moves_with_to_and_stays_in_eval_mode(gray):
    aug = LearnedAugment(gray).to("cpu").train()
    assert set(aug.generator.parameters()) <= set(aug.parameters())
    assert not aug.generator.training


def test_from_pretrained_finds_the_bank_saved_with_the_generator(per_class, mnist_small, tmp_path):
    per_class.save_pretrained(tmp_path)
    LatentBank.build(per_class, mnist_small).save(tmp_path)
    aug = LearnedAugment.from_pretrained(str(tmp_path), strategy="interpolate", rng=0)
    assert isinstance(aug.bank, LatentBank) and len(aug.bank) == len(mnist_small)
    out, labels = aug(u8(mnist_small.x[:8]), mnist_small.y[:8])
    assert out.shape == (8, 1, 28, 28) and out.dtype == torch.uint8
    assert torch.equal(labels, mnist_small.y[:8])


class _Digits(Dataset):
    def __init__(self, data, transform):
        self.data, self.transform = data, transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i):
        return self.transform(TF.to_pil_image(u8(self.data.x[i])), int(self.data.y[i]))


def test_compose_v2_and_v1_with_the_usual_transforms(per_class, gray, mnist_small):
    learned = LearnedAugment(per_class, strength=0.3)
    image, label = mnist_small.x[0], int(mnist_small.y[0])
    pipeline = v2.Compose(
        [v2.ToImage(), v2.RandomRotation(10), learned, v2.ToDtype(torch.float32, scale=True)]
    )
    out, y = pipeline(TF.to_pil_image(u8(image)), label)
    assert out.shape == (1, 28, 28) and out.dtype == torch.float32 and y == label
    # v1 pipelines see the image alone: an unconditional generator needs no label.
    legacy = v1.Compose([v1.RandomRotation(10), LearnedAugment(gray), v1.ToTensor()])
    assert legacy(TF.to_pil_image(u8(image))).shape == (1, 28, 28)


def test_a_dataloader_with_workers_runs_the_pipeline(per_class, mnist_small):
    transform = v2.Compose(
        [
            v2.ToImage(),
            LearnedAugment(per_class, strength=0.2),
            v2.ToDtype(torch.float32, scale=True),
        ]
    )
    loader = DataLoader(
        _Digits(mnist_small.subset(range(32)), transform), batch_size=8, num_workers=2
    )
    batches = list(loader)
    assert len(batches) == 4
    x, y = batches[0]
    assert x.shape == (8, 1, 28, 28) and torch.equal(y, mnist_small.y[:8])
