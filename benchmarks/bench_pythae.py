"""Training throughput of ``learned_aug.fit`` against pythae's ``TrainingPipeline``, in one run.

Both sides train the same network from the same initial weights: a ``learned_aug.VAE``
(latent_dim=8, default hidden channels) trained by ``fit``, and that VAE's encoder
(``encoder`` + ``enc_fc`` + ``to_mu``/``to_logvar``) and decoder (``dec_fc`` + ``decoder``,
cropped, sigmoid) wrapped as pythae ``BaseEncoder``/``BaseDecoder`` in a ``pythae.models.VAE``
with a Bernoulli (BCE) reconstruction loss. Same 4,250 real MNIST-5k training digits, epochs,
batch size and Adam learning rate; no validation on either side; both write their run to a
temporary folder. Each side's time is the whole call (pythae's data checks, its per-epoch copy of
the best model and its final save included; its progress bar off, like fit's).

pythae lives in its own folder, never in the project's environment (it would pin nothing we
use, but it pulls pydantic and imageio). Install it once, without its dependencies (torch,
numpy, scipy, scikit-learn, tqdm and cloudpickle come from the project's environment):

    .venv/bin/pip install --target benchmarks/.pythae --no-deps pythae==0.1.2 imageio \\
        pydantic==2.14.3 pydantic-core==2.50.4 annotated-types typing-inspection

    python benchmarks/bench_pythae.py        # prints a table; --write updates docs/benchmarks.md
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # pythae always adds a progress bar; fit runs without

import torch
from _docs import bench_args, markdown_table, parse, publish
from torch import Tensor

from learned_aug import VAE, FitSettings, VAEConfig, fit, load_dataset
from learned_aug.data import stratified_split

PYTHAE_DIR = Path(__file__).resolve().parent / ".pythae"
sys.path.insert(0, str(PYTHAE_DIR))
try:
    from pythae.models import VAE as PythaeVAE
    from pythae.models import VAEConfig as PythaeVAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainingCallback
except ImportError as error:
    sys.exit(
        f"pythae is not installed in {PYTHAE_DIR} ({error}). Install it there with:\n"
        "  .venv/bin/pip install --target benchmarks/.pythae --no-deps pythae==0.1.2 imageio "
        "pydantic==2.14.3 pydantic-core==2.50.4 annotated-types typing-inspection"
    )

LATENT_DIM = 8


class Encoder(BaseEncoder):
    """learned_aug.VAE's encoder as a pythae encoder: the posterior's mean and log-variance."""

    def __init__(self, vae: VAE):
        super().__init__()
        self.encoder, self.enc_fc = vae.encoder, vae.enc_fc
        self.to_mu, self.to_logvar = vae.to_mu, vae.to_logvar

    def forward(self, x: Tensor) -> ModelOutput:
        h = self.enc_fc(self.encoder(x).flatten(1))
        logvar = self.to_logvar(h).clamp(-20.0, 10.0)  # as VAE.encode
        return ModelOutput(embedding=self.to_mu(h), log_covariance=logvar)


class Decoder(BaseDecoder):
    """learned_aug.VAE's decoder as a pythae decoder: probabilities in [0, 1]."""

    def __init__(self, vae: VAE):
        super().__init__()
        self.dec_fc, self.decoder = vae.dec_fc, vae.decoder
        self.bottom, self.size = vae._bottom, vae.config.image_size

    def forward(self, z: Tensor) -> ModelOutput:
        out = self.decoder(self.dec_fc(z).view(len(z), *self.bottom))
        out = out[:, :, : self.size[0], : self.size[1]]  # as VAE.decode_logits
        return ModelOutput(reconstruction=torch.sigmoid(out))


class LastLoss(TrainingCallback):
    """Keeps pythae's last training epoch loss."""

    def __init__(self):
        self.train_loss = float("nan")

    def on_log(self, training_config, logs, **kwargs) -> None:
        self.train_loss = logs.get("train_epoch_loss", self.train_loss)


def our_vae(seed: int) -> VAE:
    torch.manual_seed(seed)
    return VAE(VAEConfig(image_size=(28, 28), latent_dim=LATENT_DIM))


def run_fit(train, seed: int, epochs: int, batch_size: int, lr: float) -> tuple[float, float]:
    """Seconds and last training loss per sample of ``learned_aug.fit``."""
    model = our_vae(seed)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        settings = FitSettings(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            patience=None,
            val_fraction=0.0,
            seed=seed,
        )
        result = fit(model, train, settings, out=Path(tmp) / "run", progress=False, device="cpu")
        seconds = time.perf_counter() - start
    return seconds, result.history[-1]["train_loss"]


def run_pythae(x: Tensor, seed: int, epochs: int, batch_size: int, lr: float):
    """Seconds and last training loss per sample of pythae's ``TrainingPipeline``."""
    vae = our_vae(seed)
    model = PythaeVAE(
        PythaeVAEConfig(input_dim=(1, 28, 28), latent_dim=LATENT_DIM, reconstruction_loss="bce"),
        encoder=Encoder(vae),
        decoder=Decoder(vae),
    )
    last = LastLoss()
    with tempfile.TemporaryDirectory() as tmp:
        config = BaseTrainerConfig(
            output_dir=tmp,
            num_epochs=epochs,
            per_device_train_batch_size=batch_size,
            learning_rate=lr,
            optimizer_cls="Adam",
            seed=seed,
            no_cuda=True,
        )
        pipeline = TrainingPipeline(model=model, training_config=config)
        start = time.perf_counter()
        pipeline(train_data=x, eval_data=None, callbacks=[last])
        seconds = time.perf_counter() - start
    return seconds, last.train_loss


def compare(epochs: int, batch_size: int, lr: float, repeats: int) -> dict:
    data = load_dataset("mnist-5k")
    train_idx, _ = stratified_split(data.y, 0.15, 0)  # the rows bench_fit.py trains on
    train = data.subset(train_idx)
    rows: dict[str, list[tuple[float, float]]] = {"fit": [], "pythae": []}
    runs = {"fit": lambda r: run_fit(train, r, epochs, batch_size, lr)}
    runs["pythae"] = lambda r: run_pythae(train.x, r, epochs, batch_size, lr)
    for r in range(repeats):  # alternate, first one side then the other, so drift and warm-up
        for name in ("fit", "pythae") if r % 2 == 0 else ("pythae", "fit"):  # hit both alike
            rows[name].append(runs[name](r))
    images = len(train) * epochs
    fitted, pythae = (min(rows[k], key=lambda row: row[0]) for k in ("fit", "pythae"))
    return {
        "images": len(train),
        "epochs": epochs,
        "repeats": repeats,
        "fit img/s": images / fitted[0],
        "pythae img/s": images / pythae[0],
        "ratio": pythae[0] / fitted[0],
        "fit losses": [loss for _, loss in rows["fit"]],
        "pythae losses": [loss for _, loss in rows["pythae"]],
    }


def table(r: dict, batch_size: int, lr: float) -> str:
    pairs = zip(r["fit losses"], r["pythae losses"], strict=True)
    losses = ", ".join(f"{a:.1f} / {b:.1f}" for a, b in pairs)
    rows = [
        ["pythae TrainingPipeline", f"{r['pythae img/s']:.0f}", "1.00x"],
        ["learned_aug.fit", f"{r['fit img/s']:.0f}", f"{r['ratio']:.2f}x"],
    ]
    return "\n\n".join(
        [
            f"Training images per second over the same {r['images']:,} real MNIST-5k training "
            f"digits: {r['epochs']} epochs, batch {batch_size}, Adam lr {lr:g}, no validation, "
            f"best of {r['repeats']} alternated repeats. Both train the same VAE (latent 8, "
            "default hidden channels) from the same initial weights: `learned_aug.fit` on "
            "`learned_aug.VAE`, and pythae 0.1.2's `TrainingPipeline` on a `pythae.models.VAE` "
            "whose `BaseEncoder`/`BaseDecoder` wrap that VAE's layers (BCE reconstruction).",
            markdown_table(["trainer", "img/s", "fit / pythae"], rows),
            "Last epoch's training loss (negative ELBO in nats per image), fit / pythae, each "
            f"repeat: {losses}. Both sum the reconstruction and KL terms over each image and "
            "average over the batch; fit averages the epoch over images, pythae over batches "
            "(the short last batch weighs as much as a full one), and pythae takes the BCE of "
            "sigmoid outputs where fit takes it of logits. Each side's time is its whole call: "
            "pythae's includes its data checks, its copy of the best model each epoch and its "
            "final save (pickled encoder/decoder + model.pt); fit's includes its run folder "
            "(checkpoint, safetensors, history, samples.png). Progress bars off on both sides.",
        ]
    )


def main() -> None:
    parser = bench_args(__doc__, batch_size=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parse(parser)
    logging.disable(logging.INFO)  # pythae logs every epoch to the console
    result = compare(args.epochs, args.batch_size, args.lr, args.repeats)
    text = table(result, args.batch_size, args.lr)
    publish(text, "fit against pythae's TrainingPipeline", args.write)


if __name__ == "__main__":
    main()
