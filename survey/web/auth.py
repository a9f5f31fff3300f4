"""Staff login and logout, one's own account, and the one-time set-password link."""

from __future__ import annotations

import hashlib

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from ..clock import utcnow
from ..config import SECURE_COOKIE_PREFIX
from ..db import get_session
from ..models import User
from ..services import accounts, sso, throttle
from .forms import ActionForm, LoginForm
from .security import client_address, login_user, logout_user

bp = Blueprint("auth", __name__)
# A browser that logged in to an account before: its own throttle key for that account.
DEVICE_COOKIE = "candor_device"
DEVICE_COOKIE_DAYS = 180


def _new_password_fields() -> tuple[PasswordField, PasswordField]:
    """Return the new-password field and its repetition (the same rules on every form)."""
    new = PasswordField(
        f"New password (at least {accounts.MIN_PASSWORD_LENGTH} characters)",
        validators=[
            DataRequired(message="Give a new password."),
            Length(
                min=accounts.MIN_PASSWORD_LENGTH,
                max=accounts.MAX_PASSWORD_LENGTH,
                message=f"Passwords need at least {accounts.MIN_PASSWORD_LENGTH} characters.",
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    repeat = PasswordField(
        "New password again",
        validators=[EqualTo("new", message="The two new passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )
    return new, repeat


class SetPasswordForm(FlaskForm):  # type: ignore[misc]
    """A first password, or a reset one, set through a one-time link."""

    new, repeat = _new_password_fields()


class ChangePasswordForm(FlaskForm):  # type: ignore[misc]
    """One's own password change: the current password, then the new one twice."""

    current = PasswordField(
        "Current password",
        validators=[DataRequired(message="Give your current password.")],
        render_kw={"autocomplete": "current-password"},
    )
    new, repeat = _new_password_fields()


def start_staff_session(user: User) -> None:
    """Start a staff session for ``user`` in this browser: the one way in, for password and
    single sign-on logins alike (a fresh session id; the browser's previous session ends)."""
    login_user(user)
    user.last_login_at = utcnow()


def _throttle_secret() -> bytes:
    """Return the key the throttle hashes emails and addresses with (from SECRET_KEY, which
    every server of an instance shares, so they all count against the same keys)."""
    return hashlib.sha256(b"candor-login-throttle:" + str(current_app.secret_key).encode()).digest()


def _safe_next() -> str:
    """Return ``?next=`` if it is a path on this site, else the empty string."""
    target = request.args.get("next", "")
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return ""
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    """Show the login form and start a session on success; throttle guesses."""
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    session = get_session()
    # --- single sign-on: with SSO_ONLY only the break-glass admin may try a password ---
    password_off = sso.password_login_refusal(session, form.email.data, current_app.config)
    if password_off is not None:
        flash(password_off, "error")
        return render_template("auth/login.html", form=form), 403
    now, client, secret = utcnow(), client_address(), _throttle_secret()
    email = form.email.data.strip().lower()
    device = throttle.known_device(email, request.cookies.get(_device_cookie_name(), ""), secret)
    rules = throttle.rules_from_config(current_app.config)
    refused = accounts.admit_login(session, email, now, rules, client, secret, device)
    # The attempt is counted, on every worker and host, before its password is checked.
    session.commit()
    if refused is not None:
        flash(refused.message, "error")
        page = render_template("auth/login.html", form=form)
        return page, 429, {"Retry-After": str(refused.retry_after)}
    result = accounts.authenticate(session, email, form.password.data, now, client, secret, device)
    if result.user is None:
        session.rollback()
        flash(result.message, "error")
        return render_template("auth/login.html", form=form), 401
    start_staff_session(result.user)
    session.commit()
    response = redirect(_safe_next() or url_for("public.index"))
    response.set_cookie(
        _device_cookie_name(),
        request.cookies[_device_cookie_name()] if device else throttle.device_cookie(email, secret),
        max_age=DEVICE_COOKIE_DAYS * 24 * 3600,
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Lax",
        path="/",
    )
    return response


def _device_cookie_name() -> str:
    """Return the known-device cookie's name (``__Host-`` prefixed over https, like the
    session cookie's)."""
    secure = current_app.config["SESSION_COOKIE_NAME"].startswith(SECURE_COOKIE_PREFIX)
    return (SECURE_COOKIE_PREFIX if secure else "") + DEVICE_COOKIE


@bp.post("/logout")
def logout() -> Response:
    """End this session and return to the front page."""
    if ActionForm().validate_on_submit():
        logout_user()
        get_session().commit()
        flash("You are logged out.", "info")
    return redirect(url_for("public.index"))


@bp.get("/account")
def account() -> str:
    """Show one's own account: role, units, password change and "log out everywhere"."""
    return _account_page(ChangePasswordForm())


def _me() -> User:
    """Return the signed-in account itself (the request knows only its id, email and role)."""
    user = get_session().get(User, g.user.id)
    if user is None:  # deleted since this request read its session
        abort(404)
    return user


def _account_page(form: ChangePasswordForm) -> str:
    """Render one's own account page with ``form`` (and its errors, if any)."""
    user = _me()
    return render_template(
        "auth/account.html",
        user=user,
        form=form,
        everywhere=ActionForm(),
        units=_unit_names(user),
    )


def _unit_names(user: User) -> list[str]:
    """Return the paths of the units a manager is bound to."""
    paths = dict(accounts.unit_choices(get_session()))
    return [paths[u.unit_id] for u in user.units if u.unit_id in paths]


@bp.post("/account/password")
def change_password() -> Response | tuple[str, int]:
    """Change one's own password; every session of the account ends, and this browser gets
    a fresh one."""
    form = ChangePasswordForm()
    user = _me()
    if not form.validate_on_submit():
        return _account_page(form), 400
    session = get_session()
    try:
        accounts.change_password(session, user, form.current.data, form.new.data)
    except accounts.AccountError as exc:
        session.rollback()
        form.current.errors = [str(exc)]
        return _account_page(form), 400
    start_staff_session(user)
    session.commit()
    flash("Password changed. Every other session of your account has ended.", "info")
    return redirect(url_for("auth.account"))


@bp.post("/account/logout-everywhere")
def logout_everywhere() -> Response:
    """End every session of one's own account, in every browser, this one included."""
    if ActionForm().validate_on_submit():
        logout_user(everywhere=True)
        get_session().commit()
        flash("You are logged out everywhere.", "info")
    return redirect(url_for("public.index"))


@bp.route(accounts.SET_PASSWORD_PATH + "<token>", methods=["GET", "POST"])
def set_password(token: str) -> Response | str | tuple[str, int]:
    """Set a password through a one-time link (an invitation or a reset)."""
    session = get_session()
    user = accounts.link_user(session, token, utcnow())
    if user is None:
        return render_template("auth/set_password.html", form=None, user=None), 404
    form = SetPasswordForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("auth/set_password.html", form=form, user=user), status
    try:
        accounts.redeem_link(session, token, form.new.data, utcnow())
    except accounts.AccountError as exc:
        session.rollback()
        form.new.errors = [str(exc)]
        return render_template("auth/set_password.html", form=form, user=user), 400
    logout_user()  # whoever was logged in in this browser
    session.commit()
    flash("Your password is set: log in with it.", "info")
    return redirect(url_for("auth.login"))
