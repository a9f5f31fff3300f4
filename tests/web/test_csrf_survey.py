"""A form that fails its CSRF check loses nothing: the survey form comes back with every
answer (the one-time code protects it), a staff form goes back to its page saying so."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from survey import create_app, db
from tests.conftest import PASSWORD, STAFF, OpenRound, answers_for
from tests.helpers import invitation_unused, stored_answers


@pytest.fixture
def csrf_app(config: dict[str, Any]) -> Iterator[Flask]:
    """The app with CSRF protection on, as in production."""
    app = create_app({**config, "WTF_CSRF_ENABLED": True})
    yield app
    app.extensions["candor.engine"].dispose()


def fresh_token(page: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'type="hidden" name="csrf_token" value="([^"]+)"', page
    )
    assert found, "the page carries no CSRF token"
    return found.group(1)


@pytest.mark.parametrize("cookie", ["dropped", "kept"])
def test_survey_form_comes_back_with_every_answer(
    app: Flask, csrf_app: Flask, open_round: OpenRound, cookie: str
) -> None:
    rid = open_round.round_id
    code = next(iter(open_round.tokens.values()))
    form = {**answers_for(app, rid, value=2), "token": code, "comment": "still here", "lang": "de"}
    client = csrf_app.test_client()
    client.get(f"/s/{rid}")  # the page sets the session cookie with the CSRF secret
    if cookie == "dropped":
        client.delete_cookie(csrf_app.config["SESSION_COOKIE_NAME"])
    reply = client.post(f"/s/{rid}", data={**form, "csrf_token": "stale"})
    page = reply.data.decode()
    assert reply.status_code == 400
    assert "Ihre Antworten wurden nicht gesendet" in page  # in the page's language
    for name, value in form.items():
        if name.startswith("q_"):
            assert f'name="{name}" value="{value}" required checked' in page, name
    assert "still here" in page and code in page
    with db.session_scope(app) as session:
        assert invitation_unused(session, rid, code)  # the link is unused
        assert stored_answers(session, rid) == 0
    again = client.post(f"/s/{rid}", data={**form, "csrf_token": fresh_token(page)})
    assert again.status_code == 303
    with db.session_scope(app) as session:
        assert stored_answers(session, rid) == 1


def test_staff_form_goes_back_to_its_page(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    client.get("/login")
    reply = client.post(
        "/login",
        data={"email": STAFF["admin"], "password": PASSWORD, "csrf_token": "stale"},
        headers={"Referer": "http://localhost/login?next=/admin"},
    )
    assert reply.status_code == 303 and reply.headers["Location"] == "/login?next=/admin"
    assert b"The form expired, so nothing was changed" in client.get("/login").data
    # From another site, or with no referrer: the 400 page, which says nothing was saved.
    for headers in ({"Referer": "https://elsewhere.example/login"}, {}):
        page = client.post("/login", data={"email": STAFF["admin"]}, headers=headers)
        assert page.status_code == 400 and b"nothing was saved" in page.data
