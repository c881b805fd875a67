"""Lay out (member, row) pairs as one grid that K stacked members compute in a batched pass.

A grid of ``m`` rows by ``kk`` columns holds in slot ``(j, c)`` a pair of the member of column
``c``; a column with fewer than ``m`` pairs leaves padding slots, computed and dropped. The
plain layout gives each member from the first to the last present one a column, ``m`` rows
deep (the largest count): its weights are a view of the stacked ones. It pads: about 1.7x the
rows for 64 random rows of 10 classes. Where gathering weights is allowed (inference), a
member with many pairs may get several shorter columns and an absent member none, at the cost
of copying the columns' weights; :func:`layout` picks the cheaper. In training the gathered
layout measured slower than the padding it saves (the weight copies and their backward, and
grouped convolutions of ever-changing group counts), so it is never used there.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor


def layout(counts: list[int], gather_cost: float | None) -> tuple[int, slice | list[int]]:
    """``(m, columns)``: rows per column, and the members' columns, either the view
    ``slice(lo, hi + 1)`` over the present members (one column each), or a column count per
    member (gathered); ``gather_cost`` (rows a gathered column costs, None: never gather)."""
    present = [k for k, n in enumerate(counts) if n]
    if not present:
        return 0, slice(0, 0)
    top, lo, hi = max(counts), present[0], present[-1]
    best: tuple[float, int, slice | list[int]] = ((hi - lo + 1) * top, top, slice(lo, hi + 1))
    if gather_cost is None or len(present) == 1:
        return best[1], best[2]
    for m in range(max(1, -(-sum(counts) // (2 * len(counts)))), top + 1):
        columns = [-(-n // m) for n in counts]
        cost = (m + gather_cost) * sum(columns)
        if cost < best[0]:
            best = (cost, m, columns)
    return best[1], best[2]


@dataclasses.dataclass
class Plan:
    """The grid that covers a set of pairs, and where each pair's result lands.

    ``columns``: the members of the ``kk`` columns, a ``slice`` of the stacked members (a
    view) or a tensor of member indices (gathered, a member may repeat); ``rows``: the input
    row of each of the ``m * kk`` slots (padding repeats row 0); ``pos[i]``: the slot of pair
    ``i`` (slot ``(j, c)`` is ``j * kk + c``).

    Example:
        >>> members = torch.tensor([1, 2, 2, 2, 2])
        >>> plan = Plan.of(members, torch.arange(5), k=4)
        >>> plan.columns, plan.m, plan.pos.tolist()  # members 1 and 2, four rows deep
        (slice(1, 3, None), 4, [0, 1, 3, 5, 7])
        >>> plan = Plan.of(members, torch.arange(5), k=4, gather_cost=0.0)
        >>> plan.columns, plan.m  # gathered: one column a pair
        (tensor([1, 2, 2, 2, 2]), 1)
    """

    columns: slice | Tensor
    rows: Tensor
    pos: Tensor
    m: int

    @property
    def width(self) -> int:
        """``kk``, the number of columns."""
        c = self.columns
        return c.stop - c.start if isinstance(c, slice) else len(c)

    @classmethod
    def of(cls, members: Tensor, rows: Tensor, k: int, gather_cost: float | None = None) -> Plan:
        """The plan for pairs ``(members[i], rows[i])`` over ``k`` members (``members`` in
        ``[0, k)``); each member's pairs keep their order down its columns."""
        device = members.device
        counts = torch.bincount(members, minlength=k)
        order = torch.argsort(members, stable=True)
        starts = torch.cumsum(counts, 0) - counts
        rank = torch.empty_like(members)
        rank[order] = torch.arange(len(members), device=device) - starts[members[order]]
        m, columns = layout(counts.tolist(), gather_cost)
        if isinstance(columns, slice):
            kk, pos = columns.stop - columns.start, rank * (columns.stop - columns.start)
            pos += members - columns.start
        else:
            per = torch.tensor(columns, device=device)
            kk, first = sum(columns), torch.cumsum(per, 0) - per
            pos = (rank % m) * kk + first[members] + rank // m
            columns = torch.repeat_interleave(torch.arange(k, device=device), per)
        slot_rows = rows.new_zeros(m * kk)
        slot_rows[pos] = rows
        return cls(columns, slot_rows, pos, m)
