"""ClassifierFilter on its own: redrawing rejected samples, keeping the best try, relabelling,
and its arguments (SyntheticDataset's filter= is tested with the dataset, test_synthetic.py)."""

from __future__ import annotations

import pytest
import torch

from learned_aug import (
    ClassifierFilter,
)


def brightness_classifier(x):
    """Class 1 for bright images, class 0 for dark ones, confident far from mean 0.5."""
    m = x.flatten(1).mean(dim=1)
    return torch.stack([0.5 - m, m - 0.5], dim=1) * 40


def test_filter_redraws_rejected_samples_until_they_pass(digits):
    x = torch.cat([torch.zeros(3, 1, 8, 8), torch.ones(3, 1, 8, 8)])
    labels = torch.tensor([1, 1, 1, 1, 1, 1])
    f = ClassifierFilter(brightness_classifier, threshold=0.9, max_tries=3)

    def retry(rows, attempt):
        return torch.ones(len(rows), 1, 8, 8) * (1.0 if attempt == 2 else 0.0)

    out, kept_labels = f.apply(x.clone(), labels, retry)
    assert torch.equal(out, torch.ones(6, 1, 8, 8)) and torch.equal(kept_labels, labels)


def test_filter_keeps_the_best_try_when_none_passes_and_relabels():
    x = torch.full((2, 1, 4, 4), 0.45)
    f = ClassifierFilter(brightness_classifier, threshold=0.99, max_tries=3)
    out, _ = f.apply(x.clone(), torch.tensor([1, 1]), lambda rows, t: torch.full((2, 1, 4, 4), 0.6))
    assert torch.allclose(out, torch.full_like(out, 0.6))
    relabel = ClassifierFilter(brightness_classifier, threshold=0.0, relabel=True)
    _, labels = relabel.apply(torch.stack([torch.zeros(1, 4, 4), torch.ones(1, 4, 4)]), None, None)
    assert labels.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"threshold": 1.5}, "threshold"), ({"max_tries": 0}, "max_tries"), ({}, "callable")],
)
def test_filter_arguments_are_checked(kwargs, match):
    classifier = kwargs.pop("classifier", brightness_classifier if kwargs else "not callable")
    with pytest.raises((TypeError, ValueError), match=match):
        ClassifierFilter(classifier, **kwargs)
