"""Where the bundled generators live; torch-free, so the command line can list them at once.

The repository keeps each published generator in the top-level ``pretrained/`` folder, exactly
as released to the Hub. A wheel carries that folder inside the package as
``learned_aug/pretrained/`` (setup.py copies it at build time), so an installed package finds
its generators without a download; a source checkout or an editable install reads the
checkout's ``pretrained/`` directly.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).parent


def bundled_dir() -> Path:
    """The folder holding one subfolder per bundled generator.

    ``learned_aug/pretrained/`` inside an installed wheel, else the ``pretrained/`` folder
    beside the package (a source checkout or an editable install).

    Example:
        >>> (bundled_dir() / "mnist-vae" / "config.json").is_file()
        True
    """
    packaged = _PACKAGE / "pretrained"
    return packaged if packaged.is_dir() else _PACKAGE.parent / "pretrained"


PRETRAINED_DIR = bundled_dir()
"""The bundled generators' folder, found once at import."""
