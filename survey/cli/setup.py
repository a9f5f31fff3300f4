"""Setting up and keeping an instance: init, migrate, check, key rotation, backup, restore."""

from __future__ import annotations

import os

import click

from .. import config as config_module
from .. import db
from ..models import Round, RoundStatus
from ..services import instance, keys
from .common import fail, in_app, instance_key, needs_instance, now, read_password, the_app


@click.command("init")
@click.option("--admin-email", default="admin@example.org", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the admin password from stdin.")
@in_app
def init_command(admin_email: str, password_stdin: bool) -> None:
    """Create the schema, the instance key (mode 0600) and the first admin account."""
    app = the_app()
    try:
        password = instance.initialise(app, admin_email, read_password(password_stdin))
    except instance.InstanceError as exc:
        fail(str(exc))
    click.echo(f"Instance folder: {app.instance_path} (settings in its config.py).")
    click.echo(f"Database: {config_module.display_url(app.config['DATABASE_URL'])}.")
    click.echo(f"Created the database schema and the instance key at {app.config['KEY_FILE']}.")
    click.echo(
        "Back up the key file separately from the database: without it no answer can be read."
    )
    if not password_stdin:
        click.echo(f"Admin account: {admin_email}  password: {password}  (shown once)")


@click.command("migrate")
@in_app
def migrate_command() -> None:
    """Apply new database migrations to an existing instance."""
    db.upgrade(the_app().extensions["candor.engine"])
    instance_key()
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
@needs_instance
def check_command(backup_dir: str | None) -> None:
    """Check configuration, schema and instance key, as the web app does at start.

    Then check that everything the instance key wraps opens with it, above all the private
    key of every round not yet released.
    """
    from ..services import backups, keyrotation

    app = the_app()
    kek = instance_key()
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
        fail(
            f"{len(left)} wrapped key(s) do not open with the instance key "
            f"({', '.join(left[:3])}): restore the key file they were made with."
        )
    if backup_dir is not None:
        try:
            manifest = backups.read_backup(backup_dir)
        except backups.BackupError as exc:
            fail(f"The backup cannot be compared: {exc}")
        differences = backups.compare(
            backups.table_counts(app.extensions["candor.engine"]), manifest.tables
        )
        if differences:
            fail(f"This instance does not hold the backup's rows: {differences}.")
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
@in_app
def key_rotate() -> None:
    """Replace the instance key with a new one, re-wrapping every key it wraps (never answers).

    Stop the web server and the tick timer first, and start them again afterwards: a running
    process keeps the old key in memory. Interrupted, run the same command again to finish.
    """
    from ..services import keyrotation

    app = the_app()
    path = app.config["KEY_FILE"]
    try:
        config_module.validate(app.config)
        if not db.schema_is_current(app.extensions["candor.engine"]):
            fail("The database schema is missing or old: run `candor migrate` first.")
        report = keyrotation.rotate(app.extensions["candor.sessionmaker"], path)
    except (keyrotation.RotationError, keys.InstanceKeyError, config_module.ConfigError) as exc:
        fail(str(exc))
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
@in_app
def backup_command(dest: str) -> None:
    """Copy the database consistently, while the app runs, into the new folder DEST.

    The copy holds no key: keep the instance key file (and custodians' passphrases) apart.
    """
    from ..services import backups

    app = the_app()
    try:
        manifest = backups.backup(app.extensions["candor.engine"], dest, now())
    except backups.BackupError as exc:
        fail(f"No backup was made: {exc}")
    click.echo(
        f"Backed up {sum(manifest.tables.values())} rows in {len(manifest.tables)} tables "
        f"(schema {manifest.schema_revision}) to {dest}."
    )
    click.echo("It holds no key material. Keep these apart from it, and from each other:")
    click.echo(f"  - {app.config['KEY_FILE']}: {backups.KEEP_APART[0]};")
    click.echo(f"  - {backups.KEEP_APART[1]}.")


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@in_app
def restore_command(src: str) -> None:
    """Restore the backup in folder SRC into this instance's database, which must be empty."""
    from ..services import backups

    app = the_app()
    engine = app.extensions["candor.engine"]
    try:
        manifest = backups.restore(engine, src)
    except backups.BackupError as exc:
        fail(f"Nothing was restored: {exc}")
    instance.write_local_config(app)
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
