"""``learned-aug sample``: generated samples written as an ImageFolder of PNGs (or a CSV)."""

from __future__ import annotations

import argparse
from pathlib import Path

from learned_aug.loading import load_generator
from learned_aug.synthetic import SyntheticDataset, to_csv, to_folder
from learned_aug.training.distributed import env_shard, shard_indices


def run(args: argparse.Namespace) -> int:
    """Write ``args.n`` samples of the generator (or this process's shard of them)."""
    out, shard = Path(args.out), args.shard or env_shard()
    # Shards fill one folder side by side (files are named by item index), so only an
    # unsharded run insists on an empty --out.
    if shard is None and out.exists() and any(out.iterdir()) and not args.overwrite:
        raise FileExistsError(f"--out {str(out)!r} is not empty; pass --overwrite to write into it")
    generator = load_generator(args.generator, revision=args.revision, device=args.device)
    labels = "unlabelled" if args.unlabelled else "balanced"
    dataset = SyntheticDataset(generator, n=args.n, seed=args.seed, labels=labels)
    indices = None if shard is None else shard_indices(args.n, *shard)
    write = dict(batch_size=args.batch_size, progress=not args.no_progress, indices=indices)
    if len(generator.sample_shape) == 1:  # tabular rows: one CSV (one per shard)
        name = "samples.csv" if shard is None else f"samples-{shard[0]}-of-{shard[1]}.csv"
        to_csv(dataset, out / name, **write)
    else:
        to_folder(dataset, out, **write)
    part = "" if shard is None else f" (shard {shard[0]}/{shard[1]}: {len(indices)} items)"
    kinds = "unlabelled" if args.unlabelled else f"of {len(dataset.classes)} classes"
    count = args.n if shard is None else len(indices)
    print(f"wrote {count} samples{part} {kinds} to {out}/")
    return 0
