"""The layers of survey/ import only downwards, and no modules import each other in a circle.

domain < models < services < web, with cli, the factory and the demo on top: a table says
which layers each one must never import (anywhere in the module, deferred imports included),
and the modules' import-time imports must form no cycle, so any module can be imported first.
Relative imports are resolved (tests/imports.py) before they are judged.
"""

from __future__ import annotations

import ast
import functools

import pytest

from tests.imports import SURVEY, import_edges, survey_modules

MODULES = survey_modules()
KNOWN = set(MODULES)
# Layer -> the layers it must never import. The domain imports nothing of survey/ but itself.
NEVER = {
    "survey.domain": tuple(
        sorted({name.split(".")[1] for name in KNOWN if name.count(".")} - {"domain"})
    ),
    "survey.models": ("db", "services", "web", "cli", "demo", "wsgi", "survey"),
    "survey.db": ("services", "web", "cli", "demo", "wsgi", "survey"),
    "survey.services": ("web", "cli", "demo", "wsgi", "survey"),
    "survey.web": ("cli", "demo", "wsgi"),
}


def layer_of(module: str) -> str:
    """Return ``survey.<first part>`` for a module of survey/, ``survey`` for the factory."""
    parts = module.split(".")
    return ".".join(parts[:2])


def in_layer(module: str, name: str) -> bool:
    """Return whether ``module`` is in the layer ``survey.<name>`` (``survey``: the factory)."""
    if name == "survey":
        return module == "survey"
    return module == f"survey.{name}" or module.startswith(f"survey.{name}.")


@functools.cache
def edges(*, at_import: bool) -> dict[str, set[str]]:
    """Return, for every module, the modules of survey/ it imports (read once per run)."""
    graph = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        package = path.name == "__init__.py"
        graph[name] = import_edges(tree, name, package, KNOWN, at_import=at_import)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_modules_found() -> None:
    assert {"survey", "survey.models", "survey.domain.roster", "survey.web.auth"} <= KNOWN
    assert all(path.is_relative_to(SURVEY) for path in MODULES.values())


@pytest.mark.parametrize("layer", sorted(NEVER))
def test_layer_imports_only_downwards(layer: str) -> None:
    graph = edges(at_import=False)
    bad = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if layer_of(module) == layer
        for target in targets
        if any(in_layer(target, name) for name in NEVER[layer])
    )
    assert bad == []


def test_no_import_cycle() -> None:
    assert cycles(edges(at_import=True)) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"a"}}, [["a"]]),
    ],
)
def test_cycle_finder_itself(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


@pytest.mark.parametrize(
    ("importer", "package", "source", "expected"),
    [
        ("survey.services.rounds", False, "from ..models import Round", {"survey.models"}),
        ("survey.services.rounds", False, "from .. import db", {"survey.db"}),
        ("survey.services.rounds", False, "from . import banks", {"survey.services.banks"}),
        ("survey.models", True, "from .base import Base", {"survey.models.base"}),
        ("survey.models", True, "from ..domain.access import Role", {"survey.domain.access"}),
        ("survey.cli.rounds", False, "def f():\n    from ..web import auth\n", set()),
        ("survey.cli.rounds", False, "if TYPE_CHECKING:\n    from ..web import auth\n", set()),
        (
            "survey.cli.rounds",
            False,
            "import importlib\nimportlib.import_module('survey.db')",
            {"survey.db"},
        ),
    ],
)
def test_edges_at_import(importer: str, package: bool, source: str, expected: set[str]) -> None:
    found = import_edges(ast.parse(source), importer, package, KNOWN, at_import=True)
    assert found == expected
