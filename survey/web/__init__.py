"""The thin web layer: blueprints, forms, security headers and error pages."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, render_template
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from . import security

ERROR_CODES = (400, 403, 404, 405, 413, 429, 500)
csrf = CSRFProtect()


class DatabaseInt(IntegerConverter):
    """``<int:...>`` limited to what an INTEGER column holds: larger ids are simply not found."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def register(app: Flask) -> None:
    """Register extensions, blueprints and error handlers on ``app``."""
    from . import actions, admin, auth, banks, dashboard, employee, people, public, reports

    app.url_map.converters["int"] = DatabaseInt
    csrf.init_app(app)
    security.init_app(app)
    for module in (public, auth, employee, dashboard, reports, admin, people, banks, actions):
        app.register_blueprint(module.bp)
    for view in employee.CSRF_EXEMPT:
        csrf.exempt(f"{employee.__name__}.{view}")
    for code in ERROR_CODES:
        app.register_error_handler(code, _render_error)


def _render_error(error: Exception) -> tuple[str, int]:
    code = error.code if isinstance(error, HTTPException) and error.code else 500
    session = g.get("db_session")
    if session is not None:
        session.rollback()  # the page itself may read the session (the staff menu)
    return render_template("errors/error.html", code=code, error=error), code
