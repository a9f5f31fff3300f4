"""The employee survey page: validation keeps answers, bad links look alike, rounds gate."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from survey import create_app, db
from survey.services import rounds
from tests.conftest import OpenRound, answers_for
from tests.helpers import stored_answers


def test_missing_answer_keeps_the_rest(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    token = next(iter(open_round.tokens.values()))
    data = {
        **answers_for(app, open_round.round_id, value=2),
        "token": token,
        "comment": "keep me <b>",
    }
    missing = next(iter(data))
    del data[missing]
    response = client.post(f"/s/{open_round.round_id}", data=data)
    assert response.status_code == 400
    page = response.data.decode()
    assert "need" in page and "Please choose an answer." in page
    assert "keep me &lt;b&gt;" in page  # the comment survives, escaped
    checked = re.findall(r'<input[^>]*checked[^>]*value="2"|<input[^>]*value="2"[^>]*checked', page)
    assert len(checked) == len(data) - 3  # every other answer is still selected
    assert submission_count(app) == 0
    data[missing] = "4"
    assert client.post(f"/s/{open_round.round_id}", data=data).status_code == 303
    assert submission_count(app) == 1


@pytest.mark.parametrize("value", ["0", "6", "x", "", "4.5"])
def test_out_of_range_is_refused(
    app: Flask, client: FlaskClient, open_round: OpenRound, value: str
) -> None:
    token = next(iter(open_round.tokens.values()))
    data = {**answers_for(app, open_round.round_id), "token": token}
    data["q_mor1"] = value
    assert client.post(f"/s/{open_round.round_id}", data=data).status_code == 400
    assert submission_count(app) == 0


def submission_count(app: Flask) -> int:
    with db.session_scope(app) as session:
        return stored_answers(session)


def test_bad_links_look_alike(app: Flask, client: FlaskClient, open_round: OpenRound) -> None:
    token = next(iter(open_round.tokens.values()))
    data = {**answers_for(app, open_round.round_id), "token": token}
    assert client.post(f"/s/{open_round.round_id}", data=data).status_code == 303
    unused = next(t for t in open_round.tokens.values() if t != token)
    # Looking at a link never tells anyone whether it was used: unused, used, unknown and
    # malformed links all show the same form (only the echoed code differs).
    pages = {
        t: client.get(f"/s/{open_round.round_id}/{t}")
        for t in (unused, token, "A" * 32, "%3Cscript%3E")
    }
    assert {r.status_code for r in pages.values()} == {200}
    bodies = {
        r.data.replace(t.encode(), b"CODE").replace(b"&lt;script&gt;", b"CODE")
        for t, r in pages.items()
    }
    assert len(bodies) == 1
    # Sending answers with any of the unusable ones is refused the same way, answers kept.
    refusals = [
        client.post(f"/s/{open_round.round_id}", data={**data, "token": t})
        for t in (token, "A" * 32, "<script>")
    ]
    assert {r.status_code for r in refusals} == {400}
    assert all(b"not valid or has already been used" in r.data for r in refusals)
    assert client.get(f"/s/999/{token}").status_code == 404


def test_wrong_code_keeps_answers(app: Flask, client: FlaskClient, open_round: OpenRound) -> None:
    data = {**answers_for(app, open_round.round_id), "token": "B" * 32, "comment": "still here"}
    response = client.post(f"/s/{open_round.round_id}", data=data)
    assert response.status_code == 400
    assert b"not valid or has already been used" in response.data and b"still here" in response.data


def test_closed_round_says_so(app: Flask, client: FlaskClient, open_round: OpenRound) -> None:
    token = next(iter(open_round.tokens.values()))
    with db.session_scope(app) as session:
        rounds.close_round(
            session, rounds.get_round(session, open_round.round_id), dt.date(2026, 11, 9)
        )
        session.commit()
    page = client.get(f"/s/{open_round.round_id}/{token}")
    assert page.status_code == 410 and b"closed" in page.data
    data = {**answers_for(app, open_round.round_id), "token": token}
    assert client.post(f"/s/{open_round.round_id}", data=data).status_code == 410
    assert submission_count(app) == 0


def test_survey_page_shows_progress_and_promise(client: FlaskClient, open_round: OpenRound) -> None:
    page = client.get(f"/s/{open_round.round_id}").data.decode()
    assert "<progress" in page and "1 of 10" in page and "2 of 10" in page  # round 1: 10 items
    assert "at least 5 people" in page and "/privacy" in page
    assert 'name="viewport"' in page


def test_csrf_is_enforced(config: dict, open_round: OpenRound) -> None:
    app = create_app({**config, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    token = next(iter(open_round.tokens.values()))
    data = {**answers_for(app, open_round.round_id), "token": token}
    assert client.post(f"/s/{open_round.round_id}", data=data).status_code == 400
    page = client.get(f"/s/{open_round.round_id}/{token}").data.decode()
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert csrf is not None
    assert (
        client.post(
            f"/s/{open_round.round_id}", data={**data, "csrf_token": csrf.group(1)}
        ).status_code
        == 303
    )
    login = client.post("/login", data={"email": "hr@example.org", "password": "x"})
    assert login.status_code in (200, 400, 401) and login.status_code != 302
    app.extensions["candor.engine"].dispose()
