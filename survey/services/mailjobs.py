"""Sending jobs: one round's invitations, or its reminders, sent by one run at a time anywhere.

Invariants:
- :func:`send_configured` (what commands, the tick and the admin page call) holds the job's
  lock (:mod:`.locks`: a PostgreSQL advisory lock, or a file lock beside the SQLite database)
  around the ledger's :func:`.mailer.send_round_mail`, so on every app server at most one run
  works on a job. A second run finds the lock taken and stops at once (:class:`SenderBusy`):
  the first is already sending every row.
- Each job's latest run is recorded (``mail_runs``: started, finished, why it stopped), so the
  admin page can say truthfully where sending stands; counts come from the ledger, never
  names or links.
- A run cut short (a stopped process) leaves the ledger resumable; :func:`unfinished_jobs`
  lists what the tick carries on.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from .. import clock
from ..db import READ_ONLY_OPTION
from ..domain.mail import DeliveryStatus, MailError, MailKind, message_id_salt
from ..models import Delivery, MailRun, Round, RoundStatus
from . import locks, rounds
from .mailer import (
    ERROR_MAX_CHARS,
    SendReport,
    SessionFactory,
    claimable,
    ledger_counts,
    send_round_mail,
)
from .transports import mailer_from_config

__all__ = [
    "MailProgress",
    "SenderBusy",
    "progress",
    "send_configured",
    "send_in_background",
    "sending_lock_name",
    "unfinished_jobs",
]

LOCK_WAIT_SECONDS = 10.0  # at most, for the background thread to take its lock
UNEXPECTED = "sending stopped on an unexpected error; the server log has the details"
_LOG = logging.getLogger(__name__)


class SenderBusy(MailError):
    """Another run is sending this round's emails of this kind (on any app server)."""


def sending_lock_name(round_id: int, kind: MailKind | str) -> str:
    """Return the name of the lock one round's invitations (or reminders) are sent under."""
    return f"mail-{int(round_id)}-{MailKind(kind).value}"


def _engine_of(session_factory: SessionFactory) -> Engine:
    with session_factory() as session:
        return session.get_bind().engine


def send_configured(
    config: Mapping[str, Any],
    instance_path: str,
    session_factory: SessionFactory,
    round_id: int,
    kind: MailKind | str,
    kek: bytes,
    *,
    on_lock: Callable[[bool], None] | None = None,
) -> SendReport:
    """Send with the configured mailer while holding this job's lock, and record the run.

    This is what commands, the tick and the admin page call; see :func:`.mailer.send_round_mail`.
    Raises :class:`SenderBusy` at once if another run holds the lock, on any app server.

    :param instance_path: where an in-memory SQLite database keeps its lock file.
    :param on_lock: called with whether the lock was taken, before anything is sent (once
        taken, the run is recorded as started).
    """
    kind = MailKind(kind)
    engine = _engine_of(session_factory)
    name = sending_lock_name(round_id, kind)
    with locks.exclusive(engine, name, fallback_dir=instance_path) as held:
        if held:
            _record_run(session_factory, round_id, kind, started=True)
        if on_lock is not None:
            on_lock(held)
        if not held:
            raise SenderBusy(
                f"another run is sending round {round_id}'s {kind.value}s; "
                "it sends every one of them, so this one did nothing."
            )
        stopped = UNEXPECTED
        try:
            with mailer_from_config(config) as sink:
                report = send_round_mail(
                    session_factory,
                    round_id,
                    kind,
                    kek=kek,
                    public_url=str(config["PUBLIC_URL"]),
                    mailer=sink,
                    salt=message_id_salt(kek),
                    sender=str(config["MAIL_FROM"]),
                )
            stopped = report.stopped
            return report
        except (MailError, rounds.RoundError) as exc:
            stopped = str(exc)
            raise
        finally:
            _record_end(session_factory, round_id, kind, stopped)


# How often, and how far apart, the end of a run is written again when the database is busy:
# a run whose end is never written reads as cut short on the admin page.
END_ATTEMPTS = 5
END_RETRY_SECONDS = 1.0


def _record_end(
    session_factory: SessionFactory, round_id: int, kind: MailKind, stopped: str
) -> None:
    """Write how a run ended, trying again while the database is busy or away."""
    for attempt in range(1, END_ATTEMPTS + 1):
        try:
            _record_run(session_factory, round_id, kind, started=False, stopped=stopped)
            return
        except OperationalError:
            if attempt == END_ATTEMPTS:
                raise
            _LOG.warning("recording the end of a mail run failed; trying again")
            time.sleep(END_RETRY_SECONDS)


def _record_run(
    session_factory: SessionFactory,
    round_id: int,
    kind: MailKind,
    *,
    started: bool,
    stopped: str = "",
) -> None:
    """Note that a run of this job started, or how it ended ("" when it sent everything)."""
    now = clock.utcnow()
    with session_factory() as session, session.begin():
        run = session.scalars(
            select(MailRun).where(MailRun.round_id == round_id, MailRun.kind == kind.value)
        ).one_or_none()
        if started and session.get(Round, round_id) is None:
            return  # the run will refuse the unknown round itself
        if run is None:
            if not started:
                return
            run = MailRun(round_id=round_id, kind=kind.value, started_at=now)
            session.add(run)
        if started:
            run.started_at, run.finished_at, run.stopped = now, None, ""
        else:
            run.finished_at, run.stopped = now, stopped[:ERROR_MAX_CHARS]


def send_in_background(
    config: Mapping[str, Any],
    instance_path: str,
    session_factory: SessionFactory,
    round_id: int,
    kind: MailKind | str,
    kek: bytes,
) -> threading.Thread:
    """Start :func:`send_configured` in a daemon thread of this process and return the thread.

    For the admin page. Returns once the thread has taken the job's lock (or found it taken,
    and ended), so a page rendered next already sees the run; the messages go out after. A
    run cut short by the process stopping leaves the ledger resumable, and the next tick (or
    a click) carries it on.
    """
    locked = threading.Event()

    def run() -> None:
        try:
            send_configured(
                config,
                instance_path,
                session_factory,
                round_id,
                kind,
                kek,
                on_lock=lambda _held: locked.set(),
            )
        except SenderBusy:
            pass  # the run holding the lock sends every row
        except (MailError, rounds.RoundError):
            pass  # recorded on the run, where the admin page shows it
        except Exception:  # a thread has no caller to tell: log it, the page says so
            _LOG.exception("sending round %s's %ss failed", round_id, MailKind(kind).value)
        finally:
            locked.set()

    thread = threading.Thread(
        target=run, name=f"candor-{sending_lock_name(round_id, kind)}", daemon=True
    )
    thread.start()
    locked.wait(LOCK_WAIT_SECONDS)
    return thread


@dataclass(frozen=True)
class MailProgress:
    """Where one round's invitations (or reminders) stand, in counts from the ledger."""

    kind: MailKind
    total: int  # ledger rows: everyone invited, once a run has started (0 before)
    sent: int
    failed: int  # failed, to be retried by a later run
    given_up: int  # failed MAX_ATTEMPTS times
    running: bool  # a run holds this job's lock right now, on some app server
    started_at: dt.datetime | None  # of the latest run
    finished_at: dt.datetime | None  # None while running, or if the run was cut short
    stopped: str  # why the latest run stopped early, or ""

    @property
    def waiting(self) -> int:
        """Return how many are neither sent nor failed: not yet tried, or being sent."""
        return self.total - self.sent - self.failed - self.given_up

    @property
    def done(self) -> bool:
        """Return whether every row is sent or given up."""
        return self.total > 0 and self.sent + self.given_up == self.total

    @property
    def interrupted(self) -> bool:
        """Return whether the latest run ended without finishing (a stopped process)."""
        return self.started_at is not None and self.finished_at is None and not self.running


def progress(
    session: Session, engine: Engine, round_id: int, kind: MailKind, *, lock_dir: str
) -> MailProgress:
    """Return the progress of a round's invitations or reminders (counts only, no names).

    A run writes its end before it lets go of the job's lock, so the lock is asked about
    first and the ledger read after. On SQLite the request's transaction may still read
    from before a run ended (its snapshot is taken at its first read); a run that looks cut
    short is therefore read again in a transaction of its own before it is said to be.
    """
    running = locks.is_held(engine, sending_lock_name(round_id, kind), fallback_dir=lock_dir)
    found = _progress(session, round_id, kind, running)
    if found.interrupted:
        with Session(engine) as fresh:
            fresh.connection(execution_options={READ_ONLY_OPTION: True})
            found = _progress(fresh, round_id, kind, running)
    return found


def _progress(session: Session, round_id: int, kind: MailKind, running: bool) -> MailProgress:
    by_status, given_up = ledger_counts(session, round_id, kind)
    run = session.scalars(
        select(MailRun).where(MailRun.round_id == round_id, MailRun.kind == kind.value)
    ).one_or_none()
    return MailProgress(
        kind=kind,
        total=sum(by_status.values()),
        sent=by_status.get(DeliveryStatus.SENT, 0),
        failed=by_status.get(DeliveryStatus.FAILED, 0) - given_up,
        given_up=given_up,
        running=running,
        started_at=run.started_at if run else None,
        finished_at=run.finished_at if run else None,
        stopped=run.stopped if run else "",
    )


def unfinished_jobs(session: Session) -> list[tuple[int, MailKind]]:
    """Return (round, kind) of every open round's sending that has rows left to try.

    The tick carries these on, so a send started from the admin page and cut short (a
    restarted web server) finishes without anyone clicking again.
    """
    rows = session.execute(
        select(Delivery.round_id, Delivery.kind)
        .join(Round, Round.id == Delivery.round_id)
        .where(Round.status == RoundStatus.OPEN, claimable())
        .distinct()
        .order_by(Delivery.round_id, Delivery.kind)
    ).all()
    return [(int(round_id), MailKind(kind)) for round_id, kind in rows]
