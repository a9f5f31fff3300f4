"""Security settings in one place: headers, staff sessions, access decisions.

Who may open which endpoint is the policy table in :mod:`survey.domain.access`, applied to
every request before its view runs; which units a reader sees is :mod:`survey.services.scope`.
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
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.exceptions import SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response as BaseResponse

from ..clock import utcnow
from ..db import get_session
from ..domain import access
from ..models import Role, User
from ..services import accounts, scope

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


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer made once per secret
    rather than on every request (Flask builds it anew in each open and save)."""

    _kept: tuple[tuple[Any, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """Return the serializer for the app's current secret key and fallbacks."""
        secrets = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        kept = self._kept
        if kept is None or kept[0] != secrets:
            kept = self._kept = (secrets, super().get_signing_serializer(app))
        return kept[1]


def init_app(app: Flask) -> None:
    """Install the security headers, signed-cookie sessions and staff-session loading."""
    app.session_interface = SessionCookies()
    app.after_request(_headers)
    app.before_request(_load_user)
    app.before_request(_authorise)
    app.register_error_handler(SecurityError, _untrusted_host)
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:  # the client address (login throttling) is then X-Forwarded-For's
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)  # type: ignore[method-assign]


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


def _authorise() -> BaseResponse | None:
    """Apply the policy table: a visitor without a session goes to the login page, a staff
    member whose role the endpoint does not admit gets 403.

    An endpoint the table does not list is refused to everyone (fail closed); the access
    test (tests/web/test_access_policy.py) fails for every such route.
    """
    if request.endpoint is None:  # no route matched: the 404 handler answers
        return None
    decision = access.audience(request.endpoint)
    if decision is None:
        abort(403)
    if decision == access.ANYONE:
        return None
    user: accounts.SignedIn | None = g.get("user")
    if user is None:
        return redirect(url_for("auth.login", next=request.path))
    if user.role not in decision:
        abort(403)
    return None


def reader_scope(program_id: int) -> scope.ScopedManifests:
    """Return a programme's released manifests as the logged-in reader may see them.

    Every results view reads its manifests through here: the scope service decides.
    """
    return scope.released_for(get_session(), g.user, program_id)


def client_address() -> str:
    """Return the client's address as the throttle counts it (see TRUSTED_PROXIES)."""
    return request.remote_addr or "unknown"


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
    g.user = accounts.SignedIn.of(user)


def logout_user(everywhere: bool = False) -> None:
    """End the staff session on the server and clear the cookie; with ``everywhere``, end
    every session of the account, in every browser."""
    sid = session.get("sid")
    user: accounts.SignedIn | None = g.get("user")
    if everywhere and user is not None:
        accounts.end_all_sessions(get_session(), user)
    elif sid:
        accounts.end_session(get_session(), sid)
    session.clear()
    g.user = None


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Allow a view only to logged-in staff holding one of ``roles``."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user: accounts.SignedIn | None = g.get("user")
            if user is None:
                return redirect(url_for("auth.login", next=request.path))
            if user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


# The views' own decorators name these groups of the policy table (survey.domain.access).
STAFF = tuple(Role)
ANALYSTS = tuple(r for r in Role if r in access.ANALYSTS)
