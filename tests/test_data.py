"""Tests of learned_aug.data: bundled datasets, ImageFolder loading, conversions and splits."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from learned_aug.data import (
    BUNDLED,
    LabelledData,
    balanced_subset,
    load_dataset,
    load_image_folder,
    stratified_split,
)

DIGITS = [str(d) for d in range(10)]


@pytest.fixture(scope="module")
def digit_images() -> tuple[np.ndarray, np.ndarray]:
    """The first 30 sklearn digits as uint8 (8, 8) images in 0..255 and their labels."""
    bunch = load_digits()
    images = np.round(bunch.images[:30] * 255 / 16).astype(np.uint8)
    return images, bunch.target[:30]


def write_folder(root: Path, images: np.ndarray, labels: np.ndarray, mode: str = "L") -> Path:
    """Write images as root/<label>/<i>.png and return root."""
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, mode="L").convert(mode).save(root / str(label) / f"{i:03d}.png")
    return root


@pytest.fixture
def folder(tmp_path: Path, digit_images: tuple[np.ndarray, np.ndarray]) -> Path:
    return write_folder(tmp_path / "digits", *digit_images)


# --------------------------------------------------------------------------- bundled


def test_bundled_names() -> None:
    packed = {"cifar10", "retina", "faces-orl", "letters-omniglot"}
    assert set(BUNDLED) == {"mnist-5k", "digits", "breast-cancer", "wine"} | {
        name + part for name in packed for part in ("", "-test")
    }


def test_mnist_5k() -> None:
    data = load_dataset("mnist-5k")
    assert data.x.shape == (5000, 1, 28, 28) and data.x.dtype == torch.float32
    assert data.y.dtype == torch.int64 and data.classes == DIGITS
    assert float(data.x.min()) == 0.0 and float(data.x.max()) == 1.0
    assert data.class_counts() == [500] * 10
    assert data.is_image and data.sample_shape == (1, 28, 28)
    assert load_dataset("mnist-5k") is data  # cached


@pytest.mark.parametrize(
    ("name", "shape", "train", "test"),
    [
        ("cifar10", (3, 32, 32), [400] * 10, [300] * 10),
        ("retina", (3, 28, 28), [540, 140, 234, 214, 72], [174, 46, 92, 68, 20]),
        ("faces-orl", (1, 64, 64), [7] * 40, [3] * 40),
        ("letters-omniglot", (1, 64, 64), [14] * 26, [6] * 26),
    ],
)
def test_packed_image_sets(name, shape, train, test) -> None:
    part, held_out = load_dataset(name), load_dataset(f"{name}-test")
    for data, counts in ((part, train), (held_out, test)):
        assert data.sample_shape == shape and data.x.dtype == torch.float32
        assert data.class_counts() == counts and data.classes == part.classes
        assert 0.0 <= float(data.x.min()) < 0.1 and 0.9 < float(data.x.max()) <= 1.0
    # the held-out part is not the training part: no image is in both
    a, b = part.x.flatten(1), held_out.x.flatten(1)
    assert float(torch.cdist(b[:200], a).amin()) > 0.0


def test_cifar10_decodes_the_original_jpeg_bytes() -> None:
    import io

    from PIL import Image

    from learned_aug.data.loaders import PACKED

    with np.load(PACKED / "cifar10.npz") as f:
        first = bytes(f["jpeg"][f["offsets"][0] : f["offsets"][1]])
        classes = list(f["classes"])
    pil = np.asarray(Image.open(io.BytesIO(first)).convert("RGB"), dtype=np.float32) / 255
    x = load_dataset("cifar10").x[0].permute(1, 2, 0).numpy()
    assert classes[0] == "airplane" and load_dataset("cifar10").y[0] == 0
    assert np.abs(x - pil).max() <= 2 / 255  # libjpeg builds may round differently


def test_digits() -> None:
    data = load_dataset("digits")
    assert data.x.shape == (1797, 1, 8, 8) and data.classes == DIGITS
    assert float(data.x.min()) == 0.0 and float(data.x.max()) == 1.0
    assert sum(data.class_counts()) == 1797 and min(data.class_counts()) > 170


@pytest.mark.parametrize(
    ("name", "shape", "n_classes"), [("breast-cancer", (569, 30), 2), ("wine", (178, 13), 3)]
)
def test_tabular(name: str, shape: tuple[int, int], n_classes: int) -> None:
    data = load_dataset(name)
    assert data.x.shape == shape and data.x.dtype == torch.float32
    assert not data.is_image and len(data.classes) == n_classes
    assert float(data.x.max()) > 1.0  # raw features, not scaled
    if name == "breast-cancer":
        assert data.classes == ["malignant", "benign"]


def test_bundled_resize_copies() -> None:
    data = load_dataset("digits", image_size=16, channels=3)
    assert data.x.shape == (1797, 3, 16, 16)
    assert float(data.x.min()) >= 0.0 and float(data.x.max()) <= 1.0
    assert load_dataset("digits").x.shape == (1797, 1, 8, 8)  # the cached one is untouched


def test_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"'nope'.*mnist-5k.*digits.*directory"):
        load_dataset("nope")


def test_image_options_on_tabular() -> None:
    with pytest.raises(ValueError, match="image_size/channels"):
        load_dataset("wine", image_size=8)


# --------------------------------------------------------------------------- LabelledData


def test_labelled_data_api() -> None:
    data = LabelledData(torch.rand(6, 4), torch.tensor([0, 1, 2, 0, 1, 2]), ["a", "b", "c"])
    assert len(data) == 6 and data.sample_shape == (4,) and not data.is_image
    x0, y0 = data[0]
    assert torch.equal(x0, data.x[0]) and y0 == 0 and isinstance(y0, int)
    assert data.targets == [0, 1, 2, 0, 1, 2]
    assert data.class_to_idx == {"a": 0, "b": 1, "c": 2}
    sub = data.subset([1, 4])
    assert sub.classes == data.classes and sub.targets == [1, 1]
    sub.x.zero_()
    assert data.x[1].abs().sum() > 0  # subset copies
    assert data.subset(torch.tensor([0])).class_counts() == [1, 0, 0]


@pytest.mark.parametrize(
    ("x", "y", "classes", "match"),
    [
        (torch.rand(3, 2), torch.tensor([0, 1]), ["a", "b"], "3 samples but y has 2"),
        (torch.rand(2, 2), torch.tensor([0, 5]), ["a", "b"], r"y must be in \[0, 2\).*5"),
        (torch.zeros(2, 2, dtype=torch.uint8), torch.tensor([0, 1]), ["a", "b"], "x must be"),
        (torch.rand(2, 2), torch.tensor([0.0, 1.0]), ["a", "b"], "y must be a 1-D integer"),
        (torch.rand(2, 2), torch.tensor([0, 0]), [], "classes must be"),
    ],
)
def test_labelled_data_validation(
    x: torch.Tensor, y: torch.Tensor, classes: list[str], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        LabelledData(x, y, classes)


# --------------------------------------------------------------------------- ImageFolder


def test_image_folder_round_trip(folder: Path, digit_images: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = digit_images
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load_dataset(folder)
    assert data.classes == sorted({str(label) for label in labels})
    assert data.x.shape == (30, 1, 8, 8) and data.x.dtype == torch.float32
    # files are read class by class; compare against the same order
    order = sorted(range(30), key=lambda i: (str(labels[i]), i))
    expected = torch.from_numpy(images[order]).float().div(255).unsqueeze(1)
    assert torch.allclose(data.x, expected)
    assert [data.classes[t] for t in data.targets] == [str(labels[i]) for i in order]
    assert load_dataset(str(folder), progress=True).x.shape == (30, 1, 8, 8)


def test_image_folder_options(folder: Path) -> None:
    data = load_image_folder(folder, image_size=(12, 10), channels=3)
    assert data.x.shape == (30, 3, 12, 10)
    assert torch.allclose(data.x[:, 0], data.x[:, 2])  # gray converted to RGB


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing.*root/<class>/<image>"):
        load_image_folder(tmp_path / "missing")


def test_folder_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"file\.txt.*root/<class>/<image>"):
        load_image_folder(tmp_path / "file.txt")


def test_no_class_folders(tmp_path: Path) -> None:
    Image.new("L", (4, 4)).save(tmp_path / "loose.png")
    with pytest.raises(ValueError, match=r"no class subfolders.*1 images lie directly"):
        load_image_folder(tmp_path)


def test_empty_class(folder: Path) -> None:
    (folder / "empty").mkdir()
    (folder / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"empty.*no images.*\.png"):
        load_image_folder(folder)


def test_non_image_files_skipped(folder: Path) -> None:
    (folder / "0" / "readme.txt").write_text("x")
    (folder / "1" / "labels.csv").write_text("x")
    (folder / "1" / ".DS_Store").write_text("x")
    with pytest.warns(UserWarning, match=r"skipped 2 non-image file.*readme\.txt"):
        data = load_image_folder(folder)
    assert len(data) == 30


def test_corrupt_image(folder: Path) -> None:
    (folder / "0" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"broken\.png"):
        load_image_folder(folder)


def test_mixed_sizes(folder: Path) -> None:
    Image.new("L", (5, 7), 255).save(folder / "0" / "odd.png")
    with pytest.warns(UserWarning, match=r"found 2 sizes.*resized to 8x8 \(the most common\)"):
        data = load_image_folder(folder)
    assert data.x.shape == (31, 1, 8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_image_folder(folder, image_size=6).x.shape == (31, 1, 6, 6)


def test_mixed_modes(folder: Path) -> None:
    Image.new("RGBA", (8, 8), (255, 0, 0, 128)).save(folder / "0" / "rgba.png")
    with pytest.warns(UserWarning, match=r"mixed modes \(L, RGBA\).*converted all to L"):
        data = load_image_folder(folder)
    assert data.x.shape == (31, 1, 8, 8)
    assert load_image_folder(folder, channels=3).x.shape == (31, 3, 8, 8)


def test_rgb_folder(tmp_path: Path, digit_images: tuple[np.ndarray, np.ndarray]) -> None:
    root = write_folder(tmp_path / "rgb", *digit_images, mode="RGB")
    data = load_dataset(root)
    assert data.x.shape == (30, 3, 8, 8)
    assert load_dataset(root, channels=1).x.shape == (30, 1, 8, 8)


# --------------------------------------------------------------------------- other sources


class PairDataset(torch.utils.data.Dataset):
    """A torchvision-style dataset of (PIL image, label) with a classes attribute."""

    def __init__(self) -> None:
        self.classes = ["zero", "one", "two"]
        self.items = [(Image.new("L", (6, 6), 40 * i), i % 3) for i in range(6)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[Image.Image, int]:
        return self.items[i]


def test_torch_dataset_input() -> None:
    data = load_dataset(PairDataset())
    assert data.classes == ["zero", "one", "two"] and data.targets == [0, 1, 2, 0, 1, 2]
    assert data.x.shape == (6, 1, 6, 6)
    assert torch.allclose(data.x[2], torch.full((1, 6, 6), 80 / 255))


def test_tensor_dataset_input() -> None:
    x = torch.rand(5, 3, 4, 4)
    data = load_dataset(torch.utils.data.TensorDataset(x, torch.tensor([3, 7, 3, 7, 7])))
    assert data.classes == ["3", "7"] and data.targets == [0, 1, 0, 1, 1]
    assert torch.allclose(data.x, x)


def test_numpy_pair_input() -> None:
    x = np.full((4, 2, 2), 255, dtype=np.uint8)
    data = load_dataset((x, np.array([0, 1, 1, 0])))
    assert data.x.shape == (4, 1, 2, 2) and float(data.x.max()) == 1.0
    assert data.classes == ["0", "1"] and data.y.dtype == torch.int64
    tab = load_dataset((np.arange(6.0).reshape(3, 2), np.array([2, 0, 2])))
    assert tab.x.shape == (3, 2) and float(tab.x.max()) == 5.0 and tab.classes == ["0", "2"]


def test_tensor_and_labelled_input() -> None:
    data = load_dataset(torch.rand(3, 1, 4, 4))
    assert data.classes == ["0"] and data.targets == [0, 0, 0]
    assert load_dataset(data) is data
    assert load_dataset(data, image_size=2).x.shape == (3, 1, 2, 2)


def test_unsupported_source() -> None:
    with pytest.raises(TypeError, match="cannot load a int"):
        load_dataset(3)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- splits


def test_stratified_split() -> None:
    y = torch.tensor([0] * 10 + [1] * 5 + [2])
    train, val = stratified_split(y, 0.2, seed=0)
    assert train.dtype == val.dtype == torch.int64
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert sorted(train.tolist() + val.tolist()) == list(range(16))
    assert torch.bincount(y[val], minlength=3).tolist() == [2, 1, 0]  # single example: train
    again = stratified_split(y, 0.2, seed=0)
    assert torch.equal(train, again[0]) and torch.equal(val, again[1])
    other = [stratified_split(y, 0.5, seed=s)[1] for s in range(5)]
    assert any(not torch.equal(other[0], o) for o in other[1:])
    assert len(stratified_split(y, 0.0, seed=0)[1]) == 0


def test_stratified_split_keeps_one_in_train() -> None:
    train, val = stratified_split(torch.tensor([0, 0, 1, 1]), 0.9, seed=1)
    assert len(train) == 2 and len(val) == 2


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_stratified_split_bad_fraction(fraction: float) -> None:
    with pytest.raises(ValueError, match="val_fraction"):
        stratified_split(torch.tensor([0, 1]), fraction, seed=0)


def test_balanced_subset() -> None:
    data = load_dataset("digits")
    chosen, rest = balanced_subset(data, 5, seed=0)
    assert chosen.class_counts() == [5] * 10 and len(rest) == len(data) - 50
    assert chosen.classes == rest.classes == data.classes
    again, _ = balanced_subset(data, 5, seed=0)
    assert torch.equal(chosen.x, again.x)
    assert not torch.equal(chosen.x, balanced_subset(data, 5, seed=1)[0].x)
    with pytest.raises(ValueError, match=r"class 'b' has 1"):
        balanced_subset(LabelledData(torch.rand(3, 2), torch.tensor([0, 0, 1]), ["a", "b"]), 2, 0)
