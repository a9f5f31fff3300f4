"""End-to-end fixtures: the app served by a real gunicorn, driven by Debian's Chromium.

Each test gets its own initialised instance on SQLite (the shared ``config`` fixture), a
``config.py`` with a production secret key, and a gunicorn started on a free loopback port
that is told to stop at teardown (its exit is awaited once, at the end of the session).
The browser is launched once per session; pages are opened through :func:`open_page`, which
also records script errors and CSP refusals.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
    sync_playwright,
)

from survey import db
from survey.services import rounds
from tests import appserver
from tests.conftest import PASSWORD, STAFF, OpenRound, answers_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}
# Set to a folder to keep screenshots of the phone survey and the dashboard for a look by eye.
SCREENSHOT_DIR = os.environ.get("CANDOR_E2E_SCREENSHOTS", "")

OpenPage = Callable[..., Page]


@pytest.fixture
def database_url(tmp_path: Path, _sqlite_template: str) -> str:
    """Override the sqlite/postgresql parametrisation: end-to-end runs on SQLite only."""
    path = tmp_path / "candor.db"
    shutil.copy(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def _stopping() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Collect servers told to stop, and wait for them all at the end of the session.

    A gunicorn takes a second or two to exit; waiting for each in its own test's teardown
    would add that to every test.
    """
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        appserver.stop(proc)


@pytest.fixture
def server_env() -> dict[str, str]:
    """Return extra environment for the served instance (a test module may override it)."""
    return {}


@pytest.fixture
def server_workers() -> int:
    """Return how many gunicorn workers serve the instance (a test module may override it)."""
    return 2


@pytest.fixture
def server(
    config: dict[str, Any],
    tmp_path: Path,
    _stopping: list[subprocess.Popen[bytes]],
    server_env: dict[str, str],
    server_workers: int,
) -> Iterator[str]:
    """Serve the instance of ``config`` with gunicorn in production mode; yield its base URL.

    gunicorn runs with the shipped settings (``survey/gunicorn_conf.py``: the log hygiene under
    test in test_logs.py); everything it and the app log, stdout and stderr, goes to
    ``tmp_path / "gunicorn.log"`` (:data:`~tests.appserver.SERVER_LOG`).
    """
    instance = Path(config["INSTANCE_PATH"])
    (instance / "config.py").write_text(f"SECRET_KEY = {secrets.token_urlsafe(48)!r}\n")
    port = appserver.free_port()
    base = f"http://127.0.0.1:{port}"
    env = appserver.server_environment(
        CANDOR_INSTANCE_PATH=str(instance),
        CANDOR_DATABASE_URL=config["DATABASE_URL"],
        CANDOR_PUBLIC_URL=base,
    )
    env.update(server_env)
    proc = appserver.start(env, port, tmp_path / appserver.SERVER_LOG, workers=server_workers)
    _stopping.append(proc)
    try:
        yield base
    finally:
        appserver.tell_to_stop(proc)  # stop serving now; _stopping waits for the exit


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Launch Debian's Chromium once; skip (or fail, in CI) when it is not installed."""
    if not os.path.exists(CHROMIUM):
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CANDOR_REQUIRE_ALL_TESTS"):
            pytest.fail(f"{reason} but CANDOR_REQUIRE_ALL_TESTS is set")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser: Browser, server: str) -> Iterator[OpenPage]:
    """Return a function that opens a page in a fresh context against ``server``.

    ``open_page(phone=True, javascript=False)``. Uncaught script errors and
    Content-Security-Policy refusals on any page fail the test at teardown.
    """
    contexts: list[BrowserContext] = []
    problems: list[str] = []

    def opener(*, phone: bool = False, javascript: bool = True) -> Page:
        context = browser.new_context(
            base_url=server, java_script_enabled=javascript, **(PHONE if phone else DESKTOP)
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        page.on("console", lambda message: _note_csp_refusal(message, problems))
        return page

    yield opener
    for context in contexts:
        context.close()
    assert not problems, "\n".join(problems)


def _note_csp_refusal(message: ConsoleMessage, problems: list[str]) -> None:
    if message.type == "error" and "Content Security Policy" in message.text:
        problems.append(f"CSP refusal: {message.text}")


def log_in(page: Page, role: str) -> None:
    """Log in as the staff member with ``role`` through the login form, as a person would."""
    page.goto("/login")
    page.get_by_label("Email").fill(STAFF[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name=f"Log out {STAFF[role]}")).to_be_visible()


def screenshot(page: Page, name: str) -> None:
    """Save a full-page screenshot as ``e2e-<name>.png`` when CANDOR_E2E_SCREENSHOTS is set."""
    if SCREENSHOT_DIR:
        page.screenshot(path=os.path.join(SCREENSHOT_DIR, f"e2e-{name}.png"), full_page=True)


@pytest.fixture
def released_round(app: Flask, open_round: OpenRound) -> dict[str, Any]:
    """Answer every invitation of ``open_round`` through the test client, close and release it.

    Return the release manifest.
    """
    client = app.test_client()
    for i, token in enumerate(open_round.tokens.values()):
        form = answers_for(app, open_round.round_id, value=2 + i % 4, nps=i % 11)
        data = {
            **form,
            "token": token,
            "comment": f"Comment {i}: more time for experiments, mail p{i}@example.org",
        }
        response = client.post(f"/s/{open_round.round_id}", data=data)
        assert response.status_code == 303, response.data
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, open_round.round_id)
        rounds.close_round(session, rnd, dt.date(2026, 11, 7))
        release = rounds.release_round(
            session, rnd, app.extensions["candor.kek"], dt.date(2026, 11, 8)
        )
        session.commit()
        return release.manifest
