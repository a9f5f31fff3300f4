"""A snapshot of storage during an open round pairs no ballot with a check-in (issue 9, item 2).

The attacker holds a copy of the storage at some moment of an open round (SQLite: the database
file and its WAL, copied with ``cp``; PostgreSQL: its pages, ``pg_dump`` and, after a
checkpoint, its files), every key, and the best oracle there is: who checked in, in which
order and in which transaction (the test records it). The attack pairs the k-th check-in with
the k-th response in each physical order, and each response with the nearest check-in
transaction. Responses mixed before the snapshot must pair no better than chance; only the
ballots cast since the last mix may be placed in time. After close and scrub, no byte of the
files keeps an invitation's token hash, the link secret or a ballot signing key.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, Engine, make_url, select, text
from sqlalchemy.orm import Session

from survey import db
from survey.domain import blindrsa, crypto
from survey.models import BallotKey, Person, Program, Round
from survey.services import ballotkeys, hygiene, mixing, org, rounds, submission
from tests.services import storage_forensics as sf

PEOPLE, ANSWERING = 48, 44  # four never answer: their invitations are destroyed at close
STEP, LAG = dt.timedelta(seconds=30), dt.timedelta(seconds=45)  # A in, B in, A casts, ...
T0 = dt.datetime(2026, 11, 2, 9, 0)
SNAPSHOTS_AFTER = (9, 22, 37, ANSWERING)  # ballots cast when a snapshot is taken
MAX_EXACT_PAIRS = 7  # a random order pairs about 1 of 40 right; main before issue 9 paired 40
WITH_COMMENT = 4  # every 4th person also leaves a comment


@dataclass
class Round48:
    round_id: int
    codes: dict[str, str]  # person -> access code
    items: tuple[Any, ...]


@pytest.fixture
def round48(app: Flask) -> Round48:
    """One team of 48 people sharing one storage label (so order is the only clue left)."""
    kek = app.extensions["candor.kek"]
    with db.session_scope(app) as session:
        team = org.add_unit(session, "Team", org.add_unit(session, "Lab", None))
        for i in range(PEOPLE):
            session.add(
                Person(
                    email=f"p{i:02}@example.org", name=f"P{i}", unit_id=team.id, tenure_band="3y+"
                )
            )
        program = Program(name="Pulse", k=5, comment_k=10)
        session.add(program)
        session.flush()
        rnd = rounds.create_round(session, program)
        rounds.open_round(session, rnd, kek, T0.date())
        session.commit()
        links = rounds.invitation_links(session, rnd, kek, "http://candor.test")
        survey = submission.survey_for(session, rnd.id)
        codes = {link.email.split("@")[0]: link.code for link in links}
        assert len(ballotkeys.public_keys(session, rnd.id)) == 1, "one label for everybody"
        return Round48(rnd.id, codes, survey.items)


def answers_of(items: tuple[Any, ...], person: int) -> dict[str, int]:
    """Person i's answers spell i in the mixed radix of the items' scales."""
    out, rest = {}, person
    for item in items:
        low, high = item.bounds
        out[item.key] = low + rest % (high - low + 1)
        rest //= high - low + 1
    assert rest == 0
    return out


def owner_of(items: tuple[Any, ...], answers: dict[str, int]) -> str:
    value, scale = 0, 1
    for item in items:
        low, high = item.bounds
        value += (answers[item.key] - low) * scale
        scale *= high - low + 1
    return f"p{value:02}"


@dataclass
class History:
    """What happened, as only the test knows it: the ground truth and the attacker's oracle."""

    checkins: list[str] = field(default_factory=list)  # in check-in order
    checkin_xid: dict[str, int] = field(default_factory=dict)
    since_mix: list[str] = field(default_factory=list)  # ballots cast since the last mix
    mixed: set[str] = field(default_factory=set)
    mixes: int = 0
    measured: list[dict[str, Any]] = field(default_factory=list)


def _xid(session: Session) -> int | None:
    if session.get_bind().dialect.name != "postgresql":
        return None
    return int(session.execute(text("SELECT txid_current()")).scalar_one())


class Browser:
    """One person's browser: blinds at check-in, unblinds, casts the ballot later."""

    def __init__(self, app: Flask, rnd: Round48, person: str) -> None:
        self.app, self.rnd, self.person = app, rnd, person
        self.credential: submission.Credential | None = None

    def check_in(self, history: History) -> None:
        code = self.rnd.codes[self.person]
        with db.session_scope(self.app) as session:
            survey = submission.survey_for(session, self.rnd.round_id)
            key_id = submission.key_id_of(code)
            public = blindrsa.load_public(
                ballotkeys.public_key(session, self.rnd.round_id, key_id).public_der
            )
            message = blindrsa.prepare(os.urandom(32))
            blinded, inv = blindrsa.blind(public, message)
            xid = _xid(session)
            kek = self.app.extensions["candor.kek"]
            _, blind_sig = submission.check_in(session, survey, code, blinded, kek)
            session.commit()
        signature = blindrsa.finalize(public, message, blind_sig, inv)
        self.credential = submission.Credential(key_id, message, signature)
        history.checkins.append(self.person)
        if xid is not None:
            history.checkin_xid[self.person] = xid

    def cast(self, history: History, now: dt.datetime) -> None:
        assert self.credential is not None
        index = int(self.person[1:])
        comment = f"Comment number {index}" if index % WITH_COMMENT == 0 else ""
        engine = self.app.extensions["candor.engine"]
        with db.session_scope(self.app) as session:
            survey = submission.survey_for(session, self.rnd.round_id)
            answers = answers_of(self.rnd.items, index)
            assert submission.cast_ballot(session, survey, self.credential, answers, comment)
            session.commit()
            history.since_mix.append(self.person)
            if mixing.mix_if_due(session, self.rnd.round_id, now):  # as the ballot view does
                xid = _xid(session)
                session.commit()
                sf.settle(engine, xid)
                assert mixing.scrub(engine, mixing.MIXED_TABLES)
                history.mixed.update(history.since_mix)
                history.since_mix, history.mixes = [], history.mixes + 1


class Truth:
    """Opens sealed blobs with the round's private key (the attacker has every key)."""

    def __init__(self, app: Flask, rnd: Round48) -> None:
        kek = app.extensions["candor.kek"]
        with db.session_scope(app) as session:
            row = session.get(Round, rnd.round_id)
            assert row is not None and row.wrapped_private_key is not None
            label = crypto.key_label(row.id, "private")
            self.private = crypto.unwrap_private_key(row.wrapped_private_key, kek, label)
        self.rnd = rnd
        self.blobs: dict[str, bytes] = {}  # person -> sealed response

    def owner(self, sealed: bytes, unit_id: int, band: str) -> str:
        info = crypto.context("response", self.rnd.round_id, unit_id, band)
        answers = json.loads(crypto.open_sealed(sealed, self.private, info))["answers"]
        person = owner_of(self.rnd.items, answers)
        self.blobs[person] = sealed
        return person

    def find(self, data: bytes) -> list[str]:
        return [person for person, blob in self.blobs.items() if blob in data]


def play(app: Flask, rnd: Round48, snapshot: Any) -> History:
    """Run the round's morning: check-ins and ballots interleaved, snapshots on the way."""
    history = History()
    browsers = [Browser(app, rnd, f"p{i:02}") for i in range(ANSWERING)]
    events = [(T0 + i * STEP, 0, b) for i, b in enumerate(browsers)]
    events += [(T0 + i * STEP + LAG, 1, b) for i, b in enumerate(browsers)]
    cast = 0
    for now, kind, browser in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == 0:
            browser.check_in(history)
            continue
        browser.cast(history, now)
        cast += 1
        if cast in SNAPSHOTS_AFTER:
            snapshot(history)
    return history


def _assert_chance(history: History, orders: dict[str, list[str]], numbers: dict[str, Any]) -> None:
    """Each physical order of the mixed responses pairs no better than chance."""
    arrival = [p for p in history.checkins if p in history.mixed]
    for name, stored in orders.items():
        assert sorted(stored) == sorted(arrival), name
        numbers[f"exact pairs by {name}"] = found = sf.exact_pairs(arrival, stored)
        assert found <= MAX_EXACT_PAIRS, f"{name} pairs {found} of {len(arrival)}"


# --- SQLite ---------------------------------------------------------------------------------


def sqlite_snapshot(app: Flask, rnd: Round48, truth: Truth) -> Any:
    path = make_url(app.config["DATABASE_URL"]).database
    assert path

    def take(history: History) -> None:
        main, wal = sf.copy_sqlite(path)
        image = sf.SqliteImage(main, wal)
        roots = image.roots()
        cells = list(image.cells(roots["responses"]))
        mixed = {c: _sealed_owner(truth, c.values) for c in cells}
        assert set(mixed.values()) == history.mixed
        inbox = [c for c in image.cells(roots["ballot_inbox"]) if "response" in c.values]
        waiting = [_sealed_owner(truth, c.values) for c in inbox]
        assert sorted(waiting) == sorted(history.since_mix)
        orders = {
            "file position": [mixed[c] for c in sorted(cells, key=lambda c: (c.page, c.offset))],
            "carving order": [mixed[c] for c in sorted(cells, key=lambda c: (c.page, -c.offset))],
            "key order": [mixed[c] for c in sorted(cells, key=lambda c: c.values[0])],
            "b-tree walk": [mixed[c] for c in cells],
        }
        numbers: dict[str, Any] = {"mixed": len(mixed), "waiting": len(waiting)}
        numbers["wal frames"] = len(image.frames)
        _assert_chance(history, orders, numbers)
        # The WAL: the first frame holding each sealed blob dates that ballot.
        dated: dict[str, int] = {}
        for frame in image.frames:
            for person in truth.find(frame.data):
                dated.setdefault(person, frame.index)
        assert set(dated) <= set(history.since_mix), "a mixed ballot is dated by the WAL"
        by_wal = sorted(dated, key=dated.__getitem__)
        window = [p for p in history.checkins if p in dated]
        numbers["dated by WAL (window)"] = len(dated)
        numbers["window exact pairs by WAL"] = sf.exact_pairs(window, by_wal) if dated else 0
        window = [p for p in history.checkins if p in waiting]
        carved = sorted(
            zip(inbox, waiting, strict=True), key=lambda cw: (cw[0].page, -cw[0].offset)
        )
        numbers["window exact pairs by carving order"] = sf.exact_pairs(
            window, [w for _, w in carved]
        )
        for person in history.mixed:  # only the mixed copy is left; the inbox copy is zeroed
            assert main.count(truth.blobs[person]) == 1 and wal.count(truth.blobs[person]) == 0
        history.measured.append(numbers)

    return take


def _sealed_owner(truth: Truth, values: tuple[Any, ...]) -> str:
    """Open a ``responses`` or ``ballot_inbox`` record: (id, round, [kind,] unit, band, sealed)."""
    *_, unit_id, band, sealed = values
    return truth.owner(sealed, unit_id, band)


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.fixture
def pg_forensics(app: Flask) -> Iterator[Engine]:
    """A superuser connection with pageinspect (in its own schema: tests drop ``public``)."""
    engine: Engine = app.extensions["candor.engine"]
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE SCHEMA IF NOT EXISTS forensics"))
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect SCHEMA forensics"))
    except Exception as exc:  # noqa: BLE001 - any failure means the capability is missing
        sf.require(f"PostgreSQL pageinspect is unavailable: {exc}")
    yield engine
    with engine.begin() as conn:  # leave the database as other tests expect it (backups dump it)
        conn.execute(text("DROP SCHEMA IF EXISTS forensics CASCADE"))


def pg_snapshot(app: Flask, engine: Engine, rnd: Round48, truth: Truth) -> Any:
    def take(history: History) -> None:
        with engine.connect() as conn:
            heap = _owned(conn, truth, "responses")
            inbox = _owned(conn, truth, "ballot_inbox")
            dump = _pg_dump_order(app, truth)
            dead = {t: len(sf.leftover_tuples(sf.heap_tuples(conn, t))) for t in SCRUBBED}
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CHECKPOINT"))  # the inbox's file, as a base backup copies it
            inbox_file = b"".join(
                sf.database_files(conn, sf.relation_files(conn, "ballot_inbox")).values()
            )
        assert {p for p, _ in heap.values()} == history.mixed
        assert sorted(p for p, _ in inbox.values()) == sorted(history.since_mix)
        assert dead["ballot_inbox"] == dead["responses"] == 0, "old versions of ballots"
        assert [p for p in history.mixed if truth.blobs[p] in inbox_file] == []
        numbers: dict[str, Any] = {"mixed": len(heap), "waiting": len(inbox), "dead": dead}
        orders = {"ctid": [heap[k][0] for k in sorted(heap)], "pg_dump": dump}
        _assert_chance(history, orders, numbers)
        mix_xids = {xmin for _, xmin in heap.values()}
        assert len(mix_xids) == 1, "every mixed response has the last mix's xmin"
        assert not mix_xids & set(history.checkin_xid.values())
        stamps = dict(heap.values())
        numbers["nearest-xmin right pairs (mixed)"] = sf.nearest_pairs(history.checkin_xid, stamps)
        assert numbers["nearest-xmin right pairs (mixed)"] <= 1
        window = dict(inbox.values())
        numbers["window nearest-xmin right pairs"] = sf.nearest_pairs(history.checkin_xid, window)
        arrival = [p for p in history.checkins if p in window]
        by_xmin = sorted(window, key=window.__getitem__)
        numbers["window exact pairs by xmin order"] = sf.exact_pairs(arrival, by_xmin)
        by_ctid = [inbox[k][0] for k in sorted(inbox)]
        numbers["window exact pairs by ctid"] = sf.exact_pairs(arrival, by_ctid)
        history.measured.append(numbers)

    return take


SCRUBBED = ("responses", "ballot_inbox", "invitations", "check_ins", "rounds")


def _owned(conn: Connection, truth: Truth, table: str) -> dict[tuple[int, int], tuple[str, int]]:
    """Return (page, lp) -> (owner, xmin) for each live response tuple of ``table``."""
    only = " WHERE kind = 'response'" if table == "ballot_inbox" else ""
    query = f"SELECT sealed, unit_id, band FROM {table}{only}"  # noqa: S608 - fixed names
    stored = {bytes(r.sealed): (r.unit_id, r.band) for r in conn.execute(text(query))}
    out = {}
    for t in sf.heap_tuples(conn, table):
        if t.flags != sf.LP_NORMAL:
            continue
        found = [blob for blob in stored if blob in t.data]
        if found:
            assert t.xmin is not None
            out[(t.page, t.lp)] = (truth.owner(found[0], *stored[found[0]]), t.xmin)
    return out


def _pg_dump_order(app: Flask, truth: Truth) -> list[str]:
    url = make_url(app.config["DATABASE_URL"])
    dump = subprocess.run(  # noqa: S603 - fixed arguments
        ["/usr/bin/pg_dump", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)]
        + ["-U", url.username or "postgres", "--data-only", "-t", "responses", url.database or ""],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    owners = []
    for blob in re.findall(r"\\\\x([0-9a-f]{200,})", dump):
        sealed = bytes.fromhex(blob)
        owners.append(next(p for p, b in truth.blobs.items() if b == sealed))
    return owners


# --- The tests ------------------------------------------------------------------------------


def _play_with_snapshots(app: Flask, rnd: Round48, request: pytest.FixtureRequest) -> History:
    truth = Truth(app, rnd)
    if app.extensions["candor.engine"].dialect.name == "postgresql":
        engine = request.getfixturevalue("pg_forensics")
        history = play(app, rnd, pg_snapshot(app, engine, rnd, truth))
    else:
        history = play(app, rnd, sqlite_snapshot(app, rnd, truth))
    print(f"\n{app.extensions['candor.engine'].dialect.name}: {history.mixes} mixes")
    for numbers in history.measured:
        print(numbers)
    assert len(history.measured) == len(SNAPSHOTS_AFTER)
    return history


def test_snapshots_of_an_open_round_pair_nothing(
    app: Flask, round48: Round48, request: pytest.FixtureRequest
) -> None:
    history = _play_with_snapshots(app, round48, request)
    assert history.mixes >= 5, "the product mixes every few ballots"
    assert len(history.mixed) >= 40


def test_the_attack_pairs_ballots_that_were_never_mixed(
    app: Flask, round48: Round48, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: without mixing, the same attack pairs (nearly) every ballot."""
    monkeypatch.setattr(mixing, "MIX_WAITING_MAX", 10**6)
    monkeypatch.setattr(mixing, "MIX_INTERVAL", dt.timedelta(days=365))
    history = _play_with_snapshots(app, round48, request)
    assert history.mixes == 1 and len(history.since_mix) == ANSWERING - 1  # the first ballot
    last = history.measured[-1]
    best = max(v for k, v in last.items() if k.startswith("window exact pairs"))
    assert best >= ANSWERING - 1 - 3, last


@dataclass
class Secrets:
    token_hashes: list[bytes]
    wrapped: list[bytes]  # the link secret and the ballot signing keys, as stored

    def found_in(self, data: bytes) -> list[str]:
        hits = [f"token hash {h.hex()[:12]}" for h in self.token_hashes if h in data]
        return hits + [f"wrapped secret {w.hex()[:12]}" for w in self.wrapped if w in data]


def _close(app: Flask, rnd: Round48, quiet: bool = True) -> tuple[Secrets, int | None]:
    with db.session_scope(app) as session:
        row = rounds.get_round(session, rnd.round_id)
        assert row.wrapped_token_secret is not None
        wrapped = [row.wrapped_token_secret]
        wrapped += list(
            session.scalars(
                select(BallotKey.wrapped_private_key).where(BallotKey.round_id == row.id)
            )
        )
        xid = _xid(session)
        rounds.close_round(session, row, T0.date(), now=T0 + dt.timedelta(hours=2))
        session.commit()
    if quiet:
        sf.settle(app.extensions["candor.engine"], xid)
    scrubbed = hygiene.scrub_storage(app.extensions["candor.engine"])
    assert scrubbed or not quiet
    hashes = [crypto.token_hash(code) for code in rnd.codes.values()]
    return Secrets(hashes, [w for w in wrapped if w]), xid


def test_close_and_scrub_leave_no_secret_in_the_files(
    app: Flask, round48: Round48, request: pytest.FixtureRequest
) -> None:
    truth = Truth(app, round48)
    engine: Engine = app.extensions["candor.engine"]
    history = play(app, round48, lambda _h: None)
    secrets, close_xid = _close(app, round48)
    if engine.dialect.name != "postgresql":
        main, wal = sf.copy_sqlite(make_url(app.config["DATABASE_URL"]).database or "")
        assert wal == b"", "the WAL is truncated after the scrub"
        assert secrets.found_in(main) == []
        image = sf.SqliteImage(main)
        for cell in image.cells(image.roots()["responses"]):
            _sealed_owner(truth, cell.values)
        assert set(truth.blobs) == set(history.checkins)
        assert all(main.count(blob) == 1 for blob in truth.blobs.values())
        return
    request.getfixturevalue("pg_forensics")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        heap = _owned(conn, truth, "responses")
        assert {p for p, _ in heap.values()} == set(history.checkins)
        assert {xmin for _, xmin in heap.values()} == {close_xid}, "all written by the close mix"
        for table in (*SCRUBBED, "comments", "spent_ballots", "ballot_keys"):
            assert sf.leftover_tuples(sf.heap_tuples(conn, table)) == [], table
        conn.execute(text("CHECKPOINT"))
        files = sf.database_files(conn)
        inbox_files = set(sf.relation_files(conn, "ballot_inbox"))
        response_files = set(sf.relation_files(conn, "responses"))
    leaks = {path: secrets.found_in(data) for path, data in files.items()}
    assert {path: hits for path, hits in leaks.items() if hits} == {}
    for person, blob in truth.blobs.items():
        assert sum(files[p].count(blob) for p in inbox_files if p in files) == 0, person
        assert sum(files[p].count(blob) for p in response_files if p in files) == 1, person
        assert sum(data.count(blob) for data in files.values()) == 1, person


def test_scrub_with_a_transaction_in_flight(
    app: Flask, round48: Round48, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine: Engine = app.extensions["candor.engine"]
    postgres = engine.dialect.name == "postgresql"
    # SQLite's TRUNCATE checkpoint waits the whole busy timeout (30 s, blocking other writers)
    # for the reader before giving up; a shorter one shows the same leftovers sooner.
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 2000)
    engine.dispose()
    if postgres:
        request.getfixturevalue("pg_forensics")
    play(app, round48, lambda _h: None)
    # Another request, reading something unrelated (on SQLite a GET's plain deferred BEGIN).
    monkeypatch.setattr(mixing, "SCRUB_WAIT_SECONDS", 0.5)
    with engine.connect().execution_options(**{db.READ_ONLY_OPTION: True}) as reader:
        if postgres:
            reader.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        reader.execute(text("SELECT count(*) FROM people")).scalar_one()
        secrets, _ = _close(app, round48, quiet=False)
        # The scrub could not finish under the open transaction: it says so and stays pending.
        assert not mixing.scrub_if_pending(engine)
        reader.rollback()
    # The next tick repeats it, now with nothing in the way.
    assert mixing.scrub_if_pending(engine)
    if not postgres:
        main, wal = sf.copy_sqlite(make_url(app.config["DATABASE_URL"]).database or "")
        found = secrets.found_in(wal) + secrets.found_in(main)
        print(f"\nsqlite: WAL {len(wal)} bytes after the close scrub; {len(found)} secrets found")
        assert found == []
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        left = {t: len(sf.leftover_tuples(sf.heap_tuples(conn, t))) for t in SCRUBBED}
        conn.execute(text("CHECKPOINT"))
        files = sf.database_files(conn)
    found = [hit for data in files.values() for hit in secrets.found_in(data)]
    print(f"\npostgresql: dead tuples after the close scrub {left}; {len(found)} secrets found")
    assert found == []


def test_a_scrub_asked_for_in_a_transaction_is_pending_once_it_commits(app: Flask) -> None:
    engine: Engine = app.extensions["candor.engine"]
    with db.session_scope(app) as session:
        mixing.mark_scrub_pending(session)
        mixing.mark_scrub_pending(session)  # asked twice: still one mark
        session.rollback()
    assert _pending(engine) == []  # nothing asked outside a committed transaction
    for _ in range(2):  # again while one is pending already
        with db.session_scope(app) as session:
            mixing.mark_scrub_pending(session)
            session.commit()
        assert _pending(engine) == [b"1"]
    assert mixing.scrub_if_pending(engine)
    assert _pending(engine) == []


def _pending(engine: Engine) -> list[bytes]:
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT value FROM settings WHERE key = :key"), {"key": mixing.SCRUB_PENDING}
        )
        return [bytes(value) for (value,) in found]
