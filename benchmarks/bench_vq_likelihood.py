"""The VQ-VAE's reconstruction likelihood on CIFAR-10: Bernoulli, calibrated or plain Gaussian.

    python benchmarks/bench_vq_likelihood.py --epochs 10 --seeds 0 --write

The measurement behind the VQ-VAE's default likelihood, which follows the channels as the
VAE's does (calibrated Gaussian on colour, Bernoulli on grey). For each likelihood and seed:
the class-conditional VQ-VAE and its prior (``fit("vqvae", ..., config={"conditional": True})``,
``--epochs`` for each stage) on the 10,000 bundled CIFAR-10 training images, as ``run_papers.py
--only vqvae`` trains it; reconstruction error on the 3,000 test images, and the Classification
Accuracy Score of 2,000 class-conditional samples (logistic regression on pixels, scored on the
test images) beside the same classifier trained on the real images. Run the likelihoods in
parallel processes to use several cores.
"""

from __future__ import annotations

from types import SimpleNamespace

from _docs import bench_args, markdown_table, parse, publish
from results_papers import vqvae_seed

from learned_aug import load_dataset

SECTION = "VQ-VAE likelihood on CIFAR-10"
LIKELIHOODS = ("bernoulli", "calibrated", "gaussian")


def one(likelihood: str, seed: int, epochs: int, samples: int) -> list[object]:
    """``run_papers.py``'s VQ-VAE run (``vqvae_seed``) with ``likelihood``, as a table row."""
    train, test = load_dataset("cifar10"), load_dataset("cifar10-test")
    args = SimpleNamespace(vq_epochs=epochs, prior_epochs=epochs, samples=samples)
    row = vqvae_seed(seed, train, test, args, likelihood=likelihood, figure=False)
    print(f"{likelihood} seed {seed}: mse {row['recon_mse']:.5f} CAS {row['cas']:.3f}")
    seconds = row["fit_seconds"] + row["sample_seconds"] + row["score_seconds"]
    return [
        likelihood,
        seed,
        f"{row['recon_mse']:.4f}",
        f"{row['recon_psnr']:.1f}",
        f"{row['cas']:.1%}",
        f"{row['samples_accuracy']:.1%}",
        f"{row['real_accuracy']:.1%}",
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
