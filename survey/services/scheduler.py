"""The ``tick``: open due rounds, send invitations and reminders, close and release.

Invariants: every step checks the round's state in its own transaction, so a repeated tick
does nothing twice; only one tick runs at a time (a PostgreSQL advisory lock, or an exclusive
lock file beside the SQLite database), and a second one returns at once. Mail is sent under
each job's own lock (:mod:`.mailjobs`), and a tick carries on any open round's sending that has
rows left, so a send cut short anywhere finishes by the next tick.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .. import clock
from ..domain import cadence
from ..models import Cadence, Program, Round, RoundStatus
from . import custody, hygiene, locks, mailjobs, mixing, retention, rounds

DONE = {"close": "closed", "release": "released"}
TICK_LOCK = "tick"
Sender = Callable[[int, str], str]  # (round id, "invitation"|"reminder") -> a short summary


@dataclass
class TickReport:
    """What one tick did, as lines an operator reads in cron mail."""

    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: bool = False


@contextmanager
def tick_lock(engine: Engine, lock_dir: str) -> Iterator[bool]:
    """Yield whether this process holds the tick lock (released on exit, even on a crash).

    :param lock_dir: where an in-memory SQLite database keeps its lock file.
    """
    with locks.exclusive(engine, TICK_LOCK, fallback_dir=lock_dir) as held:
        yield held


def tick(
    factory: sessionmaker[Session],
    kek: bytes,
    today: dt.date,
    send: Sender | None = None,
) -> TickReport:
    """Run one pass over every active programme with a cadence. Safe to repeat."""
    report = TickReport()
    _mix_open_rounds(factory)
    with factory() as session:
        programs = [
            p.id
            for p in session.scalars(select(Program).where(Program.active).order_by(Program.id))
            if p.cadence is not Cadence.MANUAL and p.first_open_on is not None
        ]
    handled: set[tuple[int, str]] = set()
    for program_id in programs:
        _finish_rounds(factory, program_id, kek, today, report)
        _open_due_round(factory, program_id, kek, today, report)
        if send is not None:
            _send_mail(factory, program_id, today, send, report, handled)
    if send is not None:
        _carry_on_mail(factory, send, report, handled)
    report.lines += retention.shred_due(factory, today)  # retention: sealed answers' end
    with factory() as session:
        engine = session.get_bind().engine
    if not mixing.scrub_if_pending(engine):
        report.lines.append(
            "Storage could not yet forget destroyed data: a long transaction was open. "
            "The next tick tries again."
        )
    return report


def _mix_open_rounds(factory: sessionmaker[Session]) -> None:
    """Mix every open round's waiting ballots into storage (of every programme, manual too).

    The tick is what bounds how long a ballot can wait in the inbox in a quiet hour. It says
    nothing about it: a count of ballots per tick in a cron log would time participation.
    """
    with factory() as session:
        open_ids = list(session.scalars(select(Round.id).where(Round.status == RoundStatus.OPEN)))
    for round_id in open_ids:
        with factory() as session:
            if not mixing.waiting(session, round_id):
                continue
            mixing.mix(session, round_id, clock.utcnow())
            session.commit()
            mixing.scrub(session.get_bind().engine)


def _locked_program(session: Session, program_id: int) -> Program:
    """Return the programme with its row locked until commit, so two ticks take turns.

    PostgreSQL: ``SELECT ... FOR UPDATE``. SQLite ignores it, but every writing transaction
    there starts with ``BEGIN IMMEDIATE``, which serialises them already.
    """
    return session.scalars(select(Program).where(Program.id == program_id).with_for_update()).one()


def _finish_rounds(
    factory: sessionmaker[Session], program_id: int, kek: bytes, today: dt.date, report: TickReport
) -> None:
    """Close rounds whose window has ended, then release closed ones, each step under lock."""
    with factory() as session:
        program = _locked_program(session, program_id)
        active = [
            r.id for r in program.rounds if r.status in (RoundStatus.OPEN, RoundStatus.CLOSED)
        ]
    for round_id in active:
        for step in ("close", "release"):
            with factory() as session:
                program = _locked_program(session, program_id)
                rnd = rounds.get_round(session, round_id)
                label = f"{program.name} {rnd.label}"
                try:
                    line = _step(session, program, rnd, step, kek, today)
                    session.commit()
                    if step in hygiene.SCRUBBING_STEPS and line:
                        hygiene.scrub_storage(session.get_bind().engine)
                except rounds.REFUSALS as exc:
                    session.rollback()
                    report.errors.append(f"{label}: {exc}")
                    break
                if line:
                    report.lines.append(f"{DONE[step]} {label}: {line}")


def _step(
    session: Session, program: Program, rnd: Round, step: str, kek: bytes, today: dt.date
) -> str:
    """Do one due step on a freshly read round and say what was done ("" if nothing)."""
    due = (
        step == "close"
        and rnd.status is RoundStatus.OPEN
        and rnd.opens_on is not None
        and today >= cadence.closes_on(rnd.opens_on, program.window_days)
    ) or (
        step == "release"
        and rnd.status is RoundStatus.CLOSED
        and not custody.is_custodial(session, rnd.id)  # waits for its custodians' quorum
    )
    return rounds.advance(session, rnd, step, kek, today) if due else ""


def _open_due_round(
    factory: sessionmaker[Session], program_id: int, kek: bytes, today: dt.date, report: TickReport
) -> None:
    with factory() as session:
        program = _locked_program(session, program_id)
        assert program.first_open_on is not None
        if any(r.status in (RoundStatus.OPEN, RoundStatus.CLOSED) for r in program.rounds):
            return
        opened = [r.opens_on for r in program.rounds if r.opens_on is not None]
        due = cadence.next_open(
            program.first_open_on, max(opened) if opened else None, program.cadence.value
        )
        if today < due:
            return
        draft = next((r for r in program.rounds if r.status is RoundStatus.DRAFT), None)
        try:
            rnd = draft or rounds.create_round(session, program)
            count = rounds.open_round(session, rnd, kek, today)
            session.commit()
            report.lines.append(f"opened {program.name} {rnd.label}: {count} invited")
        except IntegrityError:
            session.rollback()  # another tick created the round first
        except rounds.RoundError as exc:
            session.rollback()
            report.errors.append(f"{program.name}: {exc}")


def _send_mail(
    factory: sessionmaker[Session],
    program_id: int,
    today: dt.date,
    send: Sender,
    report: TickReport,
    handled: set[tuple[int, str]],
) -> None:
    """Send a scheduled programme's due invitations and reminders."""
    with factory() as session:
        program = session.get(Program, program_id)
        assert program is not None
        due = [
            (r.id, f"{program.name} {r.label}", r.opens_on)
            for r in program.rounds
            if r.status is RoundStatus.OPEN and r.opens_on is not None
        ]
        window = program.window_days
    for round_id, label, opened in due:
        kinds = ["invitation"]
        if today >= cadence.reminder_on(opened, window):
            kinds.append("reminder")
        for kind in kinds:
            _send_one(send, round_id, kind, label, report, handled)


def _carry_on_mail(
    factory: sessionmaker[Session],
    send: Sender,
    report: TickReport,
    handled: set[tuple[int, str]],
) -> None:
    """Carry on every open round's sending that has rows left (started from the admin page,
    ``candor mail`` or an earlier tick, and cut short), in manual programmes too."""
    jobs: list[tuple[int, str, str]] = []
    with factory() as session:
        for round_id, kind in mailjobs.unfinished_jobs(session):
            rnd = rounds.get_round(session, round_id)
            jobs.append((round_id, kind.value, f"{rnd.program.name} {rnd.label}"))
    for round_id, what, label in jobs:
        if (round_id, what) not in handled:
            _send_one(send, round_id, what, label, report, handled)


def _send_one(
    send: Sender,
    round_id: int,
    kind: str,
    label: str,
    report: TickReport,
    handled: set[tuple[int, str]],
) -> None:
    handled.add((round_id, kind))
    try:
        report.lines.append(f"{kind}s for {label}: {send(round_id, kind)}")
    except mailjobs.SenderBusy:
        report.lines.append(f"{kind}s for {label}: another run is sending them.")
    except Exception as exc:  # report every failure and keep ticking the others
        report.errors.append(f"{kind}s for {label}: {exc}")
