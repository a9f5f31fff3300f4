"""Two app servers on one PostgreSQL: separate processes and instance folders, the same key.

Each instance is a real gunicorn with the shipped ``gunicorn.conf.py``; they serve alternately.
A staff session started on one is valid on the other and ends on both; login throttling
counts on both; and ``candor tick`` and ``candor mail invite`` started on both at once, against
a real SMTP server on loopback, deliver every invitation exactly once.
"""

from __future__ import annotations

import datetime as dt
import html
import http.cookiejar
import os
import re
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from survey import db
from survey.models import Cadence, Program
from survey.services import rounds
from tests import appserver
from tests import smtp as loopback
from tests.conftest import PASSWORD, STAFF, Org
from tests.smtp import Server

pytestmark = pytest.mark.slow

start_server = loopback.start_server  # fixture
BIN = Path(sys.executable).parent
SENDER = "Candor <pulse@candor.test>"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CLIENT_LIMIT = 3  # failed logins from one client before it is refused (set for both servers)


@dataclass
class Instance:
    """One app server: its instance folder, environment and base URL."""

    folder: Path
    env: dict[str, str]
    base: str


class Browser:
    """A cookie-keeping HTTP client that follows no redirects (it reports them)."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )

    def request(self, url: str, data: dict[str, str] | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(url, body, timeout=30) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def post_form(self, page: str, action: str, data: dict[str, str]) -> tuple[int, str]:
        """Read a CSRF token from ``page``, then post ``data`` with it to ``action``."""
        _, text = self.request(page)
        found = CSRF.search(text)
        assert found is not None, text[:500]
        return self.request(action, {**data, "csrf_token": html.unescape(found.group(1))})


def _instance(source: Path, folder: Path, url: str, secret: str, smtp_port: int) -> Instance:
    """Make an instance folder holding the same key and secret as ``source``'s."""
    folder.mkdir(exist_ok=True)
    if folder != source:
        shutil.copy2(source / "candor.key", folder / "candor.key")
    os.chmod(folder / "candor.key", 0o600)
    (folder / "config.py").write_text(f"SECRET_KEY = {secret!r}\n")
    env = appserver.server_environment(
        CANDOR_INSTANCE_PATH=str(folder),
        DATABASE_URL=url,  # the conventional name, as a deployment would set it
        CANDOR_MAIL_BACKEND="smtp",
        CANDOR_MAIL_FROM=SENDER,
        CANDOR_SMTP_HOST="127.0.0.1",
        CANDOR_SMTP_PORT=str(smtp_port),
        CANDOR_SMTP_STARTTLS="false",
        CANDOR_LOGIN_CLIENT_FREE_FAILURES=str(CLIENT_LIMIT - 1),
        CANDOR_LOGIN_CLIENT_MAX_FAILURES=str(CLIENT_LIMIT),
        CANDOR_WORKERS="1",
    )
    return Instance(folder, env, "")


@pytest.fixture
def smtp(start_server: Any) -> Server:
    server: Server = start_server()
    server.recorder.delay = 0.2  # long enough that four senders started together overlap
    return server


@pytest.fixture
def servers(
    config: dict[str, Any], tmp_path: Path, smtp: Server
) -> Iterator[tuple[Instance, Instance]]:
    """Start two gunicorns on one database, each with its own instance folder."""
    secret = secrets.token_urlsafe(48)
    source = Path(config["INSTANCE_PATH"])
    ports = [appserver.free_port(), appserver.free_port()]
    public = f"http://127.0.0.1:{ports[0]}"  # one public address, as behind a load balancer
    pair = [
        _instance(source, source, config["DATABASE_URL"], secret, smtp.port),
        _instance(source, tmp_path / "instance-b", config["DATABASE_URL"], secret, smtp.port),
    ]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for instance, port in zip(pair, ports, strict=True):
            instance.env["CANDOR_PUBLIC_URL"] = public
            instance.base = f"http://127.0.0.1:{port}"
            # The checkout's gunicorn.conf.py, with the workers CANDOR_WORKERS sets.
            log = instance.folder / appserver.SERVER_LOG
            procs.append(
                appserver.start(instance.env, port, log, config="gunicorn.conf.py", app=None)
            )
        yield pair[0], pair[1]
    finally:
        for proc in procs:
            appserver.tell_to_stop(proc)
        for proc in procs:
            appserver.stop(proc)


def _open_scheduled_round(app: Flask, organisation: Org, today: dt.date) -> tuple[int, int]:
    """Make the programme weekly and open its round today; return (round id, invited)."""
    with db.session_scope(app) as session:
        program = session.get(Program, organisation.program_id)
        assert program is not None
        program.cadence, program.first_open_on, program.window_days = (
            Cadence.WEEKLY,
            today,
            5,
        )
        rnd = rounds.create_round(session, program)
        invited = rounds.open_round(session, rnd, app.extensions["candor.kek"], today)
        session.commit()
        return rnd.id, invited


# Several app servers need PostgreSQL (SQLite's locks hold on one machine only; the same lock
# helper on SQLite is tested in tests/services/test_mailer.py and test_scheduler.py).
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_servers_share_sessions_throttling_and_send_every_message_once(
    app: Flask, organisation: Org, servers: tuple[Instance, Instance], smtp: Server
) -> None:
    a, b = servers
    today = dt.datetime.now(dt.UTC).date()
    round_id, invited = _open_scheduled_round(app, organisation, today)

    # A staff session started on one server is valid on the other, and ends on both.
    staff = Browser()
    status, _ = staff.post_form(
        f"{a.base}/login", f"{a.base}/login", {"email": STAFF["admin"], "password": PASSWORD}
    )
    assert status == 302
    for base in (b.base, a.base, b.base):
        status, page = staff.request(f"{base}/admin/")
        assert status == 200 and "Programmes and rounds" in page
    status, page = staff.request(f"{b.base}/admin/rounds/{round_id}")
    assert status == 200 and f"{invited} personal links exist" in page
    status, _ = staff.post_form(f"{b.base}/admin/", f"{b.base}/logout", {})
    assert status == 302
    for base in (a.base, b.base):
        status, _ = staff.request(f"{base}/admin/")
        assert status == 302  # to the login page: the session ended everywhere

    # Sending: two ticks and two `candor mail invite`, on both servers at once.
    commands = [
        (a, ["tick", "--today", today.isoformat()]),
        (b, ["tick", "--today", today.isoformat()]),
        (a, ["mail", "invite", str(round_id)]),
        (b, ["mail", "invite", str(round_id)]),
    ]
    procs = [
        subprocess.Popen(  # noqa: S603 (fixed argv)
            [str(BIN / "candor"), *args],
            cwd=instance.folder,
            env=instance.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for instance, args in commands
    ]
    outputs = [proc.communicate(timeout=120)[0].decode() for proc in procs]
    for proc, output in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, output
    assert all("/s/" not in output for output in outputs)  # no link printed anywhere
    per_person = Counter(r for m in smtp.messages for r in m.rcpt)
    assert len(per_person) == invited and set(per_person.values()) == {1}, outputs
    assert len({m.message["Message-ID"] for m in smtp.messages}) == invited
    assert all(not m.message["Subject"].startswith("Reminder") for m in smtp.messages)
    status, _ = Browser().request(f"{a.base}/privacy")
    assert status == 200

    # Both servers read the same ledger.
    watcher = Browser()
    watcher.post_form(
        f"{b.base}/login", f"{b.base}/login", {"email": STAFF["admin"], "password": PASSWORD}
    )
    for base in (a.base, b.base):
        status, body = watcher.request(f"{base}/admin/rounds/{round_id}/mail.json")
        assert status == 200
        assert f'"sent":{invited}' in body.replace(" ", "")
    watcher.post_form(f"{a.base}/admin/", f"{a.base}/logout", {})

    # Login throttling counts on both: the client's failures add up across servers.
    guesser = Browser()
    wrong = ["hr", "leader", "admin"][:CLIENT_LIMIT]
    for base, role in zip([a.base, b.base, a.base], wrong, strict=True):
        status, _ = guesser.post_form(
            f"{base}/login", f"{base}/login", {"email": STAFF[role], "password": "wrong guess"}
        )
        assert status == 401  # a wrong password: the form again
    status, _ = guesser.post_form(
        f"{b.base}/login", f"{b.base}/login", {"email": STAFF["admin"], "password": PASSWORD}
    )
    assert status == 429  # refused on the other server too, even with the right password
