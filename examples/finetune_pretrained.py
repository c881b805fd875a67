"""Fine-tune a pretrained generator on a small ImageFolder of new classes, then train with it.

Shows: ``learned-aug fit --data FOLDER --init omniglot-vae`` (the bundled generator of
handwritten characters, pretrained on 216 characters of seven Omniglot alphabets, never on a
Latin letter) fine-tuned on 5 drawings of each of the 26 Latin letters, written out as
``root/<letter>/<image>.png`` as your own folder would be. Its new classes start as the mean of
the pretrained ones; every weight trains (nothing is frozen), for the default recipe's budget.
Then a small CNN is trained on the real letters under RandAugment, each batch half real and half
``SyntheticDataset`` samples (``MixSampler(share=0.5)``, as the README mixes them), against the
same CNN with the synthetic half replaced by a second RandAugment view of the real letters (the
compute-matched control: the same batch and steps). Both are scored on the held-out drawings.

The measured answer, over five seeds and more sizes, is the transfer section of
docs/results.md (``python -m benchmarks.experiments.transfer``); one run of this script is one
seed of it and can go either way.

Run: ``python examples/finetune_pretrained.py [--data FOLDER]`` (a folder of grey 32x32 images
of your own characters replaces the stand-in; without held-out images it only fine-tunes).
Full size: about 4 minutes of CPU time (241 s measured on 2 AMD EPYC cores, 135 s wall;
held-out accuracy 0.799 with the second RandAugment view, 0.756 with SyntheticDataset).
``LEARNED_AUG_SMOKE=1`` shrinks it to seconds (CI).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from learned_aug import MixSampler, SyntheticDataset, load_dataset, load_generator
from learned_aug.data import balanced_subset

SMOKE = os.environ.get("LEARNED_AUG_SMOKE") == "1"
PER_CLASS, SYNTHETIC, STEPS = (2, 52, 5) if SMOKE else (5, 2000, 600)
FIT_FLAGS = ["--epochs", "1", "--augment", "none"] if SMOKE else []
GREY = v2.Compose([v2.ToImage(), v2.Grayscale(), v2.ToDtype(torch.float32, scale=True)])
AUGMENT = v2.Compose([v2.ToImage(), v2.Grayscale(), v2.RandAugment(),
                      v2.ToDtype(torch.float32, scale=True)])  # fmt: skip


def learned_aug(*args: str) -> None:
    """Run ``learned-aug ARGS`` (the console script is ``python -m learned_aug.cli``)."""
    print("$ learned-aug", " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "learned_aug.cli", *args], check=True)


def write_image_folder(root: Path, images) -> None:
    """Stand-in for your data: the images as PNG files, one folder per class."""
    for i, (x, y) in enumerate(zip(images.x, images.y.tolist(), strict=True)):
        folder = root / images.classes[y]
        folder.mkdir(parents=True, exist_ok=True)
        TF.to_pil_image(x).save(folder / f"{i}.png")


def small_cnn(k: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, k),
    )  # fmt: skip


def train_and_score(loader: DataLoader, test_x: torch.Tensor, test_y: torch.Tensor, k: int):
    """The same CNN, initial weights and number of AdamW steps for every loader."""
    torch.manual_seed(0)
    model, steps = small_cnn(k), 0
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05)
    while steps < STEPS:
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y, label_smoothing=0.1).backward()
            optimizer.step()
            steps += 1
            if steps == STEPS:
                break
    model.eval()
    with torch.no_grad():
        return (model(test_x).argmax(1) == test_y).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="your ImageFolder")
    parser.add_argument("--out", type=Path, default=Path("runs/letters-from-omniglot"))
    args = parser.parse_args()
    letters = load_dataset("letters-omniglot", image_size=32)
    with tempfile.TemporaryDirectory() as tmp:
        data, test = args.data, None
        if data is None:
            few, test = balanced_subset(letters, PER_CLASS, seed=0)
            data = Path(tmp) / "letters"
            write_image_folder(data, few)
        learned_aug("fit", "--data", str(data), "--init", "omniglot-vae", "--channels", "1",
                    "--image-size", "32", "--out", str(args.out), "--overwrite",
                    "--no-progress", *FIT_FLAGS)  # fmt: skip
        generator = load_generator(args.out)  # fine-tuned, with the latent bank of your images
        print(f"fine-tuned omniglot-vae on {len(generator.classes)} new classes")
        if test is None:
            return
        real = ImageFolder(data, transform=AUGMENT)
        assert generator.classes == real.classes  # label i names the same class on both sides
        synthetic = SyntheticDataset(generator, n=SYNTHETIC, transform=AUGMENT, seed=0)
        k = len(real.classes)
        views = ImageFolder(data, transform=AUGMENT)  # another RandAugment view of each image
        for name, other in (("RandAugment + second view", views),
                            ("RandAugment + SyntheticDataset", synthetic)):  # fmt: skip
            joined = ConcatDataset([real, other])
            sampler = MixSampler(joined, batch_size=64, share=0.5, rng=0)
            accuracy = train_and_score(DataLoader(joined, batch_sampler=sampler), test.x, test.y, k)
            print(f"{name}: accuracy {accuracy:.3f} on {len(test)} held-out letters")


if __name__ == "__main__":
    main()
