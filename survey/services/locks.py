"""Locks that hold for every process and app server sharing one database.

Invariants:
- On PostgreSQL a lock is a session-level advisory lock, so it holds across every app server
  on the database and dies with its connection: a killed process holds nothing. The
  connection that holds it has no transaction open while it is held (a long-running holder
  must not make storage scrubs wait for it).
- On SQLite it is an exclusive ``flock`` on a file in a folder beside the database file, so it
  holds for every process on this machine that opens that database, whatever its instance
  folder; the kernel releases it when the process dies.
- Taking a lock with :func:`exclusive` never waits: the caller learns at once whether it
  holds it. :func:`take_turn` waits, and holds its lock for one transaction only.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

__all__ = ["exclusive", "is_held", "lock_path", "take_turn"]

LOCK_DIR_SUFFIX = ".locks"  # SQLite: <database file>.locks/<name>.lock
_SAFE_NAME = re.compile(r"^[a-z0-9-]{1,64}$")
_LOG = logging.getLogger(__name__)


def _check(name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise ValueError(f"a lock name is lower-case letters, digits and dashes, got {name!r}")
    return name


def _key(name: str) -> int:
    """Return the advisory-lock key of ``name``: 63 bits of its hash, so always positive."""
    digest = hashlib.sha256(b"candor/lock/" + _check(name).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def lock_path(engine: Engine, name: str, fallback_dir: str) -> str:
    """Return the file that stands for lock ``name`` on SQLite.

    Beside the database file; for an in-memory database (tests), in ``fallback_dir``.
    """
    database = engine.url.database
    if database and database != ":memory:":
        folder = os.path.abspath(database) + LOCK_DIR_SUFFIX
    else:
        folder = fallback_dir
    return os.path.join(folder, f"{_check(name)}.lock")


@contextmanager
def exclusive(engine: Engine, name: str, *, fallback_dir: str) -> Iterator[bool]:
    """Yield whether this process now holds lock ``name``; release it on exit, even on error.

    :param fallback_dir: where an in-memory SQLite database keeps its lock files.
    """
    if engine.dialect.name == "postgresql":
        with _advisory(engine, name) as held:
            yield held
        return
    path = lock_path(engine, name, fallback_dir)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def take_turn(conn: Connection, name: str) -> None:
    """Wait for lock ``name`` and hold it until ``conn``'s transaction ends, so the
    transactions that take it run one after another, across every app server.

    PostgreSQL: a transaction-level advisory lock; under READ COMMITTED the statements after
    it see what the previous holder committed. SQLite: nothing to take, as every writing
    transaction there starts with ``BEGIN IMMEDIATE``, which serialises them already.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(_TAKE_TURN, {"k": _key(name)})


_TAKE_TURN = text("SELECT pg_advisory_xact_lock(:k)")


@contextmanager
def _advisory(engine: Engine, name: str) -> Iterator[bool]:
    key = _key(name)
    conn = engine.connect()
    try:
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()  # the lock outlives the transaction; hold no transaction open
        try:
            yield held
        finally:
            if held:
                _unlock(conn, key)
    finally:
        conn.close()


def _unlock(conn: Connection, key: int) -> None:
    """Release an advisory lock; if the connection died, the server has released it already."""
    try:
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        conn.commit()
    except SQLAlchemyError:
        _LOG.warning("the connection holding a lock was lost; the server released the lock")
        conn.invalidate()


def is_held(engine: Engine, name: str, *, fallback_dir: str) -> bool:
    """Return whether some process (this one included) holds lock ``name`` right now."""
    if engine.dialect.name == "postgresql":
        key = _key(name)
        with engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database"
                    "                 WHERE datname = current_database())"
                    " AND classid::text::bigint = :hi AND objid::text::bigint = :lo"
                    " AND objsubid = 1"
                ),
                {"hi": key >> 32, "lo": key & 0xFFFFFFFF},
            ).scalar()
        return bool(found)
    path = lock_path(engine, name, fallback_dir)
    if not os.path.exists(path):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
