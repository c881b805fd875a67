"""The sample grid (``samples.png``) of a generator: its samples, one row per class, and the
seed they were drawn with, recorded in the PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from PIL import Image, PngImagePlugin
from torchvision.utils import make_grid

from learned_aug.files import atomic_write

MAX_ROWS = 26
"""The most class rows a grid shows: a generator of more classes shows this many, evenly spaced
over its classes (a grid of 216 rows is neither readable nor small)."""
SEED_KEY = "learned-aug:seed"
"""The PNG text field of ``samples.png`` that records the seed its samples were drawn with."""


@torch.no_grad()
def save_sample_grid(generator: Any, path: str | Path, *, per_class: int = 8, seed: int = 0):
    """A PNG grid of ``generator``'s samples (one row per class for a class-aware generator, at
    most :data:`MAX_ROWS` classes, evenly spaced).

    ``generator`` is taken by what it offers (``sample``, ``sample_shape``, ``conditional``,
    ``classes``, ``device``). The seed is recorded in the PNG (:data:`SEED_KEY`), so a model card
    can say which seed drew it. Returns the path, or ``None`` for tabular generators (no picture).
    """
    if len(generator.sample_shape) != 3:
        return None
    rng = torch.Generator(device=generator.device).manual_seed(seed)
    if generator.conditional:
        k = len(generator.classes)
        rows = torch.linspace(0, k - 1, min(k, MAX_ROWS)).round().long()
        labels = rows.repeat_interleave(per_class)
        images = generator.sample(len(labels), labels=labels, rng=rng)
    else:
        images = generator.sample(8 * per_class, rng=rng)
    grid = make_grid(images.float().cpu(), nrow=per_class, padding=2, pad_value=0.5)
    array = grid.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    image = Image.fromarray(array[..., 0] if array.shape[2] == 1 else array)
    info = PngImagePlugin.PngInfo()
    info.add_text(SEED_KEY, str(seed))
    atomic_write(path, lambda tmp: image.save(tmp, format="png", pnginfo=info))
    return Path(path)


def sample_grid_seed(path: str | Path) -> int | None:
    """The seed recorded in a ``samples.png`` written by :func:`save_sample_grid`, if any."""
    try:
        with Image.open(path) as image:
            text = getattr(image, "text", {}).get(SEED_KEY)
    except OSError:
        return None
    return int(text) if text is not None and text.lstrip("-").isdigit() else None
