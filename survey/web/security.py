"""Security settings in one place: headers, staff sessions, access decorators.

Log hygiene (no access code or client address in any log) is :mod:`survey.logs`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import SecurityError

from ..clock import utcnow
from ..db import get_session
from ..models import Role, User
from ..services import accounts

F = TypeVar("F", bound=Callable[..., Any])

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
# Sent when PUBLIC_URL is https: browsers then refuse plain http to this host for a year.
HSTS = "max-age=31536000"
# The staff session cookie carries the time of its last request (UTC epoch seconds), refreshed
# at most this often, so an idle session ends within a minute of STAFF_IDLE_MINUTES.
LAST_SEEN = "seen"
LAST_SEEN_RESOLUTION = dt.timedelta(minutes=1)
NO_STORE_PREFIXES = ("/dashboard", "/charts", "/reports", "/export", "/admin", "/s/")


def init_app(app: Flask) -> None:
    """Install the security headers and staff-session loading."""
    app.after_request(_headers)
    app.before_request(_load_user)
    app.register_error_handler(SecurityError, _untrusted_host)


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
    if urlsplit(current_app.config["PUBLIC_URL"]).scheme == "https":
        response.headers["Strict-Transport-Security"] = HSTS
    if request.path.startswith(NO_STORE_PREFIXES) or g.get("user") is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


def _untrusted_host(_error: SecurityError) -> tuple[str, int, dict[str, str]]:
    # A Host outside TRUSTED_HOSTS leaves no URL adapter, so the HTML error page (which
    # builds links with url_for) cannot render: answer in plain text.
    return (
        "400 Bad Request: this server does not answer to that host name.\n",
        400,
        {"Content-Type": "text/plain; charset=utf-8"},
    )


def _load_user() -> None:
    g.user = None
    sid = session.get("sid")
    if not sid:
        return
    now = utcnow()
    seen = _last_seen()
    idle = dt.timedelta(minutes=current_app.config["STAFF_IDLE_MINUTES"])
    if seen is None or now - seen > idle:
        session.clear()
        flash("Your session ended after a while without activity; please log in again.", "info")
        return
    g.user = accounts.session_user(get_session(), sid, now)
    if g.user is None:
        session.clear()
    elif now - seen >= LAST_SEEN_RESOLUTION:
        _mark_seen(now)


def _last_seen() -> dt.datetime | None:
    """Return when this session's last request was, or None if the cookie does not say."""
    value = session.get(LAST_SEEN)
    if not isinstance(value, int):
        return None
    return dt.datetime.fromtimestamp(value, dt.UTC).replace(tzinfo=None)


def _mark_seen(now: dt.datetime) -> None:
    session[LAST_SEEN] = int(now.replace(tzinfo=dt.UTC).timestamp())


def login_user(user: User) -> None:
    """Start a fresh session for ``user``: a new id, nothing carried over, and the session
    this browser had before ended on the server (a copy of the old cookie dies with it)."""
    previous = session.get("sid")
    if previous:
        accounts.end_session(get_session(), previous)
    session.clear()
    sid = accounts.start_session(
        get_session(), user, utcnow(), current_app.config["STAFF_SESSION_HOURS"]
    )
    session["sid"] = sid
    _mark_seen(utcnow())
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
