"""ClassifierFilter: keep a generated sample only when a classifier is confident of its class."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn


def module_device(fn: Callable) -> torch.device | None:
    p = next(fn.parameters(), None) if isinstance(fn, nn.Module) else None
    return None if p is None else p.device


def check_classifier(classifier: Any) -> None:
    """Check a classifier that scores or labels samples: callable, and a module in eval mode (its
    output must not depend on the batch: dropout, batch norm)."""
    if not callable(classifier):
        raise TypeError(f"classifier must be callable, got {type(classifier).__name__}")
    if isinstance(classifier, nn.Module):
        classifier.eval()


@dataclass
class ClassifierFilter:
    """Keep a generated sample only when a classifier is confident of its class.

    The "generative classifier" of Iser (2023): a sample whose class the classifier gives a
    probability below ``threshold`` is drawn again (try t of item i from its own seed, so item i
    stays a pure function of (seed, i)), up to ``max_tries`` tries; then the best try is kept.
    With ``relabel`` the classifier's prediction becomes the label and the threshold applies to
    its top probability (this labels the samples of an unconditional generator).

    Args:
        classifier: maps a float batch (B, C, H, W) in [0, 1], at the generator's size, to
            logits (B, K).
        threshold: the probability a sample needs, in [0, 1].
        relabel: label each sample with the classifier's prediction.
        max_tries: draws per item at most.

    Example:
        >>> import torch
        >>> f = ClassifierFilter(lambda x: torch.zeros(len(x), 2), threshold=0.5)
        >>> f.scores(torch.rand(3, 1, 8, 8), torch.tensor([0, 1, 0]))[0]
        tensor([0.5000, 0.5000, 0.5000])
    """

    classifier: Callable[[Tensor], Tensor]
    threshold: float = 0.5
    relabel: bool = False
    max_tries: int = 10

    def __post_init__(self) -> None:
        check_classifier(self.classifier)
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"threshold must be a probability in [0, 1], got {self.threshold!r}")
        if (
            isinstance(self.max_tries, bool)
            or not isinstance(self.max_tries, int)
            or (self.max_tries < 1)
        ):
            raise ValueError(f"max_tries must be a positive int, got {self.max_tries!r}")

    @torch.no_grad()
    def scores(self, samples: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """The probability of each sample's class (its top class with relabel) and the argmax."""
        device = module_device(self.classifier)
        logits = self.classifier(samples if device is None else samples.to(device))
        if not isinstance(logits, Tensor) or logits.shape[:1] != samples.shape[:1]:
            raise ValueError(
                f"classifier must return logits (B, K) for a batch of {len(samples)}, got "
                f"{getattr(logits, 'shape', type(logits).__name__)}"
            )
        probs = logits.float().softmax(dim=1).cpu()
        if not self.relabel and len(labels) and int(labels.max()) >= probs.shape[1]:
            raise ValueError(
                f"the classifier scores {probs.shape[1]} classes, but samples have label "
                f"{int(labels.max())}"
            )
        top, pred = probs.max(dim=1)
        return (top if self.relabel else probs.gather(1, labels[:, None]).squeeze(1)), pred

    def apply(
        self, samples: Tensor, labels: Tensor, retry: Callable[[list[int], int], Tensor]
    ) -> tuple[Tensor, Tensor]:
        """Filter a batch: ``retry(rows, t)`` draws try ``t`` of those rows."""
        score, pred = self.scores(samples, labels)
        labels = pred if self.relabel else labels.clone()
        for attempt in range(1, self.max_tries):
            todo = (score < self.threshold).nonzero().squeeze(1)
            if not len(todo):
                break
            new = retry(todo.tolist(), attempt)
            new_score, new_pred = self.scores(new, labels[todo])
            better = new_score > score[todo]
            rows = todo[better]
            samples[rows], score[rows] = new[better], new_score[better]
            if self.relabel:
                labels[rows] = new_pred[better]
        return samples, labels
