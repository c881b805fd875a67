"""A few-shot classifier with ``LearnedAugment`` in a dataset's ``transform=``.

Shows: the torchvision pattern. Your images are a folder (here: 10 real MNIST digits per class,
written out as ``root/<class>/<image>.png``); ``ImageFolder`` reads them and hands each image,
alone, to its ``transform=``. ``LearnedAugment`` sits in that ``v2.Compose`` like any other
transform: with ``p=0.5`` half the images are replaced by the generator's variation of them. It
pickles, so ``DataLoader`` workers run it. The same small CNN is trained with and without it
and scored on 1,000 held-out real digits (the last 100 of each class).

The bundled ``mnist-dvae`` (a denoising VAE) saw all 5,000 digits in training, the held-out
ones too, so the score with it flatters it; ``learned-aug evaluate`` trains its generators on
the training split alone and says whether they help (see evaluate_your_data.py).

Run: ``python examples/few_shot_transform.py``. Full size: about 3 minutes of CPU time (151 s
measured on 2 AMD EPYC cores; 11 minutes of wall time there, shared with other jobs).
``LEARNED_AUG_SMOKE=1`` shrinks it to under a minute (CI).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from learned_aug import LearnedAugment, load_dataset

SMOKE = os.environ.get("LEARNED_AUG_SMOKE") == "1"
PER_CLASS, TEST_PER_CLASS, EPOCHS, WORKERS = (2, 5, 1, 0) if SMOKE else (10, 100, 30, 2)


def write_image_folder(root: Path, digits, per_class: int) -> None:
    """Stand-in for your data: the first ``per_class`` digits of each class as PNG files."""
    for k, name in enumerate(digits.classes):
        (root / name).mkdir(parents=True)
        for j, i in enumerate((digits.y == k).nonzero().flatten()[:per_class].tolist()):
            TF.to_pil_image(digits.x[i]).save(root / name / f"{j}.png")


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )  # fmt: skip


def train_and_score(train: ImageFolder, test_x: torch.Tensor, test_y: torch.Tensor) -> float:
    torch.manual_seed(0)
    model, loader = small_cnn(), DataLoader(train, 16, shuffle=True, num_workers=WORKERS)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(EPOCHS):
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
    with torch.no_grad():
        return (model(test_x).argmax(1) == test_y).float().mean().item()


def main() -> None:
    to_float = [v2.Grayscale(), v2.ToImage()]
    plain = v2.Compose([*to_float, v2.ToDtype(torch.float32, scale=True)])
    learned = v2.Compose([
        *to_float,
        LearnedAugment.from_pretrained("mnist-dvae", p=0.5),  # image only: no label needed
        v2.ToDtype(torch.float32, scale=True),
    ])  # fmt: skip
    digits = load_dataset("mnist-5k")  # 500 real digits per class
    held_out = [i for k in range(10) for i in (digits.y == k).nonzero().flatten()[-TEST_PER_CLASS:]]
    test = digits.subset(held_out)  # the last digits of each class, never trained on here
    with tempfile.TemporaryDirectory() as root:
        write_image_folder(Path(root), digits, PER_CLASS)
        for name, transform in [("without", plain), ("with LearnedAugment", learned)]:
            accuracy = train_and_score(ImageFolder(root, transform=transform), test.x, test.y)
            print(f"{PER_CLASS * 10} training images, {name}: accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
