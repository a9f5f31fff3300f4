"""The thin web layer: blueprints, forms, security headers and error pages."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException

from . import security

ERROR_CODES = (400, 403, 404, 405, 413, 429, 500)
csrf = CSRFProtect()


def register(app: Flask) -> None:
    """Register extensions, blueprints and error handlers on ``app``."""
    from . import actions, admin, auth, banks, dashboard, employee, people, public, reports

    csrf.init_app(app)
    security.init_app(app)
    for module in (public, auth, employee, dashboard, reports, admin, people, banks, actions):
        app.register_blueprint(module.bp)
    for code in ERROR_CODES:
        app.register_error_handler(code, _render_error)


def _render_error(error: Exception) -> tuple[str, int]:
    code = error.code if isinstance(error, HTTPException) and error.code else 500
    return render_template("errors/error.html", code=code, error=error), code
