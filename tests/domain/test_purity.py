"""The domain is pure: no module under survey/domain imports the web or database layers,
directly or through a relative import (``from ..models import X`` is resolved, then judged,
in a package's ``__init__.py`` too) or by a call of ``importlib.import_module``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import survey.domain
from tests.imports import imported_modules, module_name

FORBIDDEN = ("flask", "flask_wtf", "wtforms", "sqlalchemy", "werkzeug", "alembic")
# Candor's own layers above the domain.
FORBIDDEN_OWN = ("survey.models", "survey.db", "survey.web", "survey.services", "survey.cli")
DOMAIN = Path(survey.domain.__file__).parent
MODULES = sorted(DOMAIN.rglob("*.py"))


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
    found = imported_modules(tree, module_name(path), is_package=path.name == "__init__.py")
    bad = [name for name in found if is_forbidden(name)]
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


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [
        # In survey/domain/reporting/__init__.py, "." is survey.domain.reporting itself.
        ("from ...models import Round", True),
        ("from ... import db", True),
        ("from ..models import Round", False),  # survey.domain.models: no such layer
        ("from . import trends", False),
        ("import importlib\nimportlib.import_module('survey.services.rounds')", True),
        ("m = __import__('sqlalchemy')", True),
        ("import importlib\nimportlib.import_module('json')", False),
    ],
)
def test_checker_in_a_package(source: str, forbidden: bool) -> None:
    found = imported_modules(ast.parse(source), "survey.domain.reporting", is_package=True)
    assert any(is_forbidden(m) for m in found) is forbidden, found
