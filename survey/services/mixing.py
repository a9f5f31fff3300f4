"""Storage that keeps no order: ballots wait in an inbox, then a round is rewritten at random.

Invariants:
- A ballot is written to ``ballot_inbox``, never straight into ``responses`` or ``comments``.
- A mix moves a round's inbox into storage and rewrites *every* stored response and comment of
  that round, in random order, with fresh random ids, in one transaction. Afterwards all of the
  round's rows share one writing transaction and their physical order is a shuffle: no row says
  when, or in which batch, its ballot arrived.
- A mix runs at the first ballot at least :data:`MIX_INTERVAL` after the previous mix, once
  :data:`MIX_WAITING_MAX` ballots wait, at every ``candor tick``, and when the round closes. So a
  snapshot of storage can only place in time the ballots that arrived since the last mix.
- After a mix (and after anything that destroys a secret) :func:`scrub` makes storage forget
  the old row versions: PostgreSQL ``VACUUM FULL`` writes the tables anew (a plain VACUUM
  leaves dead tuples' bytes, with their transaction ids, in the pages), SQLite zeroes freed
  cells (``secure_delete``) and truncates the write-ahead log.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from typing import Any

from sqlalchemy import Delete, Engine, Select, bindparam, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..db import SQLITE_BUSY_TIMEOUT_MS
from ..domain import crypto
from ..models import Base, Comment, InboxEntry, Response, RoundMix, Setting

MIX_INTERVAL = dt.timedelta(minutes=2)
MIX_WAITING_MAX = 50
DELETE_BATCH = 500  # ids per DELETE … IN (…), well under every driver's parameter limit
RESPONSE, COMMENT = "response", "comment"
# Tables whose old row versions could pair a ballot with a check-in, or keep a secret.
SCRUBBED_TABLES = (
    "ballot_inbox",
    "responses",
    "comments",
    "invitations",
    "spent_ballots",
    "check_ins",
    "ballot_keys",
    "rounds",
    # Custody and retention (services/custody.py, retention.py): destroyed shares and keys.
    "round_custody",
    "custody_shares",
    "pending_shares",
)
# The scrub after a mix: the tables whose old row versions a check-in, a ballot or a mix
# leaves behind. Old versions of the inbox and of the round's rows would date the ballots (an
# inbox row keeps its ballot's transaction id; a blob found in an older generation of the
# round's rows arrived before that mix), and a consumed invitation leaves its old version.
# The spent set and the check-ins are only inserted into while a round is open: an old
# version of theirs is an attempt that rolled back, which pairs with nothing left (its inbox
# row goes with the inbox's). They are scrubbed with the rest when the round closes.
MIXED_TABLES = ("ballot_inbox", "responses", "comments", "invitations")
# How long a scrub waits for transactions (or, on SQLite, readers) that began before it.
SCRUB_WAIT_SECONDS = 2.0
SCRUB_PENDING = "scrub_pending"
# Other sessions anywhere on the server whose snapshot or transaction is older than ``:x``.
OLDER_TRANSACTIONS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
    " AND least(backend_xid::text::bigint, backend_xmin::text::bigint) < :x"
)
# VACUUM FULL needs a short exclusive lock; rather than queue requests behind it, give up and
# let the next mix try again.
SCRUB_LOCK_TIMEOUT = "2s"


def waiting(session: Session, round_id: int) -> int:
    """Return how many sealed ballots (responses) of a round wait in the inbox."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(InboxEntry)
            .where(InboxEntry.round_id == round_id, InboxEntry.kind == RESPONSE)
        )
        or 0
    )


# Whether a mix is due, in one statement built once (it runs after every ballot): how many
# ballots wait, counted no further than MIX_WAITING_MAX, and when the round was last mixed.
_DUE = select(
    select(func.count())
    .select_from(
        select(InboxEntry.id)
        .where(InboxEntry.round_id == bindparam("round_id"), InboxEntry.kind == RESPONSE)
        .limit(MIX_WAITING_MAX)
        .subquery()
    )
    .scalar_subquery(),
    select(RoundMix.mixed_at).where(RoundMix.round_id == bindparam("round_id")).scalar_subquery(),
)


def mix_due(session: Session, round_id: int, now: dt.datetime) -> bool:
    """Return whether the round's inbox should be mixed now (see the module's invariants)."""
    count, last = session.connection().execute(_DUE, {"round_id": round_id}).one()
    if not count:
        return False
    if count >= MIX_WAITING_MAX:
        return True
    # A clock that went backwards (or a round opened "in the future") must not stop mixing.
    return last is None or not dt.timedelta(0) <= now - last < MIX_INTERVAL


def mix_if_due(session: Session, round_id: int, now: dt.datetime) -> int:
    """Mix the round's inbox if it is due; return how many ballots moved (0: not due).

    Asked again once the round's mixing row is locked: ballots that arrive together all see
    a full inbox, and the first mix empties it for the others. The caller commits, then
    calls :func:`scrub` with :data:`MIXED_TABLES` if anything moved.
    """
    if not mix_due(session, round_id, now):
        return 0
    session.get(RoundMix, round_id, with_for_update=True, populate_existing=True)
    if not mix_due(session, round_id, now):
        return 0
    return mix(session, round_id, now)


# A round's stored sealed rows as plain rows (id, storage label, blob), never ORM objects: a
# mix rewrites them all, and a release opens them all (services/rounds.py).
SEALED_RESPONSES = select(Response.id, Response.unit_id, Response.band, Response.sealed).where(
    Response.round_id == bindparam("round_id")
)
SEALED_COMMENTS = select(Comment.id, Comment.unit_id, Comment.sealed).where(
    Comment.round_id == bindparam("round_id")
)
# What a mix reads and writes, built once (a mix runs every MIX_WAITING_MAX ballots).
_READ: dict[type[Base], Select[*tuple[Any, ...]]] = {
    InboxEntry: select(
        InboxEntry.id, InboxEntry.kind, InboxEntry.unit_id, InboxEntry.band, InboxEntry.sealed
    ).where(InboxEntry.round_id == bindparam("round_id")),
    Response: SEALED_RESPONSES,
    Comment: SEALED_COMMENTS,
}
# The inbox by the ids read (ballots keep arriving while a mix runs); the stored rows by round:
# only a mix writes them while the round is open, and mixes of a round take turns (the mixing
# row's lock), so the round's rows are exactly those read.
_DELETE_READ = delete(InboxEntry).where(InboxEntry.id.in_(bindparam("ids", expanding=True)))
_DELETE_ROUND: dict[type[Base], Delete] = {
    table: delete(table).where(table.round_id == bindparam("round_id"))
    for table in (Response, Comment)
}


def mix(session: Session, round_id: int, now: dt.datetime) -> int:
    """Move the round's inbox into storage, rewriting the whole round; return how many moved.

    The caller commits, then calls :func:`scrub`. Concurrent mixes of one round serialise on
    the round's mixing row (PostgreSQL row lock; SQLite writers are serialised anyway).
    """
    state = session.get(RoundMix, round_id, with_for_update=True)
    if state is None:
        state = RoundMix(round_id=round_id, mixed_at=now)
        session.add(state)
    conn = session.connection()
    read = {
        table: conn.execute(query, {"round_id": round_id}).all() for table, query in _READ.items()
    }
    inbox = read[InboxEntry]
    responses = [
        {"round_id": round_id, "unit_id": unit, "band": band, "sealed": sealed}
        for kind, unit, band, sealed in (row[1:] for row in inbox)
        if kind == RESPONSE
    ]
    responses += [
        {"round_id": round_id, "unit_id": unit, "band": band, "sealed": sealed}
        for _, unit, band, sealed in read[Response]
    ]
    comments = [
        {"round_id": round_id, "unit_id": unit, "sealed": sealed}
        for kind, unit, _, sealed in (row[1:] for row in inbox)
        if kind != RESPONSE
    ]
    comments += [
        {"round_id": round_id, "unit_id": unit, "sealed": sealed}
        for _, unit, sealed in read[Comment]
    ]
    # Delete exactly the inbox rows read: on PostgreSQL a ballot committed since the reads
    # above is visible to a later DELETE, and must stay in the inbox for the next mix.
    ids = [row[0] for row in inbox]
    for start in range(0, len(ids), DELETE_BATCH):
        conn.execute(_DELETE_READ, {"ids": ids[start : start + DELETE_BATCH]})
    for table in (Response, Comment):
        conn.execute(_DELETE_ROUND[table], {"round_id": round_id})
    shuffle = random.SystemRandom().shuffle
    for table, written in ((Response, responses), (Comment, comments)):
        shuffle(written)
        for row in written:
            row["id"] = crypto.new_response_id()
        if written:
            conn.execute(insert(table), written)
    state.mixed_at = now
    session.flush()
    return len(inbox)


def scrub(engine: Engine, tables: tuple[str, ...] = SCRUBBED_TABLES) -> bool:
    """Make storage forget deleted rows and old row versions; return whether it fully did.

    PostgreSQL: wait (at most :data:`SCRUB_WAIT_SECONDS`) until no transaction that began
    before now is still open anywhere on the server, since VACUUM keeps every row version such
    a transaction might still see; then ``VACUUM FULL`` the anonymous tables and ``rounds``
    (whose old versions hold destroyed link secrets). SQLite: checkpoint the write-ahead log
    into the database and truncate it (deleted cells were already zeroed by
    ``secure_delete``), waiting at most as long for readers, so writers are never stalled
    for the whole busy timeout. A scrub that could not finish marks itself pending and
    :func:`scrub_if_pending` (every ``candor tick``) repeats it. Never raises for a busy
    database.
    """
    done = (
        _scrub_postgresql(engine, tables)
        if engine.dialect.name == "postgresql"
        else _scrub_sqlite(engine)
    )
    if not done or set(tables) >= set(SCRUBBED_TABLES):  # only a whole scrub clears a pending one
        _mark_pending(engine, not done)
    return done


def mark_scrub_pending(session: Session) -> None:
    """Ask the next scrub (at the latest the next tick) to run, in the caller's transaction:
    for steps that destroy a secret outside close and release (strict links)."""
    session.execute(_MARK_PENDING[session.get_bind().dialect.name])


# The mark is the row itself: one statement, with no read first (as a merge would make).
_MARK_PENDING = {
    name: make(Setting)
    .values(key=SCRUB_PENDING, value=b"1")
    .on_conflict_do_nothing(index_elements=[Setting.key])
    for name, make in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}


def scrub_if_pending(engine: Engine) -> bool:
    """Repeat a scrub that could not finish earlier; return whether none is pending now."""
    with engine.connect() as conn:
        pending = conn.scalar(select(Setting.value).where(Setting.key == SCRUB_PENDING))
        conn.rollback()
    return scrub(engine) if pending else True


def _mark_pending(engine: Engine, pending: bool) -> None:
    try:
        with engine.begin() as conn:
            if pending:
                conn.execute(_MARK_PENDING[engine.dialect.name])
            else:
                conn.execute(delete(Setting).where(Setting.key == SCRUB_PENDING))
    except OperationalError:
        pass  # a busy database: the next mix, close or tick scrubs again anyway


def _scrub_postgresql(engine: Engine, tables: tuple[str, ...]) -> bool:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        now = int(conn.exec_driver_sql("SELECT txid_current()").scalar_one()) % 2**32
        deadline = time.monotonic() + SCRUB_WAIT_SECONDS
        while conn.execute(OLDER_TRANSACTIONS, {"x": now}).scalar_one():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        conn.exec_driver_sql(f"SET lock_timeout = '{SCRUB_LOCK_TIMEOUT}'")
        done = True
        for table in tables:
            try:
                conn.exec_driver_sql(f"VACUUM FULL {table}")
            except OperationalError:
                done = False
        return done


def _scrub_sqlite(engine: Engine) -> bool:
    raw = engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        conn.execute(f"PRAGMA busy_timeout={int(SCRUB_WAIT_SECONDS * 1000)}")
        try:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        finally:
            conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        return not busy
    finally:
        raw.close()
