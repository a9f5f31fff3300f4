"""Action plans and roster edits in a real browser: one compact page, axe-clean, employees see."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from survey import db
from survey.services import rounds
from tests.conftest import OpenRound
from tests.e2e.audit import Audit
from tests.e2e.conftest import OpenPage, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COMPACT_PX = 2000  # the stacked forms this page replaces were ~5,900 px tall


def test_hr_records_and_updates_an_action_that_employees_see(
    app: Flask, open_page: OpenPage, open_round: OpenRound, released_round: dict[str, Any]
) -> None:
    with db.session_scope(app) as session:
        first = rounds.get_round(session, open_round.round_id)
        second = rounds.create_round(session, first.program)
        rounds.open_round(session, second, app.extensions["candor.kek"], dt.date(2026, 11, 16))
        session.commit()
        next_round = second.id
    audit = Audit()
    page = open_page()
    log_in(page, "hr")
    page.goto("/actions/")
    expect(page.get_by_role("heading", name="Action plans")).to_be_visible()
    audit.check(page, "action plans, empty")
    new = page.locator("#new-action")

    # A mistake first: the form keeps what was typed and says what is wrong.
    new.get_by_label("Round").select_option(label="Pulse: R1")
    new.get_by_label("Theme").select_option(label="Trust in leadership")
    new.get_by_label("Unit").select_option(label="Lab/Research")
    new.get_by_label("Owner").select_option(label="hr@example.org")
    new.get_by_label("Due").fill("2026-11-01")
    new.get_by_label("What will be done").fill("Monthly open Q&A with the board.")
    page.get_by_role("button", name="Record the action").click()
    expect(page.get_by_text("before R1 closed")).to_be_visible()
    expect(new.get_by_label("What will be done")).to_have_value("Monthly open Q&A with the board.")
    audit.check(page, "new action with errors")

    new.get_by_label("Due").fill("2026-12-15")
    page.get_by_role("button", name="Record the action").click()
    expect(page.get_by_role("heading", name="Trust in leadership: Lab/Research")).to_be_visible()
    expect(page.locator(".badge")).to_have_text("Planned")
    audit.check(page, "one action")

    page.get_by_label("Status").select_option(label="Done")
    page.get_by_label("What happened").fill("First Q&A held; 80 questions answered.")
    page.get_by_role("button", name="Add the update").click()
    expect(page.get_by_text("Update recorded.")).to_be_visible()
    expect(page.locator("ol.updates li")).to_have_count(2)
    page.get_by_text("Change owner, unit or due date").click()
    audit.check(page, "one action, plan open")

    page.goto("/actions/")
    new = page.locator("#new-action")
    for n in range(2, 6):  # a realistic list: the page stays one compact table
        page.get_by_text("Record an action").click()
        new.get_by_label("Round").select_option(label="Pulse: R1")
        new.get_by_label("Theme").select_option(index=n)
        new.get_by_label("Owner").select_option(label="admin@example.org")
        new.get_by_label("Due").fill("2027-01-10")
        new.get_by_label("What will be done").fill(f"Action number {n}.")
        page.get_by_role("button", name="Record the action").click()
        page.goto("/actions/")
    expect(page.locator("table.actions-list tbody tr")).to_have_count(5)
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < COMPACT_PX, height
    page.get_by_role("search").get_by_label("Status").select_option(label="Done")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.actions-list tbody tr")).to_have_count(1)
    audit.check(page, "action plans, filtered")
    screenshot(page, "actions")

    # Employees see it, with its status, below the questions on a phone.
    phone = open_page(phone=True)
    phone.goto(f"/s/{next_round}")
    said = phone.locator("section.you-said")
    expect(said).to_contain_text("Monthly open Q&A with the board.")
    expect(said.locator(".badge").first).to_be_visible()
    assert re.search(r"Done", said.inner_text())
    first_question = phone.locator("fieldset.question").first.bounding_box()
    box = said.bounding_box()
    assert first_question is not None and box is not None and box["y"] > first_question["y"]
    audit.check(phone, "survey with actions")
    audit.assert_clean()


def test_roster_pages_are_accessible(
    app: Flask, open_page: OpenPage, open_round: OpenRound
) -> None:
    audit = Audit()
    page = open_page()
    log_in(page, "admin")
    page.goto("/admin/org/")
    page.get_by_text("Add one person").click()
    page.get_by_label("Email", exact=True).fill("new@example")
    page.get_by_label("Unit (its path").fill("Lab/Ops/Gamma")
    page.get_by_role("button", name="Add to the roster").click()
    expect(page.get_by_text("is not a valid email address")).to_be_visible()
    audit.check(page, "add person with errors")
    page.get_by_label("Email", exact=True).fill("new@example.org")
    page.get_by_role("button", name="Add to the roster").click()
    expect(page.get_by_text("new@example.org added")).to_be_visible()
    page.get_by_role("link", name="new@example.org").click()
    expect(page.get_by_role("heading", name="new@example.org")).to_be_visible()
    audit.check(page, "person")
    page.get_by_role("button", name="Take off the roster").click()
    expect(page.get_by_text("Off the roster")).to_be_visible()

    page.goto("/admin/org/")
    page.get_by_label("Roster file (CSV, UTF-8)").set_input_files(
        files=[
            {
                "name": "short.csv",
                "mimeType": "text/csv",
                "buffer": b"email,unit\np1@example.org,Lab/Research/Alpha\n",
            }
        ]
    )
    page.get_by_role("button", name="Preview the import").click()
    expect(page.locator(".leaving-warning")).to_contain_text("would leave the roster")
    audit.check(page, "import preview with a mass-leaving warning")
    page.get_by_role("button", name="Apply this import").click()
    # The browser asks for the confirmation before anything is sent...
    confirm = page.locator("#confirm_leaving")
    assert confirm.evaluate("box => box.validity.valueMissing")
    # ...and applies the file once it is given.
    confirm.check()
    page.get_by_role("button", name="Apply this import").click()
    expect(page.get_by_text("Roster imported")).to_be_visible()
    audit.assert_clean()
