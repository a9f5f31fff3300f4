"""The tick, with a controllable clock, repeated and concurrent."""

from __future__ import annotations

import datetime as dt
import threading

from flask import Flask

from survey import db
from survey.models import Cadence, Program, Release, Round, RoundStatus
from survey.services import scheduler
from tests.conftest import Org

START = dt.date(2026, 3, 2)


def make_fortnightly(app: Flask, organisation: Org) -> None:
    with db.session_scope(app) as session:
        program = session.get(Program, organisation.program_id)
        program.cadence = Cadence.FORTNIGHTLY
        program.window_days = 5
        program.first_open_on = START
        session.commit()


def run(app: Flask, today: dt.date, sent: list | None = None) -> scheduler.TickReport:
    def send(round_id: int, kind: str) -> str:
        if sent is not None:
            sent.append((round_id, kind, today))
        return "recorded"

    factory = app.extensions["candor.sessionmaker"]
    return scheduler.tick(factory, app.extensions["candor.kek"], today, send)


def statuses(app: Flask) -> list[tuple[int, str]]:
    with db.session_scope(app) as session:
        return [(r.number, r.status.value) for r in session.query(Round).order_by(Round.number)]


def test_tick_runs_whole_rounds(app: Flask, organisation: Org) -> None:
    make_fortnightly(app, organisation)
    sent: list = []
    assert run(app, START - dt.timedelta(days=1), sent).lines == []
    report = run(app, START, sent)
    assert statuses(app) == [(1, "open")] and any("opened" in line for line in report.lines)
    run(app, START, sent)  # a second tick the same day does nothing new
    assert statuses(app) == [(1, "open")]
    run(app, START + dt.timedelta(days=2), sent)
    assert {kind for _, kind, _ in sent} == {"invitation", "reminder"}
    report = run(app, START + dt.timedelta(days=5), sent)
    assert statuses(app) == [(1, "released")]
    assert any(line.startswith("released") for line in report.lines), report
    run(app, START + dt.timedelta(days=13), sent)
    assert statuses(app) == [(1, "released")]
    run(app, START + dt.timedelta(days=14), sent)
    assert statuses(app) == [(1, "released"), (2, "open")]
    with db.session_scope(app) as session:
        assert session.query(Release).count() == 1
        second = session.query(Round).filter_by(number=2).one()
        assert second.opens_on == START + dt.timedelta(days=14)


def test_missed_ticks_open_one_round_late(app: Flask, organisation: Org) -> None:
    make_fortnightly(app, organisation)
    run(app, START + dt.timedelta(days=40))
    assert statuses(app) == [(1, "open")]


def test_manual_programmes_are_left_alone(app: Flask, organisation: Org) -> None:
    assert run(app, START + dt.timedelta(days=40)).lines == []
    assert statuses(app) == []


def test_concurrent_ticks_do_everything_once(app: Flask, organisation: Org) -> None:
    make_fortnightly(app, organisation)
    barrier = threading.Barrier(4)
    reports: list[scheduler.TickReport] = []

    def worker() -> None:
        barrier.wait()
        engine = app.extensions["candor.engine"]
        with scheduler.tick_lock(engine, app.instance_path) as held:
            if held:
                reports.append(run(app, START))
            else:
                reports.append(scheduler.TickReport(skipped=True))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses(app) == [(1, "open")]
    assert sum(1 for r in reports for line in r.lines if line.startswith("opened")) == 1


def test_ticks_without_the_lock_still_open_once(app: Flask, organisation: Org) -> None:
    """Even if two ticks bypass the lock, state checks and constraints prevent doubles."""
    make_fortnightly(app, organisation)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            run(app, START)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert statuses(app) == [(1, "open")]
    with db.session_scope(app) as session:
        assert session.query(Round).filter(Round.status == RoundStatus.OPEN).count() == 1
