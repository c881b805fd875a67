"""The VQ-VAE's reconstruction likelihood on CIFAR-10: Bernoulli (its default) or a Gaussian.

    python benchmarks/bench_vq_likelihood.py --epochs 10 --seeds 0 --write

The VAE picks the calibrated Gaussian for colour images; the VQ-VAE keeps the Bernoulli
likelihood whatever the channels. For each likelihood and seed: the class-conditional VQ-VAE
and its prior (``fit("vqvae", conditional=True)``, ``--epochs`` for each stage) on the 10,000
bundled CIFAR-10 training images, as ``run_papers.py --only vqvae`` trains it; reconstruction
error on the 3,000 test images, and the Classification Accuracy Score of 2,000 class-conditional
samples (logistic regression on pixels, scored on the test images) beside the same classifier
trained on the real images. Run the likelihoods in parallel processes to use several cores.
"""

from __future__ import annotations

import time

import torch
from _docs import bench_args, markdown_table, parse, publish
from results_papers import class_samples

from learned_aug import fit, load_dataset
from learned_aug.training.diagnostics import classification_scores

SECTION = "VQ-VAE likelihood on CIFAR-10"
LIKELIHOODS = ("bernoulli", "calibrated", "gaussian")


def one(likelihood: str, seed: int, epochs: int, samples: int) -> list[object]:
    train, test = load_dataset("cifar10"), load_dataset("cifar10-test")
    start = time.perf_counter()
    model = fit(
        "vqvae",
        train,
        conditional=True,
        likelihood=likelihood,
        epochs=epochs,
        prior_epochs=epochs,
        seed=seed,
        patience=None,
        progress=False,
        amp=False,
    ).model.eval()
    with torch.no_grad():
        recon = torch.cat([model.reconstruct(xb) for xb in test.x.split(500)]).clamp(0, 1)
    mse = (recon - test.x).pow(2).flatten(1).mean(1)
    x, y = class_samples(model, samples, seed)
    scores = classification_scores(train, test, x, y, limit=samples)
    seconds = time.perf_counter() - start
    print(f"{likelihood} seed {seed}: mse {float(mse.mean()):.5f} CAS {scores['cas']:.3f}")
    return [
        likelihood,
        seed,
        f"{float(mse.mean()):.4f}",
        f"{float((10 * torch.log10(1 / mse.clamp_min(1e-10))).mean()):.1f}",
        f"{scores['cas']:.1%}",
        f"{scores['classifier_accuracy_samples']:.1%}",
        f"{scores['classifier_accuracy_real_val']:.1%}",
        f"{seconds:.0f}",
    ]


def main() -> None:
    parser = bench_args(__doc__)
    parser.add_argument("--likelihoods", nargs="+", default=list(LIKELIHOODS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=2000)
    args = parse(parser)
    rows = [one(lik, s, args.epochs, args.samples) for s in args.seeds for lik in args.likelihoods]
    header = [
        "likelihood",
        "seed",
        "test MSE",
        "PSNR (dB)",
        "CAS",
        "samples named right",
        "trained on real",
        "seconds",
    ]
    text = (
        f"{args.epochs} epochs for the autoencoder and for the prior; {args.samples} samples; "
        "logistic regression on pixels; 3,000 CIFAR-10 test images.\n\n"
        + markdown_table(header, rows)
    )
    publish(text, SECTION, args.write)


if __name__ == "__main__":
    main()
