"""Build hook: the wheel carries the top-level ``pretrained/`` as ``learned_aug/pretrained/``.

Everything else about the package is declared in pyproject.toml. The bundled generators live at
the top of the repository, as released to the Hub; copying them into the built package lets an
installed wheel load them by name without a download (``learned_aug.bundled`` looks there
first). An editable install copies nothing: it reads the checkout's ``pretrained/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PRETRAINED = Path(__file__).resolve().parent / "pretrained"


class BuildWithPretrained(build_py):
    """``build_py`` that also copies ``pretrained/<name>/*`` into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "learned_aug" / "pretrained"
        if target.exists():
            shutil.rmtree(target)  # a stale build must not ship a generator that was removed
        shutil.copytree(PRETRAINED, target, ignore=shutil.ignore_patterns(".*", "__pycache__"))


setup(cmdclass={"build_py": BuildWithPretrained})
