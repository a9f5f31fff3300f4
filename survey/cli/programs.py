"""Programmes: ``candor program ...``."""

from __future__ import annotations

import datetime as dt

import click
from sqlalchemy import select

from .. import db
from ..domain.cadence import DEFAULT_WINDOW_DAYS
from ..domain.disclosure import DEFAULT_COMMENT_K, DEFAULT_K
from ..domain.rotation import DEFAULT_ROTATION_EVERY
from ..models import Cadence, Program
from ..services import programs
from .common import fail, needs_instance, the_app


@click.group("program")
def program_group() -> None:
    """Create and list programmes."""


@program_group.command("add")
@click.argument("name")
@click.option("--cadence", type=click.Choice([c.value for c in Cadence]), default="manual")
@click.option("--first-open", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--window", "window_days", type=int, default=DEFAULT_WINDOW_DAYS, show_default=True)
@click.option(
    "--rotate", "rotation_every", type=int, default=DEFAULT_ROTATION_EVERY, show_default=True
)
@click.option("--k", type=int, default=DEFAULT_K, show_default=True)
@click.option("--comment-k", type=int, default=DEFAULT_COMMENT_K, show_default=True)
@click.option("--bank", default="core-v1", show_default=True)
@click.option("--strict", is_flag=True, help="Forget the link secret once invitations are sent.")
@click.option(
    "--unlinkable-required",
    is_flag=True,
    help="Refuse answers sent without JavaScript, and never export or print links.",
)
@click.option(
    "--dp-epsilon",
    type=float,
    default=None,
    help="Turn on differential privacy: noise for groups of 50 or more, this budget per release.",
)
@needs_instance
def program_add(
    name: str,
    cadence: str,
    first_open: dt.datetime | None,
    window_days: int,
    rotation_every: int,
    k: int,
    comment_k: int,
    bank: str,
    strict: bool,
    unlinkable_required: bool,
    dp_epsilon: float | None,
) -> None:
    """Add a programme (the web admin page offers the same settings)."""
    app = the_app()
    settings = programs.ProgramSettings(
        name=name,
        bank=bank,
        k=k,
        comment_k=comment_k,
        cadence=cadence,
        window_days=window_days,
        rotation_every=rotation_every,
        first_open_on=first_open.date() if first_open else None,
        strict_links=strict,
        unlinkable_required=unlinkable_required,
        dp_epsilon=dp_epsilon,
    )
    with db.session_scope(app) as session:
        try:
            program = programs.save_program(session, None, settings)
        except programs.ProgramError as exc:
            fail(f"{exc.field}: {exc}")
        session.commit()
        click.echo(f"Added programme {program.id}: {program.name} ({program.cadence.value}).")


@program_group.command("list")
@needs_instance
def program_list() -> None:
    """List programmes with their settings."""
    app = the_app()
    with db.session_scope(app) as session:
        for p in session.scalars(select(Program).order_by(Program.id)):
            click.echo(
                f"{p.id:>4}  {p.name}  k={p.k} comments>={p.comment_k} {p.cadence.value} "
                f"first={p.first_open_on or '-'} window={p.window_days}d rotate={p.rotation_every}"
                f"{' strict' if p.strict_links else ''}"
                f"{' unlinkable-required' if p.unlinkable_required else ''}"
                f"{'' if p.active else ' (inactive)'}"
            )
