"""Training throughput of ``learned_aug.fit`` against a bare PyTorch loop, in the same run.

Both train the same model (same init) on the same real MNIST-5k training split with the same
batch size, optimizer and epochs; fit's time includes everything it does (validation, early
stopping bookkeeping, the progress bar off). Also times the README's main job end to end.

``--per-class`` instead times fit of a per-class generator (10 members, run as one batched
computation) against fit of one VAE of the member's config on the same data, and against the
same per-class generator with its members run one at a time (as before the batched pass), in
interleaved rounds (best round kept), for the default member and the bundled mnist-vae's.

    python benchmarks/bench_fit.py            # prints a table; --write updates docs/benchmarks.md
    python benchmarks/bench_fit.py --per-class --write

``--colour`` instead times what ``learned-aug fit`` trains on colour images (``COLOUR_RECIPE``:
the class-conditional VAE whose conv stack follows the image size, the calibrated Gaussian
likelihood, four RandAugment copies of every image) on 20 CIFAR-10 images per class (200 RGB
images, resized to 32, 64 and 128 px), each size in a fresh process: seconds per epoch (the
fastest of ``--epochs``), the parameter count and the peak resident memory of the training
(ru_maxrss, reset after the set-up as in bench_memory.py), with ratios against 32 px and a grey
28x28 baseline (``DEFAULT_RECIPE`` on 200 MNIST-5k digits) measured in the same run.

    python benchmarks/bench_fit.py --colour --epochs 2 --write
"""

from __future__ import annotations

import copy
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import torch
from _docs import bench_args, markdown_table, parse, publish
from _timing import run_cli
from bench_main_job import JOBS

from learned_aug import DEFAULT_RECIPE, FitSettings, create_generator, fit, load_dataset
from learned_aug.data import balanced_subset, stratified_split
from learned_aug.models.stacked import StackedVAEs
from learned_aug.precision import cpu_model
from learned_aug.training.recipe import COLOUR_RECIPE

# The previous README main job (one VAE per class); bench_main_job.py times today's.
PER_CLASS_JOB = [*JOBS["per-class"], "--no-progress"]


def bare_loop(model, x, y, epochs: int, batch_size: int, lr: float) -> float:
    """The plain PyTorch loop: shuffle, forward, backward, step. Returns seconds."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    start = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch))
        for idx in order.split(batch_size):
            loss = model.loss(x[idx], y[idx])["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def compare(data, per_class: bool, epochs: int, batch_size: int, repeats: int) -> dict:
    """Same model, same training rows: the bare loop, fit on those rows alone, and fit with the
    15% validation split it holds out of the whole set (its default)."""
    train_idx, _ = stratified_split(data.y, 0.15, 0)
    train = data.subset(train_idx)
    x, y = train.x, train.y
    config = {"latent_dim": 3 if per_class else 8}
    rows = {"bare": [], "fit": [], "fit+val": []}
    for r in range(repeats):  # alternate so drift on a shared machine hits all alike
        torch.manual_seed(r)
        model = create_generator(
            "vae", data.sample_shape, data.classes, per_class=per_class, **config
        )
        rows["bare"].append(bare_loop(model, x, y, epochs, batch_size, 1e-3))
        for name, source, val in (("fit", train, 0.0), ("fit+val", data, 0.15)):
            torch.manual_seed(r)
            model = create_generator(
                "vae", data.sample_shape, data.classes, per_class=per_class, **config
            )
            start = time.perf_counter()
            settings = FitSettings(
                epochs=epochs, batch_size=batch_size, patience=None, val_fraction=val, seed=r
            )
            fit(model, source, settings, progress=False, device="cpu")
            rows[name].append(time.perf_counter() - start)
    images = len(x) * epochs
    bare, fitted, validated = min(rows["bare"]), min(rows["fit"]), min(rows["fit+val"])
    return {
        "model": "per-class VAE (10 members)" if per_class else "VAE",
        "bare img/s": images / bare,
        "fit img/s": images / fitted,
        "ratio": bare / fitted,
        "val img/s": images / validated,
        "val ratio": bare / validated,
    }


MEMBERS = {
    "default member (`--per-class --latent-dim 3`)": {"latent_dim": 3},
    "bundled mnist-vae member": {
        "latent_dim": 3,
        "hidden_channels": (8, 16),
        "hidden_dim": 32,
        "refine": False,
    },
}


def one_at_a_time(model):
    """The same per-class generator with its members as separate modules, run one by one."""
    looped = copy.deepcopy(model)
    if isinstance(looped.members, StackedVAEs):
        looped.members = torch.nn.ModuleList(copy.deepcopy(list(looped.members)))
    return looped


def per_class_rows(data, epochs: int, batch_size: int, repeats: int, members) -> list[dict]:
    """fit's img/s of one member-sized VAE, the per-class generator, and its members one at a
    time, each member config in its own interleaved rounds (best round kept)."""
    images = round(len(data.y) * 0.85) * epochs  # fit's default 15% validation split
    results = []
    for name, member in members.items():
        best = {"one VAE": float("inf"), "batched": float("inf"), "one by one": float("inf")}
        for r in range(repeats):
            torch.manual_seed(r)
            per_class = create_generator(
                "vae", data.sample_shape, data.classes, per_class=True, **member
            )
            models = {
                "one VAE": create_generator("vae", data.sample_shape, data.classes, **member),
                "batched": per_class,
                "one by one": one_at_a_time(per_class),
            }
            for kind, model in models.items():
                start = time.perf_counter()
                settings = FitSettings(epochs=epochs, batch_size=batch_size, patience=None, seed=r)
                fit(model, data, settings, progress=False, device="cpu")
                best[kind] = min(best[kind], time.perf_counter() - start)
        params = sum(p.numel() for p in models["one VAE"].parameters())
        results.append(
            {"member": name, "params": params, **{k: images / v for k, v in best.items()}}
        )
    return results


def per_class_table(rows: list[dict], epochs: int, repeats: int) -> str:
    header = ["member", "params / member", "one VAE", "per-class", "per-class / one VAE"]
    header += ["one by one", "one by one / one VAE"]
    cells = [
        [
            r["member"],
            f"{r['params']:,}",
            f"{r['one VAE']:.0f}",
            f"{r['batched']:.0f}",
            f"{r['batched'] / r['one VAE']:.2f}x",
            f"{r['one by one']:.0f}",
            f"{r['one by one'] / r['one VAE']:.2f}x",
        ]
        for r in rows
    ]
    about = (
        f"fit (default settings: batch 64, Adam, 15% validation) for {epochs} epoch(s) on the "
        f"5,000 real MNIST-5k digits, img/s, best of {repeats} interleaved rounds; CPU "
        f"{cpu_model()}, {torch.get_num_threads()} threads. `per-class` is a 10-member "
        "generator run as one batched computation; `one by one` is the same generator with "
        "its members run one at a time (before the batched pass); `one VAE` is a single VAE "
        "of the member's config."
    )
    return f"{about}\n\n{markdown_table(header, cells)}"


COLOUR_SIZES = (32, 64, 128)
GREY = "grey 28x28 (mnist-5k, `DEFAULT_RECIPE`)"
PER_CLASS_IMAGES = 20  # 200 images: 170 to train on (15% validation), 850 with the copies


def colour_fit(size: int | None, epochs: int, batch_size: int, threads: int) -> dict:
    """In a fresh process: fit the default recipe on 200 images, RGB CIFAR-10 at ``size`` px
    (``None``: grey MNIST-5k digits at 28 px); its epoch seconds, parameters and peak RSS."""
    from bench_memory import _maxrss_mib, _reset_peak

    torch.set_num_threads(threads)
    source = "mnist-5k" if size is None else "cifar10"
    data = balanced_subset(load_dataset(source, image_size=size), PER_CLASS_IMAGES, seed=0)[0]
    recipe = DEFAULT_RECIPE.for_data(data)
    assert size is None or recipe is COLOUR_RECIPE, recipe
    seconds: list[float] = []
    setup_peak = _maxrss_mib()
    _reset_peak()
    baseline = _maxrss_mib()
    start = time.perf_counter()
    result = recipe.fit(
        data,
        epochs=epochs,
        patience=None,
        batch_size=batch_size,
        progress=False,
        device="cpu",
        seed=0,
        hooks=[lambda row: seconds.append(row["seconds"])],
    )
    wall = time.perf_counter() - start
    peak = _maxrss_mib()
    model = result.model
    train = round(len(data) * 0.85) * (recipe.augment_copies + 1 if recipe.augment else 1)
    return {
        "data": GREY if size is None else f"RGB {size}x{size} (cifar10, `COLOUR_RECIPE`)",
        "widths": "-".join(map(str, model.config.hidden_channels)),
        "likelihood": model.config.likelihood,
        "params": sum(p.numel() for p in model.parameters()),
        "epoch": min(seconds),
        "train": train,
        "wall": wall,
        "setup_peak": setup_peak,
        "baseline": baseline,
        "peak": peak,
    }


def colour_rows(epochs: int, batch_size: int, threads: int) -> list[dict]:
    spawn = multiprocessing.get_context("spawn")
    rows = []
    for size in (*COLOUR_SIZES, None):
        # One executor per size: a new interpreter each time, so no peak hides another.
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            rows.append(pool.submit(colour_fit, size, epochs, batch_size, threads).result())
    return rows


def colour_table(rows: list[dict], epochs: int, batch_size: int) -> str:
    base = rows[0]  # RGB 32x32, the bundled cifar10-vae's size
    base_mem = base["peak"] - base["baseline"]
    header = ["data (recipe)", "conv widths", "likelihood", "params", "s / epoch", "img/s"]
    header += ["time / 32 px", "fit wall (s)", "peak RSS (MiB)", "peak - baseline (MiB)"]
    header += ["increment / 32 px"]
    cells = []
    for r in rows:
        increment = r["peak"] - r["baseline"]
        cells.append(
            [
                r["data"],
                r["widths"],
                r["likelihood"],
                f"{r['params']:,}",
                f"{r['epoch']:.2f}",
                f"{r['train'] / r['epoch']:.0f}",
                f"{r['epoch'] / base['epoch']:.2f}x",
                f"{r['wall']:.1f}",
                f"{r['peak']:.0f}",
                f"{increment:.0f}",
                f"{increment / base_mem:.2f}x" if base_mem > 0 else "n/a",
            ]
        )
    about = (
        f"The generator `learned-aug fit` trains by default, fitted with `Recipe.fit` for "
        f"{epochs} epoch(s) (batch {batch_size}, patience off, CPU) on {PER_CLASS_IMAGES * 10} "
        f"images ({PER_CLASS_IMAGES} per class, resized with `load_dataset(..., image_size=)`), "
        f"each size in a fresh process; CPU {cpu_model()}, {torch.get_num_threads()} threads. "
        f"An epoch trains on the {rows[0]['train']} images of the 85% training split plus their "
        "four RandAugment copies and evaluates the 15% validation split; `s / epoch` is the "
        "fastest epoch, `img/s` training images per second of it, `fit wall` the whole call "
        "(making the copies, building the model, all epochs). Memory: ru_maxrss after the "
        "set-up (imports, loading and resizing the data) is reset, so `peak - baseline` is what "
        "the fit itself holds at its peak. Ratios are against RGB 32x32 in the same run."
    )
    return f"{about}\n\n{markdown_table(header, cells, align='lllrrrrrrrr')}"


def readme_job_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        return run_cli([*PER_CLASS_JOB, "--out", f"{tmp}/run"], capture=True)[0]


def table(results: list[dict], job: float | None) -> str:
    header = ["model", "bare loop (img/s)", "fit (img/s)", "fit / bare"]
    header += ["fit + validation (img/s)", "fit + validation / bare"]
    cells = [
        [
            r["model"],
            f"{r['bare img/s']:.0f}",
            f"{r['fit img/s']:.0f}",
            f"{r['ratio']:.2f}x",
            f"{r['val img/s']:.0f}",
            f"{r['val ratio']:.2f}x",
        ]
        for r in results
    ]
    text = (
        "Training images per second over the same 4,250 real MNIST-5k training digits. `fit` "
        "trains on them alone (val_fraction=0); `fit + validation` is fit's default: it holds "
        "out 15% of the whole set and evaluates it after every epoch.\n\n"
        + markdown_table(header, cells)
    )
    if job is not None:
        text += f"\n\nper-class main job (`learned-aug {' '.join(PER_CLASS_JOB)}`): {job:.0f} s"
    return text


def main() -> None:
    parser = bench_args(__doc__, threads=2, batch_size=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-job", action="store_true", help="do not time the README job")
    parser.add_argument(
        "--per-class",
        action="store_true",
        help="time per-class fit against one member-sized VAE (and members one at a time)",
    )
    parser.add_argument(
        "--members",
        choices=["all", "default", "bundled"],
        default="all",
        help="with --per-class: which member configs to time",
    )
    parser.add_argument(
        "--colour",
        action="store_true",
        help="time and measure the default colour generator at 32, 64 and 128 px instead",
    )
    args = parse(parser)
    if args.colour:
        rows = colour_rows(args.epochs, args.batch_size, args.threads)
        text = colour_table(rows, args.epochs, args.batch_size)
        publish(text, "fit on colour images at 32, 64 and 128 px", args.write)
        return
    data = load_dataset("mnist-5k")
    if args.per_class:
        pick = {"all": MEMBERS, "default": dict(list(MEMBERS.items())[:1])}
        members = pick.get(args.members, dict(list(MEMBERS.items())[1:]))
        rows = per_class_rows(data, args.epochs, args.batch_size, args.repeats, members)
        text = per_class_table(rows, args.epochs, args.repeats)
        publish(text, "per-class fit against one member-sized VAE", args.write)
        return
    results = [
        compare(data, pc, args.epochs, args.batch_size, args.repeats) for pc in (False, True)
    ]
    job = None if args.skip_job else readme_job_seconds()
    publish(table(results, job), "fit against a bare PyTorch loop", args.write)


if __name__ == "__main__":
    main()
