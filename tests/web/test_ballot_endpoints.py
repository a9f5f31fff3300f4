"""The survey's JSON endpoints and the no-JavaScript path, through the test client."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.exc import OperationalError

from survey import create_app, db
from survey.models import Program
from survey.services import ballotkeys, rounds, submission
from survey.web import survey_page
from tests.conftest import OpenRound, answers_for
from tests.helpers import Browser, carried_keys, invitation_unused, stored_answers


def count(app: Flask) -> int:
    with db.session_scope(app) as session:
        return stored_answers(session)


def item_answers(app: Flask, round_id: int, value: int = 4) -> dict[str, int]:
    return {k.removeprefix("q_"): int(v) for k, v in answers_for(app, round_id, value).items()}


def test_check_in_then_ballot(app: Flask, client: FlaskClient, open_round: OpenRound) -> None:
    browser = Browser(client, open_round.round_id, next(iter(open_round.tokens.values())))
    assert browser.check_in().status_code == 200
    assert count(app) == 0
    reply = browser.ballot(item_answers(app, open_round.round_id), "a comment")
    assert reply.status_code == 200 and reply.get_json()["status"] == "recorded"
    assert reply.get_json()["next"] == f"/s/{open_round.round_id}/done"
    assert count(app) == 1
    again = browser.ballot(item_answers(app, open_round.round_id), "a comment")
    assert again.get_json()["status"] == "already recorded" and count(app) == 1
    assert browser.ballot(item_answers(app, open_round.round_id, 2)).status_code == 403
    assert browser.check_in().status_code == 200  # the same blinded message: a lost reply
    other = Browser(client, open_round.round_id, browser.code)
    assert other.check_in().status_code == 404


def test_survey_page_links_the_keys_and_the_keys_page_lists_each_once(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    page = client.get(f"/s/{open_round.round_id}").data.decode()
    assert f"/privacy/rounds/{open_round.round_id}/keys" in page
    keys_page = client.get(f"/privacy/rounds/{open_round.round_id}/keys").data.decode()
    with db.session_scope(app) as session:
        keys = ballotkeys.public_keys(session, open_round.round_id)
    assert keys
    for key in keys:
        assert keys_page.count(key.fingerprint) == 1
    browser = Browser(client, open_round.round_id, next(iter(open_round.tokens.values())))
    assert browser.fingerprint in {k.fingerprint for k in keys}
    assert client.get(f"/s/{open_round.round_id}/keys/999").status_code == 404


def test_the_survey_page_carries_every_key_as_a_key_request_answers_it(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    rid = open_round.round_id
    carried = carried_keys(client.get(f"/s/{rid}").data.decode())
    with db.session_scope(app) as session:
        ids = [key.key_id for key in ballotkeys.public_keys(session, rid)]
    assert carried is not None and sorted(carried) == sorted(str(key_id) for key_id in ids)
    for key_id in ids:
        assert carried[str(key_id)] == client.get(f"/s/{rid}/keys/{key_id}").get_json()
        assert set(carried[str(key_id)]) == {"key_id", "fingerprint", "n", "e"}  # no label
    # The page kept by this process carries the same, and only one copy of them.
    assert carried_keys(client.get(f"/s/{rid}").data.decode()) == carried


def test_a_round_with_more_keys_than_a_page_carries_has_its_script_ask(
    app: Flask,
    client: FlaskClient,
    open_round: OpenRound,
    config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rid = open_round.round_id
    with db.session_scope(app) as session:
        many = len(ballotkeys.public_keys(session, rid))
    assert many > 1
    monkeypatch.setattr(survey_page, "CARRIED_KEYS_MAX", many - 1)
    page = client.get(f"/s/{rid}").data.decode()
    assert carried_keys(page) is None
    assert f'data-key-url="/s/{rid}/keys/{{key}}"' in page
    monkeypatch.setattr(survey_page, "CARRIED_KEYS_MAX", many)
    fresh = create_app(config)  # a process that has kept no page yet
    carried = carried_keys(fresh.test_client().get(f"/s/{rid}").data.decode())
    assert carried is not None and len(carried) == many


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"code": "nonsense", "blinded": "AAAA"},
        {"code": "1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "blinded": "AAAA"},
        {"code": 5, "blinded": None},
    ],
)
def test_bad_check_ins_look_alike(
    client: FlaskClient, open_round: OpenRound, body: dict[str, Any]
) -> None:
    reply = client.post(f"/s/{open_round.round_id}/checkin", json=body)
    assert reply.status_code == 404 and reply.get_json() == {"status": "unusable"}


def test_invalid_answers_are_named_and_nothing_is_spent(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    browser = Browser(client, open_round.round_id, next(iter(open_round.tokens.values())))
    browser.check_in()
    answers = item_answers(app, open_round.round_id)
    missing = next(iter(answers))
    del answers[missing]
    reply = browser.ballot({**answers, "nope": 3})
    assert reply.status_code == 400
    assert reply.get_json()["errors"] == {missing: "required", "nope": "unknown"}
    answers[missing] = 9  # out of range
    assert browser.ballot(answers).get_json()["errors"] == {missing: "required"}
    answers[missing] = 4
    assert browser.ballot(answers).status_code == 200  # the credential was not spent
    assert count(app) == 1


def test_busy_database_answers_503_with_retry_after_and_keeps_the_credential(
    app: Flask, client: FlaskClient, open_round: OpenRound, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = Browser(client, open_round.round_id, next(iter(open_round.tokens.values())))
    browser.check_in()
    real = submission.cast_ballot

    def down(*args: Any, **kwargs: Any) -> bool:
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(submission, "cast_ballot", down)
    reply = browser.ballot(item_answers(app, open_round.round_id))
    assert reply.status_code == 503 and reply.headers["Retry-After"]
    monkeypatch.setattr(submission, "cast_ballot", real)
    assert browser.ballot(item_answers(app, open_round.round_id)).status_code == 200
    assert count(app) == 1


def test_ballots_need_no_cookie_or_csrf_but_the_form_still_does(
    config: dict[str, Any], open_round: OpenRound
) -> None:
    app = create_app({**config, "WTF_CSRF_ENABLED": True})
    client = app.test_client(use_cookies=False)
    browser = Browser(client, open_round.round_id, next(iter(open_round.tokens.values())))
    assert browser.check_in().status_code == 200
    assert browser.ballot(item_answers(app, open_round.round_id)).status_code == 200
    other = list(open_round.tokens.values())[1]
    form = {**answers_for(app, open_round.round_id), "token": other}
    assert client.post(f"/s/{open_round.round_id}", data=form).status_code == 400
    assert count(app) == 1


def test_no_javascript_path_recovers_from_a_failed_ballot_without_a_second_check_in(
    app: Flask, client: FlaskClient, open_round: OpenRound, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = next(iter(open_round.tokens.values()))
    form = {**answers_for(app, open_round.round_id, value=2), "token": code, "comment": "kept"}
    real = submission.cast_ballot

    def down(*args: Any, **kwargs: Any) -> bool:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(submission, "cast_ballot", down)
    reply = client.post(f"/s/{open_round.round_id}", data=form)
    assert reply.status_code == 503 and reply.headers["Retry-After"]
    page = reply.data.decode()
    assert "kept" in page and 'name="ballot_signature"' in page
    with db.session_scope(app) as session:
        assert not invitation_unused(session, open_round.round_id, code)  # checked in
    hidden = dict(re.findall(r'name="(ballot_[a-z]+)" value="([^"]+)"', page))
    monkeypatch.setattr(submission, "cast_ballot", real)
    retry = {**form, **hidden}
    assert client.post(f"/s/{open_round.round_id}", data=retry).status_code == 303
    assert count(app) == 1


def test_unlinkable_required_refuses_the_no_javascript_path_and_link_exports(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, open_round.round_id)
        program = session.get(Program, rnd.program_id)
        assert program is not None
        program.unlinkable_required = True
        session.commit()
        with pytest.raises(rounds.RoundError, match="unlinkable"):
            rounds.export_links_once(
                session, rnd, app.extensions["candor.kek"], "http://x", "admin", dt.datetime.now()
            )
    code = next(iter(open_round.tokens.values()))
    form = {**answers_for(app, open_round.round_id), "token": code}
    reply = client.post(f"/s/{open_round.round_id}", data=form)
    assert reply.status_code == 400 and b"only unlinkable ballots" in reply.data
    with db.session_scope(app) as session:
        assert invitation_unused(session, open_round.round_id, code)  # link untouched
    browser = Browser(client, open_round.round_id, code)
    assert browser.check_in().status_code == 200
    assert browser.ballot(item_answers(app, open_round.round_id)).status_code == 200
    assert count(app) == 1


def test_closed_round_refuses_check_in_and_ballot(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    codes = list(open_round.tokens.values())
    early = Browser(client, open_round.round_id, codes[0])
    early.check_in()
    late = Browser(client, open_round.round_id, codes[1])
    with db.session_scope(app) as session:
        rounds.close_round(session, rounds.get_round(session, open_round.round_id), dt.date.today())
        session.commit()
    assert late.check_in().status_code == 410
    assert early.ballot(item_answers(app, open_round.round_id)).status_code == 410
    assert count(app) == 0


def test_a_closed_rounds_key_says_closed_or_comes_from_the_process_copy(
    app: Flask, config: dict[str, Any], client: FlaskClient, open_round: OpenRound
) -> None:
    """A process that handed out a key while the round was open hands out its keys after it
    closes, without reading the database (the check-in then says closed): all of the round's
    keys, so that answering from the copy tells nothing of which group asked first. A process
    that never did answers 410, which the page's script shows as "closed", not as a bad code."""
    rid = open_round.round_id
    code = next(iter(open_round.tokens.values()))
    key_id = submission.key_id_of(code)
    before = client.get(f"/s/{rid}/keys/{key_id}")
    assert before.status_code == 200
    with db.session_scope(app) as session:
        rounds.close_round(session, rounds.get_round(session, rid), dt.date.today())
        session.commit()
    queries: list[str] = []
    engine = app.extensions["candor.engine"]
    listen = sqlalchemy_event.listens_for(engine, "before_cursor_execute")

    @listen
    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        queries.append(statement)

    after = client.get(f"/s/{rid}/keys/{key_id}")
    others = {submission.key_id_of(c) for c in open_round.tokens.values()} - {key_id}
    # never asked for while open, and kept all the same
    other_replies = [client.get(f"/s/{rid}/keys/{other}").status_code for other in others]
    unknown = client.get(f"/s/{rid}/keys/999").status_code
    sqlalchemy_event.remove(engine, "before_cursor_execute", _seen)
    assert after.status_code == 200 and after.get_json() == before.get_json()
    assert others and set(other_replies) == {200}
    assert unknown == 404
    assert queries == []
    assert Browser(client, rid, code).check_in().status_code == 410
    other = create_app(config)  # a process that never handed it out
    try:
        reply = other.test_client().get(f"/s/{rid}/keys/{key_id}")
        assert reply.status_code == 410 and reply.get_json() == {"status": "closed"}
        assert other.test_client().get(f"/s/{rid}/keys/999").status_code == 410
    finally:
        other.extensions["candor.engine"].dispose()
    assert client.get(f"/s/{rid + 100}/keys/{key_id}").status_code == 404
