"""The column schema of tabular data: what a tabular generator needs to know of each feature."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("continuous", "categorical")
MISSING = frozenset({"", "nan", "na", "n/a", "null", "none", "?"})
"""Cell texts read as a missing value (PROBEN1 marks them with ``?``), compared lower-case."""


@dataclass(frozen=True)
class Column:
    """One feature column of a table.

    Args:
        name: the column's header.
        kind: ``"continuous"`` (a number) or ``"categorical"`` (one of ``categories``).
        categories: the category names in code order (categorical columns only).

    Example:
        >>> Column("colour", "categorical", ("blue", "red")).code("red")
        1
    """

    name: str
    kind: str = "continuous"
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"column {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}"
            )
        object.__setattr__(self, "categories", tuple(str(c) for c in self.categories))
        if self.kind == "categorical" and not self.categories:
            raise ValueError(f"categorical column {self.name!r} needs at least one category")

    def code(self, value: str, line: int | None = None) -> int:
        """The code of category ``value``; a ValueError for a category the schema lacks."""
        try:
            return self.categories.index(value)
        except ValueError:
            where = f" on line {line}" if line is not None else ""
            raise ValueError(
                f"column {self.name!r} has the unseen category {value!r}{where}; known "
                f"categories: {list(self.categories)}"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "categorical":
            out["categories"] = list(self.categories)
        return out

    @classmethod
    def from_dict(cls, data: Column | dict[str, Any]) -> Column:
        if isinstance(data, Column):
            return data
        if not isinstance(data, dict) or "name" not in data:
            raise TypeError(f"a column must be a Column or a dict with a 'name', got {data!r}")
        return cls(str(data["name"]), data.get("kind", "continuous"), data.get("categories", ()))
