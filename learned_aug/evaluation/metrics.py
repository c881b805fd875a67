"""Scores of one run (macro F1, weighted F1, accuracy) and the pixel baseline of a cell."""

from __future__ import annotations

import torch
from torch import Tensor

from learned_aug.data import LabelledData
from learned_aug.training.diagnostics import pixel_classifier


def scores(y_true: Tensor, y_pred: Tensor) -> dict[str, float]:
    """Macro F1, weighted F1 and accuracy of integer predictions, each in [0, 1]."""
    from sklearn.metrics import accuracy_score, f1_score

    t, p = y_true.cpu().numpy(), y_pred.cpu().numpy()
    return {
        "macro_f1": float(f1_score(t, p, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(t, p, average="weighted", zero_division=0)),
        "accuracy": float(accuracy_score(t, p)),
    }


def pixel_baseline(train: LabelledData, test: LabelledData) -> float:
    """Macro F1 on ``test`` of a logistic regression on the raw, standardised pixels (or
    features) of ``train``: the floor every trained classifier of the protocol must clear.

    Example:
        >>> from learned_aug import load_dataset
        >>> data = load_dataset("digits")
        >>> round(pixel_baseline(data.subset(range(500)), data.subset(range(500, 800))), 2)
        0.85
    """
    clf = pixel_classifier(train, max_iter=1000)
    pred = torch.as_tensor(clf.predict(test.x.flatten(1).numpy()))
    return scores(test.y, pred)["macro_f1"]
