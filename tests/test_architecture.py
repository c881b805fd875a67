"""The package's import graph: no cycles (imports inside functions included), and every module
sits in a layer of the import-linter contract, so none escapes it (docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("learned_aug", cache_dir=None)


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(edges):
        if start in state:
            continue
        path, stack = [start], [iter(sorted(edges[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(edges.get(nxt, ()))))
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_inside_the_package(graph):
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    edges = {m: {t for t in targets if t.startswith("learned_aug")} for m, targets in edges.items()}
    assert _cycle(edges) is None


def test_every_module_is_in_a_layer_of_the_contract(graph):
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    named = {part.strip() for layer in layers for part in layer.replace(":", "|").split("|")}
    top = {m.split(".")[1] for m in graph.modules if m.count(".") >= 1}
    assert {f"learned_aug.{t}" for t in top} <= named
