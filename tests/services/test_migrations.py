"""Schema safety: migrations match the models, run down and up on real data, and the web app
refuses a schema that is not at the newest revision."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask
from sqlalchemy import Engine, inspect, select, text

from survey import create_app, db
from survey.models import Base, Release
from tests.conftest import OpenRound
from tests.helpers import opened_payloads
from tests.services.ballots import open_next_round, step, submit

FIRST = "0001"


def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    """Autogenerate against the migrated database finds nothing to add, drop or change."""
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def counts(engine: Engine) -> dict[str, int]:
    """Return the number of rows of every Candor table in the database."""
    with engine.connect() as conn:
        names = [n for n in inspect(conn).get_table_names() if n != "alembic_version"]
        return {
            n: int(conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one()) for n in names
        }


def opened_answers(app: Flask, round_id: int) -> list[str]:
    """Return a round's stored answers, opened with its private key, in a stable order."""
    payloads = opened_payloads(app, round_id, waiting=False)
    return sorted(json.dumps(payload, sort_keys=True) for payload in payloads)


def releases(app: Flask) -> list[tuple[int, str, Any]]:
    """Return every stored release: round, digest and manifest."""
    with db.session_scope(app) as session:
        found = session.scalars(select(Release).order_by(Release.round_id))
        return [(r.round_id, r.digest, r.manifest) for r in found]


def populate(app: Flask, open_round: OpenRound, program_id: int) -> int:
    """Answer and release the first round, answer and close a second; return the second."""
    for code in list(open_round.tokens.values())[:12]:
        submit(app, open_round.round_id, code, comment="the first round")
    step(app, open_round.round_id, "close")
    step(app, open_round.round_id, "release")
    second, codes = open_next_round(app, program_id)
    for code in codes[:9]:
        submit(app, second, code, comment="the second round")
    step(app, second, "close")  # mixes the inbox into the response table
    return second


def test_downgrade_and_upgrade_keep_a_populated_instance(
    app: Flask, open_round: OpenRound, organisation: Any
) -> None:
    second = populate(app, open_round, organisation.program_id)
    engine = app.extensions["candor.engine"]
    cfg = db.alembic_config(engine)
    before, answers, released = counts(engine), opened_answers(app, second), releases(app)
    # The released round's sealed answers are gone (retention); the closed round's are kept.
    assert before["responses"] == 9 and len(answers) == 9 and len(released) == 1

    try:
        # One step down and back: every table the step keeps keeps its rows.
        command.downgrade(cfg, "-1")
        kept = counts(engine)
        command.upgrade(cfg, "head")
        assert db.schema_is_current(engine)
        after = counts(engine)
        assert {n: after[n] for n in kept} == {n: before[n] for n in kept}

        # All the way down to the first revision, on real data, and back up.
        command.downgrade(cfg, FIRST)
        first = counts(engine)
        assert {n: first[n] for n in first} == {n: before[n] for n in first}
    finally:
        command.upgrade(cfg, "head")  # the next tests share this database
    after = counts(engine)
    assert {n: after[n] for n in first} == {n: before[n] for n in first}
    assert opened_answers(app, second) == answers
    assert releases(app) == released
    engine.dispose()  # the schema changed under the pool: start afresh
    step(app, second, "release")  # the instance works on the migrated schema
    assert len(releases(app)) == 2


def test_web_app_refuses_a_schema_that_is_not_at_head(
    config: dict[str, Any], tmp_path: Path
) -> None:
    engine = db.make_engine(config["DATABASE_URL"])
    try:
        command.downgrade(db.alembic_config(engine), "-1")
        with pytest.raises(db.SchemaNotCurrent, match="candor migrate"):
            create_app(config)
        bare = create_app(config, check_key=False)  # what the candor command builds
        bare.extensions["candor.engine"].dispose()
        db.upgrade(engine)  # what `candor migrate` does
        create_app(config).extensions["candor.engine"].dispose()
    finally:
        db.upgrade(engine)  # the next tests share this database
        engine.dispose()
    empty = {**config, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    with pytest.raises(db.SchemaNotCurrent, match="no Candor schema"):
        create_app(empty)
