"""What a module of ``survey`` imports, read with ``ast``: relative imports resolved.

The layering tests judge these names (tests/domain/test_purity.py, tests/test_layering.py), so
``from ..models import Round`` counts as ``survey.models`` wherever it is written, a package's
``__init__.py`` resolves ``.`` to the package itself, and a call of ``importlib.import_module``
or ``__import__`` with a written name counts as an import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import survey

SURVEY = Path(survey.__file__).parent


def module_name(path: Path) -> str:
    """Return the dotted name of a module file under survey/."""
    parts = ["survey", *path.relative_to(SURVEY).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def survey_modules() -> dict[str, Path]:
    """Return every module of survey/ by dotted name (migrations, which alembic loads by path,
    are left out)."""
    return {
        module_name(path): path
        for path in sorted(SURVEY.rglob("*.py"))
        if "migrations" not in path.relative_to(SURVEY).parts
    }


def resolve(module: str | None, level: int, importer: str, is_package: bool = False) -> str:
    """Return the absolute module a (possibly relative) ``from`` import names.

    :param importer: the dotted name of the importing module.
    :param is_package: whether the importer is a package's ``__init__.py``, for which ``.`` is
        the package itself rather than its parent.
    """
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, module] if module else base)


def _import_nodes(tree: ast.AST, *, at_import: bool) -> Iterator[ast.AST]:
    """Yield the import statements and calls of ``tree``; with ``at_import``, only those that
    run when the module is imported (not in function bodies, not under ``if TYPE_CHECKING``)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if at_import and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if at_import and isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom | ast.Call):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _dynamic_import(call: ast.Call) -> str | None:
    """Return the module a call of ``importlib.import_module("x")`` or ``__import__("x")``
    names, or None for any other call."""
    func = call.func
    named = (isinstance(func, ast.Name) and func.id in ("__import__", "import_module")) or (
        isinstance(func, ast.Attribute) and func.attr == "import_module"
    )
    if not named or not call.args:
        return None
    first = call.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def imported_modules(
    tree: ast.AST, importer: str = "survey.domain.x", is_package: bool = False
) -> list[str]:
    """Return every module imported anywhere in ``tree`` (also inside functions), absolute,
    including each name of ``from PKG import name`` as ``PKG.name`` (it may be a module)."""
    names = []
    for node in _import_nodes(tree, at_import=False):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve(node.module, node.level, importer, is_package)
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and (name := _dynamic_import(node)):
            names.append(name)
    return names


def import_edges(
    tree: ast.AST, importer: str, is_package: bool, known: set[str], *, at_import: bool
) -> set[str]:
    """Return the modules of ``known`` that ``importer`` needs loaded when it imports them.

    ``from PKG import sub`` needs the submodule ``PKG.sub`` when there is one (the package is
    already being imported then), else ``PKG`` itself, for a name it defines.
    """
    needed: set[str] = set()
    for node in _import_nodes(tree, at_import=at_import):
        if isinstance(node, ast.Import):
            needed.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve(node.module, node.level, importer, is_package)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                needed.add(sub if sub in known else base)
        elif isinstance(node, ast.Call) and (name := _dynamic_import(node)):
            needed.add(name)
    return {name for name in needed if name in known and name != importer}
