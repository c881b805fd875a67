"""Scores of one run: macro F1 (the paper's metric), weighted F1 (Iser 2023's) and accuracy."""

from __future__ import annotations

from torch import Tensor


def scores(y_true: Tensor, y_pred: Tensor) -> dict[str, float]:
    """Macro F1, weighted F1 and accuracy of integer predictions, each in [0, 1]."""
    from sklearn.metrics import accuracy_score, f1_score

    t, p = y_true.cpu().numpy(), y_pred.cpu().numpy()
    return {
        "macro_f1": float(f1_score(t, p, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(t, p, average="weighted", zero_division=0)),
        "accuracy": float(accuracy_score(t, p)),
    }
