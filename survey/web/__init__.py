"""The thin web layer: blueprints, forms, security headers and error pages."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, flash, g, redirect, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Response

from .. import db
from ..services import drawing
from . import security

ERROR_CODES = (400, 403, 404, 405, 413, 429, 500, 503)
# Seconds a client is asked to wait when the database is down, restarting or locked, or the
# drawing process is busy.
RETRY_AFTER_SECONDS = 5
DRAWING_BUSY = "Charts are being drawn just now. Please try again in a few seconds."
DRAWING_FAILED = (
    "This chart or report could not be drawn. The same figures are on the dashboard's pages, "
    "in tables; the error has been logged."
)
FORM_EXPIRED = "The form expired, so nothing was changed; please try again."
csrf = CSRFProtect()
log = logging.getLogger(__name__)


class DatabaseInt(IntegerConverter):
    """``<int:...>`` limited to what an INTEGER column holds: larger ids are simply not found."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def register(app: Flask) -> None:
    """Register extensions, blueprints and error handlers on ``app``."""
    from . import (
        accounts,  # staff accounts (H1)
        actions,
        admin,
        auth,
        banks,
        custody,  # custodians' release page (H4)
        dashboard,
        employee,
        people,
        public,
        reports,
        sending,
        sso,  # single sign-on (H2)
    )

    app.url_map.converters["int"] = DatabaseInt
    csrf.init_app(app)
    security.init_app(app)
    for module in (public, auth, employee, dashboard, reports, admin, people, banks, actions):
        app.register_blueprint(module.bp)
    app.register_blueprint(sending.bp)
    app.register_blueprint(sso.bp)
    app.register_blueprint(accounts.bp)  # staff accounts (H1)
    app.register_blueprint(custody.bp)  # custodians' release page (H4)
    for view in employee.CSRF_EXEMPT:
        csrf.exempt(f"{employee.__name__}.{view}")
    for code in ERROR_CODES:
        app.register_error_handler(code, _render_error)
    for unavailable in db.UNAVAILABLE:
        app.register_error_handler(unavailable, _database_unavailable)
    app.register_error_handler(CSRFError, _form_expired)
    app.register_error_handler(drawing.DrawingError, _drawing_failed)


def _render_error(error: Exception) -> tuple[str, int]:
    """Render the error page of ``error``, even if the database stopped answering meanwhile."""
    code = error.code if isinstance(error, HTTPException) and error.code else 500
    session = g.get("db_session")
    if session is not None:
        try:
            session.rollback()  # the page itself may read the session (the staff menu)
        except db.UNAVAILABLE:
            _forget_database()
    try:
        return render_template("errors/error.html", code=code, error=error), code
    except db.UNAVAILABLE:  # the staff menu could not be read: show the page without it
        _forget_database()
        return render_template("errors/error.html", code=code, error=error), code


def _forget_database() -> None:
    db.abandon_session()
    g.user = None  # base.html's staff menu would read the account


def _database_unavailable(_error: Exception) -> tuple[str, int, dict[str, str]]:
    """Answer 503 with Retry-After when the database is down, restarting or locked; the page
    reads nothing from it. (Survey routes keep the form's answers: survey.web.employee.)"""
    _forget_database()
    log.warning("the database is unavailable: answered 503")
    page = render_template("errors/error.html", code=503, error=_error)
    return page, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def _drawing_failed(error: drawing.DrawingError) -> tuple[str, int, dict[str, str]]:
    """Answer a chart or PDF the drawing process could not draw with a plain page: 503 with
    Retry-After when it is busy or slow (it finishes the drawing and keeps it), else 500."""
    if isinstance(error, drawing.DrawingBusy):
        log.warning("the drawing process is busy: answered 503 (%s)", error)
        page = render_template("errors/error.html", code=503, error=error, message=DRAWING_BUSY)
        return page, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    log.error("a drawing failed: %s", error)
    page = render_template("errors/error.html", code=500, error=error, message=DRAWING_FAILED)
    return page, 500, {}


def _form_expired(error: CSRFError) -> Response | tuple[str, int]:
    """Send a staff form that failed its CSRF check back to the page it came from, saying so.

    The check runs before any view, so nothing was changed. Without a same-site page to go
    back to, show the 400 page.
    """
    back = urlsplit(request.referrer or "")
    if back.netloc != request.host or not back.path.startswith("/"):
        return _render_error(error)
    flash(FORM_EXPIRED, "error")
    return redirect(back.path + (f"?{back.query}" if back.query else ""), code=303)
