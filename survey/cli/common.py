"""What every operating command shares: one way to fail, and one way to open the instance."""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .. import clock
from ..services import instance

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str) -> NoReturn:
    """Stop the command with one clear sentence and a non-zero exit."""
    raise click.ClickException(message)


def the_app() -> Flask:
    """Return the app the command runs in (the real object, not the context proxy)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


def instance_key() -> bytes:
    """Return the checked instance key of the command's app, or stop with what to do."""
    try:
        return instance.require_key(the_app())
    except instance.InstanceError as exc:
        fail(str(exc))


def in_app(func: Callable[P, R]) -> Callable[P, R]:
    """Run the command inside the app's context (no key needed: set-up and repair commands)."""
    return with_appcontext(func)


def needs_instance(func: Callable[P, R]) -> Callable[P, R]:
    """Run the command inside the app's context, after checking config, schema and key."""

    @functools.wraps(func)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        instance_key()
        return func(*args, **kwargs)

    return with_appcontext(checked)


def read_password(from_stdin: bool) -> str | None:
    """Return the password given on standard input, if asked to read one."""
    if not from_stdin:
        return None
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        fail("No password was given on standard input.")
    return password


def now() -> dt.datetime:
    """Return the time the command acts at."""
    return clock.utcnow()


def today() -> dt.date:
    """Return the day the command acts on."""
    return clock.utcnow().date()


def read_text(file: str) -> str:
    """Return a UTF-8 (optionally BOM-prefixed) file's text, or stop saying why it cannot."""
    try:
        with open(file, encoding="utf-8-sig", newline="") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"Cannot read {file} as UTF-8 text: {exc}") from exc
