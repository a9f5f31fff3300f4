"""The domain is pure: no module under survey/domain imports the web or database layers,
directly or through a relative import (``from ..models import X`` is resolved, then judged)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import survey.domain

FORBIDDEN = ("flask", "flask_wtf", "wtforms", "sqlalchemy", "werkzeug", "alembic")
# Candor's own layers above the domain.
FORBIDDEN_OWN = ("survey.models", "survey.db", "survey.web", "survey.services", "survey.cli")
DOMAIN = Path(survey.domain.__file__).parent
MODULES = sorted(DOMAIN.rglob("*.py"))


def module_name(path: Path) -> str:
    """Return the dotted name of a module file under survey/domain."""
    parts = ["survey", "domain", *path.relative_to(DOMAIN).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(module: str | None, level: int, importer: str, is_package: bool = False) -> str:
    """Return the absolute module a (possibly relative) ``from`` import names."""
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, module] if module else base)


def imported_modules(tree: ast.AST, importer: str = "survey.domain.x") -> list[str]:
    """Return every module imported anywhere in ``tree`` (also inside functions), absolute,
    including each name of ``from PKG import name`` as ``PKG.name`` (it may be a module)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve(node.module, node.level, importer)
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names)
    return names


def is_forbidden(module: str) -> bool:
    top = module.split(".", 1)[0]
    return top in FORBIDDEN or any(
        module == own or module.startswith(own + ".") for own in FORBIDDEN_OWN
    )


def test_domain_modules_found() -> None:
    names = {path.name for path in MODULES}
    assert {"questions.py", "scoring.py", "crypto.py", "disclosure.py", "release.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(DOMAIN)))
def test_no_web_or_database_imports(path: Path) -> None:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    bad = [name for name in imported_modules(tree, module_name(path)) if is_forbidden(name)]
    assert bad == [], f"{path.name} imports {bad}"


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [
        ("import flask", True),
        ("import flask.json as j", True),
        ("from flask import current_app", True),
        ("from flask_wtf import FlaskForm", True),
        ("import wtforms.validators", True),
        ("from sqlalchemy.orm import Session", True),
        ("from werkzeug.security import safe_join", True),
        ("def f():\n    import sqlalchemy\n", True),
        ("import os, flask", True),
        ("from ..models import Round", True),  # survey.models, reached relatively
        ("from .. import db", True),
        ("from ..services import rounds", True),
        ("from ..web.security import utcnow", True),
        ("import survey.models", True),
        ("from survey import web", True),
        ("import flaskish", False),
        ("from . import flask", False),  # a sibling module that happens to be called flask
        ("from .crypto import seal", False),
        ("from .. import clock", False),
        ("import json", False),
        ("from cryptography.hazmat.primitives import hpke", False),
    ],
)
def test_checker_itself(source: str, forbidden: bool) -> None:
    found = imported_modules(ast.parse(source), "survey.domain.example")
    assert any(is_forbidden(m) for m in found) is forbidden, found
