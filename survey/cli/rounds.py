"""Rounds: ``candor round ...`` and ``candor audit``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import db
from ..domain import manifest as manifests
from ..domain.crypto import CryptoError
from ..domain.custody import Share
from ..models import Program, Release, Round
from ..services import audit_trail, hygiene, release_audit, rounds
from . import custody as custody_cli
from .common import fail, instance_key, needs_instance, now, the_app, today


@click.group("round")
def round_group() -> None:
    """Open, close and release rounds."""


def _round_step(
    round_id: int, step: str, *, quarantine: bool = False, shares: Sequence[Share] = ()
) -> None:
    app = the_app()
    kek = instance_key()
    with db.session_scope(app) as session:
        try:
            rnd = rounds.get_round(session, round_id)
            message = f"Round {round_id}: " + rounds.advance(
                session, rnd, step, kek, today(), quarantine=quarantine, shares=shares
            )
            audit_trail.record(session, "command line", f"round_{step}", f"round={rnd.id}", now())
            if quarantine:
                _record_quarantine(session, rnd.id)
            session.commit()
        except rounds.REFUSALS as exc:
            fail(str(exc))
    if step == "open":
        message += f" `candor round links {round_id}` lists their links."
    if step in hygiene.SCRUBBING_STEPS:
        hygiene.scrub_storage(app.extensions["candor.engine"])
    click.echo(message)


def _record_quarantine(session: Session, round_id: int) -> None:
    """Record in the audit trail how many sealed rows a release set aside, if any."""
    from ..services.quarantine import QUARANTINED

    release = session.scalar(select(Release).where(Release.round_id == round_id))
    count = (manifests.parse(release.manifest).quarantined or 0) if release is not None else 0
    if count:
        detail = f"round={round_id} rows={count}"
        audit_trail.record(session, "command line", QUARANTINED, detail, now())


@round_group.command("new")
@click.argument("program_id", type=int)
@needs_instance
def round_new(program_id: int) -> None:
    """Add a draft round to a programme."""
    app = the_app()
    with db.session_scope(app) as session:
        program = session.get(Program, program_id)
        if program is None:
            fail(f"There is no programme {program_id}.")
        rnd = rounds.create_round(session, program)
        session.commit()
        click.echo(f"Added draft round {rnd.id} ({rnd.label}) to {program.name}.")


@round_group.command("open")
@click.argument("round_id", type=int)
@needs_instance
def round_open(round_id: int) -> None:
    """Snapshot the roster, freeze settings and create the round's invitations."""
    _round_step(round_id, "open")


@round_group.command("close")
@click.argument("round_id", type=int)
@needs_instance
def round_close(round_id: int) -> None:
    """Stop accepting answers and destroy unused links."""
    _round_step(round_id, "close")


@round_group.command("release")
@click.argument("round_id", type=int)
@click.option(
    "--quarantine",
    is_flag=True,
    help="Release without the sealed rows that fail their integrity check, setting them aside "
    "(counted in the manifest and the audit trail).",
)
@click.option("--passphrase-stdin", is_flag=True, help=custody_cli.STDIN_HELP)
@needs_instance
def round_release(round_id: int, quarantine: bool, passphrase_stdin: bool) -> None:
    """Unseal the answers once, apply disclosure control and store the manifest.

    A sealed row that fails to open stops the release with the count and the labels the
    failed rows claim; after investigating, --quarantine releases without them. A round in
    custodian mode asks a quorum of its custodians for their passphrases first.
    """
    lines = custody_cli.stdin_passphrases() if passphrase_stdin else None
    shares = custody_cli.gather_shares(round_id, lines)
    _round_step(round_id, "release", quarantine=quarantine, shares=shares)


@round_group.command("links")
@click.argument("round_id", type=int)
@needs_instance
def round_links(round_id: int) -> None:
    """Print every invited person's email, link, code and entry page as tab-separated lines.

    Each use is recorded in the audit trail; for a strict programme the link secret is
    destroyed afterwards, as after a mail-merge export.
    """
    app = the_app()
    kek = instance_key()
    with db.session_scope(app) as session:
        try:
            rnd = rounds.get_round(session, round_id)
            rounds.refuse_links_if_unlinkable(rnd)
            links = rounds.invitation_links(session, rnd, kek, app.config["PUBLIC_URL"])
            audit_trail.record(
                session, "command line", audit_trail.LINKS_PRINTED, f"round={rnd.id}", now()
            )
            rounds.forget_secret_if_strict(session, rnd)
            session.commit()
        except (rounds.RoundError, CryptoError) as exc:
            fail(str(exc))
    for link in links:
        click.echo(f"{link.email}\t{link.url}\t{link.code}\t{link.entry_url}")


@round_group.command("list")
@needs_instance
def round_list() -> None:
    """List every round with its status."""
    app = the_app()
    with db.session_scope(app) as session:
        for rnd in session.scalars(select(Round).order_by(Round.program_id, Round.number)):
            click.echo(
                f"{rnd.id:>4}  {rnd.program.name}  {rnd.label:<4} {rnd.status.value:<9} "
                f"{rnd.opens_on or ''} {rnd.closes_on or ''}"
            )


@click.command("audit")
@click.argument("round_id", type=int, required=False)
@click.option("--all", "every", is_flag=True, help="Re-check every release, oldest first.")
@needs_instance
def audit_command(round_id: int | None, every: bool) -> None:
    """Re-check a released round's manifest: digest unchanged, no small group derivable, by
    itself or with the releases made before it. With --all, every release (after an upgrade)."""
    if (round_id is not None) == every:  # both, or neither
        fail("Name one released round (candor audit ROUND_ID), or give --all.")
    app = the_app()
    with db.session_scope(app) as session:
        query = select(Release).order_by(Release.id)
        if round_id is not None:
            query = query.where(Release.round_id == round_id)
        releases = list(session.scalars(query))
        if not releases:
            fail(f"Round {round_id} has not been released." if round_id else "Nothing is released.")
        verdicts = []
        for release in releases:
            verdict = release_audit.audit_release(session, release)
            click.echo(f"round {release.round_id}: {verdict}" if every else verdict)
            verdicts.append(verdict)
    if not all(verdict.startswith("PASS") for verdict in verdicts):
        sys.exit(1)
