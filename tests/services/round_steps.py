"""Steps of a round's life through the services on a real database: answer the invitations,
then close and release the round."""

from __future__ import annotations

import datetime as dt

from flask import Flask

from survey import db
from survey.models import Release
from survey.services import rounds, submission
from tests.conftest import answers_for

DAY = dt.date(2026, 11, 2)


def answer_all(app: Flask, round_id: int, tokens: list[str], value: int = 4) -> None:
    answers = {k.removeprefix("q_"): int(v) for k, v in answers_for(app, round_id, value).items()}
    with app.app_context():
        session = db.get_session()
        survey = submission.survey_for(session, round_id)
        for token in tokens:
            submission.submit(session, survey, token, answers, "", app.extensions["candor.kek"])
        session.commit()


def finish(app: Flask, round_id: int) -> Release:
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, round_id)
        rounds.close_round(session, rnd, DAY + dt.timedelta(days=5))
        release = rounds.release_round(
            session, rnd, app.extensions["candor.kek"], DAY + dt.timedelta(days=6)
        )
        session.commit()
        session.refresh(release)
        return release
