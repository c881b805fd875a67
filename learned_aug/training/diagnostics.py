"""What tells a useful generator from one that learned nothing, measured at the end of ``fit``.

Three figures, each with a plain-words warning when it is bad:

- **active latent units** (Burda et al. 2016): latent dimensions whose posterior mean varies
  across the data (variance > 0.01). None active: the posterior collapsed, every image decodes
  to the same blur. The KL per dimension is reported beside it.
- **class consistency**: a logistic regression fitted on the real training images names the
  class of samples drawn for each class, against its accuracy on held-out real images. Near
  chance: the samples carry no class, and a classifier trained on them learns noise. For an
  unconditional generator whose samples start from the codes of labelled real examples (its
  latent bank), the class is that example's: ``SyntheticDataset`` hands it out as the label only
  where this accuracy reaches ``learned_aug.synthetic.trust.LABEL_TRUST``'s bar.
- **Classification Accuracy Score** (Ravuri & Vinyals 2019): the same logistic regression
  trained on the samples alone, scored on the held-out real images, beside its score when
  trained on the real training images (``classifier_accuracy_real_val``). A CAS at or above
  that means the samples teach a classifier as much as the images they came from; it needs
  no downloaded weights. (At the end of ``fit`` the held-out images are ones the generator
  saw, so both numbers flatter it; ``learned-aug evaluate`` measures on images it never saw.)
- **copy distance**: how far each sample lies from its nearest training image, relative to how
  far training images lie from each other. Near zero: the generator copies its training set.

``fit`` writes them to ``quality.json`` in the run folder, the model card shows them, and
``learned-aug info`` prints them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.distributions import Distribution

from learned_aug.data import LabelledData, stratified_split
from learned_aug.models import Generator
from learned_aug.strategies import dataset_strategy
from learned_aug.synthetic.labels import label_source
from learned_aug.synthetic.trust import label_bar

ACTIVE_VARIANCE = 0.01
"""A latent unit is active when its posterior mean varies more than this across the data."""
CHANCE_FACTOR = 1.5
"""Samples "carry no class" when the classifier names their class at most this times chance."""
COPY_RATIO = 0.1
"""Samples "copy the training set" when their nearest-image distance is below this fraction of
the training images' own nearest-neighbour distance."""


class GeneratorWarning(UserWarning):
    """A trained generator that is unlikely to help: collapsed, classless or copying."""


@torch.no_grad()
def latent_activity(model: Generator, data: LabelledData, batch: int = 256) -> dict[str, Any]:
    """Active units and mean KL per latent dimension over ``data`` (Gaussian latents only)."""
    means, kls = [], []
    for xb, yb in zip(data.x.split(batch), data.y.split(batch), strict=True):
        q = model.encode(xb.to(model.device), yb.to(model.device) if model.conditional else None)
        if not isinstance(q, Distribution):
            return {}
        mu, var = q.mean.flatten(1).float(), q.variance.flatten(1).float()
        means.append(mu.cpu())
        kls.append((0.5 * (mu.pow(2) + var - var.log() - 1)).cpu())
    mu, kl = torch.cat(means), torch.cat(kls)
    active = int((mu.var(0) > ACTIVE_VARIANCE).sum()) if len(mu) > 1 else 0
    return {
        "latent_dims": int(mu.shape[1]),
        "active_units": active,
        "kl_per_dim": [round(float(v), 4) for v in kl.mean(0)],
    }


def pixel_classifier(train: LabelledData, max_iter: int = 500) -> Any:
    """A logistic regression on the standardised, flattened pixels (or features) of ``train``,
    fitted: the classifier of the quality report and of the protocol's pixel floor."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter, random_state=0))
    return clf.fit(train.x.flatten(1).numpy(), train.y.numpy())


def class_consistency(data: LabelledData, samples: Tensor, labels: Tensor) -> dict[str, float]:
    """Accuracy of a classifier of the real images on held-out real images and on samples, and
    the Classification Accuracy Score: a classifier of the samples on held-out real images."""
    train_idx, val_idx = stratified_split(data.y, 0.2, seed=0)
    train, val = data.subset(train_idx), data.subset(val_idx)
    if len(val) == 0 or len(set(train.y.tolist())) < 2:
        return {}
    return classification_scores(train, val, samples, labels)


def classification_scores(
    train: LabelledData, test: LabelledData, samples: Tensor, labels: Tensor, limit: int = 2000
) -> dict[str, float]:
    """``classifier_accuracy_real_val`` (trained on ``train``, scored on ``test``),
    ``classifier_accuracy_samples`` (the same classifier on the samples) and ``cas`` (trained
    on the samples, scored on ``test``), with a standardised logistic regression on pixels.
    Only the first ``limit`` samples are used (a logistic regression on 20,000 samples of
    64x64 pixels and 40 classes takes minutes and gigabytes; ``SyntheticDataset``'s balanced
    labels make any prefix class-balanced).

    Example:
        >>> from learned_aug import load_dataset
        >>> data = load_dataset("digits")
        >>> train, test = data.subset(range(500)), data.subset(range(500, 800))
        >>> scores = classification_scores(train, test, train.x, train.y)
        >>> scores["cas"] == scores["classifier_accuracy_real_val"]  # samples = the images
        True
    """
    samples, labels = samples[:limit], labels[:limit]
    clf = pixel_classifier(train)
    x_test, y_test = test.x.flatten(1).numpy(), test.y.numpy()
    scores = {
        "classifier_accuracy_real_val": float(clf.score(x_test, y_test)),
        "classifier_accuracy_samples": float(clf.score(samples.flatten(1).numpy(), labels.numpy())),
    }
    if len(set(labels.tolist())) > 1:
        synthetic = LabelledData(samples.float().cpu(), labels.cpu(), list(train.classes))
        scores["cas"] = float(pixel_classifier(synthetic).score(x_test, y_test))
    return scores


def copy_distance(data: LabelledData, samples: Tensor, limit: int = 2000) -> dict[str, float]:
    """Median distance of samples to their nearest training image, over the median distance of
    training images to their nearest other training image."""
    real = data.x[:limit].flatten(1).float()
    if len(real) < 2 or len(samples) == 0:
        return {}
    own = torch.cdist(real, real).fill_diagonal_(float("inf")).amin(1).median()
    near = torch.cdist(samples[:limit].flatten(1).float(), real).amin(1).median()
    return {"copy_distance_ratio": float(near / own.clamp_min(1e-12))}


def warnings_for(report: dict[str, Any], num_classes: int) -> list[str]:
    """The plain-words warnings a report calls for."""
    found = []
    if report.get("latent_dims") and report.get("active_units") == 0:
        found.append(
            "the posterior collapsed: no latent dimension is used (every image encodes to the "
            "prior), so samples do not vary with the data; try a smaller beta, kl_warmup, or more "
            "data (augmented copies)"
        )
    chance = 1.0 / max(num_classes, 1)
    accuracy = report.get("classifier_accuracy_samples")
    if accuracy is not None and num_classes > 1 and accuracy <= CHANCE_FACTOR * chance:
        found.append(
            f"the samples carry no class: a classifier of the real images names their class "
            f"{accuracy:.0%} of the time (chance {chance:.0%}, real images "
            f"{report.get('classifier_accuracy_real_val', float('nan')):.0%}); they would teach "
            "a classifier noise. Train longer, on more data (augmented copies), or per class"
        )
    ratio = report.get("copy_distance_ratio")
    if ratio is not None and ratio < COPY_RATIO:
        found.append(
            f"the samples copy the training set: they lie {ratio:.2f}x as far from their nearest "
            "training image as training images lie from each other; use a sampler that moves "
            "further (a larger strength) or a generator with fewer parameters"
        )
    return found


def diagnose(
    model: Generator,
    data: LabelledData,
    draw: Callable[[Tensor], Tensor],
    *,
    per_class: int = 50,
    warn: bool = True,
) -> dict[str, Any]:
    """Measure ``model`` on its training ``data``; ``draw(labels)`` makes samples of the classes
    ``labels`` the way its default sampler does. Warns (:class:`GeneratorWarning`) in plain
    words for each problem found; the report lists them under ``"warnings"``.

    Example:
        >>> from learned_aug import VAE, VAEConfig, load_dataset
        >>> data = load_dataset("digits").subset(range(200))
        >>> vae = VAE(VAEConfig(image_size=(8, 8), latent_dim=2, classes=data.classes,
        ...                     conditional=True))
        >>> report = diagnose(vae, data, lambda y: vae.sample(len(y), y), warn=False)
        >>> sorted(report)[:4]
        ['active_units', 'cas', 'classifier_accuracy_real_val', 'classifier_accuracy_samples']
    """
    model.eval()
    report: dict[str, Any] = latent_activity(model, data)
    k = len(data.classes)
    labels = torch.arange(k).repeat_interleave(per_class)
    with torch.no_grad():
        samples = draw(labels).float().cpu()
    source = label_source(model, dataset_strategy(model))  # who names the samples' class
    if source is not None and k > 1:
        report.update(class_consistency(data, samples, labels))
    report.update(copy_distance(data, samples))
    report["warnings"] = warnings_for(report, k)
    bar = label_bar(report, k) if source == "bank" else None
    if bar is not None and bar[0] < bar[1]:
        report["warnings"].append(
            f"SyntheticDataset refuses the classes its samples inherit from the latent bank: "
            f"a classifier of the real images names them {bar[0]:.0%} of the time, below the "
            f"{bar[1]:.0%} it requires; train it class-conditional or per class, or let a "
            "classifier label the samples (ClassifierFilter(classifier, relabel=True), or "
            "soft labels: target_transform=Teacher(classifier))"
        )
    if warn:
        for message in report["warnings"]:
            warnings.warn(f"this generator is unlikely to help: {message}", GeneratorWarning, 3)
    return report
