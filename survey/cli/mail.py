"""Invitations and reminders by e-mail: ``candor mail ...``."""

from __future__ import annotations

import click

from ..domain.crypto import CryptoError
from ..domain.mail import MailError
from ..services import mailjobs, rounds, transports
from .common import fail, instance_key, needs_instance, the_app


@click.group("mail")
def mail_group() -> None:
    """Send invitations and reminders by email (run again to resume after any failure)."""


def _send_round_mail(round_id: int, kind: str) -> None:
    app = the_app()
    kek = instance_key()
    try:
        factory = app.extensions["candor.sessionmaker"]
        report = mailjobs.send_configured(
            app.config, app.instance_path, factory, round_id, kind, kek
        )
    except mailjobs.SenderBusy as exc:
        click.echo(f"Round {round_id}: {exc}")
        return
    except (rounds.RoundError, CryptoError, MailError) as exc:
        fail(str(exc))
    click.echo(f"Round {round_id}: {report.summary()}")
    if app.config["MAIL_BACKEND"] == "file":
        click.echo(
            f"Written to {app.config['MAIL_OUTBOX_DIR']}: these files hold live survey links; "
            "keep them private and delete them once handed on."
        )
    if report.secret_destroyed and kind == "invitation":
        click.echo("Strict mode: the link secret is destroyed; reminders will carry no link.")
    if report.stopped:
        fail(
            f"Stopped: {report.stopped}. Run the same command again once this is fixed; "
            "nobody is sent a second, different email."
        )


@mail_group.command("invite")
@click.argument("round_id", type=int)
@needs_instance
def mail_invite(round_id: int) -> None:
    """Email every invited person their link for an open round (those not yet sent one)."""
    _send_round_mail(round_id, "invitation")


@mail_group.command("remind")
@click.argument("round_id", type=int)
@needs_instance
def mail_remind(round_id: int) -> None:
    """Email a reminder to everyone invited to an open round, answered or not."""
    _send_round_mail(round_id, "reminder")


@mail_group.command("test")
@click.argument("address")
@needs_instance
def mail_test(address: str) -> None:
    """Send a test message (no survey link) to ADDRESS with the configured mail settings."""
    from ..domain.mail import build_test_message

    app = the_app()
    try:
        message = build_test_message(sender=app.config["MAIL_FROM"], recipient=address)
        with transports.mailer_from_config(app.config) as sink:
            sink.send(message)
    except MailError as exc:
        fail(str(exc))
    click.echo(f"Sent a test message to {address} through {sink}.")
