"""Operating commands: ``candor init``, ``candor demo``, ``candor round ...`` and friends.

Every command prints one clear sentence on failure and exits non-zero; none creates a key
except ``init``, and ``init`` refuses to overwrite one. Each area's commands live in their
own module; this one only gathers them, for the ``candor`` script and for ``flask candor``.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy.exc import ArgumentError

from .. import config as config_module
from . import banks, custody, demo, mail, programs, roster, rounds, schedule, setup, users

COMMANDS: tuple[click.Command, ...] = (
    setup.init_command,
    setup.migrate_command,
    setup.check_command,
    setup.key_group,
    setup.backup_command,
    setup.restore_command,
    users.user_group,
    rounds.round_group,
    custody.custodian_group,
    programs.program_group,
    roster.roster_group,
    mail.mail_group,
    banks.bank_group,
    rounds.audit_command,
    schedule.tick_command,
    demo.demo_command,
)


def command_group(name: str) -> click.Group:
    """Return a click group holding every operating command."""
    group = click.Group(name, help="Operate Candor: set up, run rounds, audit releases.")
    for command in COMMANDS:
        group.add_command(command)
    return group


def init_app(app: Flask) -> None:
    """Register the operating commands on ``flask`` as ``flask candor ...``."""
    app.cli.add_command(command_group("candor"))


def _factory() -> Flask:
    from .. import create_app

    try:
        return create_app(check_key=False)
    except (config_module.ConfigError, ArgumentError) as exc:
        raise click.ClickException(f"The configuration cannot be used: {exc}") from None


def main() -> None:
    """Entry point of the ``candor`` console script: only Candor's commands, no Flask options."""
    command_group("candor").main(prog_name="candor", obj=ScriptInfo(create_app=_factory))
