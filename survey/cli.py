"""Operating commands: ``candor init``, ``candor demo``, ``candor round ...`` and friends.

Every command prints one clear sentence on failure and exits non-zero; none creates a key
except ``init``, and ``init`` refuses to overwrite one.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from . import clock, db
from . import config as config_module
from .domain.crypto import CryptoError
from .domain.release import digest, reaudit, verify
from .models import Cadence, Program, Release, Round, RoundStatus
from .services import accounts, keys, mailer, programs, roster, rounds, scheduler


def _fail(message: str) -> None:
    raise click.ClickException(message)


def require_key(app: Flask) -> bytes:
    """Return the instance key, checking config, schema and canary first (fail closed)."""
    kek: bytes | None = app.extensions.get("candor.kek")
    if kek is None:
        try:
            config_module.validate(app.config)
            if not db.schema_is_current(app.extensions["candor.engine"]):
                _fail(
                    "The database schema is missing or old: run `candor init` (new instance) "
                    "or `candor migrate` (existing one)."
                )
            kek = keys.check_instance_key(app.extensions["candor.engine"], app.config["KEY_FILE"])
        except (keys.InstanceKeyError, config_module.ConfigError) as exc:
            _fail(str(exc) + _rotation_hint(app))
        app.extensions["candor.kek"] = kek
    assert kek is not None
    return kek


def _rotation_hint(app: Flask) -> str:
    from .services import keyrotation

    if app.config.get("KEY_FILE") and keyrotation.in_progress(app.config["KEY_FILE"]):
        return " A key rotation was interrupted: run `candor key rotate` to finish it."
    return ""


def _now() -> dt.datetime:
    return clock.utcnow()


def _today() -> dt.date:
    return clock.utcnow().date()


def _write_local_config(app: Flask) -> None:
    """Create instance/config.py with a random SECRET_KEY, unless it already exists."""
    path = os.path.join(app.instance_path, "config.py")
    if os.path.exists(path):
        return
    os.makedirs(app.instance_path, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(
            "# Local settings for this Candor instance; never commit this file.\n"
            f"SECRET_KEY = {secret!r}\n"
        )
    app.config["SECRET_KEY"] = secret


def initialise(app: Flask, admin_email: str, password: str | None) -> str:
    """Create config, schema, instance key and first admin; return the admin's password."""
    try:  # refuse bad input before anything is created, so a retry starts from scratch
        accounts.normalise_email(admin_email)
        if password is not None and len(password) < accounts.MIN_PASSWORD_LENGTH:
            raise accounts.AccountError(
                f"passwords need at least {accounts.MIN_PASSWORD_LENGTH} characters."
            )
    except accounts.AccountError as exc:
        _fail(str(exc))
    _write_local_config(app)
    os.chmod(app.instance_path, 0o700)  # keys, config and the database are the operator's only
    engine = app.extensions["candor.engine"]
    db.upgrade(engine)
    if engine.url.get_backend_name() == "sqlite" and engine.url.database:
        os.chmod(engine.url.database, 0o600)
    password = password or secrets.token_urlsafe(12)
    with db.session_scope(app) as session:
        try:
            app.extensions["candor.kek"] = keys.create_instance_key(session, app.config["KEY_FILE"])
            accounts.create_user(session, admin_email, "admin", password)
        except (keys.InstanceKeyError, accounts.AccountError) as exc:
            _fail(str(exc))
        session.commit()
    return password


def _read_password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        _fail("No password was given on standard input.")
    return password


@click.command("init")
@click.option("--admin-email", default="admin@example.org", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the admin password from stdin.")
@with_appcontext
def init_command(admin_email: str, password_stdin: bool) -> None:
    """Create the schema, the instance key (mode 0600) and the first admin account."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    password = initialise(app, admin_email, _read_password(password_stdin))
    click.echo(f"Instance folder: {app.instance_path} (settings in its config.py).")
    click.echo(f"Database: {config_module.display_url(app.config['DATABASE_URL'])}.")
    click.echo(f"Created the database schema and the instance key at {app.config['KEY_FILE']}.")
    click.echo(
        "Back up the key file separately from the database: without it no answer can be read."
    )
    if not password_stdin:
        click.echo(f"Admin account: {admin_email}  password: {password}  (shown once)")


@click.command("migrate")
@with_appcontext
def migrate_command() -> None:
    """Apply new database migrations to an existing instance."""
    db.upgrade(current_app.extensions["candor.engine"])
    require_key(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo("The database schema is up to date.")


@click.command("check")
@click.option(
    "--backup",
    "backup_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also prove that this instance holds exactly the rows of the backup in this folder "
    "(run it right after `candor restore`).",
)
@with_appcontext
def check_command(backup_dir: str | None) -> None:
    """Check configuration, schema and instance key, as the web app does at start.

    Then check that everything the instance key wraps opens with it, above all the private
    key of every round not yet released.
    """
    from .services import backups, keyrotation

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    kek = require_key(app)
    with db.session_scope(app) as session:
        wrapped = list(keyrotation.wrapped_rows(session))
        left = [row.what for row in wrapped if not keyrotation.opens(row, kek)]
        unreleased = sum(
            1
            for row in wrapped
            if isinstance(row.owner, Round)
            and row.attribute == "wrapped_private_key"
            and row.owner.status is not RoundStatus.RELEASED
        )
    if left:
        _fail(
            f"{len(left)} wrapped key(s) do not open with the instance key "
            f"({', '.join(left[:3])}): restore the key file they were made with."
        )
    if backup_dir is not None:
        try:
            manifest = backups.read_backup(backup_dir)
        except backups.BackupError as exc:
            _fail(f"The backup cannot be compared: {exc}")
        differences = backups.compare(
            backups.table_counts(app.extensions["candor.engine"]), manifest.tables
        )
        if differences:
            _fail(f"This instance does not hold the backup's rows: {differences}.")
    click.echo("Configuration, schema and instance key are in order.")
    click.echo(
        f"Mode {app.config['CANDOR_ENV']}; instance {app.instance_path}; "
        f"database {config_module.display_url(app.config['DATABASE_URL'])}."
    )
    click.echo(
        f"Every key the instance key wraps opens with it, including the private keys of "
        f"{unreleased} unreleased round(s)."
    )
    if backup_dir is not None:
        click.echo(f"Every table holds exactly the rows of the backup in {backup_dir}.")


@click.group("key")
def key_group() -> None:
    """Manage the instance key."""


@key_group.command("rotate")
@with_appcontext
def key_rotate() -> None:
    """Replace the instance key with a new one, re-wrapping every key it wraps (never answers).

    Stop the web server and the tick timer first, and start them again afterwards: a running
    process keeps the old key in memory. Interrupted, run the same command again to finish.
    """
    from .services import keyrotation

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    path = app.config["KEY_FILE"]
    try:
        config_module.validate(app.config)
        if not db.schema_is_current(app.extensions["candor.engine"]):
            _fail("The database schema is missing or old: run `candor migrate` first.")
        report = keyrotation.rotate(app.extensions["candor.sessionmaker"], path)
    except (keyrotation.RotationError, keys.InstanceKeyError, config_module.ConfigError) as exc:
        _fail(str(exc))
    app.extensions.pop("candor.kek", None)
    click.echo(
        ("Finished the interrupted rotation: " if report.resumed else "Rotated the instance key: ")
        + f"{report.rows} wrapped key(s) now open only with the new key in {path}, and the old "
        "key is deleted. Restart the web server and the tick timer so they read the new key."
    )
    click.echo(
        "Backups taken before now need the old key: take a new backup (`candor backup DEST`) "
        "and keep the new key file apart from it."
    )


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False))
@with_appcontext
def backup_command(dest: str) -> None:
    """Copy the database consistently, while the app runs, into the new folder DEST.

    The copy holds no key: keep the instance key file (and custodians' passphrases) apart.
    """
    from .services import backups

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        manifest = backups.backup(app.extensions["candor.engine"], dest, _now())
    except backups.BackupError as exc:
        _fail(f"No backup was made: {exc}")
    click.echo(
        f"Backed up {sum(manifest.tables.values())} rows in {len(manifest.tables)} tables "
        f"(schema {manifest.schema_revision}) to {dest}."
    )
    click.echo("It holds no key material. Keep these apart from it, and from each other:")
    click.echo(f"  - {app.config['KEY_FILE']}: {backups.KEEP_APART[0]};")
    click.echo(f"  - {backups.KEEP_APART[1]}.")


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@with_appcontext
def restore_command(src: str) -> None:
    """Restore the backup in folder SRC into this instance's database, which must be empty."""
    from .services import backups

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    engine = app.extensions["candor.engine"]
    try:
        manifest = backups.restore(engine, src)
    except backups.BackupError as exc:
        _fail(f"Nothing was restored: {exc}")
    _write_local_config(app)
    os.chmod(app.instance_path, 0o700)
    click.echo(
        f"Restored {sum(manifest.tables.values())} rows in {len(manifest.tables)} tables "
        f"(schema {manifest.schema_revision}) from {src}; every table matches the backup."
    )
    if not os.path.exists(app.config["KEY_FILE"]):
        click.echo(
            f"The backup holds no key: put the instance key file back at {app.config['KEY_FILE']} "
            "(mode 0600)."
        )
    if not db.schema_is_current(engine):
        click.echo("The backup's schema is older than this version: run `candor migrate`.")
    click.echo(f"Then run `candor check --backup {src}` to prove the restored instance opens.")


@click.group("user")
def user_group() -> None:
    """Manage staff accounts."""


@user_group.command("add")
@click.argument("email")
@click.argument("role", type=click.Choice(["admin", "hr", "leader"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@with_appcontext
def user_add(email: str, role: str, password_stdin: bool) -> None:
    """Add a staff account; without --password-stdin a password is generated and shown once."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    require_key(app)
    password = _read_password(password_stdin) or secrets.token_urlsafe(12)
    with db.session_scope(app) as session:
        try:
            accounts.create_user(session, email, role, password)
        except accounts.AccountError as exc:
            _fail(str(exc))
        session.commit()
    click.echo(
        f"Added {role} {email}."
        + ("" if password_stdin else f"  password: {password}  (shown once)")
    )


@click.group("round")
def round_group() -> None:
    """Open, close and release rounds."""


def _round_step(round_id: int, step: str, *, quarantine: bool = False) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    kek = require_key(app)
    with db.session_scope(app) as session:
        try:
            rnd = rounds.get_round(session, round_id)
            message = f"Round {round_id}: " + rounds.advance(
                session, rnd, step, kek, _today(), quarantine=quarantine
            )
            rounds.record(session, "command line", f"round_{step}", f"round={rnd.id}", _now())
            if quarantine:
                _record_quarantine(session, rnd.id)
            session.commit()
        except rounds.REFUSALS as exc:
            _fail(str(exc))
    if step == "open":
        message += f" `candor round links {round_id}` lists their links."
    if step in rounds.SCRUBBING_STEPS:
        rounds.scrub_storage(app.extensions["candor.engine"])
    click.echo(message)


def _record_quarantine(session: Session, round_id: int) -> None:
    """Record in the audit trail how many sealed rows a release set aside, if any."""
    from .services.quarantine import QUARANTINED

    release = session.scalar(select(Release).where(Release.round_id == round_id))
    count = int(release.manifest.get("quarantined", 0)) if release is not None else 0
    if count:
        detail = f"round={round_id} rows={count}"
        rounds.record(session, "command line", QUARANTINED, detail, _now())


@round_group.command("new")
@click.argument("program_id", type=int)
@with_appcontext
def round_new(program_id: int) -> None:
    """Add a draft round to a programme."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    require_key(app)
    with db.session_scope(app) as session:
        program = session.get(Program, program_id)
        if program is None:
            _fail(f"There is no programme {program_id}.")
        assert program is not None
        rnd = rounds.create_round(session, program)
        session.commit()
        click.echo(f"Added draft round {rnd.id} ({rnd.label}) to {program.name}.")


@round_group.command("open")
@click.argument("round_id", type=int)
@with_appcontext
def round_open(round_id: int) -> None:
    """Snapshot the roster, freeze settings and create the round's invitations."""
    _round_step(round_id, "open")


@round_group.command("close")
@click.argument("round_id", type=int)
@with_appcontext
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
@with_appcontext
def round_release(round_id: int, quarantine: bool) -> None:
    """Unseal the answers once, apply disclosure control and store the manifest.

    A sealed row that fails to open stops the release with the count and the labels the
    failed rows claim; after investigating, --quarantine releases without them.
    """
    _round_step(round_id, "release", quarantine=quarantine)


@round_group.command("links")
@click.argument("round_id", type=int)
@with_appcontext
def round_links(round_id: int) -> None:
    """Print every invited person's email, link, code and entry page as tab-separated lines.

    Each use is recorded in the audit trail; for a strict programme the link secret is
    destroyed afterwards, as after a mail-merge export.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    kek = require_key(app)
    with db.session_scope(app) as session:
        try:
            rnd = rounds.get_round(session, round_id)
            rounds.refuse_links_if_unlinkable(rnd)
            links = rounds.invitation_links(session, rnd, kek, app.config["PUBLIC_URL"])
            rounds.record(session, "command line", rounds.LINKS_PRINTED, f"round={rnd.id}", _now())
            rounds.forget_secret_if_strict(session, rnd)
            session.commit()
        except (rounds.RoundError, CryptoError) as exc:
            _fail(str(exc))
    for link in links:
        click.echo(f"{link.email}\t{link.url}\t{link.code}\t{link.entry_url}")


@round_group.command("list")
@with_appcontext
def round_list() -> None:
    """List every round with its status."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    require_key(app)
    with db.session_scope(app) as session:
        for rnd in session.scalars(select(Round).order_by(Round.program_id, Round.number)):
            click.echo(
                f"{rnd.id:>4}  {rnd.program.name}  {rnd.label:<4} {rnd.status.value:<9} "
                f"{rnd.opens_on or ''} {rnd.closes_on or ''}"
            )


@click.command("audit")
@click.argument("round_id", type=int)
@with_appcontext
def audit_command(round_id: int) -> None:
    """Re-check a released round's manifest: digest unchanged and no small group derivable."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    require_key(app)
    with db.session_scope(app) as session:
        release = session.scalar(select(Release).where(Release.round_id == round_id))
        if release is None:
            _fail(f"Round {round_id} has not been released.")
        assert release is not None
        verdict = audit_release(session, release)
    click.echo(verdict)
    if not verdict.startswith("PASS"):
        sys.exit(1)


def audit_release(session: Session, release: Release) -> str:
    """Return a one-line verdict on a stored release (``PASS ...`` or ``FAIL ...``)."""
    manifest: dict[str, Any] = release.manifest
    if digest(manifest) != release.digest:
        return "FAIL: the manifest no longer matches the digest recorded at release."
    counts = rounds.atom_counts(session, release.round_id)
    snapshot = release.round.snapshot or {}
    if counts:
        result = verify(manifest, snapshot, counts)
        basis = f"exact re-audit over {result.atoms} atoms ({manifest['audit']['mode']} mode)"
    else:  # answers were shredded: audit what the manifest itself implies
        result = reaudit(manifest)
        basis = "re-audit of the published unit counts (raw answers no longer stored)"
    if not result.ok:
        leak = result.leaks[0] if result.leaks else None
        size = leak.total if leak else "unknown size"
        return f"FAIL: a group of {size} people is derivable ({basis})."
    shown = sum(1 for u in manifest["units"] if u["shown"])
    attrs = sum(1 for c in manifest["attributes"]["cells"] if c["shown"])
    return (
        f"PASS: {manifest['round']['label']} of {manifest['round']['program']}: {shown} of "
        f"{len(manifest['units'])} units and {attrs} attribute cells published; digest intact; "
        f"{basis}: no group of 1..{manifest['k'] - 1} people can be derived."
    )


@click.group("roster")
def roster_group() -> None:
    """Import the organisation tree and roster."""


@roster_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--apply", "apply_", is_flag=True, help="Apply the file; without it, a dry run.")
@with_appcontext
def roster_import(file: str, apply_: bool) -> None:
    """Show what importing FILE (CSV, UTF-8) would change; with --apply, apply it whole."""
    from .domain.roster import all_errors

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    require_key(app)
    try:
        with open(file, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"Cannot read {file} as UTF-8 text: {exc}") from exc
    with db.session_scope(app) as session:
        parsed, planned = roster.preview(session, text)
        errors = all_errors(parsed, planned)
        for error in errors:
            where = f"line {error.line}" + (f" ({error.column})" if error.column else "")
            click.echo(f"{where}: {error.message}", err=True)
        if errors:
            _fail(f"{file} has {len(errors)} problem(s); nothing was changed.")
        if not apply_:
            click.echo(f"Dry run: {planned.summary}")
            click.echo("Nothing was changed; run again with --apply to import the file.")
            return
        try:
            planned = roster.apply(session, text, planned.fingerprint)
            session.commit()
        except roster.RosterError as exc:
            _fail(str(exc))
    click.echo(f"Imported: {planned.summary} Rounds opened from now on use the new roster.")


@click.group("mail")
def mail_group() -> None:
    """Send invitations and reminders by email (run again to resume after any failure)."""


def _send_round_mail(round_id: int, kind: str) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    kek = require_key(app)
    try:
        factory = app.extensions["candor.sessionmaker"]
        report = mailer.send_configured(app.config, app.instance_path, factory, round_id, kind, kek)
    except (rounds.RoundError, CryptoError, mailer.MailError) as exc:
        _fail(str(exc))
    click.echo(f"Round {round_id}: {report.summary()}")
    if app.config["MAIL_BACKEND"] == "file":
        click.echo(
            f"Written to {app.config['MAIL_OUTBOX_DIR']}: these files hold live survey links; "
            "keep them private and delete them once handed on."
        )
    if report.secret_destroyed and kind == "invitation":
        click.echo("Strict mode: the link secret is destroyed; reminders will carry no link.")
    if report.stopped:
        _fail(
            f"Stopped: {report.stopped}. Run the same command again once this is fixed; "
            "nobody is sent a second, different email."
        )


@mail_group.command("invite")
@click.argument("round_id", type=int)
@with_appcontext
def mail_invite(round_id: int) -> None:
    """Email every invited person their link for an open round (those not yet sent one)."""
    _send_round_mail(round_id, "invitation")


@mail_group.command("remind")
@click.argument("round_id", type=int)
@with_appcontext
def mail_remind(round_id: int) -> None:
    """Email a reminder to everyone invited to an open round, answered or not."""
    _send_round_mail(round_id, "reminder")


@mail_group.command("test")
@click.argument("address")
@with_appcontext
def mail_test(address: str) -> None:
    """Send a test message (no survey link) to ADDRESS with the configured mail settings."""
    from .domain.mail import build_test_message

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    require_key(app)
    try:
        message = build_test_message(sender=app.config["MAIL_FROM"], recipient=address)
        with mailer.mailer_from_config(app.config) as sink:
            sink.send(message)
    except mailer.MailError as exc:
        _fail(str(exc))
    click.echo(f"Sent a test message to {address} through {sink}.")


@click.group("program")
def program_group() -> None:
    """Create and list programmes."""


@program_group.command("add")
@click.argument("name")
@click.option("--cadence", type=click.Choice([c.value for c in Cadence]), default="manual")
@click.option("--first-open", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--window", "window_days", type=int, default=5, show_default=True)
@click.option("--rotate", "rotation_every", type=int, default=3, show_default=True)
@click.option("--k", type=int, default=5, show_default=True)
@click.option("--comment-k", type=int, default=10, show_default=True)
@click.option("--bank", default="core-v1", show_default=True)
@click.option("--strict", is_flag=True, help="Forget the link secret once invitations are sent.")
@click.option(
    "--unlinkable-required",
    is_flag=True,
    help="Refuse answers sent without JavaScript, and never export or print links.",
)
@with_appcontext
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
) -> None:
    """Add a programme (the web admin page offers the same settings)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    require_key(app)
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
    )
    with db.session_scope(app) as session:
        try:
            program = programs.save_program(session, None, settings)
        except programs.ProgramError as exc:
            _fail(f"{exc.field}: {exc}")
        session.commit()
        click.echo(f"Added programme {program.id}: {program.name} ({program.cadence.value}).")


@program_group.command("list")
@with_appcontext
def program_list() -> None:
    """List programmes with their settings."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    require_key(app)
    with db.session_scope(app) as session:
        for p in session.scalars(select(Program).order_by(Program.id)):
            click.echo(
                f"{p.id:>4}  {p.name}  k={p.k} comments>={p.comment_k} {p.cadence.value} "
                f"first={p.first_open_on or '-'} window={p.window_days}d rotate={p.rotation_every}"
                f"{' strict' if p.strict_links else ''}"
                f"{' unlinkable-required' if p.unlinkable_required else ''}"
                f"{'' if p.active else ' (inactive)'}"
            )


@click.command("tick")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Act as if it were this day (for catching up or testing).",
)
@with_appcontext
def tick_command(today: dt.datetime | None) -> None:
    """Open due rounds, send invitations and reminders, close and release ended rounds.

    Safe to run from cron every few minutes, and safe if two run at once: the second one
    finds the lock taken and does nothing.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    kek = require_key(app)
    day = today.date() if today else _today()
    factory = app.extensions["candor.sessionmaker"]

    def send(round_id: int, kind: str) -> str:
        report = mailer.send_configured(app.config, app.instance_path, factory, round_id, kind, kek)
        if report.stopped:
            raise mailer.MailError(report.stopped)
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


@click.group("bank")
def bank_group() -> None:
    """Import and export question banks as CSV files."""


@bank_group.command("list")
@with_appcontext
def bank_list() -> None:
    """List the shipped and imported question banks and where they are used."""
    from .services import bankfiles

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    require_key(app)
    with db.session_scope(app) as session:
        for entry in bankfiles.catalogue(session):
            click.echo(
                f"{entry.key:<20} {'shipped' if entry.shipped else 'imported':<8} "
                f"{entry.themes:>2} themes {entry.items:>3} items  {','.join(entry.languages):<6} "
                f"{entry.rounds} round(s)  {', '.join(entry.programmes) or 'no programme'}"
            )


@bank_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--key", default=None, help="Store the bank under KEY, not the file's '# key:'.")
@click.option("--replace", is_flag=True, help="Replace an imported bank no round has used.")
@click.option("--check", "check_only", is_flag=True, help="Check the file; change nothing.")
@with_appcontext
def bank_import(file: str, key: str | None, replace: bool, check_only: bool) -> None:
    """Import the question bank in FILE (CSV, UTF-8), or list every problem in it."""
    from .domain.bankfile import BankFileError
    from .services import bankfiles

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    require_key(app)
    try:
        with open(file, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"Cannot read {file} as UTF-8 text: {exc}") from exc
    with db.session_scope(app) as session:
        try:
            if check_only:
                check = bankfiles.check_import(session, text, key)
            else:
                check = bankfiles.import_bank(session, text, key, replace=replace)
                session.commit()
        except BankFileError as exc:
            for error in exc.errors:
                where = f"line {error.line}" + (f" ({error.column})" if error.column else "")
                click.echo(f"{where}: {error.message}", err=True)
            raise click.ClickException(
                f"{file} has {len(exc.errors)} problem(s); nothing was changed."
            ) from exc
        except bankfiles.BankImportRefused as exc:
            hint = " Run again with --replace to replace it." if exc.replaceable else ""
            raise click.ClickException(f"{exc}{hint} Nothing was changed.") from exc
    for warning in check.warnings:
        click.echo(f"warning: {warning}", err=True)
    bank = check.bank
    summary = (
        f"{bank.key}: {len(bank.themes)} themes, {len(bank.items)} items, in "
        f"{', '.join(bank.languages)}; rotate over at least {check.min_rotation} round(s)"
    )
    if not check_only:
        click.echo(f"Imported {summary}. Programmes asking it use it from their next round.")
        return
    click.echo(f"{file} is a valid bank ({summary}); nothing was changed.")
    if check.refusal:
        click.echo(f"It cannot be imported under this key: {check.refusal}", err=True)


@bank_group.command("export")
@click.argument("key")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write to this new file, not stdout."
)
@with_appcontext
def bank_export(key: str, output: str | None) -> None:
    """Print the question bank KEY as a CSV file that `candor bank import` reads back."""
    from .domain.questions import BankError
    from .services import bankfiles

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    require_key(app)
    with db.session_scope(app) as session:
        try:
            text = bankfiles.export_csv(session, key)
        except BankError as exc:
            raise click.ClickException(str(exc)) from exc
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with open(output, "x", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except OSError as exc:
        raise click.ClickException(f"Cannot write {output} (it must not exist yet): {exc}") from exc
    click.echo(f"Wrote the bank {key} to {output}.")


COMMANDS = (
    init_command,
    migrate_command,
    check_command,
    key_group,
    backup_command,
    restore_command,
    user_group,
    round_group,
    program_group,
    roster_group,
    mail_group,
    bank_group,
    audit_command,
    tick_command,
)


def init_app(app: Flask) -> None:
    """Register the operating commands on ``flask`` as ``flask candor ...``."""
    from .demo import demo_command

    group = click.Group("candor", help="Operate Candor.")
    for command in (*COMMANDS, demo_command):
        group.add_command(command)
    app.cli.add_command(group)


def main() -> None:
    """Entry point of the ``candor`` console script."""
    from . import create_app
    from .demo import demo_command

    def factory() -> Flask:
        try:
            return create_app(check_key=False)
        except (config_module.ConfigError, ArgumentError) as exc:
            raise click.ClickException(f"The configuration cannot be used: {exc}") from None

    cli = FlaskGroup(
        create_app=factory,
        add_default_commands=False,
        add_version_option=False,
        help="Operate Candor: set up, run rounds, audit releases.",
    )
    for command in (*COMMANDS, demo_command):
        cli.add_command(command)
    cli.main(prog_name="candor")
