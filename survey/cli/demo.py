"""The ready demo: ``candor demo [--serve]``."""

from __future__ import annotations

import datetime as dt
import os
import sys

import click

from ..demo import STAFF, DemoError, DemoResult, ready_demo
from ..services import instance
from .common import fail, in_app, the_app


def _print(result: DemoResult, url: str) -> None:
    click.echo("")
    click.echo(
        "Candor demo is ready: Example AI Lab, 12 released fortnightly rounds, 1 open round."
    )
    click.echo(f"Open {url}/login and sign in as:")
    for email, role in STAFF:
        click.echo(f"  {role:<7} {email:<20} password: {result.passwords[email]}")
    click.echo(f"Survey links for the open round ({len(result.links)} invited; a few shown):")
    for link in result.links[:5]:
        click.echo(f"  {link.url}")
    click.echo(f"All links: candor round links {result.open_round}")
    click.echo("")


@click.command("demo")
@click.option("--serve/--no-serve", default=False, help="Start the web app afterwards (gunicorn).")
@click.option("--port", default=5000, show_default=True)
@in_app
def demo_command(serve: bool, port: int) -> None:
    """Set up the demo instance (once), print logins and links, optionally serve it."""
    app = the_app()
    app.config["PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    try:
        result = ready_demo(app, dt.datetime.now(dt.UTC).date(), click.echo)
    except (DemoError, instance.InstanceError) as exc:
        fail(str(exc))
    _print(result, app.config["PUBLIC_URL"])
    if serve:
        sys.stdout.flush()
        # The served app must find this same instance wherever gunicorn runs from.
        os.environ["CANDOR_INSTANCE_PATH"] = app.instance_path
        os.environ["CANDOR_PUBLIC_URL"] = app.config["PUBLIC_URL"]
        click.echo(f"Serving on {app.config['PUBLIC_URL']} (Ctrl+C stops it).")
        sys.stdout.flush()
        os.execvp(  # noqa: S606 - replace this process with gunicorn, no shell involved
            sys.executable,
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "python:survey.gunicorn_conf",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "survey.wsgi:app",
            ],
        )
