"""The survey in another language: picked on the page, kept through errors, stored nowhere."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from survey import create_app, db
from survey.domain.questions import bank_to_dict, load_bank, parse_bank
from survey.models import QuestionBankRecord, Response
from survey.services import rounds
from tests.conftest import OpenRound, Org, answers_for
from tests.helpers import open_round_on_bank, opened_payloads

GERMAN_ITEM = "An den meisten Tagen habe ich Energie für meine Arbeit."
ENGLISH_ITEM = "Most days I have energy for my work."


def page_lang(page: str) -> str:
    match = re.search(r'<html lang="([^"]*)">', page)
    assert match is not None
    return match.group(1)


def hidden_lang(page: str) -> str:
    match = re.search(r'<input id="lang" name="lang" type="hidden" value="([^"]*)">', page)
    assert match is not None, "no hidden lang field"
    return match.group(1)


def switch_links(page: str) -> dict[str, str]:
    """Return hreflang -> href of the language switch."""
    return {
        lang: html.unescape(href)
        for href, lang in re.findall(r'<a href="([^"]*)" hreflang="([^"]*)"', page)
    }


def test_german_survey(client: FlaskClient, open_round: OpenRound) -> None:
    page = client.get(f"/s/{open_round.round_id}?lang=de").data.decode()
    assert page_lang(page) == "de"
    assert GERMAN_ITEM in page and ENGLISH_ITEM not in page
    assert "Wie läuft es bei der Arbeit?" in page
    assert "Stimme voll und ganz zu" in page and "Strongly agree" not in page
    assert "0 = überhaupt nicht wahrscheinlich" in page
    assert "1 von 10" in page and "1 of 10" not in page
    assert "mindestens 5 Personen" in page
    assert "Möchten Sie der Leitung sonst noch etwas sagen?" in page
    assert "Antworten senden" in page
    assert 'data-template="{done} von {total} beantwortet"' in page
    assert hidden_lang(page) == "de"
    assert switch_links(page) == {"en": "?lang=en"}  # relative: the path stays, nothing else
    assert 'aria-current="true" lang="de">Deutsch<' in page


def test_english_is_the_default(client: FlaskClient, open_round: OpenRound) -> None:
    for url in (f"/s/{open_round.round_id}", f"/s/{open_round.round_id}?lang=xx"):
        page = client.get(url).data.decode()
        assert page_lang(page) == "en"
        assert ENGLISH_ITEM in page and GERMAN_ITEM not in page
        assert hidden_lang(page) == "en"
        assert switch_links(page) == {"de": "?lang=de"}


def test_path_link_in_german_keeps_the_token(client: FlaskClient, open_round: OpenRound) -> None:
    token = next(iter(open_round.tokens.values()))
    page = client.get(f"/s/{open_round.round_id}/{token}?lang=de").data.decode()
    assert page_lang(page) == "de" and GERMAN_ITEM in page
    assert f'value="{token}"' in page
    assert token not in "".join(switch_links(page).values())  # the browser keeps the path


def test_errors_keep_the_language(app: Flask, client: FlaskClient, open_round: OpenRound) -> None:
    token = next(iter(open_round.tokens.values()))
    data = {**answers_for(app, open_round.round_id), "token": token, "lang": "de"}
    missing = next(iter(data))
    del data[missing]
    response = client.post(f"/s/{open_round.round_id}", data=data)
    assert response.status_code == 400
    page = response.data.decode()
    assert page_lang(page) == "de" and hidden_lang(page) == "de"
    assert "1 Antwort braucht Ihre Aufmerksamkeit" in page
    assert "Bitte wählen Sie eine Antwort." in page
    assert GERMAN_ITEM in page

    wrong = {**answers_for(app, open_round.round_id), "token": "B" * 32, "lang": "de"}
    page = client.post(f"/s/{open_round.round_id}", data=wrong).data.decode()
    assert "Dieser Zugangscode ist ungültig oder wurde bereits verwendet." in page
    assert "Ihre Antworten wurden nicht gespeichert" in page

    nothing = client.post(f"/s/{open_round.round_id}", data={"lang": "de"}).data.decode()
    assert "Der Zugangscode aus Ihrer Einladung fehlt." in nothing
    assert "11 Antworten brauchen Ihre Aufmerksamkeit" in nothing  # 10 answers, the code


def test_thanks_in_german(app: Flask, client: FlaskClient, open_round: OpenRound) -> None:
    token = next(iter(open_round.tokens.values()))
    data = {**answers_for(app, open_round.round_id), "token": token, "lang": "de"}
    response = client.post(f"/s/{open_round.round_id}", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/s/{open_round.round_id}/done?lang=de"
    page = client.get(response.headers["Location"]).data.decode()
    assert page_lang(page) == "de" and "Vielen Dank — Ihre Antworten sind angekommen" in page


def test_english_thanks_link_has_no_parameter(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    token = next(iter(open_round.tokens.values()))
    data = {**answers_for(app, open_round.round_id), "token": token}
    response = client.post(f"/s/{open_round.round_id}", data=data)
    assert response.headers["Location"] == f"/s/{open_round.round_id}/done"


def test_unusable_links_look_alike_in_german(client: FlaskClient, open_round: OpenRound) -> None:
    rid = open_round.round_id
    # Unknown and malformed codes show the (German) form like any other: a GET never says.
    forms = [
        client.get(f"/s/{rid}/{'A' * 32}?lang=de"),
        client.get(f"/s/{rid}/%3Cscript%3E?lang=de"),
    ]
    assert {p.status_code for p in forms} == {200}
    assert all(page_lang(p.data.decode()) == "de" for p in forms)
    pages = [client.get(f"/s/999/{'C' * 32}?lang=de"), client.get("/s/998?lang=de")]
    assert {p.status_code for p in pages} == {404}
    assert len({p.data for p in pages}) == 1
    page = pages[0].data.decode()
    assert page_lang(page) == "de" and "Dieser Link kann nicht verwendet werden" in page


def test_closed_round_in_german(app: Flask, client: FlaskClient, open_round: OpenRound) -> None:
    with db.session_scope(app) as session:
        rounds.close_round(
            session, rounds.get_round(session, open_round.round_id), dt.date(2026, 11, 9)
        )
        session.commit()
    page = client.get(f"/s/{open_round.round_id}?lang=de")
    assert page.status_code == 410
    assert "Diese Runde ist geschlossen" in page.data.decode()
    posted = client.post(f"/s/{open_round.round_id}", data={"lang": "de"})
    assert posted.status_code == 410 and "Diese Runde ist geschlossen" in posted.data.decode()


def test_the_language_is_stored_nowhere(config: dict, open_round: OpenRound) -> None:
    app = create_app({**config, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    rid = open_round.round_id
    token = next(iter(open_round.tokens.values()))
    page = client.get(f"/s/{rid}/{token}?lang=de")
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.data.decode())
    assert csrf is not None
    answers = answers_for(app, rid)
    data = {**answers, "token": token, "lang": "de", "csrf_token": csrf.group(1)}
    posted = client.post(f"/s/{rid}", data=data)
    assert posted.status_code == 303
    thanks = client.get(posted.headers["Location"])
    for response in (page, posted, thanks):
        for cookie in response.headers.getlist("Set-Cookie"):
            assert "lang" not in cookie.lower() and "de" not in cookie.split(";")[0].split("=")[0]
    with client.session_transaction() as session:
        assert set(session) <= {"csrf_token"}  # Flask-WTF's token, nothing about the reader
    expected = {"v": 1, "answers": {k.removeprefix("q_"): int(v) for k, v in answers.items()}}
    assert opened_payloads(app, rid) == [expected]
    with db.session_scope(app) as session:
        assert {c.name for c in Response.__table__.columns} == {
            "id",
            "round_id",
            "unit_id",
            "band",
            "sealed",
        }
    app.extensions["candor.engine"].dispose()


@pytest.fixture
def english_only_round(app: Flask, organisation: Org) -> int:
    """Open a round of a programme whose (imported) bank has no translation."""
    bank = load_bank()
    data = bank_to_dict(bank)
    data["key"] = "plain-v1"
    data.pop("comment_prompt_translations")
    for entry in data["themes"] + data["items"]:
        entry.pop("translations")
    assert parse_bank(data).languages == ("en",)
    with db.session_scope(app) as session:
        session.add(QuestionBankRecord(key="plain-v1", definition=data))
        rnd = open_round_on_bank(app, session, organisation.program_id, "plain-v1")
        session.commit()
        return rnd.id


def test_untranslated_bank_offers_no_switch(client: FlaskClient, english_only_round: int) -> None:
    page = client.get(f"/s/{english_only_round}").data.decode()
    assert switch_links(page) == {} and 'aria-label="Language"' not in page
    german = client.get(f"/s/{english_only_round}?lang=de").data.decode()
    # Asked for anyway: German around the questions, which are marked as English.
    assert page_lang(german) == "de" and "Antworten senden" in german
    assert f'<span lang="en">{ENGLISH_ITEM}</span>' in german
