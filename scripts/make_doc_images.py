"""Draw what each strategy does to real digits: the pictures of docs/guide/strategies.md.

    python scripts/make_doc_images.py            # writes docs/img/strategy-<name>.png

Each picture has one column per class: the top row holds real MNIST digits from the validation
split the bundled generators never trained on, the rows below hold what ``LearnedAugment``
makes of them at increasing strength. Everything is seeded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt  # picks a non-interactive backend when there is no display
import torch

from learned_aug import STRATEGIES, LearnedAugment, load_dataset, load_generator
from learned_aug.conventional import get_conventional
from learned_aug.data import stratified_split
from learned_aug.loading import bundled_names, resolve

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"
# strategy -> (bundled generator, rows as (row label, strategy kwargs, seed)).
ROWS: dict[str, tuple[str, list[tuple[str, dict]]]] = {
    "reconstruct": ("mnist-vae", [("reconstruct", {}, 0)]),
    "noise": ("mnist-vae", [(f"strength={a}", {"strength": a}, 0) for a in (0.3, 1.0, 2.0)]),
    "interpolate": ("mnist-vae", [(f"strength={a}", {"strength": a}, 0) for a in (0.25, 0.5, 1.0)]),
    "extrapolate": ("mnist-vae", [(f"strength={a}", {"strength": a}, 0) for a in (0.25, 0.5, 1.0)]),
    "prior": ("mnist-vae", [(f"draw {s}", {}, s) for s in (1, 2, 3)]),
    "vq-resample": (
        "mnist-vqvae",
        [(f"strength={a}", {"strength": a}, 0) for a in (0.5, 1.0, 2.0)],
    ),
}


def real_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The first validation digit of each class (the split ``fit`` holds out, seed 0)."""
    data = load_dataset("mnist-5k")
    _, val = stratified_split(data.y, 0.15, 0)
    first = [int(val[data.y[val] == k][0]) for k in range(len(data.classes))]
    return data.x[first], data.y[first]


def draw(rows: list[tuple[str, torch.Tensor]], title: str, path: Path) -> None:
    cols = rows[0][1].shape[0]
    fig, axes = plt.subplots(len(rows), cols, figsize=(cols * 0.7, len(rows) * 0.75 + 0.35))
    axes = axes.reshape(len(rows), cols)
    for r, (label, images) in enumerate(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(images[c, 0].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(pad=0.2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


@torch.no_grad()
def strategy_picture(strategy: str, x: torch.Tensor, y: torch.Tensor, out: Path) -> Path | None:
    name, specs = ROWS[strategy]
    if name not in bundled_names():
        print(f"skip {strategy}: no bundled generator {name!r} (run scripts/make_pretrained.py)")
        return None
    location = resolve(name)
    generator = load_generator(location)  # with its latent bank
    rows = [("real", x)]
    for label, kwargs, seed in specs:
        aug = LearnedAugment(generator, STRATEGIES[strategy](**kwargs), rng=seed)
        rows.append((label, aug(x, y)[0]))
    path = out / f"strategy-{strategy}.png"
    draw(rows, f"{strategy} ({name})", path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNGs")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    x, y = real_digits()
    for strategy in ROWS:
        if strategy in STRATEGIES:
            path = strategy_picture(strategy, x, y, args.out)
            if path is not None:
                print(f"wrote {path}")
    affine = get_conventional("affine", rng=0)  # the paper's, `learned-aug evaluate`'s aug
    rows = [("real", x)] + [(f"draw {s}", affine(x)) for s in (1, 2)]
    draw(rows, "conventional: rotation 20 degrees, shift 20%", args.out / "conventional.png")
    print(f"wrote {args.out / 'conventional.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
