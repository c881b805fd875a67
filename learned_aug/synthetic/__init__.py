"""Synthetic samples as a dataset: ``SyntheticDataset`` (``dataset``), how item ``i`` is drawn
and labelled (``items``), the classifier that filters or labels samples (``filter``), and
writing them out as an ImageFolder or a CSV (``export``), and mixing them with real examples
at a fixed share of every batch (``mix``), and a teacher's soft labels for them (``teacher``)."""

from learned_aug.synthetic.dataset import SyntheticDataset
from learned_aug.synthetic.export import to_csv, to_folder
from learned_aug.synthetic.filter import ClassifierFilter
from learned_aug.synthetic.labels import UNLABELLED
from learned_aug.synthetic.mix import MixSampler
from learned_aug.synthetic.teacher import OneHot, Teacher
from learned_aug.synthetic.trust import UncheckedLabelsWarning

__all__ = [
    "UNLABELLED",
    "ClassifierFilter",
    "MixSampler",
    "OneHot",
    "SyntheticDataset",
    "Teacher",
    "UncheckedLabelsWarning",
    "to_csv",
    "to_folder",
]
