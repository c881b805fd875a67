"""Every code block of README.md and docs/**/*.md runs.

Blocks of one page run in order, in one namespace and one fresh working directory, like a
reader following the page. ``python`` blocks are executed; ``bash`` blocks run each
``learned-aug ...`` line through the CLI's ``main`` (and any other line fails the test). A block
opts out only with the marker ``<!-- docs-test: skip (network: why) -->`` on the line before
it, for what needs the network; every such block is listed in ``NETWORK_ONLY`` below, so that
adding one is a visible decision.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from learned_aug import MODELS, STRATEGIES
from learned_aug.cli import main

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(p for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")] if p.is_file())
FENCE = re.compile(
    r"(?P<marker><!-- docs-test: skip \((?P<why>[^)]*)\) -->\n)?"
    r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<code>.*?)^```\s*$",
    re.S | re.M,
)
RUNNABLE = {"python", "bash"}
DISPLAY = {"text", "json"}  # output shown to the reader, not code
# (page, first line) of each block that needs the network, with the reason in its marker.
NETWORK_ONLY = {
    ("docs/index.md", "pip install learned-aug               # the library"),
    ("docs/guide/hub.md", "learned-aug push runs/digits-vae me/digits-vae --private"),
    ("docs/guide/hub.md", 'generator.push_to_hub("me/digits-vae")  # needs a token'),
}


def blocks(page: Path) -> list[tuple[str, str, str | None]]:
    """(language, code, skip reason) of each fenced block of ``page``."""
    return [(m["lang"], m["code"], m["why"]) for m in FENCE.finditer(page.read_text())]


def run_bash(code: str) -> None:
    for line in code.splitlines():
        args = shlex.split(line, comments=True)
        if not args:
            continue
        assert args[0] == "learned-aug", f"a bash block may only run learned-aug, got {line!r}"
        assert main(args[1:]) == 0, f"{line!r} failed"


def test_the_pages_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    assert {"docs/index.md", "docs/guide/concepts.md", "docs/guide/hub.md"} <= names


def test_only_network_blocks_opt_out():
    skipped = {
        (page.relative_to(ROOT).as_posix(), code.splitlines()[0])
        for page in PAGES
        for _, code, why in blocks(page)
        if why is not None
    }
    assert skipped == NETWORK_ONLY
    reasons = [why for page in PAGES for _, _, why in blocks(page) if why is not None]
    assert all(why.startswith("network") for why in reasons), reasons


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_code_block_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    unknown = [lang for lang, _, _ in blocks(page) if lang not in RUNNABLE | DISPLAY]
    assert not unknown, f"blocks of languages {unknown}: mark them python, bash or text"
    registries = {id(r): (r, dict(r)) for r in (STRATEGIES, MODELS)}
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    try:
        for lang, code, why in blocks(page):
            if why is not None or lang in DISPLAY:
                continue
            if lang == "python":
                exec(compile(code, f"{page.name} block", "exec"), namespace)
            else:
                run_bash(code)
    finally:  # a page may register strategies or models: keep pages independent
        for registry, saved in registries.values():
            registry.clear()
            registry.update(saved)
