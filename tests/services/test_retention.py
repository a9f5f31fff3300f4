"""Shredding at release: afterwards no key anywhere opens the round, and storage forgot it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from survey import db
from survey.domain import crypto
from survey.models import AuditEvent, Comment, Release, Response, Round
from survey.services import hygiene, keyrotation, retention, scheduler
from tests.conftest import OpenRound, login
from tests.services import storage_forensics as sf
from tests.services.ballots import TODAY, step, submit

COMMENT = "The planning review every Friday works really well."


def _answered_and_closed(app: Flask, open_round: OpenRound) -> list[bytes]:
    """Answer every link (half with a comment), close; return every sealed blob stored."""
    for i, token in enumerate(open_round.tokens.values()):
        submit(app, open_round.round_id, token, COMMENT if i % 2 else "")
    step(app, open_round.round_id, "close")
    with db.session_scope(app) as session:
        rows: list[Response | Comment] = [
            *session.scalars(select(Response)),
            *session.scalars(select(Comment)),
        ]
        return [row.sealed for row in rows]


def _no_key_opens(app: Flask, round_id: int, sealed: list[bytes]) -> None:
    """Try the instance key on every blob it wraps, under every label: none opens a row."""
    kek = app.extensions["candor.kek"]
    with db.session_scope(app) as session:
        blobs = [row.blob for row in keyrotation.wrapped_rows(session)]
        rnd = session.get(Round, round_id)
        assert rnd is not None and rnd.wrapped_private_key is None
    for blob in blobs:
        try:
            key = crypto.unwrap_private_key(blob, kek, crypto.key_label(round_id, "private"))
        except (crypto.CryptoError, ValueError):
            continue
        for row in sealed:  # a key of another round must not open this one's rows either
            for kind in ("response", "comment"):
                with pytest.raises(crypto.CryptoError):
                    crypto.open_sealed(row, key, crypto.context(kind, round_id, 0, ""))


def _leftovers(app: Flask, sealed: list[bytes]) -> int:
    """Return how many sealed blobs still lie anywhere in the raw database files."""
    engine = app.extensions["candor.engine"]
    if engine.dialect.name == "sqlite":
        main, wal = sf.copy_sqlite(engine.url.database)
        raw = [main + wal]
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CHECKPOINT")  # pages reach the files a copy would read
            files = []
            for table in ("responses", "comments", "rounds"):
                files += sf.relation_files(conn, table)
            raw = list(sf.database_files(conn, files).values())
    # A slice past the 32-byte ephemeral key: the body that only the opening key reads.
    return sum(any(blob[40:72] in image for image in raw) for blob in sealed)


def test_release_shreds_and_the_release_stays_usable(app: Flask, open_round: OpenRound) -> None:
    round_id = open_round.round_id
    sealed = _answered_and_closed(app, open_round)
    assert _leftovers(app, sealed) == len(sealed), "the forensic check can see stored rows"
    result = app.test_cli_runner().invoke(args=["candor", "round", "release", str(round_id)])
    assert result.exit_code == 0, result.output
    assert "opening key and sealed answers were destroyed" in result.output
    with db.session_scope(app) as session:
        assert session.query(Response).count() == session.query(Comment).count() == 0
        release = session.scalars(select(Release)).one()
        assert sum(release.atom_counts.values()) == len(open_round.tokens)
        actions = session.scalars(select(AuditEvent.action)).all()
        assert retention.SHREDDED in actions
    _no_key_opens(app, round_id, sealed)
    engine = app.extensions["candor.engine"]
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            xid = int(conn.exec_driver_sql("SELECT txid_current()").scalar_one())
            conn.rollback()
        sf.settle(engine, xid)
    assert hygiene.scrub_storage(engine)
    assert _leftovers(app, sealed) == 0, "storage forgot the shredded rows"
    audit = app.test_cli_runner().invoke(args=["candor", "audit", str(round_id)])
    assert audit.exit_code == 0 and "from the counts recorded at release" in audit.output, (
        audit.output
    )
    client = app.test_client()
    login(client, "leader")
    with db.session_scope(app) as session:
        program_id = session.get(Round, round_id).program_id  # type: ignore[union-attr]
    csv = client.get(f"/export/{program_id}.csv")
    assert csv.status_code == 200 and "R1" in csv.text
    privacy = client.get("/privacy")
    assert "Destroyed on" in privacy.text and "nobody can open them" in privacy.text


def test_retention_keeps_answers_sealed_until_the_tick_on_the_day(
    app: Flask, open_round: OpenRound
) -> None:
    round_id = open_round.round_id
    with db.session_scope(app) as session:
        session.get(Round, round_id).program.retention_days = 7  # type: ignore[union-attr]
        session.commit()
    _answered_and_closed(app, open_round)
    message = step(app, round_id, "release")
    assert f"kept for re-analysis until {TODAY + dt.timedelta(days=7):%Y-%m-%d}" in message
    factory = app.extensions["candor.sessionmaker"]
    kek = app.extensions["candor.kek"]
    early = scheduler.tick(factory, kek, TODAY + dt.timedelta(days=6))
    assert not any("shredded" in line for line in early.lines)
    with db.session_scope(app) as session:
        assert session.query(Response).count() == len(open_round.tokens)
    due = scheduler.tick(factory, kek, TODAY + dt.timedelta(days=7))
    assert any(line.startswith("shredded Pulse R1") for line in due.lines), due.lines
    with db.session_scope(app) as session:
        assert session.query(Response).count() == 0
        rnd = session.get(Round, round_id)
        assert rnd is not None and rnd.shredded_on == TODAY + dt.timedelta(days=7)
        assert rnd.wrapped_private_key is None
    again = scheduler.tick(factory, kek, TODAY + dt.timedelta(days=8))
    assert not any("shredded" in line for line in again.lines), "shredded once"


def test_a_release_that_no_longer_matches_is_not_shredded(
    app: Flask, open_round: OpenRound, tmp_path: Path
) -> None:
    """Only a release whose manifest is intact is shredded: the answers stay for inquiry."""
    with db.session_scope(app) as session:
        session.get(Round, open_round.round_id).program.retention_days = 1  # type: ignore[union-attr]
        session.commit()
    _answered_and_closed(app, open_round)
    step(app, open_round.round_id, "release")
    with db.session_scope(app) as session:
        release = session.scalars(select(Release)).one()
        # The release row is immutable in SQL, so the tampering stays in this session.
        rnd = session.get(Round, open_round.round_id)
        assert rnd is not None
        with session.no_autoflush:
            release.digest = "0" * 64
            with pytest.raises(retention.RetentionError, match="sealed answers are kept"):
                retention.shred(session, rnd, TODAY)
        session.rollback()
