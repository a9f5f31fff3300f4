"""The layers of survey/ import only downwards, and no modules import each other in a circle.

domain < models < services < web, with cli, the factory and the demo on top: a table says
which layers each one must never import (anywhere in the module, deferred imports included),
and the modules' import-time imports must form no cycle, so any module can be imported first.
Relative imports are resolved (tests/imports.py) before they are judged.

Tests keep to the same discipline: no module of tests/ imports a test module (``test_*.py``);
what several test modules share lives in a helper module or a conftest.py beside them.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

from tests.imports import SURVEY, import_edges, imported_modules, survey_modules

TESTS = Path(__file__).parent
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


def dotted_name(path: Path) -> str:
    """Return the dotted name of a module file under tests/."""
    parts = ["tests", *path.relative_to(TESTS).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_test_modules(tree: ast.AST, importer: str, is_package: bool = False) -> set[str]:
    """Return the test modules (a ``test_*`` part in the dotted name) ``tree`` imports anywhere,
    relative imports resolved: ``from tests.web.test_flow import x`` is ``tests.web.test_flow``."""
    found = set()
    for name in imported_modules(tree, importer, is_package):
        parts = name.split(".")
        if parts[0] != "tests" and not parts[0].startswith("test_"):
            continue  # another package's module, never one of ours
        tests_at = [i for i, part in enumerate(parts) if part.startswith("test_")]
        if tests_at:
            found.add(".".join(parts[: tests_at[0] + 1]))
    return found


def test_no_test_module_imports_another() -> None:
    paths = sorted(TESTS.rglob("*.py"))
    assert TESTS / "web" / "test_flow.py" in paths
    bad = []
    for path in paths:
        importer = dotted_name(path)
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        for target in imported_test_modules(tree, importer, path.name == "__init__.py"):
            if target != importer:
                bad.append(f"{path.relative_to(TESTS)} imports {target}")
    assert bad == []


@pytest.mark.parametrize(
    ("importer", "source", "expected"),
    [
        (
            "tests.e2e.test_ballot",
            "from tests.e2e.test_employee import THANKS",
            {"tests.e2e.test_employee"},
        ),
        ("tests.e2e.test_ballot", "from .test_employee import THANKS", {"tests.e2e.test_employee"}),
        ("tests.e2e.test_ballot", "from . import test_employee", {"tests.e2e.test_employee"}),
        ("tests.e2e.test_ballot", "from ..web.test_flow import x", {"tests.web.test_flow"}),
        ("tests.web.test_surfaces", "import tests.web.test_flow", {"tests.web.test_flow"}),
        (
            "tests.test_config_sso",
            "def f():\n    from tests.test_config import X\n",
            {"tests.test_config"},
        ),
        ("tests.helpers", "from test_config import SAFE_PRODUCTION", {"test_config"}),
        ("tests.e2e.test_ballot", "from tests.e2e.survey_page import THANKS", set()),
        ("tests.e2e.test_ballot", "from tests import smtp\nfrom tests.smtp import Server", set()),
        ("tests.e2e.test_ballot", "from hypothesis import given", set()),
    ],
)
def test_test_imports_found(importer: str, source: str, expected: set[str]) -> None:
    assert imported_test_modules(ast.parse(source), importer) == expected
