"""Admin: staff accounts. Invite (a one-time set-password link), change role and units,
disable, re-enable, reset, log out everywhere and delete.

A set-password link is shown once, on the page that created it, for the admin to pass on (and
emailed when mail is set up); it is never put in a redirect, a flash message or a log.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ..clock import utcnow
from ..db import get_session
from ..models import Role, User
from ..services import accounts

bp = Blueprint("accounts", __name__, url_prefix="/admin/accounts")

ROLE_CHOICES = [(r.value, r.value) for r in Role]


def _choices(pairs: list[tuple[Any, str]]) -> list[SelectChoice]:
    """Return (value, label) pairs as select choices."""
    return [SelectChoice(value, label) for value, label in pairs]


# The changes an account's row offers (see _apply).
ACTIONS = ("role", "units", "disable", "enable", "reset", "logout", "delete")


class InviteForm(FlaskForm):  # type: ignore[misc]
    """A new staff account: its email, role and, for a manager, units."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    role = SelectField("Role", choices=_choices(ROLE_CHOICES))
    units = SelectMultipleField("Units (managers only)", coerce=int, validate_choice=False)


class ChangeForm(FlaskForm):  # type: ignore[misc]
    """One change to one account (the button pressed names it)."""

    role = SelectField("Role", choices=_choices(ROLE_CHOICES), validate_choice=False)
    units = SelectMultipleField("Units", coerce=int, validate_choice=False)


def _page(
    invite: InviteForm | None = None,
    link: accounts.Invitation | None = None,
    mailed: str = "",
    status: int = 200,
) -> tuple[str, int]:
    """Render the accounts page; ``link`` is a set-password link to show once."""
    session = get_session()
    units = accounts.unit_choices(session)
    form = invite or InviteForm(formdata=None)  # empty again after an invitation
    form.units.choices = _choices(units)
    paths = dict(units)
    users = accounts.list_users(session)
    return (
        render_template(
            "accounts/index.html",
            users=users,
            invite=form,
            unit_paths=paths,
            roles=ROLE_CHOICES,
            link=link,
            link_url=accounts.link_url(str(current_app.config["PUBLIC_URL"]), link.token)
            if link
            else "",
            mailed=mailed,
            me=g.user,
            link_hours=current_app.config["ACCOUNT_LINK_HOURS"],
        ),
        status,
    )


@bp.get("/")
def index() -> tuple[str, int]:
    """List every staff account, with the invite form."""
    return _page()


@bp.get("/<int:user_id>/units")
def units(user_id: int) -> str:
    """Show the units a manager is bound to, among every unit, to change them.

    On a page of its own: a list of every unit in each manager's row of the accounts page
    made that page grow with units × managers.
    """
    session = get_session()
    user = session.get(User, user_id)
    if user is None:
        abort(404)
    return render_template(
        "accounts/units.html",
        user=user,
        units=accounts.unit_choices(session),
        bound={m.unit_id for m in user.units},
    )


@bp.post("/invite")
def invite() -> tuple[str, int]:
    """Create an account without a password and show its set-password link once."""
    form = InviteForm()
    form.units.choices = _choices(accounts.unit_choices(get_session()))
    if not form.validate_on_submit():
        return _page(form, status=400)
    session = get_session()
    units = form.units.data if form.role.data == Role.MANAGER else []
    try:
        created = accounts.invite_user(
            session,
            form.email.data,
            form.role.data,
            utcnow(),
            int(current_app.config["ACCOUNT_LINK_HOURS"]),
            units,
        )
    except accounts.AccountError as exc:
        session.rollback()
        form.email.errors = [str(exc)]
        return _page(form, status=400)
    session.commit()
    return _page(link=created, mailed=accounts.mail_link(current_app.config, created))


@bp.post("/<int:user_id>/<action>")
def change(user_id: int, action: str) -> Response | tuple[str, int]:
    """Apply one change to one account; a reset shows the new link once."""
    if action not in ACTIONS:
        abort(404)
    session = get_session()
    user = session.get(User, user_id)
    if user is None:
        abort(404)
    form = ChangeForm()
    if not form.validate_on_submit():
        flash("Nothing changed: the form expired; please try again.", "error")
        return redirect(url_for("accounts.index"))
    email, me = user.email, g.user.id
    try:
        done = _apply(user, action, form)
    except accounts.AccountError as exc:
        session.rollback()
        flash(f"Nothing changed: {exc}", "error")
        return redirect(url_for("accounts.index"))
    if isinstance(done, accounts.Invitation):
        session.commit()
        return _page(link=done, mailed=accounts.mail_link(current_app.config, done))
    session.commit()
    flash(done.format(email=email), "info")
    if user_id == me and action in ("disable", "delete", "logout"):
        return redirect(url_for("auth.login"))
    if user_id == me and action == "role":
        return redirect(url_for("public.index"))
    return redirect(url_for("accounts.index") + f"#user-{user_id}")


def _apply(user: User, action: str, form: ChangeForm) -> str | accounts.Invitation:
    """Make the change; return the sentence that says so, or a reset's new link."""
    session = get_session()
    if action == "role":
        accounts.change_role(session, user, form.role.data or "")
        return f"{{email}} is now {user.role.value}."
    if action == "units":
        accounts.set_units(session, user, form.units.data or [])
        return "Saved the units of {email}."
    if action == "disable":
        accounts.disable(session, user)
        return "Disabled {email}: every session of theirs has ended."
    if action == "enable":
        accounts.enable(user)
        return "Re-enabled {email}."
    if action == "reset":
        accounts.end_all_sessions(session, user)
        return accounts.issue_link(
            session, user, utcnow(), int(current_app.config["ACCOUNT_LINK_HOURS"])
        )
    if action == "logout":
        count = accounts.end_all_sessions(session, user)
        return f"Ended {count} session{'s' if count != 1 else ''} of {{email}}."
    accounts.delete_user(session, user)
    return "Deleted the account of {email}."
