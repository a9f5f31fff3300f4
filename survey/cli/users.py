"""Staff accounts: ``candor user ...``.

No command prints a password: a new account (or a reset) gets a one-time, expiring
set-password link, printed for the operator to pass on and emailed when mail is set up.
"""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from .. import db
from ..models import Role, User
from ..services import accounts
from .common import fail, needs_instance, now, read_password, the_app

ROLES = click.Choice([r.value for r in Role])


@click.group("user")
def user_group() -> None:
    """Manage staff accounts."""


def _hand_over(invitation: accounts.Invitation) -> None:
    """Print a set-password link and email it if mail is set up."""
    app = the_app()
    url = accounts.link_url(str(app.config["PUBLIC_URL"]), invitation.token)
    click.echo(
        f"Set-password link for {invitation.user.email} (works once, until "
        f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC):\n  {url}"
    )
    click.echo(accounts.mail_link(app.config, invitation))


@user_group.command("add")
@click.argument("email")
@click.argument("role", type=ROLES)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--unit", "units", type=int, multiple=True, help="A manager's unit id (repeat).")
@needs_instance
def user_add(email: str, role: str, password_stdin: bool, units: tuple[int, ...]) -> None:
    """Add a staff account; without --password-stdin it gets a set-password link instead."""
    if not password_stdin:
        _invite(email, role, units)
        return
    password = read_password(password_stdin)
    with db.session_scope(the_app()) as session:
        try:
            user = accounts.create_user(session, email, role, password)
            if units:
                accounts.set_units(session, user, units)
        except accounts.AccountError as exc:
            fail(str(exc))
        session.commit()
    click.echo(f"Added {role} {email}.")


@user_group.command("invite")
@click.argument("email")
@click.argument("role", type=ROLES)
@click.option("--unit", "units", type=int, multiple=True, help="A manager's unit id (repeat).")
@needs_instance
def user_invite(email: str, role: str, units: tuple[int, ...]) -> None:
    """Add a staff account without a password and print its one-time set-password link."""
    _invite(email, role, units)


def _invite(email: str, role: str, units: tuple[int, ...]) -> None:
    app = the_app()
    with db.session_scope(app) as session:
        try:
            invitation = accounts.invite_user(
                session, email, role, now(), int(app.config["ACCOUNT_LINK_HOURS"]), units
            )
        except accounts.AccountError as exc:
            fail(str(exc))
        session.commit()
        click.echo(f"Invited {role} {invitation.user.email}.")
        _hand_over(invitation)


@user_group.command("list")
@needs_instance
def user_list() -> None:
    """List every staff account: email, role, status, units and last login."""
    with db.session_scope(the_app()) as session:
        paths = dict(accounts.unit_choices(session))
        for user in accounts.list_users(session):
            status = (
                "disabled"
                if not user.active
                else ("invited" if user.password_hash == accounts.NO_PASSWORD else "active")
            )
            last = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
            units = "; ".join(paths.get(u.unit_id, "?") for u in user.units)
            click.echo(
                f"{user.email}\t{user.role.value}\t{status}\tlast login {last}"
                + (f"\tunits: {units}" if units else "")
            )


def _change(email: str, change: str) -> None:
    """Apply one change to the account of ``email`` and commit it."""
    with db.session_scope(the_app()) as session:
        try:
            user = accounts.find_user(session, email)
            said = _apply(session, user, change)
        except accounts.AccountError as exc:
            fail(str(exc))
        session.commit()
    click.echo(said)


def _apply(session: Session, user: User, change: str) -> str:
    if change == "disable":
        accounts.disable(session, user)
        return f"Disabled {user.email}; every session of theirs has ended."
    if change == "enable":
        accounts.enable(user)
        return f"Re-enabled {user.email}."
    if change == "logout":
        count = accounts.end_all_sessions(session, user)
        return f"Ended {count} session(s) of {user.email}."
    accounts.delete_user(session, user)
    return f"Deleted the account of {user.email}."


@user_group.command("role")
@click.argument("email")
@click.argument("role", type=ROLES)
@click.option("--unit", "units", type=int, multiple=True, help="A manager's unit id (repeat).")
@needs_instance
def user_role(email: str, role: str, units: tuple[int, ...]) -> None:
    """Give an account another role (and, for a manager, its units)."""
    with db.session_scope(the_app()) as session:
        try:
            user = accounts.find_user(session, email)
            accounts.change_role(session, user, role)
            if units or role == Role.MANAGER:
                accounts.set_units(session, user, units)
        except accounts.AccountError as exc:
            fail(str(exc))
        session.commit()
    click.echo(f"{email} is now {role}.")


@user_group.command("disable")
@click.argument("email")
@needs_instance
def user_disable(email: str) -> None:
    """Stop an account from logging in and end its sessions."""
    _change(email, "disable")


@user_group.command("enable")
@click.argument("email")
@needs_instance
def user_enable(email: str) -> None:
    """Let a disabled account log in again."""
    _change(email, "enable")


@user_group.command("logout")
@click.argument("email")
@needs_instance
def user_logout(email: str) -> None:
    """End every session of an account, in every browser."""
    _change(email, "logout")


@user_group.command("delete")
@click.argument("email")
@click.confirmation_option(prompt="Delete this account for good?")
@needs_instance
def user_delete(email: str) -> None:
    """Delete an account with its sessions."""
    _change(email, "delete")


@user_group.command("reset")
@click.argument("email")
@needs_instance
def user_reset(email: str) -> None:
    """End an account's sessions and print a new one-time set-password link for it."""
    app = the_app()
    with db.session_scope(app) as session:
        try:
            user = accounts.find_user(session, email)
            accounts.end_all_sessions(session, user)
            invitation = accounts.issue_link(
                session, user, now(), int(app.config["ACCOUNT_LINK_HOURS"])
            )
        except accounts.AccountError as exc:
            fail(str(exc))
        session.commit()
        _hand_over(invitation)
