"""No table that holds answers or links has a person, a time or a sequential id."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Date, DateTime, Integer, inspect, text

from survey.models import ANONYMOUS_TABLES, Base

PERSON_WORDS = ("person", "people", "email", "user", "name", "ip", "agent", "session")
TIME_WORDS = ("created", "updated", "time", "date", "_at", "_on", "submitted")


def test_model_columns_link_nothing() -> None:
    for name in ANONYMOUS_TABLES:
        table = Base.metadata.tables[name]
        for column in table.columns:
            lowered = column.name.lower()
            assert not any(w in lowered for w in PERSON_WORDS), (
                f"{name}.{column.name} names a person"
            )
            assert not any(w in lowered for w in TIME_WORDS), f"{name}.{column.name} is a time"
            assert not isinstance(column.type, (DateTime, Date)), f"{name}.{column.name} is a time"
            for fk in column.foreign_keys:
                assert fk.column.table.name not in ("people", "users", "staff_sessions")
        pk = list(table.primary_key.columns)
        assert len(pk) == 1 and not isinstance(pk[0].type, Integer), f"{name} has a sequential key"
        assert pk[0].autoincrement is not True


def test_database_columns_link_nothing(app: Flask) -> None:
    """Check the migrated schema itself, not just the models."""
    engine = app.extensions["candor.engine"]
    inspector = inspect(engine)
    for name in ANONYMOUS_TABLES:
        columns = {c["name"]: c for c in inspector.get_columns(name)}
        assert set(columns) <= {
            "id",
            "token_hash",
            "digest",
            "round_id",
            "unit_id",
            "band",
            "key_id",
            "kind",
            "sealed",
            "replay_digest",
            "blinded_digest",
            "blind_signature",
        }
        pk = inspector.get_pk_constraint(name)["constrained_columns"]
        assert pk in (["id"], ["token_hash"], ["digest"])
        assert "INT" not in str(columns[pk[0]]["type"]).upper()
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            for name in ANONYMOUS_TABLES:
                sql = conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": name}
                ).scalar_one()
                assert "WITHOUT ROWID" in sql.upper(), f"{name} is a rowid table"


def test_the_survey_pages_hand_out_query_reads_an_index(app: Flask) -> None:
    """Every survey page lists its round's link hand-outs from the audit trail, which only
    grows (roster changes, mail, round steps): the query must find them by index, not by
    reading the whole trail (8.1 against 1.2 ms of CPU a page at 50,000 events, SQLite)."""
    from survey import db
    from survey.services import audit_trail

    engine = app.extensions["candor.engine"]
    query = audit_trail.HANDED_OUT.params(detail=audit_trail.round_detail(1))
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with db.session_scope(app) as session:
        if engine.dialect.name == "postgresql":
            session.execute(text("SET LOCAL enable_seqscan = off"))  # a small table: ask
            plan = session.execute(text("EXPLAIN " + sql)).scalars().all()
        else:
            plan = [row[-1] for row in session.execute(text("EXPLAIN QUERY PLAN " + sql))]
    assert any("ix_audit_events_detail_action" in str(line) for line in plan), plan
