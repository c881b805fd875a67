"""What the make_<dataset>.py scripts share: one ``.npz`` per packed image set.

The layout ``learned_aug.data.loaders`` reads: ``jpeg`` (the encoded images, JPEG or PNG bytes,
concatenated), ``offsets`` (where each image starts; one more than there are images),
``labels``, ``test`` (the held-out part) and ``classes``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

BUNDLED = Path(__file__).resolve().parents[1] / "learned_aug" / "data" / "bundled"


def png_bytes(image: Image.Image) -> bytes:
    """``image`` as lossless PNG bytes (the smallest PIL writes)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def write_packed(
    name: str,
    blobs: Sequence[bytes],
    labels: Sequence[int],
    test: Sequence[bool],
    classes: Sequence[str],
) -> Path:
    """Write ``learned_aug/data/bundled/<name>.npz``; returns its path."""
    out = BUNDLED / f"{name}.npz"
    np.savez(
        out,
        jpeg=np.frombuffer(b"".join(blobs), dtype=np.uint8),
        offsets=np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64),
        labels=np.asarray(labels, dtype=np.int64),
        test=np.asarray(test, dtype=bool),
        classes=np.asarray(classes),
    )
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB, {len(blobs)} images)")
    return out
