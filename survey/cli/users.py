"""Staff accounts: ``candor user ...``."""

from __future__ import annotations

import secrets

import click

from .. import db
from ..services import accounts
from .common import fail, needs_instance, read_password, the_app


@click.group("user")
def user_group() -> None:
    """Manage staff accounts."""


@user_group.command("add")
@click.argument("email")
@click.argument("role", type=click.Choice(["admin", "hr", "leader"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@needs_instance
def user_add(email: str, role: str, password_stdin: bool) -> None:
    """Add a staff account; without --password-stdin a password is generated and shown once."""
    app = the_app()
    password = read_password(password_stdin) or secrets.token_urlsafe(12)
    with db.session_scope(app) as session:
        try:
            accounts.create_user(session, email, role, password)
        except accounts.AccountError as exc:
            fail(str(exc))
        session.commit()
    click.echo(
        f"Added {role} {email}."
        + ("" if password_stdin else f"  password: {password}  (shown once)")
    )
