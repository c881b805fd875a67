"""Real labelled data: the in-memory container, loaders, the CSV schema and the splits.

Everything ends up as a :class:`LabelledData`: float32 images ``(N, C, H, W)`` in ``[0, 1]``
(or raw tabular features ``(N, F)``), int64 labels and class names. :func:`load_dataset`
accepts a bundled dataset name, an ImageFolder directory, a CSV file, a torch ``Dataset``, a
tensor or an ``(x, y)`` pair; :func:`stratified_split` and :func:`balanced_subset` split the
result. Modules, bottom to top: ``labelled`` and ``schema`` (plain containers), ``images``,
``folder`` and ``tabular`` (readers), ``loaders`` (``load_dataset``) and ``unlabelled`` (the
unlabelled pool of ``fit``).
"""

from learned_aug.data.folder import load_image_folder, load_image_pool
from learned_aug.data.images import resize_batch
from learned_aug.data.labelled import (
    LabelledData,
    balanced_indices,
    balanced_subset,
    stratified_split,
)
from learned_aug.data.loaders import BUNDLED, load_dataset
from learned_aug.data.schema import Column
from learned_aug.data.tabular import TabularData, load_csv, write_csv
from learned_aug.data.unlabelled import load_unlabelled

__all__ = [
    "BUNDLED",
    "Column",
    "LabelledData",
    "TabularData",
    "balanced_indices",
    "balanced_subset",
    "load_csv",
    "load_dataset",
    "load_image_folder",
    "load_image_pool",
    "load_unlabelled",
    "resize_batch",
    "stratified_split",
    "write_csv",
]
