"""Rotating the instance key: what it wraps, and how a new key replaces the old one.

Invariants:

- The instance key wraps only small rows (each round's private key and link secret, each
  ballot signing key, the canary); rotation re-wraps those in one transaction and never
  touches a sealed answer.
- The old key file stays in place until every wrapped row has been shown to open with the new
  key; only then does one ``rename`` put the new key where the old one was.
- Every step can be interrupted (``kill -9``, power cut) and the command run again finishes
  it. The state is explicit: ``<key>.new`` present means a rotation is in progress, and the
  database's canary says which of the two keys its rows are wrapped with. A half-written
  ``<key>.new.tmp`` never holds a key anything was wrapped with, so it is simply removed.
"""

from __future__ import annotations

import base64
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..domain import crypto
from ..domain.crypto import CryptoError, key_label
from ..models import BallotKey, Round, Setting
from . import keys

NEW_SUFFIX = ".new"
TMP_SUFFIX = ".new.tmp"
CANARY_LABEL = b"canary"
# Test only: name a step here and the rotation kills itself (SIGKILL) when it gets there, as a
# power cut would. Rotation must survive exactly that, so the hook cannot do worse harm.
CRASH_ENV = "CANDOR_TEST_CRASH_AT"
STEPS = ("new-key-written", "rows-rewrapped", "committed", "verified", "swapped")


class RotationError(RuntimeError):
    """Raised when a rotation cannot go on; the message says what state is left and what to do."""


@dataclass(frozen=True)
class WrappedRow:
    """One blob wrapped by the instance key: what it is, its label, and where it is stored."""

    what: str
    label: bytes
    owner: Round | BallotKey | Setting
    attribute: str

    @property
    def blob(self) -> bytes:
        """Return the wrapped blob as stored now."""
        value: bytes = getattr(self.owner, self.attribute)
        return value

    def replace(self, blob: bytes) -> None:
        """Store ``blob`` in place of the wrapped blob (the caller flushes)."""
        setattr(self.owner, self.attribute, blob)


@dataclass(frozen=True)
class RotationReport:
    """What a rotation did."""

    resumed: bool  # a rotation interrupted earlier was finished
    rows: int  # wrapped rows now under the new key (the canary included)
    rewrapped: int  # of which this run re-wrapped


def wrapped_rows(session: Session, *, lock: bool = False) -> Iterator[WrappedRow]:
    """Yield every blob the instance key wraps; with ``lock``, lock the rows for update.

    This is the one list of what the instance key protects: a new wrapped column belongs here,
    or rotation would leave it behind under a key that no longer exists.
    """
    rounds_query = select(Round).order_by(Round.id)
    ballot_query = select(BallotKey).order_by(BallotKey.round_id, BallotKey.key_id)
    canary_query = select(Setting).where(Setting.key == keys.CANARY_SETTING)
    if lock:
        rounds_query = rounds_query.with_for_update()
        ballot_query = ballot_query.with_for_update()
        canary_query = canary_query.with_for_update()
    for rnd in session.scalars(rounds_query):
        if rnd.wrapped_private_key is not None:
            yield WrappedRow(
                f"the private key of round {rnd.id}",
                key_label(rnd.id, "private"),
                rnd,
                "wrapped_private_key",
            )
        if rnd.wrapped_token_secret is not None:
            yield WrappedRow(
                f"the link secret of round {rnd.id}",
                key_label(rnd.id, "tokens"),
                rnd,
                "wrapped_token_secret",
            )
    for ballot in session.scalars(ballot_query):
        if ballot.wrapped_private_key is not None:
            yield WrappedRow(
                f"ballot key {ballot.key_id} of round {ballot.round_id}",
                key_label(ballot.round_id, f"ballot/{ballot.key_id}"),
                ballot,
                "wrapped_private_key",
            )
    for canary in session.scalars(canary_query):
        yield WrappedRow("the key canary", CANARY_LABEL, canary, "value")


def opens(row: WrappedRow, kek: bytes) -> bool:
    """Return whether ``kek`` opens one wrapped row."""
    try:
        crypto.unwrap(row.blob, kek, row.label)
    except CryptoError:
        return False
    return True


def unopenable(session: Session, kek: bytes) -> list[str]:
    """Return what, among everything the instance key wraps, does not open with ``kek``."""
    return [row.what for row in wrapped_rows(session) if not opens(row, kek)]


def rewrap(session: Session, old: bytes, new: bytes) -> tuple[int, int]:
    """Re-wrap every row still under ``old`` with ``new``; return (rows, re-wrapped).

    Idempotent: a row that already opens with ``new`` is left alone, so a rerun after an
    interruption, or rows a still-running process wrapped with the old key, come out right.
    The caller commits; nothing is changed if any row opens with neither key.
    """
    rows = list(wrapped_rows(session, lock=True))
    lost = [r.what for r in rows if not opens(r, new) and not opens(r, old)]
    if lost:
        raise RotationError(
            f"{len(lost)} wrapped row(s) open with neither the old nor the new key "
            f"({', '.join(lost[:3])}); nothing was changed."
        )
    changed = 0
    for row in rows:
        if not opens(row, new):
            row.replace(crypto.wrap(crypto.unwrap(row.blob, old, row.label), new, row.label))
            changed += 1
    session.flush()
    return len(rows), changed


def rotate(
    factory: sessionmaker[Session],
    key_path: str,
    crash: Callable[[str], None] | None = None,
) -> RotationReport:
    """Replace the instance key at ``key_path`` by a new one, or finish an interrupted rotation.

    Unlike most services this one commits, because the order of file and database steps is
    what makes it safe: new key file, re-wrap and commit, verify, then rename.
    """
    crash = crash or crash_point
    new_path = key_path + NEW_SUFFIX
    old = keys.read_key_file(key_path)
    _remove(key_path + TMP_SUFFIX)  # never holds a key anything is wrapped with
    resumed = os.path.exists(new_path)
    with factory() as session:
        canary = session.get(Setting, keys.CANARY_SETTING)
        if canary is None:
            raise RotationError("The database has no key canary: run `candor init` first.")
        if resumed:
            new = keys.read_key_file(new_path)
            if not (
                crypto.check_canary(canary.value, old) or crypto.check_canary(canary.value, new)
            ):
                raise RotationError(
                    f"Neither {key_path} nor {new_path} opens this database's canary; "
                    "restore the right key file before rotating."
                )
        else:
            if not crypto.check_canary(canary.value, old):
                raise RotationError(
                    f"The instance key {key_path} does not belong to this database; "
                    "restore the right key file before rotating."
                )
            new = os.urandom(crypto.KEY_BYTES)
            _write_key_file(new_path, new)
            crash("new-key-written")
        total, changed = rewrap(session, old, new)
        crash("rows-rewrapped")
        session.commit()
    crash("committed")
    with factory() as session:
        left = unopenable(session, new)
    if left:
        raise RotationError(
            f"{len(left)} wrapped row(s) do not open with the new key ({', '.join(left[:3])}); "
            f"both {key_path} and {new_path} are kept: run `candor key rotate` again."
        )
    crash("verified")
    os.replace(new_path, key_path)
    _fsync_dir(key_path)
    crash("swapped")
    return RotationReport(resumed=resumed, rows=total, rewrapped=changed)


def in_progress(key_path: str) -> bool:
    """Return whether a rotation of ``key_path`` was started and not finished."""
    return os.path.exists(key_path + NEW_SUFFIX)


def crash_point(step: str) -> None:
    """Test only: kill this process at ``step`` if ``CANDOR_TEST_CRASH_AT`` names it."""
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _write_key_file(path: str, key: bytes) -> None:
    """Write a key file (mode 0600) whole or not at all: a temporary file, fsync, rename."""
    tmp = path.removesuffix(NEW_SUFFIX) + TMP_SUFFIX
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.b64encode(key) + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.link(tmp, path)  # unlike rename, refuses to replace a key file that appeared meanwhile
    os.remove(tmp)
    _fsync_dir(path)


def _fsync_dir(path: str) -> None:
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
