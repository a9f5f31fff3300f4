"""Outages lose nothing: a PostgreSQL restart and an SQLite lock during submissions.

Against a real app on a real database: a throwaway PostgreSQL cluster this module starts
itself (never the shared server), stopped and restarted under the app's feet; and an SQLite
file whose lock another connection holds for longer than the busy timeout. Every survey route
answers 503 with Retry-After (never another 5xx), every form comes back with every answer,
and afterwards every link still works, once.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from survey import db
from tests.conftest import PG_ENV, OpenRound, answers_for, login
from tests.helpers import Browser, stored_answers

PG_BIN = Path("/usr/lib/postgresql/15/bin")
COMMENT = "Kept through the outage — ümlauts & <angle> brackets"


class Cluster:
    """A PostgreSQL cluster of its own in a temporary folder, on a free loopback port."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.data = folder, folder / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        # initdb and postgres refuse to run as root: run them as the postgres user then.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.prefix:
            shutil.chown(folder, "postgres")

    def _run(self, *args: str) -> None:
        done = subprocess.run(  # noqa: S603 - PostgreSQL's own tools, fixed arguments
            [*self.prefix, *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def init(self) -> None:
        initdb = str(PG_BIN / "initdb")
        self._run(initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        log = str(self.folder / "server.log")
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", log, "-o", options, "-w", "start"
        )

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[Cluster]:
    """Start a throwaway PostgreSQL cluster for this module, migrated to the newest schema."""
    if not (PG_BIN / "initdb").exists() or (os.geteuid() == 0 and not shutil.which("runuser")):
        if os.environ.get("CANDOR_REQUIRE_ALL_TESTS"):
            pytest.fail(f"PostgreSQL server binaries are missing in {PG_BIN}")
        pytest.skip(f"PostgreSQL server binaries are missing in {PG_BIN}")
    # Not under pytest's temporary folder, which the postgres user may not enter.
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="candor-pg-")))
    try:
        cluster.init()
        cluster.start()
        engine = db.make_engine(cluster.url)
        db.upgrade(engine)
        engine.dispose()
        yield cluster
        cluster.stop()
    finally:
        shutil.rmtree(cluster.folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: str
) -> Iterator[str]:
    """An SQLite file, or the throwaway cluster (emptied): never the shared server."""
    if request.param == "sqlite":
        shutil.copy(_sqlite_template, tmp_path / "candor.db")
        yield f"sqlite:///{tmp_path / 'candor.db'}"
        return
    if not os.environ.get(PG_ENV) and not os.environ.get("CANDOR_REQUIRE_ALL_TESTS"):
        pytest.skip(f"PostgreSQL: {PG_ENV} is not set")
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    engine = db.make_engine(cluster.url)
    from survey.models import Base

    tables = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield cluster.url


def form_of(app: Flask, round_id: int, code: str, value: int) -> dict[str, str]:
    """Return the no-JavaScript form: every answer, a comment and the code."""
    return {**answers_for(app, round_id, value=value), "token": code, "comment": COMMENT}


def answers_shown(page: str, form: dict[str, str]) -> bool:
    """Whether ``page`` brings back every answer of ``form``: chosen again, or kept hidden."""
    for name, value in form.items():
        if name.startswith("q_"):
            chosen = f'name="{name}" value="{value}" required checked'
            hidden = f'type="hidden" name="{name}" value="{value}"'
            if chosen not in page and hidden not in page:
                return False
    return "Kept through the outage — ümlauts &amp; &lt;angle&gt; brackets" in page


def assert_unavailable(reply: Any) -> None:
    """A survey answer to an unavailable database: 503, with when to try again."""
    assert reply.status_code == 503, (reply.status_code, reply.data[:300])
    assert int(reply.headers["Retry-After"]) > 0


def resend(client: FlaskClient, reply: Any, form: dict[str, str], round_id: int) -> Any:
    """Send a form again as its page left it (hidden fields included)."""
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', reply.data.decode()))
    hidden.pop("csrf_token", None)
    return client.post(f"/s/{round_id}", data={**form, **hidden})


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_restart_during_submissions(
    app: Flask, client: FlaskClient, open_round: OpenRound, pg_cluster: Cluster
) -> None:
    rid = open_round.round_id
    codes = list(open_round.tokens.values())
    items = {k.removeprefix("q_"): int(v) for k, v in answers_for(app, rid, 3).items()}
    assert client.get(f"/s/{rid}").status_code == 200  # this process has shown the form
    staff = app.test_client()
    login(staff, "admin")
    early = Browser(client, rid, codes[0])
    assert early.check_in().status_code == 200
    late = [Browser(client, rid, code) for code in codes[1:4]]
    forms = [form_of(app, rid, code, value=2) for code in codes[4:7]]

    pg_cluster.stop()  # down: every pooled connection is dead and none can be made
    try:
        for path in (f"/s/{rid}", f"/s/{rid}?lang=de", f"/s/{rid}/{codes[8]}"):
            page = client.get(path)
            assert_unavailable(page)
            assert b'name="token"' in page.data  # the form, from this process's copy
        # The key this process handed out before comes from its copy: a person can blind
        # while the database is down, and the check-in waits for it (below).
        key = client.get(f"/s/{rid}/keys/{early.key_id}")
        assert key.status_code == 200 and key.get_json()["fingerprint"] == early.fingerprint
        assert client.get(f"/s/{rid}/keys/999").status_code == 404  # all of them are known
        assert client.get(f"/s/{rid}/done").status_code == 200  # the thanks need nothing
        assert_unavailable(early.ballot(items, COMMENT))
        for browser in late:
            assert_unavailable(browser.check_in())
        pages = []
        for form in forms:
            page = client.post(f"/s/{rid}", data=form)
            assert_unavailable(page)
            assert answers_shown(page.data.decode(), form)
            pages.append(page)
        # Staff pages, and a survey page opened with a staff cookie, need the database too.
        for path in ("/dashboard", f"/s/{rid}"):
            page = staff.get(path)
            assert_unavailable(page)
            assert b"Log out" not in page.data  # the staff menu would have read the account
        assert b"not answering" in staff.get("/dashboard").data
        # A process that never showed this round keeps the answers in hidden fields.
        app.extensions.pop("candor.survey_pages", None)
        kept = client.post(f"/s/{rid}", data=forms[0])
        assert_unavailable(kept)
        assert answers_shown(kept.data.decode(), forms[0])
    finally:
        pg_cluster.start()

    # Back: the pool's dead connections are noticed before use, and every link still works.
    assert client.get(f"/s/{rid}").status_code == 200
    reply = early.ballot(items, COMMENT)
    assert reply.status_code == 200 and reply.get_json()["status"] == "recorded"
    for browser in late:
        assert browser.check_in().status_code == 200
        assert browser.ballot(items).status_code == 200
    for form, page in zip(forms, pages, strict=True):
        assert resend(client, page, form, rid).status_code == 303
    with db.session_scope(app) as session:
        assert stored_answers(session, rid) == 1 + len(late) + len(forms)
    assert resend(client, kept, forms[0], rid).status_code == 400  # used: counted once

    # Concurrent journeys while the server restarts twice: only 503s, then everyone is in.
    journeys = [Browser(client, rid, code) for code in codes[9:15]]
    statuses: list[int] = []
    lock = threading.Lock()

    def journey(browser: Browser) -> None:
        for step in (browser.check_in, lambda: browser.ballot(items)):
            while True:
                status = step().status_code
                with lock:
                    statuses.append(status)
                if status != 503:
                    break
                threading.Event().wait(0.05)

    threads = [threading.Thread(target=journey, args=(b,)) for b in journeys]
    for thread in threads:
        thread.start()
    for _ in range(2):
        pg_cluster.stop()
        pg_cluster.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert set(statuses) <= {200, 503}
    with db.session_scope(app) as session:
        assert stored_answers(session, rid) == 1 + len(late) + len(forms) + len(journeys)


def hold_sqlite_lock(path: str, *, readers_too: bool) -> sqlite3.Connection:
    """Take the database's write lock (and, with ``readers_too``, lock readers out as well)
    on a connection of its own, and keep it until that connection is closed."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=5)
    if readers_too:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("DELETE FROM settings WHERE key = 'no such setting'")  # takes the lock
        conn.execute("COMMIT")  # exclusive locking mode keeps it after the commit
        conn.execute("BEGIN EXCLUSIVE")
    else:
        conn.execute("BEGIN IMMEDIATE")
    return conn


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wait 0.2 s for a lock instead of seconds, so the lock outlasts the wait quickly."""
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)


@pytest.mark.usefixtures("short_busy_timeout")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("readers_too", [False, True], ids=["write-lock", "exclusive-lock"])
def test_sqlite_lock_longer_than_the_busy_timeout(
    app: Flask, client: FlaskClient, open_round: OpenRound, readers_too: bool
) -> None:
    rid = open_round.round_id
    codes = list(open_round.tokens.values())
    items = {k.removeprefix("q_"): int(v) for k, v in answers_for(app, rid, 5).items()}
    assert client.get(f"/s/{rid}").status_code == 200
    early = Browser(client, rid, codes[0])
    assert early.check_in().status_code == 200
    late = Browser(client, rid, codes[1])
    forms = [form_of(app, rid, code, value=1) for code in codes[2:4]]
    path = app.config["DATABASE_URL"].removeprefix("sqlite:///")

    if readers_too:  # the app's idle connections would keep the exclusive lock away
        app.extensions["candor.engine"].dispose()
    lock = hold_sqlite_lock(path, readers_too=readers_too)
    try:
        page = client.get(f"/s/{rid}")
        # A write lock leaves readers alone (WAL); an exclusive one shows the kept form.
        assert page.status_code == (503 if readers_too else 200)
        assert b'name="token"' in page.data
        assert_unavailable(early.ballot(items, COMMENT))
        assert_unavailable(late.check_in())
        pages = []
        for form in forms:
            reply = client.post(f"/s/{rid}", data=form)
            assert_unavailable(reply)
            assert answers_shown(reply.data.decode(), form)
            pages.append(reply)
    finally:
        lock.close()

    assert early.ballot(items, COMMENT).get_json()["status"] == "recorded"
    assert late.check_in().status_code == 200
    assert late.ballot(items).status_code == 200
    for form, page in zip(forms, pages, strict=True):
        assert resend(client, page, form, rid).status_code == 303
    with db.session_scope(app) as session:
        assert stored_answers(session, rid) == 2 + len(forms)


def test_busy_timeout_leaves_room_in_the_worker_timeout() -> None:
    """A survey POST may wait for the lock in each of its write transactions and still
    answer well before gunicorn kills its worker."""
    from survey import gunicorn_conf

    waits = db.WRITES_PER_REQUEST * db.SQLITE_BUSY_TIMEOUT_MS / 1000
    assert waits <= gunicorn_conf.timeout / 2


def test_teardown_never_raises_on_a_dead_connection(
    app: Flask, open_round: OpenRound, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing a session whose connection died is logged and discarded, never raised."""
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    def dead(self: Session) -> None:
        raise OperationalError("ROLLBACK", {}, Exception("server closed the connection"))

    with app.test_request_context(f"/s/{open_round.round_id}", method="POST"):
        session = db.get_session()
        session.execute(text("SELECT 1"))
        monkeypatch.setattr(Session, "close", dead)
        db.abandon_session()  # what teardown runs
        monkeypatch.undo()
        assert db.get_session() is not session


def test_the_500_page_promises_nothing(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    """After an unexpected error an answer may or may not be stored: the page says so."""
    from survey.models import Round

    with db.session_scope(app) as session:
        rnd = session.get(Round, open_round.round_id)
        assert rnd is not None
        rnd.items = {"asked": 5}  # not a list: the survey view raises
        session.commit()
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500, as in production
    page = client.post(f"/s/{open_round.round_id}", data={"token": "1.x"})
    assert page.status_code == 500
    assert b"We cannot tell whether what you sent was saved" in page.data
    assert b"lost" not in page.data


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_pooled_connection_the_server_closed_is_not_used(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    """A backend terminated while its connection sat in the pool costs no request: the
    connection is noticed closed when it is checked out, and a new one is made."""
    engine = app.extensions["candor.engine"]
    rid = open_round.round_id
    assert client.get(f"/s/{rid}").status_code == 200
    with engine.connect() as conn:
        pooled = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with engine.connect() as conn:  # the same pooled connection, checked and used again
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == pooled
    with db.make_engine(app.config["DATABASE_URL"]).connect() as other:
        assert other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pooled}).scalar()
    for _ in range(50):  # the backend is gone once its pid leaves pg_stat_activity
        with db.make_engine(app.config["DATABASE_URL"]).connect() as other:
            gone = not other.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pooled}
            ).scalar_one()
        if gone:
            break
        threading.Event().wait(0.05)
    assert client.get(f"/s/{rid}").status_code == 200  # no 503: the dead one was not used
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pooled


def test_an_extended_busy_code_is_waited_out_like_busy() -> None:
    """SQLite reports busy with extended codes too (261: another connection is recovering
    the WAL); begin_immediate waits those out like plain SQLITE_BUSY, not answering 503."""

    class Raw:
        def __init__(self) -> None:
            self.begun = 0
            self.refused = 0

        def execute(self, sql: str) -> None:
            if sql == "BEGIN IMMEDIATE":
                if self.refused < 2:
                    self.refused += 1
                    error = sqlite3.OperationalError("database is locked")
                    error.sqlite_errorcode = sqlite3.SQLITE_BUSY | (1 << 8)  # BUSY_RECOVERY
                    raise error
                self.begun += 1

    class Pooled:
        def __init__(self, raw: Raw) -> None:
            self.driver_connection = raw

    class Conn:
        def __init__(self, raw: Raw) -> None:
            self.connection = Pooled(raw)

        def exec_driver_sql(self, sql: str) -> None:
            raise AssertionError("the last try without waiting was reached")

    raw = Raw()
    db.begin_immediate(Conn(raw))  # type: ignore[arg-type]
    assert (raw.refused, raw.begun) == (2, 1)


@pytest.mark.parametrize("in_url", [False, True], ids=["default", "from-the-url"])
def test_a_postgresql_server_that_never_answers_costs_a_bounded_wait(
    monkeypatch: pytest.MonkeyPatch, in_url: bool
) -> None:
    """A server that takes the connection and never answers (hung, or a firewall that
    accepts and drops) raises one of UNAVAILABLE (503) within the connect timeout, not after
    TCP's minutes; a connect_timeout given in the URL wins over Candor's."""
    silent = socket.create_server(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    url = f"postgresql://postgres@127.0.0.1:{port}/candor"
    if in_url:
        monkeypatch.setattr(db, "PG_CONNECT_TIMEOUT_S", 600)
        url += "?connect_timeout=2"
    else:
        monkeypatch.setattr(db, "PG_CONNECT_TIMEOUT_S", 2)
    engine = db.make_engine(url)
    began = time.monotonic()
    try:
        with pytest.raises(db.UNAVAILABLE):
            engine.connect()
        assert time.monotonic() - began < 10
    finally:
        engine.dispose()
        silent.close()


def test_postgresql_waits_leave_room_in_the_worker_timeout() -> None:
    """Making a connection, then a request whose data goes unacknowledged, still answers
    well before gunicorn kills its worker."""
    from survey import gunicorn_conf

    waits = db.PG_CONNECT_TIMEOUT_S + db.PG_TCP_USER_TIMEOUT_MS / 1000
    assert waits <= gunicorn_conf.timeout / 2
