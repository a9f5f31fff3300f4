"""Custodians: ``candor custodian ...``, and the passphrases a custodian-mode release needs.

Passphrases are never arguments (they would sit in shell history and ``ps``). Each custodian
types theirs at a hidden prompt, or, for automation, ``--passphrase-stdin`` reads one line per
custodian, ``LABEL:PASSPHRASE`` (split at the first colon; labels contain none).
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.orm import Session

from .. import db
from ..domain.custody import LABEL_SEPARATOR, Share
from ..models import Program
from ..services import custody, hygiene, rounds
from .common import fail, needs_instance, the_app

STDIN_HELP = (
    "Read custodians' passphrases from stdin, one line per custodian: LABEL:PASSPHRASE "
    "(for automation; otherwise each custodian is prompted in turn)."
)


def stdin_passphrases() -> list[tuple[str, str]]:
    """Return the (label, passphrase) pairs given on stdin, one ``LABEL:PASSPHRASE`` a line."""
    given = []
    for number, line in enumerate(sys.stdin.read().splitlines(), start=1):
        if not line.strip():
            continue
        label, sep, passphrase = line.partition(LABEL_SEPARATOR)
        if not sep:
            fail(f"Line {number} of stdin is not LABEL{LABEL_SEPARATOR}PASSPHRASE.")
        given.append((label.strip(), passphrase))
    return given


def gather_shares(round_id: int, given: list[tuple[str, str]] | None) -> list[Share]:
    """Return the opened shares of a quorum of a custodian-mode round's custodians.

    ``given``: the pairs read by :func:`stdin_passphrases`, or None to prompt each custodian.
    An instance-mode round needs none (empty list). A wrong passphrase on stdin stops the
    command; at a prompt the custodian is told and may skip. Fewer than a quorum is left for
    the release itself to refuse, with the names of those still missing.
    """
    app = the_app()
    shares: dict[int, Share] = {}
    with db.session_scope(app) as session:
        try:
            rnd = rounds.get_round(session, round_id)
        except rounds.RoundError as exc:
            fail(str(exc))
        quorum = custody.quorum_of(session, rnd.id)
        if quorum is None:
            return []
        if given is not None:
            for label, passphrase in given:
                if label not in {h.label for h in custody.holders(session, rnd.id)}:
                    continue  # a custodian of another round given in the same input
                try:
                    holder, share = custody.open_share(session, rnd, label, passphrase)
                except custody.CustodyError as exc:
                    fail(f"Round {round_id}: {exc}")
                shares[holder.id] = share
            return list(shares.values())
        everyone = custody.holders(session, rnd.id)
        click.echo(
            f"{rnd.label} opens with {quorum} of {len(everyone)} custodians' passphrases; each "
            "types theirs in turn (Enter skips)."
        )
        for holder in everyone:
            if len(shares) >= quorum:
                break
            passphrase = click.prompt(
                f"Passphrase of {holder.name} ({holder.label})",
                hide_input=True,
                default="",
                show_default=False,
            )
            if not passphrase:
                continue
            try:
                shares[holder.id] = custody.open_share(session, rnd, holder.label, passphrase)[1]
            except custody.CustodyError as exc:
                click.echo(str(exc), err=True)
    return list(shares.values())


@click.group("custodian")
def custodian_group() -> None:
    """Name the custodians whose quorum opens a custodian-mode programme's rounds."""


def _program(session: Session, program_id: int) -> Program:
    program = session.get(Program, program_id)
    if program is None:
        fail(f"There is no programme {program_id}.")
    return program


@custodian_group.command("add")
@click.argument("program_id", type=int)
@click.argument("name")
@click.argument("label")
@click.option("--passphrase-stdin", is_flag=True, help="Read the passphrase from stdin.")
@needs_instance
def custodian_add(program_id: int, name: str, label: str, passphrase_stdin: bool) -> None:
    """Enrol a custodian: NAME, and a LABEL they will type (such as their email).

    The custodian chooses a passphrase; only the public key it derives is stored, so nobody
    else, the operator included, can open their share.
    """
    app = the_app()
    if passphrase_stdin:
        passphrase = sys.stdin.readline().rstrip("\n")
    else:
        passphrase = click.prompt(
            f"Passphrase for {name}", hide_input=True, confirmation_prompt=True
        )
    with db.session_scope(app) as session:
        program = _program(session, program_id)
        try:
            found = custody.add_custodian(
                session, program, name, label, passphrase, app.config["CUSTODIAN_SCRYPT_N"]
            )
        except custody.CustodyError as exc:
            fail(f"Not added: {exc}")
        session.commit()
        click.echo(
            f"Added custodian {found.name} ({found.label}) to {program.name}: they hold a share "
            "of every round opened from now on. Nobody can recover a forgotten passphrase."
        )


@custodian_group.command("list")
@click.argument("program_id", type=int)
@needs_instance
def custodian_list(program_id: int) -> None:
    """List a programme's custodians and its custody settings."""
    with db.session_scope(the_app()) as session:
        program = _program(session, program_id)
        click.echo(
            f"{program.name}: custody by {program.custody.value}, quorum "
            f"{program.custody_quorum}, sealed answers kept {program.retention_days} day(s)"
        )
        for holder in custody.custodians(session, program_id):
            click.echo(f"  {holder.label}\t{holder.name}")


@custodian_group.command("remove")
@click.argument("program_id", type=int)
@click.argument("label")
@click.option("--passphrase-stdin", is_flag=True, help=STDIN_HELP)
@needs_instance
def custodian_remove(program_id: int, label: str, passphrase_stdin: bool) -> None:
    """Remove a custodian who leaves, after re-sharing every unreleased round they hold.

    A quorum of the round's custodians (the one leaving may be among them) gives their
    passphrases; the round's key is re-wrapped under a new custody key shared among the
    others, so the old share opens nothing. Without a quorum nothing changes.
    """
    app = the_app()
    with db.session_scope(app) as session:
        try:
            leaving = custody.find_custodian(session, program_id, label)
            held = [r.id for r in custody.rounds_held_by(session, leaving)]
        except custody.CustodyError as exc:
            fail(str(exc))
    lines = stdin_passphrases() if passphrase_stdin else None
    given = {round_id: gather_shares(round_id, lines) for round_id in held}
    with db.session_scope(app) as session:
        try:
            leaving = custody.find_custodian(session, program_id, label)
            leaving.active = False
            for round_id, shares in given.items():
                custody.reshare(session, rounds.get_round(session, round_id), shares)
            custody.retire(session, leaving)
            session.commit()
        except (custody.CustodyError, rounds.RoundError) as exc:
            session.rollback()
            fail(f"Nothing was changed: {exc}")
    hygiene.scrub_storage(app.extensions["candor.engine"])
    click.echo(
        f"Removed custodian {label}; {len(held)} unreleased round(s) re-shared among the others."
    )
