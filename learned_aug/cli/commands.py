"""The ``learned-aug`` commands (registered in ``COMMANDS``), their parser and ``main``.

A command is its help line, the function that adds its arguments (``cli.arguments``, torch-free)
and the module whose ``run(args)`` does its work. That module imports torch, so it is imported
only when its command runs: ``learned-aug --help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from learned_aug.cli import arguments


@dataclass(frozen=True)
class Command:
    """One subcommand.

    Args:
        help: its one-line description (``learned-aug --help``).
        add_arguments: adds its arguments to its parser.
        runner: the module whose ``run(args) -> int`` does the work, imported when it runs.
    """

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    runner: str


COMMANDS: dict[str, Command] = {
    "fit": Command(
        "train a generator on an ImageFolder or a bundled dataset",
        arguments.fit_args,
        "learned_aug.cli.fit",
    ),
    "sample": Command(
        "write generated samples as an ImageFolder of PNGs",
        arguments.sample_args,
        "learned_aug.cli.sample",
    ),
    "info": Command("describe a generator checkpoint", arguments.info_args, "learned_aug.cli.info"),
    "evaluate": Command(
        "does learned augmentation help? F1 over training sizes and seeds",
        arguments.evaluate_args,
        "learned_aug.cli.evaluate",
    ),
    "push": Command(
        "upload a generator to the Hugging Face Hub (safetensors + model card)",
        arguments.push_args,
        "learned_aug.cli.push",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command (imports no torch)."""
    parser = argparse.ArgumentParser(
        prog="learned-aug",
        description="Learned data augmentation: train generators on a small labelled dataset, "
        "sample from them, evaluate whether they help a classifier.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        command.add_arguments(sub.add_parser(name, help=command.help, description=command.help))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``learned-aug`` console script; the exit status.

    A user error (a bad value, a missing file, a failed run) is printed in one line, status 2.
    """
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for relaunching (fit --nproc)
    try:
        return importlib.import_module(COMMANDS[args.command].runner).run(args)
    except (ValueError, TypeError, OSError, RuntimeError) as err:
        if getattr(args, "debug", False):
            raise
        print(f"learned-aug {args.command}: error: {err}", file=sys.stderr)
        return 2
