""" "Prefer not to say" on the survey: offered where the bank marks an item, sealed as absent.

Both paths: the no-JavaScript form (the server checks in and casts the ballot) and the JSON
ballot. A marked item accepts it; an unmarked one refuses it and the page keeps the answers.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from survey import db
from survey.domain.questions import PREFER_NOT_TO_SAY
from survey.models import Round
from survey.services import banks, submission
from tests.conftest import OpenRound, answers_for
from tests.helpers import b64, invitation_unused, opened_payloads


def marked_and_unmarked(app: Flask, round_id: int) -> tuple[list[str], list[str]]:
    """Return the keys of the round's items that offer "prefer not to say", and the others."""
    with db.session_scope(app) as session:
        rnd = session.get(Round, round_id)
        assert rnd is not None and rnd.items is not None
        items = banks.frozen_bank(rnd).items_for(tuple(rnd.items["asked"]))
    marked = [i.key for i in items if i.prefer_not_to_say]
    return marked, [i.key for i in items if not i.prefer_not_to_say]


def test_the_form_offers_it_only_on_marked_items(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    marked, unmarked = marked_and_unmarked(app, open_round.round_id)
    assert marked and unmarked  # round 1 asks the safety items beside the core ones
    page = client.get(f"/s/{open_round.round_id}").data.decode()
    offered = set(re.findall(rf'name="q_(\w+)" value="{PREFER_NOT_TO_SAY}"', page))
    assert offered == set(marked)
    assert page.count("Prefer not to say") == len(marked)
    assert "about 3 minutes" in page  # 10 items


def test_no_js_form_accepts_it_on_a_marked_item(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    marked, _ = marked_and_unmarked(app, open_round.round_id)
    token = next(iter(open_round.tokens.values()))
    data = {**answers_for(app, open_round.round_id), "token": token}
    data[f"q_{marked[0]}"] = PREFER_NOT_TO_SAY
    assert client.post(f"/s/{open_round.round_id}", data=data).status_code == 303
    [payload] = opened_payloads(app, open_round.round_id)
    assert marked[0] not in payload["answers"]  # absent by choice
    assert set(payload["answers"]) == {k.removeprefix("q_") for k in data if k != "token"} - {
        marked[0]
    }


def test_no_js_form_refuses_it_on_an_unmarked_item_and_keeps_the_answers(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    marked, unmarked = marked_and_unmarked(app, open_round.round_id)
    token = next(iter(open_round.tokens.values()))
    data = {**answers_for(app, open_round.round_id, value=2), "token": token}
    data[f"q_{marked[0]}"] = PREFER_NOT_TO_SAY
    data[f"q_{unmarked[0]}"] = PREFER_NOT_TO_SAY
    response = client.post(f"/s/{open_round.round_id}", data=data)
    assert response.status_code == 400
    page = response.data.decode()
    assert f'id="q_{unmarked[0]}-error"' in page and "Please choose an answer." in page
    assert page.count('class="error"') == 1  # only the unmarked item is in error
    kept = dict(re.findall(r'<input[^>]*name="(q_\w+)" value="([^"]+)" required checked>', page))
    expected = {k: v for k, v in data.items() if k.startswith("q_")}
    del expected[f"q_{unmarked[0]}"]  # the refused value is not shown as chosen
    assert kept == expected  # every other answer, "prefer not to say" included, is kept
    assert opened_payloads(app, open_round.round_id) == []
    with db.session_scope(app) as session:  # the no-JS path checks in after validating
        assert invitation_unused(session, open_round.round_id, token)


def _credential(app: Flask, round_id: int, token: str) -> submission.Credential:
    with db.session_scope(app) as session:
        survey = submission.survey_for(session, round_id)
        credential = submission.server_credential(
            session, survey, token, app.extensions["candor.kek"]
        )
        session.commit()
        return credential


def _ballot(
    client: FlaskClient, round_id: int, credential: submission.Credential, answers: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    response = client.post(
        f"/s/{round_id}/ballot",
        json={
            "answers": answers,
            "comment": "",
            "key_id": credential.key_id,
            "message": b64(credential.message),
            "signature": b64(credential.signature),
        },
    )
    return response.status_code, response.get_json()


def test_json_ballot_accepts_it_only_on_marked_items(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    rid = open_round.round_id
    marked, unmarked = marked_and_unmarked(app, rid)
    credential = _credential(app, rid, next(iter(open_round.tokens.values())))
    answers: dict[str, Any] = {
        k.removeprefix("q_"): int(v) for k, v in answers_for(app, rid).items()
    }
    refused = {**answers, unmarked[0]: PREFER_NOT_TO_SAY}
    assert _ballot(client, rid, credential, refused) == (
        400,
        {"status": "invalid", "errors": {unmarked[0]: "not_offered"}},
    )
    accepted = {**answers, **dict.fromkeys(marked, PREFER_NOT_TO_SAY)}
    status, body = _ballot(client, rid, credential, accepted)
    assert status == 200 and body["status"] == "recorded"
    [payload] = opened_payloads(app, rid)
    assert set(payload["answers"]) == set(unmarked)
