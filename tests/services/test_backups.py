"""`candor backup` takes a consistent, key-free copy while answers arrive; `candor restore`
puts it into a fresh, empty instance and `candor check` proves the restored instance opens,
refusing a wrong key."""

from __future__ import annotations

import base64
import json
import os
import shutil
import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url

from survey import create_app, db
from survey.services import backups
from tests.conftest import OpenRound, make_config
from tests.services.ballots import step, submit

SUBMITTED_BEFORE_BACKUP = 6


def _fresh_database_url(database_url: str, tmp_path: Any) -> str:
    """Return an empty database of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'restored' / 'candor.db'}"
    url = make_url(database_url)
    name = f"{url.database}_restore"
    engine = db.make_engine(database_url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    fresh = url.set(database=name).render_as_string(hide_password=False)
    engine = db.make_engine(fresh)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return fresh


def _stored(tables: dict[str, int]) -> int:
    return tables.get("responses", 0) + tables.get("ballot_inbox", 0)


def test_backup_under_load_restores_into_a_fresh_instance(
    app: Flask, open_round: OpenRound, database_url: str, tmp_path: Any
) -> None:
    tokens = list(open_round.tokens.values())
    submitted = threading.Semaphore(0)
    errors: list[BaseException] = []

    def load() -> None:
        try:
            for token in tokens:
                submit(app, open_round.round_id, token)
                submitted.release()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            for _ in tokens:
                submitted.release()

    worker = threading.Thread(target=load)
    worker.start()
    for _ in range(SUBMITTED_BEFORE_BACKUP):
        submitted.acquire()
    dest = tmp_path / "backup"
    made = app.test_cli_runner().invoke(args=["candor", "backup", str(dest)])
    worker.join()
    assert not errors, errors
    assert made.exit_code == 0, made.output
    assert "holds no key material" in made.output and app.config["KEY_FILE"] in made.output
    assert "passphrase" in made.output

    manifest = json.loads((dest / backups.MANIFEST_FILE).read_text())
    tables = manifest["tables"]
    assert manifest["format"] == backups.FORMAT and manifest["schema_revision"]
    # One consistent moment: every answer taken came with its invitation's deletion.
    assert tables["invitations"] + _stored(tables) == len(tokens)
    assert _stored(tables) >= SUBMITTED_BEFORE_BACKUP
    data = (dest / manifest["file"]).read_bytes()
    key = open(app.config["KEY_FILE"], "rb").read().strip()
    assert key not in data and base64.b64decode(key) not in data, "no key material"
    assert os.stat(dest / manifest["file"]).st_mode & 0o077 == 0

    restored_cfg = make_config(tmp_path / "restored", _fresh_database_url(database_url, tmp_path))
    restored = create_app(restored_cfg, check_key=False)
    try:
        runner = restored.test_cli_runner()
        done = runner.invoke(args=["candor", "restore", str(dest)])
        assert done.exit_code == 0, done.output
        assert "put the instance key file back" in done.output
        assert backups.table_counts(restored.extensions["candor.engine"]) == tables
        again = runner.invoke(args=["candor", "restore", str(dest)])
        assert again.exit_code != 0 and "only into an empty one" in again.output

        # A wrong key is refused in one sentence.
        key_file = restored.config["KEY_FILE"]
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64encode(os.urandom(32)) + b"\n")
        wrong = runner.invoke(args=["candor", "check", "--backup", str(dest)])
        assert wrong.exit_code != 0 and "Traceback" not in wrong.output
        assert "does not belong to this database" in wrong.output
        assert wrong.output.strip().count(". ") == 0, "one sentence"

        os.remove(key_file)
        shutil.copy(app.config["KEY_FILE"], key_file)
        os.chmod(key_file, 0o600)
        restored.extensions.pop("candor.kek", None)
        checked = runner.invoke(args=["candor", "check", "--backup", str(dest)])
        assert checked.exit_code == 0, checked.output
        assert "1 unreleased round(s)" in checked.output
        assert "exactly the rows of the backup" in checked.output

        # The restored answers open: release the round and count its respondents.
        restored.extensions["candor.kek"] = open_key(key_file)
        step(restored, open_round.round_id, "close")
        step(restored, open_round.round_id, "release")
        with db.session_scope(restored) as session:
            from survey.models import Release

            release = session.query(Release).one()
        root = next(u for u in release.manifest["units"] if u["parent"] is None)
        assert root["n"] == _stored(tables)
    finally:
        restored.extensions["candor.engine"].dispose()


def open_key(path: str) -> bytes:
    with open(path, "rb") as handle:
        return base64.b64decode(handle.read().strip())


def test_damaged_backup_is_refused(app: Flask, open_round: OpenRound, tmp_path: Any) -> None:
    dest = tmp_path / "backup"
    assert app.test_cli_runner().invoke(args=["candor", "backup", str(dest)]).exit_code == 0
    manifest = json.loads((dest / backups.MANIFEST_FILE).read_text())
    with open(dest / manifest["file"], "r+b") as handle:
        handle.seek(200)
        handle.write(b"\xff")
    with pytest.raises(backups.BackupError, match="damaged"):
        backups.read_backup(str(dest))
    again = app.test_cli_runner().invoke(args=["candor", "backup", str(dest)])
    assert again.exit_code != 0 and "not an empty folder" in again.output
