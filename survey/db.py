"""The database: one engine per app, one session per app context, migrations with Alembic.

SQLite is opened in WAL mode with a busy timeout, and every transaction that may write starts
with ``BEGIN IMMEDIATE``, so two writers queue instead of failing with "database is locked" and
a consume-then-store transaction can never interleave with another. Requests that only read
(GET and HEAD) use a plain deferred ``BEGIN`` so they never wait for a writer.

A database that is down, restarting or locked raises one of :data:`UNAVAILABLE`; the web layer
answers those with 503 and ``Retry-After`` (and the survey form keeps every answer). Pooled
PostgreSQL connections the server closed are noticed before use, on their socket (see
:func:`_drop_if_closed`), so a restart costs no request that comes after it, and closing a
session at teardown never raises. The web app refuses to start on a schema that is not at the
newest migration (:func:`require_current_schema`).
"""

from __future__ import annotations

import logging
import os
import select
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url
from sqlalchemy.exc import (
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

# How long an SQLite writer waits for the lock before the request answers 503. A survey POST
# runs at most WRITES_PER_REQUEST write transactions one after another (check-in, ballot, mix),
# so even waiting in each stays well below gunicorn's 30 s worker timeout: a locked database
# answers 503 and keeps the answers, rather than getting its worker killed.
SQLITE_BUSY_TIMEOUT_MS = 5_000
WRITES_PER_REQUEST = 3
# How long a PostgreSQL connection may take to be made, and how long data sent to the server may
# go unacknowledged, before the request answers 503: a server that is unreachable, or a network
# that drops everything, would otherwise hold the worker for minutes (TCP's own retries), until
# gunicorn kills it and the person gets no answer at all. Keepalive probes let an idle pooled
# connection whose server vanished without closing it read as closed (see _drop_if_closed).
# Parameters given in the database URL win.
PG_CONNECT_TIMEOUT_S = 5
PG_TCP_USER_TIMEOUT_MS = 10_000
PG_KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
# How a writer waits for SQLite's write lock: first pause, and the longest (see begin_immediate).
FIRST_PAUSE_S = 0.0002
LONGEST_PAUSE_S = 0.002
# What a database that is down, restarting, locked or out of connections raises.
UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeoutError,
)
log = logging.getLogger(__name__)
READ_ONLY_OPTION = "candor_read_only"
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def make_engine(url: str) -> Engine:
    """Return an engine for ``url`` with Candor's connection settings."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        given = make_url(url).query
        bounds: dict[str, Any] = {
            "connect_timeout": PG_CONNECT_TIMEOUT_S,
            "tcp_user_timeout": PG_TCP_USER_TIMEOUT_MS,
            **PG_KEEPALIVE,
        }
        engine = create_engine(
            url, connect_args={k: v for k, v in bounds.items() if k not in given}
        )
        event.listen(engine, "checkout", _drop_if_closed)
        return engine
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if url in ("sqlite://", "sqlite:///:memory:"):
        kwargs["poolclass"] = StaticPool
    else:
        path = url.removeprefix("sqlite:///")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # First: switching to WAL already waits for a lock, and must not wait longer.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY_OPTION, False):
            conn.exec_driver_sql("BEGIN")
        else:
            begin_immediate(conn)

    return engine


def _drop_if_closed(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled PostgreSQL connection the server has closed (a restart, a terminated
    backend, an idle timeout), so the pool connects anew before the request uses it.

    An idle connection has nothing to read; one the server closed reads its end (or the
    FATAL message before it). Checked on the socket, without the round trip a ping costs.
    A false alarm (a notice that arrived while idle) only costs a new connection.
    """
    try:
        fd = dbapi_conn.fileno()
        if hasattr(select, "poll"):  # no limit on the descriptor's number, unlike select()
            watch = select.poll()
            watch.register(fd, select.POLLIN)
            waiting = bool(watch.poll(0))
        else:
            waiting = bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError) as exc:  # closed on this side already
        raise DisconnectionError() from exc
    if waiting:
        raise DisconnectionError()


def begin_immediate(conn: Connection) -> None:
    """Start a write transaction on SQLite, waiting at most the busy timeout for the lock.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20 … ms between tries, so a writer
    that finds the lock taken for a millisecond often sleeps for ten while the lock sits
    free. This tries again after :data:`FIRST_PAUSE_S`, doubling to :data:`LONGEST_PAUSE_S`,
    for the same total wait; the last try's "database is locked" is raised as SQLAlchemy's
    (answered with 503).
    """
    raw = cast(sqlite3.Connection, conn.connection.driver_connection)
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    pause = FIRST_PAUSE_S
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while time.monotonic() < deadline:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                # Extended codes (busy while another connection recovers the WAL, say)
                # carry SQLITE_BUSY in their low byte.
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    break
            time.sleep(pause)
            pause = min(2 * pause, LONGEST_PAUSE_S)
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def init_app(app: Flask) -> None:
    """Create the app's engine and session factory and close sessions at teardown."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["candor.engine"] = engine
    app.extensions["candor.sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def get_session(*, reads_only: bool = False) -> Session:
    """Return this app context's session, opening it on first use.

    During a GET or HEAD request the session reads only; a view that must record something
    while answering a GET opens its own :func:`session_scope`. A view that opens the session
    with ``reads_only`` promises a few independent reads and no write (the survey's GET
    routes): on PostgreSQL those then run without a transaction, which saves the BEGIN and
    ROLLBACK round trips (under READ COMMITTED each statement has its own snapshot anyway).
    """
    if "db_session" not in g:
        opened: Session = current_app.extensions["candor.sessionmaker"]()
        if has_request_context() and request.method in ("GET", "HEAD"):
            options: dict[str, Any] = {READ_ONLY_OPTION: True}
            if reads_only and opened.get_bind().dialect.name == "postgresql":
                options["isolation_level"] = "AUTOCOMMIT"
            opened.connection(execution_options=options)
        g.db_session = opened
    session: Session = g.db_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    abandon_session()


def abandon_session() -> None:
    """Close this context's session without raising: roll back what it did, and if its
    connection died meanwhile, discard that connection. The next :func:`get_session` opens a
    new session (for a page that must still be shown while the database is unavailable)."""
    session: Session | None = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.close()
    except SQLAlchemyError:
        log.warning("closing a database session failed; its connection is discarded")
        try:
            session.invalidate()
        except SQLAlchemyError:
            log.warning("discarding a dead database connection failed")


@contextmanager
def session_scope(app: Flask) -> Iterator[Session]:
    """Yield a session outside a request (CLI, tests); the caller commits."""
    session: Session = app.extensions["candor.sessionmaker"]()
    try:
        yield session
    finally:
        session.close()


def alembic_config(engine: Engine) -> AlembicConfig:
    """Return an Alembic configuration that migrates ``engine``."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", MIGRATIONS_DIR)
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema up to the newest migration."""
    command.upgrade(alembic_config(engine), "head")


class SchemaNotCurrent(RuntimeError):
    """The database has no Candor schema, or not the newest one; the message says what to run."""


def schema_revisions(engine: Engine) -> tuple[str | None, str | None]:
    """Return the database's schema revision (None without a schema) and the newest one."""
    from alembic.script import ScriptDirectory

    with engine.connect() as conn:
        current = (
            MigrationContext.configure(conn).get_current_revision()
            if inspect(conn).has_table("alembic_version")
            else None
        )
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    return current, head


def schema_is_current(engine: Engine) -> bool:
    """Return whether the database has Candor's schema at the newest revision."""
    current, head = schema_revisions(engine)
    return current is not None and current == head


def require_current_schema(engine: Engine) -> None:
    """Raise :class:`SchemaNotCurrent` unless the schema is at the newest revision."""
    current, head = schema_revisions(engine)
    if current is None:
        raise SchemaNotCurrent(
            "The database has no Candor schema: run `candor init` (new instance) "
            "or `candor migrate` (existing one)."
        )
    if current != head:
        raise SchemaNotCurrent(
            f"The database schema is at revision {current}, but this version of Candor needs "
            f"{head}: run `candor migrate` (after a backup)."
        )
