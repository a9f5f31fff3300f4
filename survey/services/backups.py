"""Backups and restores of the database, never of the keys that open it.

Invariants:

- A backup is one consistent copy taken while the app runs: SQLite through its online backup
  API (a plain copy of a live database misses what still sits in the ``-wal`` file), PostgreSQL
  through ``pg_dump -Fc`` reading the very snapshot in which the manifest's counts were taken.
- A backup holds no key material: the instance key lives in a file beside the database,
  custodians' passphrases in people's heads, and neither is ever read here.
- A restore goes only into an empty database, checks the file's digest first and the row
  counts of every table against the manifest afterwards.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.engine import URL

from ..db import SQLITE_BUSY_TIMEOUT_MS

FORMAT = "candor-backup/1"
MANIFEST_FILE = "manifest.json"
DATA_FILES = {"sqlite": "candor.sqlite3", "postgresql": "candor.pgdump"}
CHUNK = 1 << 20
# What a backup deliberately leaves out, printed by `candor backup` and `candor restore`.
KEEP_APART = (
    "the instance key file (without it no unreleased round can be opened; whoever holds it "
    "and a backup together can open them, so never store the two in one place)",
    "each custodian's passphrase, for rounds in custodian mode (kept by the custodians)",
)


class BackupError(RuntimeError):
    """Raised when a backup or restore cannot be made safely; the message says why."""


@dataclass(frozen=True)
class BackupManifest:
    """What a backup holds: its format, the database kind, the schema and every table's rows."""

    format: str
    database: str
    file: str
    sha256: str
    schema_revision: str
    tables: dict[str, int]
    taken_at: str

    def to_json(self) -> str:
        """Return the manifest as it is written beside the data file."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, raw: str) -> BackupManifest:
        """Parse a manifest written by :meth:`to_json`, refusing anything else."""
        try:
            data = json.loads(raw)
            manifest = cls(
                format=str(data["format"]),
                database=str(data["database"]),
                file=str(data["file"]),
                sha256=str(data["sha256"]),
                schema_revision=str(data["schema_revision"]),
                tables={str(k): int(v) for k, v in data["tables"].items()},
                taken_at=str(data["taken_at"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError("the backup manifest is not one Candor wrote.") from exc
        if manifest.format != FORMAT or manifest.database not in DATA_FILES:
            raise BackupError(f"the backup's format {manifest.format!r} is not {FORMAT!r}.")
        return manifest


def backup(engine: Engine, dest: str, now: dt.datetime) -> BackupManifest:
    """Write a consistent copy of the database and its manifest into the new folder ``dest``."""
    kind = engine.dialect.name
    if kind not in DATA_FILES:
        raise BackupError(f"Candor cannot back up a {kind} database.")
    if os.path.exists(dest) and (not os.path.isdir(dest) or os.listdir(dest)):
        raise BackupError(f"{dest} already exists and is not an empty folder.")
    os.makedirs(dest, mode=0o700, exist_ok=True)
    data_path = os.path.join(dest, DATA_FILES[kind])
    if kind == "sqlite":
        revision, tables = _sqlite_backup(_sqlite_path(engine), data_path)
    else:
        revision, tables = _pg_backup(engine, data_path)
    os.chmod(data_path, 0o600)
    manifest = BackupManifest(
        format=FORMAT,
        database=kind,
        file=DATA_FILES[kind],
        sha256=_sha256(data_path),
        schema_revision=revision,
        tables=tables,
        taken_at=now.replace(microsecond=0).isoformat() + "Z",
    )
    fd = os.open(os.path.join(dest, MANIFEST_FILE), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(manifest.to_json())
    return manifest


def read_backup(src: str) -> BackupManifest:
    """Return the manifest of the backup in ``src`` after checking its data file's digest."""
    try:
        with open(os.path.join(src, MANIFEST_FILE), encoding="utf-8") as handle:
            manifest = BackupManifest.from_json(handle.read())
    except OSError as exc:
        raise BackupError(f"{src} holds no readable {MANIFEST_FILE}: {exc.strerror}.") from exc
    data_path = os.path.join(src, manifest.file)
    if os.path.basename(manifest.file) != manifest.file or not os.path.isfile(data_path):
        raise BackupError(f"the backup's data file {manifest.file} is missing from {src}.")
    if _sha256(data_path) != manifest.sha256:
        raise BackupError(f"{data_path} does not match its manifest: the backup is damaged.")
    return manifest


def restore(engine: Engine, src: str) -> BackupManifest:
    """Restore the backup in ``src`` into the empty database of ``engine`` and check its rows."""
    manifest = read_backup(src)
    kind = engine.dialect.name
    if manifest.database != kind:
        raise BackupError(f"this backup is of a {manifest.database} database, not {kind}.")
    with engine.connect() as conn:
        existing = inspect(conn).get_table_names()
    if existing:
        raise BackupError(
            f"the database already has {len(existing)} table(s); restore only into an empty one."
        )
    data_path = os.path.join(src, manifest.file)
    if kind == "sqlite":
        engine.dispose()
        target = _sqlite_path(engine)
        with _sqlite(data_path) as source, _sqlite(target) as copy:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=WAL")
        os.chmod(target, 0o600)
    else:
        _run(
            [_tool("pg_restore"), "--no-owner", "--no-acl", "--exit-on-error"]
            + ["--single-transaction", "--dbname", _libpq_url(engine.url), data_path],
            engine.url,
        )
    differences = compare(table_counts(engine), manifest.tables)
    if differences:
        raise BackupError(f"the restored database differs from the backup: {differences}.")
    return manifest


def table_counts(engine: Engine) -> dict[str, int]:
    """Return the number of rows in every table of the database."""
    with engine.connect() as conn:
        return _counts(conn)


def compare(found: Mapping[str, int], expected: Mapping[str, int]) -> str:
    """Return how two tables-to-rows maps differ, in a few words, or "" if they do not."""
    names = sorted(set(found) | set(expected))
    diffs = [
        f"{name} has {found.get(name, 'no')} row(s), the backup {expected.get(name, 'no')}"
        for name in names
        if found.get(name) != expected.get(name)
    ]
    return "; ".join(diffs[:5]) + ("; ..." if len(diffs) > 5 else "")


def _counts(conn: Connection) -> dict[str, int]:
    names = sorted(inspect(conn).get_table_names())
    # Table names come from the database's own catalogue, never from input.
    return {
        name: int(conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())  # noqa: S608
        for name in names
    }


def _sqlite_backup(source_path: str, data_path: str) -> tuple[str, dict[str, int]]:
    """Copy a live SQLite database with the online backup API and count the copy's rows."""
    with _sqlite(source_path) as source, _sqlite(data_path) as copy:
        source.backup(copy)  # one step: the copy is one consistent state, WAL included
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        tables = [
            str(row[0])
            for row in copy.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        counts = {
            name: int(copy.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])  # noqa: S608
            for name in sorted(tables)
        }
        revision = _revision(copy.execute("SELECT version_num FROM alembic_version").fetchall())
    return revision, counts


def _pg_backup(engine: Engine, data_path: str) -> tuple[str, dict[str, int]]:
    """Dump with ``pg_dump -Fc`` from the snapshot in which the rows are counted."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.execute(text("SET TRANSACTION READ ONLY"))
            snapshot = str(conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())
            counts = _counts(conn)
            revision = _revision(conn.execute(text("SELECT version_num FROM alembic_version")))
            # The snapshot stays importable only while this transaction is open.
            _run(
                [_tool("pg_dump"), "-Fc", f"--snapshot={snapshot}", "--file", data_path]
                + ["--dbname", _libpq_url(engine.url)],
                engine.url,
            )
    return revision, counts


def _revision(rows: Iterable[Any]) -> str:
    found = [str(row[0]) for row in rows]
    if len(found) != 1:
        raise BackupError("the database has no single schema revision: run `candor migrate`.")
    return found[0]


class _sqlite:
    """A plain sqlite3 connection with Candor's busy timeout, closed on exit."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        self.conn.isolation_level = None

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *_exc: object) -> None:
        self.conn.close()


def _sqlite_path(engine: Engine) -> str:
    path = engine.url.database
    if not path or path == ":memory:":
        raise BackupError("an in-memory database cannot be backed up or restored.")
    return path


def _libpq_url(url: URL) -> str:
    """Return the database URL as libpq reads it, without its password (passed apart)."""
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _run(argv: list[str], url: URL) -> None:
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)  # not on the command line, where ps shows it
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{os.path.basename(argv[0])} failed: {last}")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client).")
    return found


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
