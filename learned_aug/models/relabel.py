"""A class-conditional layer for other classes: the one-hot input columns of a ``Linear``.

A class-conditional VAE reads the class as a one-hot vector appended to the inputs of its
first encoder and decoder layers, so each class owns one input column of those layers. Moving
the model to other classes (``fit(init=...)`` on data of new classes) keeps the column of a class
both know, by name, and starts a new class at the mean of the pretrained classes' columns: the
"average class", from which training moves it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def relabel_columns(weight: Tensor, old: Sequence[str], new: Sequence[str]) -> Tensor:
    """``weight`` ``(out, features + len(old))`` with its last ``len(old)`` columns (one per
    class of ``old``) replaced by one per class of ``new``: a class of both keeps its column,
    a new class gets the mean of the ``old`` columns.

    Example:
        >>> w = torch.tensor([[9.0, 1.0, 3.0]])  # one feature column, then classes a and b
        >>> relabel_columns(w, ["a", "b"], ["b", "c"])
        tensor([[9., 3., 2.]])
    """
    k = len(old)
    if k < 1 or weight.dim() != 2 or weight.shape[1] < k:
        raise ValueError(
            f"weight must be a (out, features + {k}) matrix with one column per class of "
            f"{list(old)}, got shape {tuple(weight.shape)}"
        )
    features, columns = weight[:, :-k], weight[:, -k:]
    mean = columns.mean(dim=1)
    where = {name: i for i, name in enumerate(old)}
    kept = [columns[:, where[c]] if c in where else mean for c in new]
    return torch.cat([features, torch.stack(kept, dim=1)], dim=1)
