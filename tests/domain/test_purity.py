"""The domain is pure: no module under survey/domain imports the web or database layers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import survey.domain

FORBIDDEN = ("flask", "flask_wtf", "wtforms", "sqlalchemy", "werkzeug")
DOMAIN = Path(survey.domain.__file__).parent
MODULES = sorted(DOMAIN.rglob("*.py"))


def imported_modules(tree: ast.AST) -> list[str]:
    """Return every absolute module name imported anywhere in ``tree`` (also inside functions)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def is_forbidden(module: str) -> bool:
    top = module.split(".", 1)[0]
    return top in FORBIDDEN


def test_domain_modules_found() -> None:
    names = {path.name for path in MODULES}
    assert {"questions.py", "scoring.py", "crypto.py", "disclosure.py", "release.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(DOMAIN)))
def test_no_web_or_database_imports(path: Path) -> None:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    bad = [name for name in imported_modules(tree) if is_forbidden(name)]
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
        ("import flaskish", False),
        ("from . import flask", False),  # a relative import of a sibling module
        ("import json", False),
        ("from cryptography.hazmat.primitives import hpke", False),
    ],
)
def test_checker_itself(source: str, forbidden: bool) -> None:
    assert any(is_forbidden(m) for m in imported_modules(ast.parse(source))) is forbidden
