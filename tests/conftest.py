"""Shared fixtures: a real database (SQLite file, and PostgreSQL when configured), an app
with a real instance key, a client, staff accounts, and a small organisation with an open round.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from survey import create_app, db
from survey.models import Base, Person, Program
from survey.services import accounts, drawing, keys, org, rounds

PG_ENV = "CANDOR_TEST_DATABASE_URL"
PASSWORD = "correct horse battery staple"
STAFF = {"admin": "admin@example.org", "hr": "hr@example.org", "leader": "lead@example.org"}
SECRET = "test-secret-key-that-is-long-enough-for-production"


def pytest_report_header() -> str:
    url = os.environ.get(PG_ENV)
    return f"PostgreSQL tests: {'ON (' + url + ')' if url else 'SKIPPED: set ' + PG_ENV}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the drawing process the tests started (shared by every xdist worker: stopped by
    the controller, or by a run without xdist), so it does not hold the run's output open."""
    if not hasattr(session.config, "workerinput"):
        drawing.stop()


def _worker_database(url: str) -> str:
    """Return the PostgreSQL URL this test process uses: under pytest-xdist each worker gets
    its own database next to the configured one (``test`` -> ``test_gw0``), created if needed,
    so that workers never truncate each other's tables."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/')}_{worker}"
    admin = db.make_engine(parts._replace(path="/postgres").geturl())
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parts._replace(path="/" + name).geturl()


@pytest.fixture(scope="session")
def _pg_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if url:
        url = _worker_database(url)
        engine = db.make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        db.upgrade(engine)
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("template") / "candor.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()
    return str(path)


def empty_database(request: pytest.FixtureRequest, tmp: Any) -> str:
    """Return an empty migrated database of the kind ``request.param`` names ("sqlite" or
    "postgresql"); PostgreSQL is skipped when not configured (failed when it is required)."""
    if request.param == "sqlite":
        path = tmp / "candor.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("_pg_url")
    if not url:
        if os.environ.get("CANDOR_REQUIRE_ALL_TESTS"):
            pytest.fail(f"PostgreSQL: {PG_ENV} is not set but CANDOR_REQUIRE_ALL_TESTS is")
        pytest.skip(f"PostgreSQL: {PG_ENV} is not set")
    engine = db.make_engine(url)
    tables = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return str(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """Return a migrated, empty database of each kind."""
    return empty_database(request, tmp_path)


def make_config(instance: Any, url: str, **extra: Any) -> dict[str, Any]:
    """Return the test configuration for an instance folder and database."""
    return {
        # Development: production refuses TESTING, CSRF off and a plain-http public host
        # (tests/test_config.py checks those refusals one by one).
        "CANDOR_ENV": "development",
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "WTF_CSRF_ENABLED": False,
        "PUBLIC_URL": "http://candor.test",
        # Cheap password hashing in tests; the production cost is tested once (test_accounts).
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_KIB": 64,
        # Cheap scrypt for custodian passphrases; the production cost is tested once
        # (tests/domain/test_custody.py).
        "CUSTODIAN_SCRYPT_N": 2**10,
        **extra,
    }


def initialise(config: dict[str, Any]) -> None:
    """Create the key and the staff accounts, as `candor init` would."""
    bare = create_app(config, check_key=False)
    with db.session_scope(bare) as session:
        keys.create_instance_key(session, bare.config["KEY_FILE"])
        for role, email in STAFF.items():
            accounts.create_user(session, email, role, PASSWORD)
        session.commit()
    bare.extensions["candor.engine"].dispose()


@pytest.fixture
def config(tmp_path: Any, database_url: str) -> dict[str, Any]:
    """Return the configuration of an initialised instance."""
    cfg = make_config(tmp_path / "instance", database_url)
    initialise(cfg)
    return cfg


@pytest.fixture
def app(config: dict[str, Any]) -> Iterator[Flask]:
    """Yield the app of an initialised instance."""
    application = create_app(config)
    yield application
    application.extensions["candor.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class Org:
    """A small organisation: unit ids by name and the programme."""

    units: dict[str, int]
    program_id: int


# Team sizes: "Small" is below k = 5 so it must always be hidden.
ORG_SHAPE = {"Research": {"Alpha": 8, "Beta": 7}, "Ops": {"Gamma": 6, "Small": 2}}


def add_organisation(session: Session) -> tuple[dict[str, int], Program]:
    """Add the organisation and roster in ORG_SHAPE and a programme with k = 5; return the
    unit ids by name and the programme (flushed, not committed)."""
    root = org.add_unit(session, "Lab", None)
    units = {"Lab": root.id}
    n = 0
    for dept, teams in ORG_SHAPE.items():
        d = org.add_unit(session, dept, root)
        units[dept] = d.id
        for team, size in teams.items():
            t = org.add_unit(session, team, d)
            units[team] = t.id
            for _ in range(size):
                n += 1
                band = "<1y" if n % 3 == 0 else "3y+"
                session.add(
                    Person(
                        email=f"p{n}@example.org",
                        name=f"Person Number{n}",
                        unit_id=t.id,
                        tenure_band=band,
                    )
                )
    program = Program(name="Pulse", k=5, comment_k=10)
    session.add(program)
    session.flush()
    return units, program


@pytest.fixture
def organisation(app: Flask) -> Org:
    """Create the organisation and roster in ORG_SHAPE, and a programme with k = 5."""
    with db.session_scope(app) as session:
        units, program = add_organisation(session)
        session.commit()
        return Org(units, program.id)


@dataclass
class OpenRound:
    """An open round and its links (token per person email)."""

    round_id: int
    tokens: dict[str, str]
    units: dict[str, int]


@pytest.fixture
def open_round(app: Flask, organisation: Org) -> OpenRound:
    """Open the first round of the programme and return every invitation token."""
    import datetime as dt

    kek = app.extensions["candor.kek"]
    with db.session_scope(app) as session:
        program = session.get(Program, organisation.program_id)
        rnd = rounds.create_round(session, program)
        rounds.open_round(session, rnd, kek, dt.date(2026, 11, 2))
        session.commit()
        links = rounds.invitation_links(session, rnd, kek, "http://candor.test")
        tokens = {link.email: link.url.rsplit("#", 1)[1] for link in links}
        return OpenRound(rnd.id, tokens, organisation.units)


def answers_for(app: Flask, round_id: int, value: int = 4, nps: int = 8) -> dict[str, str]:
    """Return complete form data answering every item of a round."""
    from survey.models import Round
    from survey.services.banks import frozen_bank

    with db.session_scope(app) as session:
        rnd = session.get(Round, round_id)
        assert rnd is not None and rnd.items is not None
        bank = frozen_bank(rnd)
        items = bank.items_for(tuple(rnd.items["asked"]))
    return {f"q_{i.key}": str(nps if i.scale == "nps" else value) for i in items}


def login(client: FlaskClient, role: str) -> None:
    """Log the test client in as the staff member with ``role``."""
    response = client.post("/login", data={"email": STAFF[role], "password": PASSWORD})
    assert response.status_code == 302, response.data
