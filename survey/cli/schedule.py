"""The scheduler: ``candor tick``."""

from __future__ import annotations

import datetime as dt
import sys

import click

from ..domain.mail import MailError
from ..services import mailjobs, scheduler
from . import common
from .common import instance_key, needs_instance, the_app


@click.command("tick")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Act as if it were this day (for catching up or testing).",
)
@needs_instance
def tick_command(today: dt.datetime | None) -> None:
    """Open due rounds, send invitations and reminders, close and release ended rounds.

    Safe to run from cron every few minutes, and safe if two run at once: the second one
    finds the lock taken and does nothing.
    """
    app = the_app()
    kek = instance_key()
    day = today.date() if today else common.today()
    factory = app.extensions["candor.sessionmaker"]

    def send(round_id: int, kind: str) -> str:
        report = mailjobs.send_configured(
            app.config, app.instance_path, factory, round_id, kind, kek
        )
        if report.stopped:
            raise MailError(report.stopped)
        return report.summary()

    with scheduler.tick_lock(app.extensions["candor.engine"], app.instance_path) as held:
        if not held:
            click.echo("Another tick is running; this one did nothing.")
            return
        report = scheduler.tick(factory, kek, day, send)
    for line in report.lines:
        click.echo(line)
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    if report.errors:
        sys.exit(1)
