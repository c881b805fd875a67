"""Throughput of LearnedAugment and SyntheticDataset against torchvision, in the same run.

LearnedAugment runs per image and on batches, on the same real MNIST digits (uint8 CHW tensors)
as torchvision's RandAugment and TrivialAugmentWide per image; SyntheticDataset is iterated
through a DataLoader and compared with calling the generator's decoder directly on batches of
the same size. Every method is timed once per round, rounds interleaved, best round kept, so a
busy machine slows all of them alike. The generator is a per-class VAE (latent 3) trained for two
epochs on MNIST-5k unless --generator names one; ``--generator default`` takes the architecture
``learned-aug fit --data mnist-5k`` trains with default flags (``DEFAULT_RECIPE``, briefly
trained: speed does not depend on the weights) and writes its own section.

    python benchmarks/bench_augment.py                 # prints the table
    python benchmarks/bench_augment.py --write         # and updates docs/benchmarks.md
    python benchmarks/bench_augment.py --generator default --threads 2 --write

``--colour`` instead times colour (RGB) images in their own section: CIFAR-10 images at 32x32
and upscaled to 64x64 (``torch.nn.functional.interpolate``), as uint8 and as float tensors.
LearnedAugment (default strategy) runs per image and on batches with the bundled colour
generator ``cifar10-vae`` at 32x32; at 64x64 with an untrained default-config VAE of that size
(``learned-aug fit``'s colour architecture at 64 px: speed does not depend on the weights) and
with cifar10-vae through LearnedAugment's ``resize`` (64 -> 32 -> 64); each against
torchvision's RandAugment per image on the same images. SyntheticDataset through a DataLoader
is set against calling the generator's decoder on batches, for both generators.

    python benchmarks/bench_augment.py --colour --threads 2 --images 256 --write
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from _docs import bench_args, markdown_table, parse, publish
from _timing import best_seconds
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from learned_aug import (
    DEFAULT_RECIPE,
    FitSettings,
    LatentBank,
    LearnedAugment,
    SyntheticDataset,
    create_generator,
    fit,
    load_dataset,
    load_generator,
)
from learned_aug.data import balanced_subset
from learned_aug.kernels import encode_mean
from learned_aug.precision import cpu_model

SECTION = "LearnedAugment and SyntheticDataset"
DEFAULT_SECTION = "LearnedAugment with the generator learned-aug fit trains by default"
COLOUR_SECTION = "LearnedAugment and SyntheticDataset on colour images"
STRATEGIES = ("noise", "reconstruct", "interpolate", "prior")


def brief_fit(recipe, out: str) -> str:
    """``out``, holding ``recipe``'s generator trained one epoch on 20 digits per class (its
    architecture, which decides the speed, without the full training)."""
    few = balanced_subset(load_dataset("mnist-5k"), 20, seed=0)[0]
    recipe.fit(few, epochs=1, out=out, overwrite=True, progress=False)
    return out


def digit_jobs(n: int, batch_size: int):
    """The first ``n`` MNIST-5k digits as uint8 and two job makers on them: ``per_image(t)``
    calls ``t(image, label)`` image by image, ``batched(t)`` on batches of ``batch_size``."""
    data = load_dataset("mnist-5k")
    x = data.x[:n].mul(255).round().to(torch.uint8)
    y = data.y[:n]
    labels = [int(v) for v in y]

    def per_image(transform) -> Callable[[], None]:
        return lambda: [transform(x[i], labels[i]) for i in range(n)]

    def batched(transform) -> Callable[[], None]:
        starts = range(0, n, batch_size)
        return lambda: [transform(x[s : s + batch_size], y[s : s + batch_size]) for s in starts]

    return x, y, per_image, batched


def trained_generator(folder: str | None) -> str:
    """A generator folder with its latent bank: the given one, the default path's architecture
    (``"default"``), or a fresh per-class VAE."""
    if folder == "default":
        folder = brief_fit(DEFAULT_RECIPE, tempfile.mkdtemp(prefix="bench-augment-default-"))
    if folder is None:
        folder = tempfile.mkdtemp(prefix="bench-augment-")
        fit("vae", "mnist-5k", FitSettings(epochs=2), config={"per_class": True, "latent_dim": 3},
            out=folder, overwrite=True, progress=False, device="cpu")  # fmt: skip
    if not (Path(folder) / "latent_bank.safetensors").is_file():
        LatentBank.build(load_generator(folder), "mnist-5k").save(folder)
    return folder


def best_rates(jobs: dict[str, tuple[Callable[[], None], int]], rounds: int) -> dict[str, float]:
    """Items per second of each job (a callable and how many items it handles), best round."""
    seconds = best_seconds({name: fn for name, (fn, _) in jobs.items()}, rounds)
    return {name: items / seconds[name] for name, (_, items) in jobs.items()}


def augment_jobs(folder: str, n: int, batch_size: int) -> dict[str, tuple[Callable, int]]:
    x, y, per_image, batched = digit_jobs(n, batch_size)
    jobs = {
        "RandAugment, per image": (per_image(v2.RandAugment()), n),
        "TrivialAugmentWide, per image": (per_image(v2.TrivialAugmentWide()), n),
        "RandAugment, batched (one op per batch)": (batched(v2.RandAugment()), n),
    }
    for strategy in STRATEGIES:
        aug = LearnedAugment.from_pretrained(folder, strategy=strategy)
        jobs[f"LearnedAugment {strategy}, per image"] = (per_image(aug), n)
        jobs[f"LearnedAugment {strategy}, batched"] = (batched(aug), n)
    gen = LearnedAugment.from_pretrained(folder).generator  # the same inference setup

    def raw_model() -> None:
        with torch.no_grad():
            for s in range(0, n, batch_size):
                gen.reconstruct(x[s : s + batch_size].float() / 255, y[s : s + batch_size])

    def raw_model_per_image() -> None:
        with torch.no_grad():
            for i in range(n):
                gen.reconstruct(x[i : i + 1].float() / 255, y[i : i + 1])

    jobs["generator.reconstruct alone, per image (the floor)"] = (raw_model_per_image, n)
    jobs["generator.reconstruct alone, batched (the floor)"] = (raw_model, n)
    return jobs


def dataset_jobs(folder: str, n: int, batch_size: int) -> dict[str, tuple[Callable, int]]:
    return _dataset_jobs_of(load_generator(folder), n, batch_size)


def _dataset_jobs_of(generator, n: int, batch_size: int) -> dict[str, tuple[Callable, int]]:
    dataset = SyntheticDataset(generator, n=n)
    dataset.chunk_size = batch_size
    gen = dataset.generator
    with torch.no_grad():
        d = encode_mean(gen, torch.zeros(1, *gen.sample_shape), torch.zeros(1).long()).shape[1]

    def through_loader() -> None:
        for _ in DataLoader(dataset, batch_size=batch_size, num_workers=0):
            pass

    def raw_decoder() -> None:
        with torch.no_grad():
            for s in range(0, n, batch_size):
                m = min(batch_size, n - s)
                gen.decode(torch.randn(m, d), torch.arange(s, s + m) % len(gen.classes))

    return {
        "SyntheticDataset via DataLoader": (through_loader, n),
        "generator.decode on batches": (raw_decoder, n),
    }


def table(rates: dict[str, float], batch_size: int, about: str) -> str:
    ra = rates["RandAugment, per image"]
    aug = rates["LearnedAugment noise, batched"], rates["LearnedAugment noise, per image"]
    sd, dec = rates["SyntheticDataset via DataLoader"], rates["generator.decode on batches"]
    floor = rates["generator.reconstruct alone, batched (the floor)"]
    floor_1 = rates["generator.reconstruct alone, per image (the floor)"]
    methods = [
        [name, f"{rate:.0f}", f"{rate / ra:.2f}x"]
        for name, rate in rates.items()
        if not name.startswith(("SyntheticDataset", "generator.decode"))
    ]
    targets = [
        ("batched >= 2x RandAugment per image", aug[0] / ra, 2),
        ("per image >= 0.5x RandAugment per image", aug[1] / ra, 0.5),
        (
            f"SyntheticDataset via DataLoader >= 0.8x decoder ({sd:.0f} vs {dec:.0f} img/s)",
            sd / dec,
            0.8,
        ),
        ("overhead: batched >= 0.95x the bare generator", aug[0] / floor, 0.95),
        ("overhead: per image >= 0.8x the bare generator", aug[1] / floor_1, 0.8),
    ]
    parts = [
        f"CPU: {cpu_model()}, {torch.get_num_threads()} threads. Generator: {about}.",
        f"Images per second (batches of {batch_size}); ratios against RandAugment per image.",
        markdown_table(["method", "img/s", "/ RandAugment per image"], methods),
        markdown_table(
            ["target (default strategy 'noise')", "measured", "met"],
            [[goal, f"{ratio:.2f}x", _met(ratio, bound)] for goal, ratio, bound in targets],
        ),
    ]
    if not about.startswith("the default path"):
        parts.append(SPEED_NOTE)
    return "\n\n".join(parts)


SPEED_NOTE = (
    "Where the speed of this generator comes from: the bundled mnist-vae "
    "decodes with transposed convolutions straight to the image (`refine=False`), run by "
    "PyTorch's native kernel rather than oneDNN's (about 3x faster per call at these "
    "channel counts); a per-class generator routes a one-class call without gathering or "
    "scattering; the variance head is skipped when only the posterior mean is needed "
    "(`encode_mean`); p=1 draws nothing per image; and SyntheticDataset draws every item's "
    "noise from counter-based streams (`learned_aug.rng.ItemStreams`) in one batched "
    "draw instead of one torch.Generator per item."
)


def colour_images(n: int, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` CIFAR-10 training images (a seeded mix of classes) at ``size`` px: float in [0, 1],
    uint8, and their labels; 64 px ones are upscaled (bilinear, antialiased)."""
    data = load_dataset("cifar10")
    rows = torch.randperm(len(data.y), generator=torch.Generator().manual_seed(0))[:n]
    x, y = data.x[rows], data.y[rows]
    if x.shape[-1] != size:
        x = torch.nn.functional.interpolate(
            x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        ).clamp_(0, 1)
    return x.contiguous(), x.mul(255).round().to(torch.uint8), y


def colour_generators() -> dict[str, tuple[object, int]]:
    """The generators timed on colour images, by name, with the image size each is run at."""
    cifar = load_generator("cifar10-vae")
    torch.manual_seed(0)
    untrained = create_generator(
        "vae", (3, 64, 64), cifar.classes, conditional=True, latent_dim=8
    )  # learned-aug fit's colour architecture at 64 px (COLOUR_RECIPE's config)
    return {
        "cifar10-vae (32x32)": (cifar, 32),
        "default VAE at 64x64 (untrained)": (untrained, 64),
        "cifar10-vae, resize 64 -> 32 -> 64": (cifar, 64),
    }


def colour_augment_jobs(generators, n: int, batch_size: int) -> dict[str, tuple[Callable, int]]:
    """(size, dtype, method) -> job: RandAugment per image once per size and dtype, and
    LearnedAugment per image and batched for every generator on its size's images."""
    jobs = {}
    images = {size: colour_images(n, size) for size in {s for _, s in generators.values()}}
    for size, (xf, xu, y) in sorted(images.items()):
        labels = [int(v) for v in y]
        for dtype, x in (("uint8", xu), ("float", xf)):
            per_image, batched = _image_jobs(x, y, labels, batch_size)
            jobs[(size, dtype, "RandAugment, per image")] = (per_image(v2.RandAugment()), n)
            for name, (gen, at) in generators.items():
                if at != size:
                    continue
                aug = LearnedAugment(gen)
                jobs[(size, dtype, f"LearnedAugment {name}, per image")] = (per_image(aug), n)
                jobs[(size, dtype, f"LearnedAugment {name}, batched")] = (batched(aug), n)
    return jobs


def _image_jobs(x, y, labels, batch_size: int):
    n = len(x)

    def per_image(transform) -> Callable[[], None]:
        return lambda: [transform(x[i], labels[i]) for i in range(n)]

    def batched(transform) -> Callable[[], None]:
        starts = range(0, n, batch_size)
        return lambda: [transform(x[s : s + batch_size], y[s : s + batch_size]) for s in starts]

    return per_image, batched


def colour_table(rates: dict, generators, batch_size: int, n: int, n_synthetic: int) -> str:
    rows = []
    for (size, dtype, method), rate in rates.items():
        if size is None:
            continue
        ra = rates[(size, dtype, "RandAugment, per image")]
        rows.append([f"{size}x{size}", dtype, method, f"{rate:.0f}", f"{rate / ra:.2f}x"])
    data_rows = []
    for name in generators:
        if "resize" in name:
            continue
        sd = rates[(None, name, "SyntheticDataset via DataLoader")]
        dec = rates[(None, name, "generator.decode on batches")]
        data_rows.append([name, f"{sd:.0f}", f"{dec:.0f}", f"{sd / dec:.2f}x"])
    params = {
        name: f"{sum(p.numel() for p in gen.parameters()) / 1e6:.2f}M"
        for name, (gen, _) in generators.items()
        if "resize" not in name
    }
    about = (
        f"CPU: {cpu_model()}, {torch.get_num_threads()} threads. {n} CIFAR-10 training images "
        f"(RGB; 64x64: upscaled), uint8 and float CHW tensors. Generators: "
        + ", ".join(f"{k} {v} parameters" for k, v in params.items())
        + " (class-conditional VAEs, latent 8, calibrated Gaussian likelihood); LearnedAugment "
        "with its default strategy (noise), labels given. Every job once per round, rounds "
        "interleaved, best round kept."
    )
    return "\n\n".join(
        [
            about,
            f"Images per second (batches of {batch_size}); ratios against RandAugment per "
            "image on the same images (same size and dtype).",
            markdown_table(
                ["size", "input", "method", "img/s", "/ RandAugment per image"],
                rows,
                align="lllrr",
            ),
            f"SyntheticDataset ({n_synthetic} images, float) through a DataLoader (batch "
            f"{batch_size}, no workers) against calling `generator.decode` on batches of the "
            "same size (Gaussian codes, classes in turn).",
            markdown_table(
                ["generator", "SyntheticDataset img/s", "decode img/s", "ratio"],
                data_rows,
                align="lrrr",
            ),
        ]
    )


def colour_main(args) -> None:
    generators = colour_generators()
    jobs = colour_augment_jobs(generators, args.images, args.batch_size)
    n_synthetic = 8 * args.batch_size
    for name, (gen, _) in generators.items():
        if "resize" in name:
            continue
        # load_generator attached cifar10-vae's latent bank: SyntheticDataset's default draws
        # from its aggregate posterior; the untrained VAE has none and samples its prior.
        dataset = _dataset_jobs_of(gen, n_synthetic, args.batch_size)
        jobs.update({(None, name, k): v for k, v in dataset.items()})
    rates = best_rates(jobs, args.rounds)
    text = colour_table(rates, generators, args.batch_size, args.images, n_synthetic)
    publish(text, COLOUR_SECTION, args.write)


def _met(ratio: float, target: float) -> str:
    return "yes" if ratio >= target else "no"


def main() -> None:
    parser = bench_args(__doc__, rounds=3, batch_size=256)
    parser.add_argument(
        "--generator",
        help="a generator folder, or 'default' for the default path's architecture (default: "
        "train a per-class VAE briefly)",
    )
    parser.add_argument("--images", type=int, default=512, help="images per timed pass")
    parser.add_argument(
        "--colour",
        action="store_true",
        help="time RGB images (cifar10-vae at 32x32, 64x64) in their own section instead",
    )
    args = parse(parser)
    if args.colour:
        colour_main(args)
        return
    folder = trained_generator(args.generator)
    jobs = augment_jobs(folder, args.images, args.batch_size)
    # 16 batches per pass: an epoch amortizes the DataLoader's per-epoch set-up, as in training.
    jobs.update(dataset_jobs(folder, 16 * args.batch_size, args.batch_size))
    gen = load_generator(folder)
    size = sum(p.numel() for p in gen.parameters())
    about = (
        f"the default path's ({type(gen).__name__}, {size / 1e6:.2f}M parameters)"
        if args.generator == "default"
        else f"{args.generator or 'a per-class VAE trained for two epochs'} "
        f"({type(gen).__name__}, {size / 1e6:.2f}M parameters)"
    )
    text = table(best_rates(jobs, args.rounds), args.batch_size, about)
    publish(text, DEFAULT_SECTION if args.generator == "default" else SECTION, args.write)


if __name__ == "__main__":
    main()
