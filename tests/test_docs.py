"""Every code block of README.md and docs/**/*.md runs.

Blocks of one page run in order, in one namespace and one fresh working directory, like a
reader following the page, offline (``HF_HUB_OFFLINE=1``). ``python`` blocks are executed;
``bash`` blocks run each ``learned-aug ...`` line through the CLI's ``main``, and any other
line fails the test. ``text`` / ``json`` / unlabelled blocks are output or layouts, not code.

Two markers, on the line before a block, relax this, and each marked block is listed in
``EXCEPTIONS`` below so that adding one is a visible decision:

- ``<!-- docs-test: skip (network: why) -->``: the block needs the network (pip, the Hub);
- ``<!-- docs-test: parse (why) -->``: a bash block too long to run in a test (hours of CPU);
  each ``learned-aug`` line is parsed by the CLI's argument parser instead, so its subcommand
  and every flag must exist.

README.md's bash blocks are parsed like ``parse`` blocks without a marker: they set up a
machine (venv, pip, pytest) and show commands on placeholder paths. Its python blocks run.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import huggingface_hub
import pytest

from learned_aug import MODELS, STRATEGIES
from learned_aug.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(p for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")] if p.is_file())
FENCE = re.compile(
    r"(?:<!-- docs-test: (?P<mode>skip|parse) \((?P<why>[^)]*)\) -->\n)?"
    r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<code>.*?)^```\s*$",
    re.S | re.M,
)
RUNNABLE = {"python", "bash"}
DISPLAY = {"", "text", "json"}
# (page, mode, first line) of every marked block.
EXCEPTIONS = {
    ("docs/index.md", "skip", "pip install learned-aug               # the library"),
    ("docs/guide/hub.md", "skip", "learned-aug push runs/digits me/digits-vae --private"),
    ("docs/guide/hub.md", "skip", 'generator.push_to_hub("me/digits-vae")  # needs a token'),
    ("docs/guide/evaluation.md", "parse", "learned-aug evaluate --data mnist-5k --out runs/eval"),
    (
        "docs/guide/evaluation.md",
        "parse",
        "learned-aug evaluate --data path/to/imagefolder --quick --train-size 100 --out runs/quick",
    ),
}


def blocks(page: Path) -> list[tuple[str, str, str | None, str | None]]:
    """(language, code, marker mode, marker reason) of each fenced block of ``page``."""
    text = page.read_text(encoding="utf-8")
    return [(m["lang"], m["code"], m["mode"], m["why"]) for m in FENCE.finditer(text)]


def run_bash(code: str, *, parse_only: bool) -> None:
    for line in code.splitlines():
        args = shlex.split(line, comments=True)
        if not args:
            continue
        if parse_only:
            if args[0] == "learned-aug":
                build_parser().parse_args(args[1:])  # exits (fails the test) on a bad flag
            continue
        assert args[0] == "learned-aug", f"a bash block may only run learned-aug, got {line!r}"
        assert main(args[1:]) == 0, f"{line!r} failed"


def test_the_pages_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    assert {"docs/index.md", "docs/guide/concepts.md", "docs/guide/hub.md"} <= names


def test_every_exception_is_listed_and_justified():
    marked = [
        (page.relative_to(ROOT).as_posix(), mode, code.splitlines()[0], lang, why)
        for page in PAGES
        for lang, code, mode, why in blocks(page)
        if mode is not None
    ]
    assert {m[:3] for m in marked} == EXCEPTIONS
    for _, mode, _, lang, why in marked:
        assert mode == "parse" or why.startswith("network"), why
        assert mode == "skip" or lang == "bash", "only bash blocks can be parse-only"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_code_block_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Offline, as everywhere here: a Hub lookup fails at once instead of retrying.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    unknown = [lang for lang, *_ in blocks(page) if lang not in RUNNABLE | DISPLAY]
    assert not unknown, f"blocks of languages {unknown}: mark them python, bash or text"
    registries = [(r, dict(r)) for r in (STRATEGIES, MODELS)]
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    try:
        for lang, code, mode, _ in blocks(page):
            if mode == "skip" or lang in DISPLAY:
                continue
            if lang == "python":
                exec(compile(code, f"{page.name} block", "exec"), namespace)
            else:
                run_bash(code, parse_only=mode == "parse" or page.name == "README.md")
    finally:  # a page may register strategies or models: keep pages independent
        for registry, saved in registries:
            registry.clear()
            registry.update(saved)


def test_the_readme_states_only_what_the_results_page_measures():
    """Every decimal number of the README's findings (its paragraphs from "What it measured" to
    "So today") is on docs/results.md, which is rebuilt from the CSVs; the one number quoted
    from before the yardstick changed is named as the earlier headline."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    findings = readme[readme.index("**What it measured**") : readme.index("So today:")]
    findings = re.sub(r"The earlier headline \([^)]*\)", "", findings)
    page = set(re.findall(r"\d+\.\d+", (ROOT / "docs" / "results.md").read_text("utf-8")))
    stated = set(re.findall(r"\d+\.\d+", findings))
    assert len(stated) > 10 and stated <= page, sorted(stated - page)
