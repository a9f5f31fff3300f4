"""Test support for the sealed-ballot-box tests: answering, moving rounds on, running the CLI.

Answers go through whatever :mod:`survey.services.submission` exposes (``submit`` with or
without the instance key), so these tests stay about keys, backups and releases.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from typing import Any

from flask import Flask

from survey import db
from survey.clock import utcnow
from survey.models import Program, Round
from survey.services import rounds, submission
from tests.conftest import SECRET, answers_for

TODAY = utcnow().date()


def answers(app: Flask, round_id: int) -> dict[str, int]:
    """Return complete answers to every item of a round."""
    return {key.removeprefix("q_"): int(v) for key, v in answers_for(app, round_id).items()}


def submit(app: Flask, round_id: int, token: str, comment: str = "") -> None:
    """Answer a round with one link through the service layer, and commit."""
    kek = app.extensions["candor.kek"]
    takes_key = len(inspect.signature(submission.submit).parameters) > 5
    given = answers(app, round_id)  # before this session starts writing (SQLite: one writer)
    with app.app_context():
        session = db.get_session()
        survey = submission.survey_for(session, round_id)
        extra = (kek,) if takes_key else ()
        submission.submit(session, survey, token, given, comment, *extra)
        session.commit()


def step(app: Flask, round_id: int, what: str, **options: Any) -> str:
    """Move a round on through :func:`rounds.advance` and commit."""
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, round_id)
        message = rounds.advance(session, rnd, what, app.extensions["candor.kek"], TODAY, **options)
        session.commit()
    return message


def open_next_round(app: Flask, program_id: int) -> tuple[int, list[str]]:
    """Open the programme's next round; return its id and every invitation code."""
    kek = app.extensions["candor.kek"]
    with db.session_scope(app) as session:
        program = session.get(Program, program_id)
        assert program is not None
        rnd = rounds.create_round(session, program)
        rounds.open_round(session, rnd, kek, TODAY)
        session.commit()
        links = rounds.invitation_links(session, rnd, kek, "http://candor.test")
        return rnd.id, [link.url.rsplit("#", 1)[1] for link in links]


def round_status(app: Flask, round_id: int) -> str:
    """Return a round's status as stored."""
    with db.session_scope(app) as session:
        rnd = session.get(Round, round_id)
        assert rnd is not None
        return rnd.status.value


def cli_env(config: dict[str, Any]) -> dict[str, str]:
    """Return the environment that points the ``candor`` command at a test instance."""
    return {
        **os.environ,
        "CANDOR_INSTANCE_PATH": str(config["INSTANCE_PATH"]),
        "CANDOR_DATABASE_URL": str(config["DATABASE_URL"]),
        "CANDOR_ENV": "development",
        "CANDOR_SECRET_KEY": SECRET,
    }


def run_candor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed ``candor`` command in a subprocess."""
    candor = os.path.join(os.path.dirname(sys.executable), "candor")
    return subprocess.run(  # noqa: S603 - our own console script
        [candor, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
