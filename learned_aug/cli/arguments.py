"""The arguments of each ``learned-aug`` command; torch-free, so ``--help`` answers at once.

``cli.commands`` registers the commands; their runners import torch when they run. Choices come
from ``cli.names``, which tests/test_cli.py keeps equal to the registries.
"""

from __future__ import annotations

import argparse

from learned_aug.cli.names import (
    CONVENTIONAL_NAMES,
    DATASET_NAMES,
    DEFAULT_CONDITIONS,
    DEFAULT_SIZES,
    LIKELIHOOD_NAMES,
    MODEL_NAMES,
    OPTIMIZER_NAMES,
    QUICK_SEEDS,
    QUICK_SIZE,
    TABULAR_CONDITIONS,
)


# ------------------------------------------------------------------------------------ fit
def _size(text: str) -> tuple[int, int]:
    parts = text.lower().replace("x", ",").split(",")
    try:
        values = tuple(int(p) for p in parts if p)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected H,W or HxW or one int, got {text!r}") from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected H,W or HxW or one int, got {text!r}")
    return values  # type: ignore[return-value]


def fit_args(p: argparse.ArgumentParser) -> None:
    """The arguments of ``learned-aug fit``."""
    kinds = sorted(k for k in MODEL_NAMES if k != "classwise")  # classwise: --per-class
    p.add_argument(
        "--data",
        required=True,
        help="an ImageFolder directory (root/<class>/<image>), a CSV file of feature rows "
        f"(see --label-column) or a bundled dataset: {', '.join(DATASET_NAMES)}",
    )
    p.add_argument(
        "--model",
        default=None,
        choices=kinds,
        help="generator kind. Without --model and --per-class, fit trains the recommended "
        "recipe (docs/results.md): one class-conditional VAE, latent size 8, on the images plus "
        "4 RandAugment copies, for about 750 optimizer steps (a tabular VAE on feature rows); "
        "any flag below overrides its part. With --model or --per-class: that model alone "
        "(vae: unconditional, latent size 8, no copies, 30 epochs)",
    )
    p.add_argument(
        "--init",
        default=None,
        metavar="GENERATOR",
        help="start from this pretrained generator (a bundled name such as mnist-vae, a run "
        "folder or a Hub repo id) instead of new weights: the recipe's budget (or --model's "
        "settings) fine-tunes every weight on --data; its kind and config are the pretrained "
        "one's (model flags must agree with them); a class-conditional VAE learns new classes "
        "starting from the mean of its classes; --epochs 0 keeps it as is (only the latent "
        "bank of --data is rebuilt)",
    )
    p.add_argument(
        "--unlabelled",
        default=None,
        metavar="FOLDER",
        help="a folder of unlabelled images of the same kind (any layout, subfolders "
        "searched), converted and resized to --data's images and trained on besides them with "
        "the class left open (a class-conditional VAE reads their class as uniform); the step "
        "budget counts them, so fewer epochs run",
    )
    p.add_argument(
        "--per-class",
        action="store_true",
        help="train one generator per class (the multi-VAE of Garay-Maestre et al.)",
    )
    p.add_argument(
        "--mix-in",
        type=float,
        default=0.0,
        help="with --per-class, fraction of other classes mixed into each member's data",
    )
    p.add_argument(
        "--conditional",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one class-conditional generator (a CVAE); --no-conditional: an unconditional "
        "one (default: conditional in the recipe, unconditional with --model)",
    )
    p.add_argument(
        "--partner",
        action="store_true",
        default=None,
        help="vae, dvae: train in pairs (DAGAN's idea): the encoder sees one image, the decoder "
        "reconstructs another image of its class, so an image's posterior makes new members of "
        "its class (SyntheticDataset, LearnedAugment with the posterior strategy)",
    )
    p.add_argument("--latent-dim", type=int, default=None, help="latent size d (vae default: 8)")
    p.add_argument("--beta", type=float, default=None, help="beta-VAE weight of the KL term")
    p.add_argument("--beta-norm", action="store_true", help="use beta_norm = beta * d / N")
    p.add_argument(
        "--likelihood",
        choices=LIKELIHOOD_NAMES,
        default=None,
        help="decoder likelihood: bernoulli (BCE, digits), gaussian (MSE) or calibrated (a "
        "Gaussian with each image's own variance); default bernoulli for grey images, "
        "calibrated for colour",
    )
    p.add_argument(
        "--label-column",
        default=None,
        help="with a CSV --data, the column holding the labels (default: the last column)",
    )
    p.add_argument("--codebook-size", type=int, default=None, help="vqvae: number of codes K")
    p.add_argument("--embedding-dim", type=int, default=None, help="vqvae: size of each code")
    p.add_argument(
        "--prior-epochs",
        type=int,
        default=None,
        help="vqvae: most epochs of the second stage, the prior (default: --epochs)",
    )
    p.add_argument(
        "--corruption",
        default=None,
        help="dvae: corruption preset the encoder sees (default, noise, erase, none)",
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="most epochs (default: the recipe's step budget; 30 with --model or --per-class)",
    )
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: 1e-3)")
    p.add_argument(
        "--optimizer",
        default="adam",
        choices=OPTIMIZER_NAMES,
        help="optimizer (default: adam)",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.15,
        help="validation split for early stopping (default: 0.15)",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=None,
        help="epochs without improvement before stopping (default: 300 optimizer steps, at "
        "least 10 epochs, in the recipe; 10 with --model or --per-class)",
    )
    p.add_argument("--kl-warmup", type=int, default=0, help="epochs of linear KL warm-up")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, ...")
    p.add_argument(
        "--image-size",
        type=_size,
        default=None,
        help="resize images to H,W (default: the most common size in the folder)",
    )
    p.add_argument(
        "--channels",
        type=int,
        choices=[1, 3],
        default=None,
        help="convert images to 1 (grayscale) or 3 (RGB) channels",
    )
    p.add_argument(
        "--augment",
        default=None,
        choices=[*CONVENTIONAL_NAMES, "none"],
        help="train on the images plus --augment-copies copies under this conventional "
        "augmentation, so the generator learns that variety too (images only; default: "
        "randaugment in the recipe, none with --model or --per-class)",
    )
    p.add_argument(
        "--augment-copies",
        type=int,
        default=None,
        help="augmented copies of every image with --augment (default: 4; the recipe with "
        "--unlabelled: enough that the labelled rows match the pool's, at most 49)",
    )
    p.add_argument("--out", required=True, help="run folder for checkpoint, weights and samples")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="train in N processes with DistributedDataParallel, launched through torchrun; "
        "--batch-size stays the global batch (default: 1)",
    )


# ------------------------------------------------------------------------------------ sample
def sample_args(p: argparse.ArgumentParser) -> None:
    """The arguments of ``learned-aug sample``."""
    p.add_argument("generator", help="a run folder, a bundled name or a Hub repo id")
    p.add_argument("--revision", default=None, help="Hub branch, tag or commit of a repo id")
    p.add_argument("-n", type=int, required=True, help="number of samples to write")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--out",
        required=True,
        help="output folder: an ImageFolder of PNGs, one subfolder per class "
        "(samples.csv for a tabular generator)",
    )
    p.add_argument("--batch-size", type=int, default=256, help="samples per batch (default: 256)")
    p.add_argument("--device", default="cpu", help="device to sample on (default: cpu)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --out")
    p.add_argument(
        "--unlabelled",
        action="store_true",
        help="write the PNGs straight into --out, in no class folder: for a generator that "
        "cannot tell which class a sample belongs to (an unconditional one), which is refused "
        "without this flag",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--shard",
        type=_shard,
        default=None,
        help="write only shard i/N (items i, i+N, ...) so N processes fill one --out together; "
        "default under torchrun: RANK/WORLD_SIZE",
    )


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` -> ``(i, N)`` with ``0 <= i < N``.

    Example:
        >>> parse_shard("1/4")
        (1, 4)
    """
    try:
        index, count = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ValueError(f"shard must look like i/N (e.g. 0/4), got {text!r}") from None
    if not 0 <= index < count:
        raise ValueError(f"shard i/N needs 0 <= i < N, got {text!r}")
    return index, count


def _shard(text: str) -> tuple[int, int]:
    try:
        return parse_shard(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


# ------------------------------------------------------------------------------------ info
def info_args(p: argparse.ArgumentParser) -> None:
    """The arguments of ``learned-aug info``."""
    p.add_argument("generator", help="a run folder, a bundled name or a Hub repo id")
    p.add_argument("--revision", default=None, help="Hub branch, tag or commit of a repo id")
    p.add_argument("--json", action="store_true", help="print the description as JSON")


# ------------------------------------------------------------------------------------ evaluate
def evaluate_args(p: argparse.ArgumentParser) -> None:
    """The arguments of ``learned-aug evaluate``."""
    p.add_argument(
        "--data",
        required=True,
        help=f"a bundled dataset ({', '.join(DATASET_NAMES)}) or an ImageFolder",
    )
    p.add_argument(
        "--train-size",
        type=int,
        nargs="+",
        default=None,
        help="training images per draw, class-balanced (default: "
        f"{' '.join(map(str, DEFAULT_SIZES))}; --quick: {QUICK_SIZE})",
    )
    p.add_argument(
        "--seeds",
        type=int,
        default=None,
        help=f"seeds 0..n-1 per size (default: 5; --quick: {QUICK_SEEDS})",
    )
    p.add_argument(
        "--image-size",
        type=_size,
        default=None,
        help="resize images to H,W (default: the dataset's size; a folder's most common one)",
    )
    p.add_argument(
        "--conditions",
        nargs="+",
        default=None,
        metavar="NAME",
        help=f"conditions to compare (default: {' '.join(DEFAULT_CONDITIONS)} for images, "
        f"{' '.join(TABULAR_CONDITIONS)} for tabular data; learned is what `learned-aug fit` "
        "trains without model flags, sampled as SyntheticDataset does by default); "
        "accepted: none, a conventional augmentation (aug, flip, trivialaugment, randaugment), "
        "the compute-matched control randaugment-views (the learned half of each batch "
        "replaced by a second RandAugment view of each real image), learned, or a conventional "
        "one and learned joined by + (randaugment+learned); an unknown name is refused with "
        "the list",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"one size ({QUICK_SIZE} images unless --train-size) and {QUICK_SEEDS} seeds, "
        "the default generator: a verdict on whether learned augmentation helps on this data, "
        "before training with it",
    )
    p.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="cap on classifier steps (the same for every condition; default: the recipe's "
        "rule, 400 to 2,000 steps growing with the training size)",
    )
    p.add_argument(
        "--generator-scale", type=float, default=None, help="scale of generator step budgets"
    )
    p.add_argument(
        "--metric",
        default=None,
        choices=["macro_f1", "weighted_f1", "accuracy"],
        help="metric of the table (default: macro_f1 for images, weighted_f1 for tabular data)",
    )
    p.add_argument(
        "--cnn-width",
        type=float,
        default=None,
        help="channel multiplier of the classifier ConvNet (default: 1.0, its 16/32/64 channels)",
    )
    precision = p.add_mutually_exclusive_group()
    precision.add_argument("--fp32", action="store_true", help="train the classifier in float32")
    precision.add_argument(
        "--bf16",
        action="store_true",
        help="train the classifier under bfloat16 autocast (default: where it is faster: "
        "CUDA, CPUs with AVX512-BF16/AMX; see learned_aug.precision)",
    )
    p.add_argument(
        "--out", required=True, help="folder for results.md, results.csv, results_f1.png"
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


# ------------------------------------------------------------------------------------ push
def push_args(p: argparse.ArgumentParser) -> None:
    """The arguments of ``learned-aug push``."""
    p.add_argument("folder", help="a generator folder, e.g. the --out of `learned-aug fit`")
    p.add_argument("repo_id", help="the Hub repo to push to: user/name or org/name")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument(
        "--revision",
        "--branch",
        dest="branch",
        default=None,
        help="branch to push to, created if missing (default: main)",
    )
    p.add_argument("--commit-message", default=None, help="message of the Hub commit")
    p.add_argument(
        "--token", default=None, help="Hub token (default: HF_TOKEN or the `hf auth login` one)"
    )
    p.add_argument(
        "--dry-run",
        metavar="DIR",
        default=None,
        help="write the files that would be uploaded into DIR and push nothing",
    )
