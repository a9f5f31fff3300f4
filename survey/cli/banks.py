"""Question banks as CSV files: ``candor bank ...``."""

from __future__ import annotations

import click

from .. import db
from .common import needs_instance, read_text, the_app


@click.group("bank")
def bank_group() -> None:
    """Import and export question banks as CSV files."""


@bank_group.command("list")
@needs_instance
def bank_list() -> None:
    """List the shipped and imported question banks and where they are used."""
    from ..services import bankfiles

    app = the_app()
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
@needs_instance
def bank_import(file: str, key: str | None, replace: bool, check_only: bool) -> None:
    """Import the question bank in FILE (CSV, UTF-8), or list every problem in it."""
    from ..domain.bankfile import BankFileError
    from ..services import bankfiles

    app = the_app()
    text = read_text(file)
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
@needs_instance
def bank_export(key: str, output: str | None) -> None:
    """Print the question bank KEY as a CSV file that `candor bank import` reads back."""
    from ..domain.questions import BankError
    from ..services import bankfiles

    app = the_app()
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
