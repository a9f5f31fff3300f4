"""The language switch in a real browser: the access code survives it, the language survives an
error and the thanks page, and the German pages with "You said, we did" stay accessible.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from survey import db
from survey.models import Program
from survey.services import actions, rounds
from tests.conftest import OpenRound
from tests.e2e.audit import Audit
from tests.e2e.conftest import OpenPage, screenshot
from tests.e2e.survey_page import assert_focus_visible, focused, responses_stored

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GERMAN_HEADING = "Wie läuft es bei der Arbeit?"
GERMAN_THANKS = "Vielen Dank — Ihre Antworten sind angekommen"


def answer_all(page: Page) -> None:
    for fieldset in page.locator("fieldset.question").all():
        fieldset.locator("label.choice").nth(1).click()


def test_fragment_code_survives_the_switch(
    app: Flask, open_page: OpenPage, open_round: OpenRound
) -> None:
    rid = open_round.round_id
    token = next(iter(open_round.tokens.values()))
    page = open_page(phone=True)
    page.goto(f"/s/{rid}#{token}")
    expect(page.locator("#token")).to_have_value(token)
    assert page.url.endswith(f"/s/{rid}")

    for _ in range(6):  # skip link, brand, privacy: then the language switch
        page.keyboard.press("Tab")
        if focused(page)["tag"] == "a" and page.evaluate("document.activeElement.hreflang"):
            break
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/s/{rid}\?lang=de$"))  # the fragment left the bar again
    expect(page.get_by_role("heading", level=1)).to_have_text(GERMAN_HEADING)
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("#token")).to_have_value(token)
    expect(page.locator("#token-box")).to_be_hidden()

    answer_all(page)
    expect(page.locator("#progress-text")).to_have_text("10 von 10 beantwortet")
    page.get_by_role("button", name="Antworten senden").click()
    page.wait_for_url(re.compile(rf"/s/{rid}/done\?lang=de$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(GERMAN_THANKS)
    assert responses_stored(app) == 1


def test_error_page_switch_keeps_the_code(open_page: OpenPage, open_round: OpenRound) -> None:
    rid = open_round.round_id
    token = list(open_round.tokens.values())[1]
    page = open_page()
    page.goto(f"/s/{rid}?lang=de#{token}")
    assert page.url.endswith(f"/s/{rid}?lang=de")
    page.get_by_role("button", name="Antworten senden").click()  # nothing answered
    expect(page.locator("#form-message")).to_contain_text("brauchen Ihre Aufmerksamkeit")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.get_by_role("link", name="English").click()
    page.wait_for_url(re.compile(rf"/s/{rid}\?lang=en$"))
    expect(page.locator("#token")).to_have_value(token)
    expect(page.get_by_role("heading", level=1)).to_have_text("How are things at work?")


def test_path_link_switch_without_javascript(
    app: Flask, open_page: OpenPage, open_round: OpenRound
) -> None:
    rid = open_round.round_id
    token = list(open_round.tokens.values())[2]
    page = open_page(phone=True, javascript=False)
    page.goto(f"/s/{rid}/{token}")
    page.get_by_role("link", name="Deutsch").click()
    page.wait_for_url(re.compile(rf"/s/{rid}/{token}\?lang=de$"))
    expect(page.locator("#token")).to_have_value(token)
    answer_all(page)
    page.get_by_role("button", name="Antworten senden").click()
    page.wait_for_url(re.compile(rf"/s/{rid}/done\?lang=de$"))
    assert responses_stored(app) == 1


def test_german_pages_with_actions_are_accessible(
    app: Flask, open_page: OpenPage, released_round: dict[str, Any], open_round: OpenRound
) -> None:
    kek = app.extensions["candor.kek"]
    with db.session_scope(app) as session:
        first = rounds.get_round(session, open_round.round_id)
        program = session.get(Program, first.program_id)
        assert program is not None
        for theme, text in (
            ("trust", "Monthly open Q&A with the board, questions collected anonymously."),
            ("security", "No redundancies this year;\nthe budget is signed."),
        ):
            actions.add_action(session, program, first, theme, text, dt.date(2026, 11, 10))
        second = rounds.create_round(session, program)
        rounds.open_round(session, second, kek, dt.date(2026, 11, 16))
        session.commit()
        links = rounds.invitation_links(session, second, kek, "http://candor.test")
        token = links[0].url.rsplit("#", 1)[1]
        rid = second.id

    audit = Audit()
    page = open_page(phone=True)
    page.goto(f"/s/{rid}?lang=de#{token}")
    expect(page.get_by_role("heading", name="Ihr Feedback, unsere Maßnahmen")).to_be_visible()
    expect(page.locator(".you-said")).to_contain_text("Nach R1 · Vertrauen in die Leitung")
    screenshot(page, "survey-de")
    audit.check(page, "German survey with actions")
    page.get_by_role("button", name="Antworten senden").click()
    expect(page.locator("#form-message")).to_be_visible()
    audit.check(page, "German survey with errors")
    answer_all(page)
    page.get_by_role("button", name="Antworten senden").click()
    page.wait_for_url(re.compile(rf"/s/{rid}/done\?lang=de$"))
    expect(page.locator(".you-said")).to_contain_text("No redundancies this year;")
    screenshot(page, "thanks-de")
    audit.check(page, "German thanks with actions")
    page.goto(f"/s/{rid + 1000}/{token}?lang=de")
    audit.check(page, "German link cannot be used")
    audit.assert_clean()


def test_staff_pages_for_actions_and_banks_are_accessible(
    app: Flask, open_page: OpenPage, released_round: dict[str, Any], tmp_path: Any
) -> None:
    from survey.domain.bankfile import bank_to_csv
    from survey.domain.questions import load_bank
    from tests.e2e.conftest import log_in

    audit = Audit()
    page = open_page()
    log_in(page, "admin")
    page.goto("/actions/")
    form = page.locator("#new-action")
    form.get_by_label("Round").select_option(label="Pulse: R1")
    form.get_by_label("Theme").select_option("trust")
    form.get_by_label("Owner").select_option(label="admin@example.org")
    form.get_by_label("Due").fill("2026-12-15")
    form.get_by_label("What will be done").fill("Monthly open Q&A with the board.")
    form.get_by_role("button", name="Record the action").click()
    expect(page.locator("p.action-text")).to_have_text("Monthly open Q&A with the board.")
    audit.check(page, "actions")
    page.goto("/actions/")
    page.get_by_text("Record an action").click()
    first = page.locator("#new-action form")
    first.evaluate("form => { form.noValidate = true; }")  # let the server's messages show
    first.get_by_role("button", name="Record the action").click()
    expect(page.locator("p.error").first).to_be_visible()
    audit.check(page, "actions with errors")

    page.goto("/admin/banks/")
    audit.check(page, "banks")
    good = tmp_path / "bank.csv"
    good.write_text(bank_to_csv(load_bank()), encoding="utf-8")
    page.get_by_label("Bank file (CSV, UTF-8)").set_input_files(str(good))
    page.get_by_label(re.compile("^Bank key")).fill("acme-v1")
    page.get_by_role("button", name="Preview the import").click()
    expect(page.get_by_role("button", name="Import acme-v1")).to_be_visible()
    audit.check(page, "bank preview")
    bad = tmp_path / "bad.csv"
    bad.write_text("# key: x\ntheme,item,text,scale\nm,m1,Hi,likert7\n", encoding="utf-8")
    page.goto("/admin/banks/")
    page.get_by_label("Bank file (CSV, UTF-8)").set_input_files(str(bad))
    page.get_by_role("button", name="Preview the import").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing can be imported")
    audit.check(page, "bank preview with problems")
    audit.assert_clean()
