"""Security settings in one place: headers, staff sessions, access decorators, log hygiene."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, Response, abort, g, redirect, request, session, url_for

from ..db import get_session
from ..models import Role, User
from ..services import accounts

F = TypeVar("F", bound=Callable[..., Any])

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
NO_STORE_PREFIXES = ("/dashboard", "/charts", "/reports", "/export", "/admin", "/s/")
CLIENT_ADDRESS = re.compile(r"^\S+ - - \[")
SURVEY_PATH = re.compile(r"/s/[^\s\"]*")


def utcnow() -> dt.datetime:
    """Return the current UTC time without tzinfo, as stored in the database."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def init_app(app: Flask) -> None:
    """Install the security headers, staff-session loading and the log filter."""
    app.after_request(_headers)
    app.before_request(_load_user)
    logging.getLogger("werkzeug").addFilter(_redact_access_log)


def _headers(response: Response) -> Response:
    # matplotlib's SVG styles itself inline; opened on its own it may do that and nothing else.
    svg = response.mimetype == "image/svg+xml"
    response.headers["Content-Security-Policy"] = SVG_CSP if svg else CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    # Survey pages may carry a token in the path (the fallback link): send only the origin,
    # which still satisfies Flask-WTF's same-origin check over HTTPS, never the path.
    survey = request.path.startswith("/s/")
    response.headers["Referrer-Policy"] = "origin" if survey else "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if request.path.startswith(NO_STORE_PREFIXES) or g.get("user") is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


def _redact_access_log(record: logging.LogRecord) -> bool:
    """Drop the client address from the development server's request lines, and redact
    survey paths (which may carry a token). Works on the fully formatted line, so it does not
    depend on how Werkzeug splits it into a format and arguments."""
    line = record.getMessage()
    redacted = SURVEY_PATH.sub("/s/…", CLIENT_ADDRESS.sub("- - - [", line))
    if redacted != line:
        record.msg, record.args = redacted, ()
    return True


def _load_user() -> None:
    g.user = None
    sid = session.get("sid")
    if sid:
        g.user = accounts.session_user(get_session(), sid, utcnow())
        if g.user is None:
            session.clear()


def login_user(user: User) -> None:
    """Start a fresh session for ``user``: a new id, nothing carried over."""
    from flask import current_app

    session.clear()
    sid = accounts.start_session(
        get_session(), user, utcnow(), current_app.config["STAFF_SESSION_HOURS"]
    )
    session["sid"] = sid
    g.user = user


def logout_user() -> None:
    """End the staff session on the server and clear the cookie."""
    sid = session.get("sid")
    if sid:
        accounts.end_session(get_session(), sid)
    session.clear()
    g.user = None


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Allow a view only to logged-in staff holding one of ``roles``."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user: User | None = g.get("user")
            if user is None:
                return redirect(url_for("auth.login", next=request.path))
            if user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


STAFF = (Role.ADMIN, Role.HR, Role.LEADER)
ANALYSTS = (Role.ADMIN, Role.HR)
