"""Many threads submitting the same links at once store exactly one response per link."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session

from survey import db
from survey.models import Invitation, Round
from survey.services import rounds, submission
from tests.conftest import OpenRound, Org, answers_for
from tests.helpers import invitation_unused, stored_answers
from tests.services.ballots import TODAY, open_next_round
from tests.services.round_steps import answer_all

THREADS_PER_LINK = 4


def test_concurrent_submissions(app: Flask, open_round: OpenRound) -> None:
    form = answers_for(app, open_round.round_id)
    answers = {key.removeprefix("q_"): int(v) for key, v in form.items()}
    tokens = list(open_round.tokens.values())
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(len(tokens) * THREADS_PER_LINK)

    def worker(token: str) -> None:
        barrier.wait()
        with app.app_context():
            session = db.get_session()
            try:
                survey = submission.survey_for(session, open_round.round_id)
                submission.submit(session, survey, token, answers, "", app.extensions["candor.kek"])
                session.commit()
                result = "stored"
            except submission.LinkUnusable:
                session.rollback()
                result = "refused"
        with lock:
            outcomes[result] += 1

    threads = [
        threading.Thread(target=worker, args=(t,)) for t in tokens for _ in range(THREADS_PER_LINK)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes["stored"] == len(tokens)
    assert outcomes["refused"] == len(tokens) * (THREADS_PER_LINK - 1)
    with db.session_scope(app) as session:
        assert stored_answers(session) == len(tokens)
        assert session.query(Invitation).count() == 0


def test_failed_submission_keeps_link(app: Flask, open_round: OpenRound) -> None:
    """A submission that fails after consuming is rolled back: the link still works."""
    token = next(iter(open_round.tokens.values()))
    answers = {
        k.removeprefix("q_"): int(v) for k, v in answers_for(app, open_round.round_id).items()
    }
    with app.app_context():
        session = db.get_session()
        survey = submission.survey_for(session, open_round.round_id)
        submission.submit(session, survey, token, answers, "", app.extensions["candor.kek"])
        session.rollback()  # e.g. the commit failed
    with app.app_context():
        session = db.get_session()
        assert invitation_unused(session, open_round.round_id, token)
        survey = submission.survey_for(session, open_round.round_id)
        submission.submit(session, survey, token, answers, "", app.extensions["candor.kek"])
        session.commit()
    with db.session_scope(app) as session:
        assert stored_answers(session) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_closing_waits_for_an_answer_that_saw_the_round_open(
    app: Flask, open_round: OpenRound
) -> None:
    """An answer's transaction holds the round open: a close that starts meanwhile waits for
    it (and then mixes its ballot into storage) instead of leaving it behind in the inbox."""
    closed = threading.Event()

    def close() -> None:
        with db.session_scope(app) as session:
            rnd = session.get(Round, open_round.round_id)
            assert rnd is not None
            rounds.advance(session, rnd, "close", app.extensions["candor.kek"], dt.date.today())
            session.commit()
        closed.set()

    with db.session_scope(app) as answering:
        submission.survey_for(answering, open_round.round_id, answering=True)
        closer = threading.Thread(target=close)
        closer.start()
        assert not closed.wait(0.5)  # the close waits for this answer's transaction
        answering.commit()
    closer.join(timeout=30)
    assert closed.is_set()


def waiting_for_its_turn(app: Flask, timeout_s: float = 30) -> None:
    """Return once a transaction waits for an advisory lock (a release's turn); fail after
    ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    with app.extensions["candor.engine"].connect() as conn:
        while not conn.scalar(WAITING_FOR_ADVISORY):
            conn.rollback()  # a new snapshot of pg_locks next time
            assert time.monotonic() < deadline, "no release waited for its turn"
            time.sleep(0.02)


WAITING_FOR_ADVISORY = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_releases_at_once_take_turns(
    app: Flask, organisation: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two closed rounds released at once (say, custodians release round 1 while the tick
    releases round 2) take turns. Round 1's release waits for round 2's transaction, then
    finds round 2's release in its history, so the two are checked against each other;
    without the turn, neither would see the other."""
    kek = app.extensions["candor.kek"]
    first, second = (open_next_round(app, organisation.program_id) for _ in range(2))
    for round_id, tokens in (first, second):
        answer_all(app, round_id, tokens)
        with db.session_scope(app) as session:
            rounds.close_round(session, rounds.get_round(session, round_id), TODAY)
            session.commit()
    history = rounds._history
    seen: list[tuple[int, int]] = []  # (round, earlier releases it was checked against)

    def recorded(session: Session, rnd: Round) -> Any:
        found = history(session, rnd)
        seen.append((rnd.id, len(found[0])))
        return found

    monkeypatch.setattr(rounds, "_history", recorded)
    released = threading.Event()

    def release_round_one() -> None:
        with db.session_scope(app) as other:
            rounds.advance(other, rounds.get_round(other, first[0]), "release", kek, TODAY)
            other.commit()
        released.set()

    with db.session_scope(app) as session:
        rounds.advance(session, rounds.get_round(session, second[0]), "release", kek, TODAY)
        releaser = threading.Thread(target=release_round_one)
        releaser.start()
        waiting_for_its_turn(app)  # round 1 waits for round 2's transaction
        assert not released.is_set()
        session.commit()
    releaser.join(timeout=30)
    assert released.is_set()
    assert seen == [(second[0], 0), (first[0], 1)]
