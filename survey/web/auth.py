"""Staff login and logout."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..clock import utcnow
from ..db import get_session
from ..services import accounts
from .forms import ActionForm, LoginForm
from .security import login_user, logout_user

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    """Show the login form and start a session on success."""
    form = LoginForm()
    if form.validate_on_submit():
        session = get_session()
        result = accounts.authenticate(
            session,
            form.email.data,
            form.password.data,
            utcnow(),
            current_app.config["LOGIN_MAX_FAILURES"],
            current_app.config["LOGIN_LOCK_MINUTES"],
        )
        if result.user is not None:
            login_user(result.user)
            session.commit()
            target = request.args.get("next", "")
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("public.index")
            return redirect(target)
        session.commit()  # keep the failure count
        flash(result.message, "error")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout() -> Response:
    """End the session everywhere and return to the front page."""
    if ActionForm().validate_on_submit():
        logout_user()
        get_session().commit()
        flash("You are logged out.", "info")
    return redirect(url_for("public.index"))
