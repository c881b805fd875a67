"""Peak resident memory of fit, sampling, LearnedAugment and SyntheticDataset, each job alone.

Every job runs in a fresh process (multiprocessing "spawn"), so one job's peak cannot hide
another's. In the child: import what the job needs, load its data and build its generator or
transform, reset the resident high-water mark (Linux ``/proc/self/clear_refs``), read
``ru_maxrss`` (the baseline), run the job once, read ``ru_maxrss`` again (the peak). The
increment, peak - baseline, is what the job itself costs; each library job is set against the
plain PyTorch or torchvision job that does the same work:

- ``fit("vae", ...)`` for one epoch on MNIST-5k's 4,250 training digits against a bare Adam
  loop training the same VAE (batch 64);
- sampling 10,000 images from the bundled mnist-vae in batches of 256;
- LearnedAugment (default strategy) on 2,048 uint8 digits, per image and in batches of 256,
  against torchvision's RandAugment per image;
- SyntheticDataset (8,192 images) through a DataLoader (batch 256) against calling the
  generator's decoder on batches of the same size.

    python benchmarks/bench_memory.py                  # prints the table
    python benchmarks/bench_memory.py --write          # and updates docs/benchmarks.md
"""

from __future__ import annotations

import contextlib
import multiprocessing
import resource
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTION = "Peak memory"
GENERATOR = str(ROOT / "pretrained" / "mnist-vae")
SAMPLES, IMAGES, SYNTHETIC, BATCH = 10_000, 2048, 8192, 256


def _maxrss_mib() -> float:
    # ru_maxrss is in KiB on Linux: the peak resident set of this process so far.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> None:
    """Forget the set-up's transient peak, so ru_maxrss restarts at the current resident set.

    Importing torch and loading MNIST-5k peak hundreds of MiB above what stays resident, above
    what most jobs reach, which would leave peak - baseline at 0. Writing 5 to clear_refs resets
    the high-water mark that ru_maxrss reads (Linux 4.0+); elsewhere the baseline stays the
    set-up's peak.
    """
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _train_digits():
    """The 4,250 rows bench_fit.py trains on: MNIST-5k less its stratified 15% validation split
    (the bundled set is sorted by class, so its first 4,250 rows would have no 9s)."""
    from learned_aug import load_dataset
    from learned_aug.data import stratified_split

    data = load_dataset("mnist-5k")
    return data.subset(stratified_split(data.y, 0.15, 0)[0])


def _uint8_digits(n: int):
    """The first n digits as uint8 CHW images, as bench_augment.py prepares them."""
    import torch

    from learned_aug import load_dataset

    data = load_dataset("mnist-5k")
    return data.x[:n].mul(255).round().to(torch.uint8), data.y[:n]


def fit_job() -> Callable[[], None]:
    from learned_aug import FitSettings, fit

    data, one = _train_digits(), FitSettings(epochs=1, val_fraction=0)
    return lambda: fit("vae", data, one, progress=False, device="cpu")


def bare_loop_job() -> Callable[[], None]:
    import torch

    from learned_aug import VAE, VAEConfig

    x = _train_digits().x

    def run() -> None:
        # Built inside the run, as fit builds its model from "vae".
        model = VAE(VAEConfig(image_size=(28, 28), latent_dim=8))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()
        for idx in torch.randperm(len(x)).split(64):
            loss = model.loss(x[idx])["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return run


def sample_job() -> Callable[[], None]:
    import torch

    from learned_aug import load_generator

    generator = load_generator("mnist-vae")

    def run() -> None:
        with torch.no_grad():
            for start in range(0, SAMPLES, BATCH):
                generator.sample(min(BATCH, SAMPLES - start))

    return run


def _per_image(transform: Callable) -> Callable[[], None]:
    x, y = _uint8_digits(IMAGES)
    labels = [int(v) for v in y]

    def run() -> None:
        for i in range(len(x)):
            transform(x[i], labels[i])

    return run


def randaugment_job() -> Callable[[], None]:
    from torchvision.transforms import v2

    return _per_image(v2.RandAugment())


def learned_per_image_job() -> Callable[[], None]:
    from learned_aug import LearnedAugment

    return _per_image(LearnedAugment.from_pretrained(GENERATOR))


def learned_batched_job() -> Callable[[], None]:
    from learned_aug import LearnedAugment

    aug = LearnedAugment.from_pretrained(GENERATOR)
    x, y = _uint8_digits(IMAGES)

    def run() -> None:
        for start in range(0, len(x), BATCH):
            aug(x[start : start + BATCH], y[start : start + BATCH])

    return run


def synthetic_job() -> Callable[[], None]:
    from torch.utils.data import DataLoader

    from learned_aug import SyntheticDataset, load_generator

    dataset = SyntheticDataset(load_generator(GENERATOR), n=SYNTHETIC)
    loader = DataLoader(dataset, batch_size=BATCH, num_workers=0)

    def run() -> None:
        for _ in loader:
            pass

    return run


def decoder_job() -> Callable[[], None]:
    import torch

    from learned_aug import load_generator

    generator = load_generator(GENERATOR).eval()

    def run() -> None:
        with torch.no_grad():
            for start in range(0, SYNTHETIC, BATCH):
                m = min(BATCH, SYNTHETIC - start)
                generator.decode(torch.randn(m, 3), torch.arange(start, start + m) % 10)

    return run


# name -> (set-up returning the job, the job it is compared with or None), in table order.
JOBS: dict[str, tuple[Callable[[], Callable[[], None]], str | None]] = {
    "bare PyTorch loop, 1 epoch": (bare_loop_job, None),
    "fit, 1 epoch": (fit_job, "bare PyTorch loop, 1 epoch"),
    f"sample {SAMPLES:,} from mnist-vae": (sample_job, None),
    "RandAugment, per image": (randaugment_job, None),
    "LearnedAugment, per image": (learned_per_image_job, "RandAugment, per image"),
    "LearnedAugment, batched": (learned_batched_job, "RandAugment, per image"),
    "generator.decode on batches": (decoder_job, None),
    "SyntheticDataset via DataLoader": (synthetic_job, "generator.decode on batches"),
}


def measure(name: str, threads: int) -> tuple[float, float, float]:
    """In a fresh process: (set-up peak, baseline, peak) resident MiB around one run of the job."""
    import torch

    torch.set_num_threads(threads)
    run = JOBS[name][0]()
    setup_peak = _maxrss_mib()
    _reset_peak()
    baseline = _maxrss_mib()
    run()
    return setup_peak, baseline, _maxrss_mib()


def measure_all(threads: int) -> dict[str, tuple[float, float, float]]:
    spawn = multiprocessing.get_context("spawn")
    results = {}
    for name in JOBS:
        # One executor per job: a new interpreter each time, nothing carried over.
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            results[name] = pool.submit(measure, name, threads).result()
    return results


def table(results: dict[str, tuple[float, float, float]]) -> str:
    from _docs import markdown_table

    rows = []
    for name, (setup_peak, baseline, peak) in results.items():
        against = JOBS[name][1]
        ratio = "-"
        if against is not None:
            plain = results[against][2] - results[against][1]
            ratio = f"{(peak - baseline) / plain:.2f}x {against}" if plain > 0 else "n/a"
        mib = (setup_peak, baseline, peak, peak - baseline)
        rows.append([name, *(f"{v:.1f}" for v in mib), ratio])
    header = ["job", "set-up peak", "baseline", "peak", "peak - baseline", "increment ratio"]
    return "\n\n".join(
        [
            "Resident memory (ru_maxrss, MiB) of each job in its own fresh process. Set-up: "
            "imports, loading the data, building the generator or transform; its peak is then "
            "reset, so the baseline is what stays resident and the peak is the job's own. The "
            "last column divides a job's increment (peak - baseline) by that of the plain job "
            "doing the same work.",
            markdown_table(header, rows),
            f"Sampled, augmented and synthetic images are dropped batch by batch, so the "
            f"increments are working memory: keeping {SAMPLES:,} float32 28x28 images would add "
            f"{SAMPLES * 28 * 28 * 4 / 2**20:.0f} MiB.",
        ]
    )


def main() -> None:
    # Imported here, not at the top: each job's "spawn" process runs this module's top level
    # again, and its set-up must import only what the job itself needs.
    from _docs import bench_args, parse, publish

    # --threads: each job's process sets it; the docs' machine line reports it.
    args = parse(bench_args(__doc__))
    publish(table(measure_all(args.threads)), SECTION, args.write)


if __name__ == "__main__":
    main()
