"""The seed papers' experiments on CIFAR-10: the denoising VAE's encoder and the VQ-VAE's prior.

``run_papers.py`` is the command line. ``dvae_seed`` trains the denoising VAE (Rajagopalan
2021: a corrupted image in, the clean one out) and the same model with no corruption (a plain
VAE of the identical architecture) on the 4,000 CIFAR-10 training images, then judges each
encoder by a linear probe and by a small head fine-tuned with it; ``vqvae_seed`` trains the
VQ-VAE with its class-conditional prior and scores its reconstructions and samples.
Both append one CSV row per model as they go to docs/papers/; papers_report.py builds the
results page's section from those CSVs (and the figures beside them) alone.
"""

from __future__ import annotations

import copy
import csv
import time
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.utils import make_grid, save_image

from learned_aug import FitSettings, fit
from learned_aug.data import LabelledData
from learned_aug.evaluation.probe import linear_probe
from learned_aug.models import create_generator
from learned_aug.models.dvae import DVAEConfig
from learned_aug.precision import cpu_model
from learned_aug.training.diagnostics import classification_scores

PAPERS = Path(__file__).resolve().parents[1] / "docs" / "papers"
DVAE_CSV, VQVAE_CSV = "dvae_cifar10.csv", "vqvae_cifar10.csv"
DVAE_PNG, VQVAE_PNG = "dvae_cifar10.png", "vqvae_cifar10.png"
TIMES_CSV = "times.csv"
# The encoders compared: the denoising VAE, its plain-VAE control, and an untrained one.
ENCODERS = {"denoising VAE": "default", "plain VAE": "none", "untrained encoder": None}
HEAD_WIDTH = 128


def append_row(path: Path, row: dict) -> None:
    """Append ``row`` to the CSV at ``path`` (writing the header first for a new file)."""
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def corrupted(data: LabelledData, seed: int = 0) -> LabelledData:
    """``data`` through the denoising VAE's default corruption (the same for every model)."""
    cfg = DVAEConfig(image_size=tuple(data.x.shape[-2:]), channels=data.x.shape[1])
    transform = cfg.build_corruption()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        x = torch.stack([transform(image) for image in data.x]).clamp(0.0, 1.0)
    return LabelledData(x, data.y, data.classes)


class EncoderHead(nn.Module):
    """A generator's encoder (posterior mean) under a one-hidden-layer MLP classifier."""

    def __init__(self, generator: nn.Module, latent_dim: int, classes: int):
        super().__init__()
        self.generator = generator
        self.mlp = nn.Sequential(
            nn.Linear(latent_dim, HEAD_WIDTH), nn.ReLU(), nn.Linear(HEAD_WIDTH, classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(self.generator.encode_mean(x))


@torch.no_grad()
def accuracy(model: nn.Module, data: LabelledData) -> float:
    model.eval()
    right = sum(
        int((model(xb).argmax(1) == yb).sum())
        for xb, yb in zip(data.x.split(500), data.y.split(500), strict=True)
    )
    return right / len(data)


def fine_tune(
    generator: nn.Module, train: LabelledData, epochs: int, seed: int, lr: float = 1e-3
) -> EncoderHead:
    """A copy of ``generator``'s encoder and a fresh MLP head, trained end to end with cross-
    entropy on ``train`` (Adam, batch 64). The decoder gets no gradient and stays as it was."""
    torch.manual_seed(seed)
    model = EncoderHead(copy.deepcopy(generator), generator.config.latent_dim, len(train.classes))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    rng = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(train), generator=rng).split(64):
            loss = nn.functional.cross_entropy(model(train.x[idx]), train.y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


def train_encoder(corruption: str | None, train: LabelledData, seed: int, args) -> tuple:
    """``(generator, fit seconds)``; ``corruption`` None: the architecture at its seeded
    initial weights, never trained."""
    if corruption is None:
        torch.manual_seed(seed)
        shape, classes = train.sample_shape, train.classes
        return create_generator("dvae", shape, classes, latent_dim=args.latent_dim), 0.0
    start = time.perf_counter()
    result = fit(
        "dvae",
        train,
        FitSettings(
            epochs=args.epochs,
            seed=seed,
            patience=None,
            val_fraction=0.0,  # the same steps for both: all 4,000 images, the last weights
            amp=False,
        ),
        config={"latent_dim": args.latent_dim, "corruption": corruption},
        progress=False,
    )
    return result.model, time.perf_counter() - start


def dvae_seed(seed: int, train: LabelledData, test: LabelledData, noisy: LabelledData, args):
    """Train and score the three encoders of one seed; yields each CSV row as it is done."""
    for name, corruption in ENCODERS.items():
        generator, fit_s = train_encoder(corruption, train, seed, args)
        start = time.perf_counter()
        probe_clean = linear_probe(generator, train, test).accuracy
        probe_noisy = linear_probe(generator, train, noisy).accuracy
        probe_s = time.perf_counter() - start
        start = time.perf_counter()
        head = fine_tune(generator, train, args.head_epochs, seed)
        head_s = time.perf_counter() - start
        if seed == 0 and corruption is not None:
            args.figure_models[name] = generator
        yield {
            "seed": seed,
            "encoder": name,
            "corruption": corruption or "",
            "latent_dim": args.latent_dim,
            "epochs": args.epochs if corruption else 0,
            "head_epochs": args.head_epochs,
            "probe_clean": round(probe_clean, 4),
            "probe_corrupted": round(probe_noisy, 4),
            "head_clean": round(accuracy(head, test), 4),
            "head_corrupted": round(accuracy(head, noisy), 4),
            "fit_seconds": round(fit_s, 1),
            "probe_seconds": round(probe_s, 1),
            "head_seconds": round(head_s, 1),
            "threads": torch.get_num_threads(),
            "cpu": cpu_model(),
        }


@torch.no_grad()
def dvae_figure(models: dict, test: LabelledData, noisy: LabelledData, path: Path) -> None:
    """Rows: clean test images (one per class), corrupted, then each model's reconstruction
    of the corrupted image."""
    idx = torch.cat([torch.nonzero(test.y == k)[:1, 0] for k in range(len(test.classes))])
    rows = [test.x[idx], noisy.x[idx]]
    for model in models.values():
        model.eval()
        rows.append(model.reconstruct(noisy.x[idx]).clamp(0, 1))
    save_image(make_grid(torch.cat(rows), nrow=len(idx), padding=1), path)


@torch.no_grad()
def class_samples(model, n: int, seed: int, batch: int = 500) -> tuple[Tensor, Tensor]:
    """``n`` samples of the class-conditional prior, the classes in turn, and their labels."""
    model.eval()
    labels = torch.arange(n) % len(model.classes)
    rng = torch.Generator().manual_seed(seed)
    x = torch.cat([model.sample(len(yb), labels=yb, rng=rng) for yb in labels.split(batch)])
    return x.float().clamp(0, 1), labels


def vqvae_seed(
    seed: int,
    train: LabelledData,
    test: LabelledData,
    args,
    likelihood: str | None = None,
    figure: bool = True,
) -> dict:
    """Train the VQ-VAE and its class-conditional prior; score reconstructions and samples.

    ``likelihood``: the decoder's (None: the package default); ``figure``: draw the
    reconstructions and samples of seed 0 into docs/papers/."""
    start = time.perf_counter()
    settings = FitSettings(
        epochs=args.vq_epochs, prior_epochs=args.prior_epochs, seed=seed, patience=None, amp=False
    )
    config = {"conditional": True, **({} if likelihood is None else {"likelihood": likelihood})}
    result = fit("vqvae", train, settings, config=config, progress=False)
    fit_s = time.perf_counter() - start
    model = result.model.eval()
    with torch.no_grad():
        recon = torch.cat([model.reconstruct(xb) for xb in test.x.split(500)]).clamp(0, 1)
    per_image = (recon - test.x).pow(2).flatten(1).mean(1)
    start = time.perf_counter()
    samples, labels = class_samples(model, args.samples, seed)
    sample_s = time.perf_counter() - start
    start = time.perf_counter()
    scores = classification_scores(train, test, samples, labels, limit=args.samples)
    score_s = time.perf_counter() - start
    if seed == 0 and figure:
        vqvae_figure(model, test, PAPERS / VQVAE_PNG)
    auto = [r for r in result.history if r["stage"] == "autoencoder"][-1]
    prior = [r for r in result.history if r["stage"] == "prior"]
    return {
        "seed": seed,
        "epochs": args.vq_epochs,
        "prior_epochs": args.prior_epochs,
        "grid": "x".join(map(str, model.config.grid_size)),
        "codebook_size": model.config.codebook_size,
        "likelihood": model.config.likelihood,
        "recon_mse": round(float(per_image.mean()), 5),
        "recon_psnr": round(float((10 * torch.log10(1 / per_image.clamp_min(1e-10))).mean()), 2),
        "perplexity": round(auto["train_perplexity"], 1),
        "prior_val_nll": round(min(r["val_loss"] for r in prior), 3),
        "samples": args.samples,
        "cas": round(scores["cas"], 4),
        "real_accuracy": round(scores["classifier_accuracy_real_val"], 4),
        "samples_accuracy": round(scores["classifier_accuracy_samples"], 4),
        "fit_seconds": round(fit_s, 1),
        "sample_seconds": round(sample_s, 1),
        "score_seconds": round(score_s, 1),
        "threads": torch.get_num_threads(),
        "cpu": cpu_model(),
    }


@torch.no_grad()
def vqvae_figure(model, test: LabelledData, path: Path, per_class: int = 10) -> None:
    """Rows: test images (one per class), their reconstructions, then ``per_class`` samples of
    the prior for each class, one row per class."""
    k = len(test.classes)
    idx = torch.cat([torch.nonzero(test.y == c)[:1, 0] for c in range(k)])
    labels = torch.arange(k).repeat_interleave(per_class)
    rng = torch.Generator().manual_seed(1)
    samples = model.sample(len(labels), labels=labels, rng=rng).clamp(0, 1)
    rows = [test.x[idx], model.reconstruct(test.x[idx]).clamp(0, 1), samples]
    save_image(make_grid(torch.cat(rows), nrow=max(k, per_class), padding=1), path)
