"""Kept for old imports: tabular data now lives in :mod:`learned_aug.data.tabular` (reading and
writing CSV files) and :mod:`learned_aug.data.schema` (``Column``)."""

from learned_aug.data.schema import KINDS, MISSING, Column
from learned_aug.data.tabular import TabularData, load_csv, write_csv

__all__ = ["KINDS", "MISSING", "Column", "TabularData", "load_csv", "write_csv"]
