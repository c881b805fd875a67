"""Tabular data from CSV files: numeric feature vectors with a column schema and a label column.

A CSV becomes a :class:`TabularData`: ``x`` is ``(N, F)`` float32 with continuous columns as
numbers and categorical columns as category codes ``0 .. K-1`` (stored as floats), ``y`` the
labels, ``columns`` the schema (name, kind, categories) a ``tabular-vae`` needs to one-hot its
categorical inputs and take the argmax of its outputs. Missing values and categories the schema
does not know are refused with an error naming the column and the line.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from learned_aug.data.labelled import LabelledData
from learned_aug.data.schema import MISSING, Column


@dataclass(eq=False, repr=False)
class TabularData(LabelledData):
    """``LabelledData`` of feature vectors ``(N, F)`` with the schema of its columns.

    Example:
        >>> import torch
        >>> data = TabularData(torch.zeros(2, 1), torch.tensor([0, 1]), ["a", "b"], (Column("f"),))
        >>> data.columns[0].kind
        'continuous'
    """

    columns: tuple[Column, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.x.dim() != 2:
            raise ValueError(f"tabular x must be (N, F), got shape {tuple(self.x.shape)}")
        self.columns = tuple(Column.from_dict(c) for c in self.columns) or tuple(
            Column(f"x{i}") for i in range(self.x.shape[1])
        )
        if len(self.columns) != self.x.shape[1]:
            raise ValueError(
                f"columns describe {len(self.columns)} features, but x has {self.x.shape[1]}"
            )

    def subset(self, indices: Tensor | Sequence[int]) -> TabularData:
        part = super().subset(indices)
        return TabularData(part.x, part.y, part.classes, self.columns)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _sorted(values: set[str]) -> list[str]:
    """Numbers in numeric order ('2' before '10'), else text order."""
    if all(_number(v) is not None for v in values):
        return sorted(values, key=lambda v: float(v))
    return sorted(values)


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [row for row in csv.reader(f) if row and any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise ValueError(f"{path} needs a header line and at least one data line")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise ValueError(f"{path} has duplicate column names in its header: {header}")
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(
                f"{path} line {line} has {len(row)} cells, but the header has {len(header)}"
            )
    return header, [[cell.strip() for cell in row] for row in rows[1:]]


def _infer_column(name: str, cells: list[str], categorical: set[str]) -> Column:
    if name in categorical or any(_number(c) is None for c in cells):
        return Column(name, "categorical", tuple(_sorted(set(cells))))
    return Column(name, "continuous")


def _encode(column: Column, cells: list[str], path: Path) -> list[float]:
    out = []
    for line, cell in enumerate(cells, start=2):
        if cell.lower() in MISSING:
            raise ValueError(
                f"{path} line {line}: column {column.name!r} has a missing value ({cell!r}); "
                "fill or drop missing values first (the tabular VAE takes complete rows)"
            )
        if column.kind == "categorical":
            out.append(float(column.code(cell, line)))
            continue
        value = _number(cell)
        if value is None:
            raise ValueError(
                f"{path} line {line}: continuous column {column.name!r} has {cell!r}, "
                "not a finite number"
            )
        out.append(value)
    return out


def load_csv(
    path: str | os.PathLike[str],
    *,
    label_column: str | None = None,
    categorical: Sequence[str] = (),
    columns: Sequence[Column | dict[str, Any]] | None = None,
    classes: Sequence[str] | None = None,
) -> TabularData:
    """Read a CSV with a header line into :class:`TabularData`.

    Args:
        path: the CSV file.
        label_column: the column holding the class labels (default: the last column).
        categorical: columns to treat as categorical even when they hold numbers; columns
            with any non-numeric cell are categorical anyway.
        columns: a known schema (e.g. a trained model's ``config.columns``): the feature
            columns are read with it, and a category it lacks is an error.
        classes: known class names (e.g. ``model.classes``): a label outside them is an error.

    Raises:
        ValueError: a missing value, an unseen category or class, a non-numeric cell in a
            continuous column, an unknown label column, or a malformed file.

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = f.write_text("size,colour,label\\n1.5,red,a\\n2.0,blue,b\\n")
        >>> data = load_csv(f, label_column="label")
        >>> data.x.tolist(), [c.kind for c in data.columns], data.classes
        ([[1.5, 1.0], [2.0, 0.0]], ['continuous', 'categorical'], ['a', 'b'])
    """
    path = Path(path)
    header, rows = _read_rows(path)
    label_column = header[-1] if label_column is None else label_column
    if label_column not in header:
        raise ValueError(f"label_column={label_column!r} is not a column of {path}: {header}")
    cells = {name: [row[i] for row in rows] for i, name in enumerate(header)}
    labels = cells.pop(label_column)
    if columns is None:
        unknown = sorted(set(categorical) - set(cells))
        if unknown:
            raise ValueError(f"categorical={unknown} are not feature columns of {path}")
        schema = tuple(_infer_column(n, c, set(categorical)) for n, c in cells.items())
    else:
        schema = tuple(Column.from_dict(c) for c in columns)
        missing = [c.name for c in schema if c.name not in cells]
        if missing:
            raise ValueError(f"{path} lacks the schema's columns {missing}; it has {list(cells)}")
    x = torch.tensor([_encode(c, cells[c.name], path) for c in schema], dtype=torch.float32)
    label_col = Column(label_column, "categorical", tuple(classes or _sorted(set(labels))))
    y = torch.tensor([label_col.code(v, line) for line, v in enumerate(labels, start=2)])
    return TabularData(x.t().contiguous(), y, list(label_col.categories), schema)


def write_csv(
    path: str | os.PathLike[str],
    x: Tensor,
    labels: Tensor | Sequence[int],
    columns: Sequence[Column | dict[str, Any]],
    classes: Sequence[str],
    *,
    label_column: str = "label",
) -> Path:
    """Write feature rows (e.g. samples of a tabular VAE) as a CSV, categories by name."""
    schema = [Column.from_dict(c) for c in columns]
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([c.name for c in schema] + [label_column])
        for row, label in zip(x.tolist(), torch.as_tensor(labels).tolist(), strict=True):
            cells = [
                c.categories[round(v)] if c.kind == "categorical" else repr(float(v))
                for c, v in zip(schema, row, strict=True)
            ]
            writer.writerow([*cells, classes[int(label)]])
    return path
