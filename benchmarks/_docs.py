"""What the bench scripts share: their common flags, Markdown tables, CSV rows, and their docs
sections.

Each script parses ``bench_args(...)`` with ``parse`` (which sets torch's threads), builds its
tables with ``markdown_table`` and hands its text to ``publish``, which prints it and, with
``--write``, replaces the script's own section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import platform
import re
import shlex
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from learned_aug.precision import cpu_model

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\nEach section is written by the script named in it; "
    "ratios are measured in one run.\n"
)
RULES = {"l": "---", "r": "---:", "c": ":---:"}


def bench_args(
    description: str,
    *,
    threads: int | None = 1,
    rounds: int | None = None,
    batch_size: int | None = None,
    write: bool = True,
) -> argparse.ArgumentParser:
    """A parser with the flags the bench scripts share; the script adds its own to it.

    Args:
        description: the script's docstring (or its first line).
        threads: the default of ``--threads`` (torch's threads; ``parse`` sets them); ``None``
            leaves torch's own default (one thread per core).
        rounds: the default of ``--rounds`` (timed rounds, best kept); ``None``: no such flag.
        batch_size: the default of ``--batch-size``; ``None``: no such flag.
        write: add ``--write`` (update the script's section of docs/benchmarks.md).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--threads",
        type=int,
        default=threads,
        help=f"torch threads (default: {threads or 'one per core'})",
    )
    if rounds is not None:
        parser.add_argument("--rounds", type=int, default=rounds, help="timed rounds, best kept")
    if batch_size is not None:
        parser.add_argument("--batch-size", type=int, default=batch_size)
    if write:
        parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line and set torch's threads to ``--threads`` where it is given."""
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    return args


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str = "") -> str:
    """A Markdown table; ``align`` has a letter per column, ``l``, ``r`` or ``c`` (default: left).

    >>> print(markdown_table(["size", "mean"], [[50, "+1.20"]], align="rr"))
    | size | mean |
    | ---: | ---: |
    | 50 | +1.20 |
    """
    align = align or "l" * len(header)
    if len(align) != len(header) or set(align) - set(RULES):
        raise ValueError(
            f"align must have one of l, r, c for each of the {len(header)} columns, got {align!r}"
        )
    lines = [_row(header), _row(RULES[a] for a in align)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row has {len(row)} cells for {len(header)} columns: {row!r}")
        lines.append(_row(row))
    return "\n".join(lines)


def _row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(map(str, cells)) + " |"


def write_section(title: str, body: str, command: str) -> None:
    """Replace (or append) the ``## title`` section of docs/benchmarks.md."""
    text = DOC.read_text() if DOC.exists() else HEADER
    machine = (
        f"{cpu_model()} ({platform.machine()}), {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}"
    )
    section = (
        f"## {title}\n\nReproduce: `python {command}`  \nMachine: {machine}\n\n{body.strip()}\n"
    )
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = (
        pattern.sub(section + "\n", text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section
    )
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)


def publish(text: str, title: str, write: bool) -> None:
    """Print ``text``; with ``write``, make it the ``## title`` section of docs/benchmarks.md,
    reproduced by this script's command line."""
    print(text)
    if write:
        command = f"benchmarks/{Path(sys.argv[0]).name} {shlex.join(sys.argv[1:])}"
        write_section(title, text, command.strip())


def read_rows(path: Path) -> list[dict]:
    """The rows of the CSV at ``path`` as dicts of strings; none where it does not exist."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path: Path, rows: Sequence[dict]) -> None:
    """Write ``rows`` (dicts with the same keys, in order) to the CSV at ``path``."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
