"""Soak: a million synthetic samples through a DataLoader with 2 workers, in constant memory.

SyntheticDataset generates item i from (seed, i) on demand and never holds n samples, so memory
must not grow with the number of items streamed. This streams ``--n`` items through
``DataLoader(num_workers=2)``, checks every label against ``dataset.targets``, and reads the
resident memory (RSS, from /proc, or psutil when installed) of the main process and of each
worker after the first batch and then at every tenth of the run.

The generator is a per-class VAE for 8x8 digits, freshly initialised (memory does not depend
on what the weights learned), unless ``--generator`` names a folder, bundled name or Hub id.

    python benchmarks/soak.py                      # prints the table
    python benchmarks/soak.py --write              # and updates docs/benchmarks.md
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
from _docs import bench_args, markdown_table, parse, publish
from torch.utils.data import DataLoader

from learned_aug import SyntheticDataset, create_generator, load_generator

SECTION = "Soak"
GROWTH_LIMIT_MB = 20.0  # what "constant" allows: allocator noise, not a per-item leak


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process in MiB (psutil when installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        with open(f"/proc/{pid}/status") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return kib / 1024
    process = psutil.Process() if pid == "self" else psutil.Process(int(pid))
    return process.memory_info().rss / 2**20


def children() -> list[int]:
    """Process ids of this process's children (the DataLoader workers)."""
    try:
        import psutil
    except ImportError:
        pids: list[int] = []
        for task in Path("/proc/self/task").iterdir():
            text = (task / "children").read_text().split()
            pids += [int(p) for p in text]
        return sorted(pids)
    return sorted(p.pid for p in psutil.Process().children())


def generator_for(name: str | None):
    if name is not None:
        return load_generator(name)
    torch.manual_seed(0)
    classes = [str(d) for d in range(10)]
    tiny = dict(latent_dim=3, hidden_channels=(16, 32), hidden_dim=64)
    return create_generator("vae", (1, 8, 8), classes, per_class=True, **tiny)


def soak(dataset: SyntheticDataset, workers: int, batch_size: int) -> list[dict[str, float]]:
    """Stream the whole dataset once; RSS after the first batch and at every tenth."""
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    targets = dataset.targets
    marks = {max(1, round(len(loader) * k / 10)) for k in range(1, 11)}
    rows, seen, start = [], 0, time.perf_counter()
    for step, (images, labels) in enumerate(loader, start=1):
        expected = torch.as_tensor(targets[seen : seen + len(labels)])
        if images.shape[1:] != dataset.generator.sample_shape or not torch.equal(labels, expected):
            raise RuntimeError(f"batch {step}: wrong shape or labels")
        seen += len(labels)
        if step == 1 or step in marks:
            workers_mb = [rss_mb(pid) for pid in children()]
            rows.append(
                {
                    "items": seen,
                    "seconds": time.perf_counter() - start,
                    "main": rss_mb(),
                    "workers": sum(workers_mb),
                    "count": len(workers_mb),
                }
            )
    if seen != len(dataset):
        raise RuntimeError(f"streamed {seen} items of {len(dataset)}")
    return rows


def table(rows: list[dict[str, float]], baseline: float, n: int, workers: int) -> str:
    cells = []
    for r in rows:
        total = r["main"] + r["workers"]
        workers_mb = f"{r['workers']:.0f} ({r['count']:.0f} workers)"
        seconds, main = f"{r['seconds']:.0f}", f"{r['main']:.0f}"
        cells.append([f"{r['items']:,}", seconds, main, workers_mb, f"{total:.0f}"])
    header = ["items streamed", "seconds", "main RSS", "workers' RSS (sum)", "total"]
    first, last = rows[0], rows[-1]
    growth = (last["main"] + last["workers"]) - (first["main"] + first["workers"])
    rate = last["items"] / last["seconds"]
    verdict = "constant" if growth <= GROWTH_LIMIT_MB else "GROWING"
    return "\n\n".join(
        [
            f"{n:,} samples through `DataLoader(num_workers={workers})`; RSS in MiB (main process"
            f" before the DataLoader: {baseline:.0f} MiB).",
            markdown_table(header, cells),
            f"RSS start -> end (after the first batch -> after the last): main {first['main']:.0f}"
            f" -> {last['main']:.0f} MiB, workers {first['workers']:.0f} -> "
            f"{last['workers']:.0f} MiB; growth {growth:+.1f} MiB: **{verdict}** (limit "
            f"{GROWTH_LIMIT_MB:.0f} MiB). {rate:,.0f} samples/s; no errors, every label checked.",
        ]
    )


def main() -> None:
    parser = bench_args(__doc__, batch_size=256)
    parser.add_argument("--n", type=int, default=1_000_000, help="samples to stream")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", choices=["tensor", "pil"], default="tensor")
    parser.add_argument("--generator", help="a generator folder, bundled name or Hub id")
    args = parse(parser)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))  # the workers inherit it
    transform = None
    if args.output == "pil":
        from torchvision.transforms import v2

        transform = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    # With a transform the dataset hands it PIL images, as torchvision datasets do.
    dataset = SyntheticDataset(generator_for(args.generator), n=args.n, seed=0, transform=transform)
    baseline = rss_mb()
    rows = soak(dataset, args.workers, args.batch_size)
    publish(table(rows, baseline, args.n, args.workers), SECTION, args.write)


if __name__ == "__main__":
    main()
