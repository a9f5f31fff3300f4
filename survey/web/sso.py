"""Staff login through the company's OpenID Connect provider (the rules are
:mod:`survey.services.sso`; the session it starts is password login's)."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, render_template, request, session, url_for
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from ..clock import utcnow
from ..db import get_session
from ..domain import access
from ..services import sso
from .auth import _safe_next, start_staff_session

bp = Blueprint("sso", __name__)
log = logging.getLogger(__name__)

# The session key that holds a login between the redirect to the provider and its answer.
PENDING = "sso_pending"
# Seconds a browser is told to wait before trying an unreachable provider again.
RETRY_AFTER_SECONDS = 60


def _settings() -> sso.Settings:
    settings = sso.Settings.from_config(current_app.config)
    if settings is None:
        abort(404)
    return settings


def _redirect_uri() -> str:
    """Return the callback URL registered with the provider: PUBLIC_URL + /login/sso/callback."""
    return str(current_app.config["PUBLIC_URL"]).rstrip("/") + url_for("sso.callback")


def _refused(settings: sso.Settings, error: sso.SsoError) -> tuple[str, int, dict[str, str]]:
    log.warning("single sign-on refused (%s): %s", error.status, error.detail or error.message)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if error.status == 503 else {}
    page = render_template(
        "auth/sso_refused.html",
        message=error.message,
        provider=settings.provider_name,
        password_login=not current_app.config["SSO_ONLY"],
    )
    return page, error.status, headers


@bp.get("/login/sso")
def start() -> Response | tuple[str, int, dict[str, str]]:
    """Send the browser to the provider, remembering state, nonce and PKCE verifier."""
    settings = _settings()
    try:
        url, pending = sso.begin(settings, _redirect_uri(), _safe_next())
    except sso.SsoError as error:
        return _refused(settings, error)
    session[PENDING] = pending.to_dict()
    return current_app.redirect(url)


@bp.get("/login/sso/callback")
def callback() -> Response | tuple[str, int, dict[str, str]]:
    """Check the provider's answer and start a staff session as password login does."""
    settings = _settings()
    pending = sso.Pending.from_dict(session.pop(PENDING, None))
    db = get_session()
    try:
        identity = sso.finish(settings, pending, _redirect_uri(), request.args.to_dict(), utcnow())
        user = sso.account_for(db, settings, identity, utcnow())
    except sso.SsoError as error:
        db.rollback()
        return _refused(settings, error)
    except IntegrityError:  # the same identity's first login, twice at once: one wins
        db.rollback()
        return _refused(settings, sso.SsoError(sso.RACED, 409, "concurrent first login"))
    start_staff_session(user)
    db.commit()
    assert pending is not None  # finish refuses a missing one
    return current_app.redirect(pending.next or url_for(access.START_PAGES[user.role]))
