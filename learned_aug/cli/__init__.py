"""The ``learned-aug`` command line: fit | sample | info | evaluate | push.

``arguments`` defines every command's arguments from the torch-free ``names``; ``commands``
registers the commands and parses; ``fit``, ``sample``, ``info``, ``evaluate`` and ``push`` are
their runners, which turn parsed arguments into calls of the library and are imported only when
their command runs.
"""

from learned_aug.cli.commands import COMMANDS, Command, build_parser, main

__all__ = ["COMMANDS", "Command", "build_parser", "main"]
