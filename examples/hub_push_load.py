"""Push a generator to the Hugging Face Hub, and load it back by its repo id.

Shows: ``learned-aug push FOLDER user/name`` uploads, in one commit, what ``save_pretrained``
writes (``config.json`` and ``model.safetensors``: never a pickle; the latent bank and the
quality report), a model card and the sample grid; ``--dry-run DIR`` writes exactly those files
into DIR and uploads nothing. Anyone then loads the generator by its repo id, the way a bundled
name or a folder loads: ``load_generator``, ``LearnedAugment.from_pretrained`` and
``SyntheticDataset`` all take it, and the latent bank comes along. Downloads go to
huggingface_hub's cache; with ``HF_HUB_OFFLINE=1`` the cache alone answers (CI fills the cache
and runs this offline).

Run (about 25 seconds of CPU time measured on 2 AMD EPYC cores, plus the transfer):

    python examples/hub_push_load.py                                  # dry run, then load
    python examples/hub_push_load.py --repo-id you/mnist-vae --push   # after `hf auth login`

``--folder`` is the generator to push (default: the bundled ``mnist-vae``; the ``--out`` of
``learned-aug fit`` is one too). ``LEARNED_AUG_SMOKE=1`` draws fewer samples (CI).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import torch

from learned_aug import LearnedAugment, SyntheticDataset, load_dataset, load_generator
from learned_aug.loading import resolve

SMOKE = os.environ.get("LEARNED_AUG_SMOKE") == "1"
SAMPLES = 8 if SMOKE else 256


def learned_aug(*args: str) -> None:
    """Run ``learned-aug ARGS`` (the console script is ``python -m learned_aug.cli``)."""
    print("$ learned-aug", " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "learned_aug.cli", *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", default=resolve("mnist-vae"), help="generator to push")
    parser.add_argument("--repo-id", default="learned-aug-examples/mnist-vae", help="user/name")
    parser.add_argument("--push", action="store_true", help="upload (needs a Hub token)")
    parser.add_argument("--staged", type=Path, default=Path("runs/hub-upload"))
    args = parser.parse_args()

    # 1. What would be uploaded: checked (loaded strictly) and written out, nothing sent.
    learned_aug("push", str(args.folder), args.repo_id, "--dry-run", str(args.staged))
    if args.push:
        learned_aug("push", str(args.folder), args.repo_id)

    # 2. Load it back by repo id (from the Hub, or huggingface_hub's cache when offline).
    generator = load_generator(args.repo_id)
    print(f"{args.repo_id}: {type(generator).__name__}, classes {generator.classes}")
    augment = LearnedAugment.from_pretrained(args.repo_id, strategy="interpolate", rng=0)
    digits = load_dataset("mnist-5k")
    image, label = augment(digits.x[0], int(digits.y[0]))  # the label picks the class's VAE
    print(f"augmented a real digit {label}: {tuple(image.shape)}, changed by "
          f"{(image - digits.x[0]).abs().mean().item():.3f} on average")  # fmt: skip
    synthetic = SyntheticDataset.like(digits, generator, n=SAMPLES, strategy="interpolate")
    x = torch.stack([image for image, _ in synthetic])
    print(f"SyntheticDataset({args.repo_id!r}, n={SAMPLES}): items {tuple(x.shape[1:])}")


if __name__ == "__main__":
    main()
