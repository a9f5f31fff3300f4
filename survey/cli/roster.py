"""The organisation tree and roster: ``candor roster import``."""

from __future__ import annotations

import click

from .. import db
from ..services import roster
from .common import fail, needs_instance, read_text, the_app


@click.group("roster")
def roster_group() -> None:
    """Import the organisation tree and roster."""


@roster_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--apply", "apply_", is_flag=True, help="Apply the file; without it, a dry run.")
@needs_instance
def roster_import(file: str, apply_: bool) -> None:
    """Show what importing FILE (CSV, UTF-8) would change; with --apply, apply it whole."""
    from ..domain.roster_plan import all_errors

    app = the_app()
    text = read_text(file)
    with db.session_scope(app) as session:
        parsed, planned = roster.preview(session, text)
        errors = all_errors(parsed, planned)
        for error in errors:
            where = f"line {error.line}" + (f" ({error.column})" if error.column else "")
            click.echo(f"{where}: {error.message}", err=True)
        if errors:
            fail(f"{file} has {len(errors)} problem(s); nothing was changed.")
        if planned.leaving_warning:  # the browser asks to confirm; here --apply is the answer
            click.echo(f"Warning: {planned.leaving_warning}", err=True)
        if not apply_:
            click.echo(f"Dry run: {planned.summary}")
            click.echo("Nothing was changed; run again with --apply to import the file.")
            return
        try:
            planned = roster.apply(session, text, planned.fingerprint)
            session.commit()
        except roster.RosterError as exc:
            fail(str(exc))
    click.echo(f"Imported: {planned.summary} Rounds opened from now on use the new roster.")
