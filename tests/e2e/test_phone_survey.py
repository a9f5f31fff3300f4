"""The survey on a small phone (360 × 740): the first question on the first screen, progress in
sight while scrolling, eNPS as one row of eleven real radios, "prefer not to say" sent through
the two-step ballot (check-in, then the ballot), axe-core clean, and a keyboard-only run.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from survey.domain.questions import PREFER_NOT_TO_SAY
from tests.conftest import OpenRound
from tests.e2e.audit import Audit
from tests.e2e.conftest import OpenPage, screenshot
from tests.e2e.survey_page import (
    SEND,
    THANKS,
    assert_focus_visible,
    focused,
    question_names,
    requests_to,
)
from tests.helpers import opened_payloads

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SMALL_PHONE = {"width": 360, "height": 740}


def open_survey(open_page: OpenPage, open_round: OpenRound) -> Page:
    """Open the survey with a fragment link on a 360 × 740 phone."""
    token = next(iter(open_round.tokens.values()))
    page = open_page(phone=True)
    page.set_viewport_size(SMALL_PHONE)
    page.goto(f"/s/{open_round.round_id}#{token}")
    expect(page.locator("#token-box")).to_be_hidden()
    expect(page.locator("#ballot-fingerprint")).to_be_visible()
    return page


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, selector
    return dict(found)


def nps_rows(page: Page) -> list[dict[str, float]]:
    """Return the boxes of the eNPS group's radios (0..10), in order."""
    return [
        dict(b)
        for b in page.locator("fieldset.nps input[type=radio]").evaluate_all(
            "inputs => inputs.map(i => { const r = i.getBoundingClientRect();"
            " return {x: r.x, y: r.y, width: r.width, height: r.height}; })"
        )
    ]


def test_phone_survey_with_prefer_not_to_say(
    app: Flask, open_page: OpenPage, open_round: OpenRound
) -> None:
    rid = open_round.round_id
    page = open_survey(open_page, open_round)
    checkins, ballots = requests_to(page, "/checkin"), requests_to(page, "/ballot")

    # The promise is one line that opens in place; the first question starts on screen one.
    expect(page.locator("details.promise")).not_to_have_attribute("open", "")
    expect(page.locator("details.promise summary")).to_have_text(
        "Your answers cannot be traced to you"
    )
    legend = box(page, "fieldset.question legend")
    assert legend["y"] + legend["height"] <= SMALL_PHONE["height"], legend
    expect(page.locator("#progress-text")).to_have_text("10 questions, about 3 minutes.")
    # eNPS: eleven radios in one row, inside the screen.
    radios = nps_rows(page)
    assert len(radios) == 11
    assert max(r["y"] for r in radios) - min(r["y"] for r in radios) < 1
    assert all(0 <= r["x"] and r["x"] + r["width"] <= SMALL_PHONE["width"] for r in radios)
    audit = Audit()
    audit.check(page, "survey on a small phone")

    marked = page.locator(f"input[value={PREFER_NOT_TO_SAY}]")
    expect(marked).to_have_count(5)  # round 1 asks the five safety items
    skipped = marked.first.get_attribute("name")
    assert skipped is not None
    chosen: dict[str, str] = {}
    for name in question_names(page):
        group = page.locator(f"fieldset#{name}-group")
        if name == skipped:
            group.get_by_label("Prefer not to say").click()
            chosen[name] = PREFER_NOT_TO_SAY
        else:
            group.locator("label.choice").nth(3).click()
            chosen[name] = group.locator("input[type=radio]").nth(3).get_attribute("value") or ""
        # The progress stays in sight as the questions scroll by.
        bar = box(page, "#progress-box")
        assert 0 <= bar["y"] and bar["y"] + bar["height"] <= SMALL_PHONE["height"], (name, bar)
    expect(page.locator("#progress-text")).to_have_text("10 of 10 answered")
    assert page.evaluate("window.scrollY") > SMALL_PHONE["height"]  # it really scrolled
    assert box(page, "#progress-box")["y"] == pytest.approx(0, abs=1)
    audit.check(page, "survey answered, scrolled")
    screenshot(page, "phone-prefer-not")

    page.get_by_role("button", name=SEND).click()
    page.wait_for_url(f"**/s/{rid}/done")
    expect(page.get_by_role("heading", level=1)).to_have_text(THANKS)
    assert len(checkins) == 1 and len(ballots) == 1  # the two unlinkable steps
    sent: dict[str, Any] = ballots[0].post_data_json["answers"]
    assert sent[skipped.removeprefix("q_")] == PREFER_NOT_TO_SAY
    [payload] = opened_payloads(app, rid)
    expected = {k.removeprefix("q_"): int(v) for k, v in chosen.items() if v != PREFER_NOT_TO_SAY}
    assert payload["answers"] == expected  # sealed without the item, absent by choice
    audit.assert_clean()


def test_keyboard_only_through_the_enps_row(
    app: Flask, open_page: OpenPage, open_round: OpenRound
) -> None:
    rid = open_round.round_id
    page = open_survey(open_page, open_round)
    names = question_names(page)
    for _ in range(12):  # skip link, brand, privacy, the promise: then the first question
        page.keyboard.press("Tab")
        assert_focus_visible(page)
        if focused(page)["type"] == "radio":
            break
    assert focused(page)["name"] == names[0]

    def clear_of_progress() -> None:
        """The focused answer is on screen and not under the sticky progress."""
        at = page.evaluate("document.activeElement.getBoundingClientRect().top")
        bar = box(page, "#progress-box")
        assert bar["y"] + bar["height"] <= at + 1 and at < SMALL_PHONE["height"], focused(page)

    chosen: dict[str, str] = {}
    for i, name in enumerate(names):
        if i:
            page.keyboard.press("Tab")
            assert focused(page)["name"] == name
        group = page.locator(f"fieldset#{name}-group")
        if group.evaluate("g => g.classList.contains('nps')"):
            page.keyboard.press("Space")  # 0
            for rating in range(1, 11):  # and along the row to 10
                page.keyboard.press("ArrowRight")
                assert focused(page) == {
                    "tag": "input",
                    "type": "radio",
                    "name": name,
                    "value": str(rating),
                }
                assert_focus_visible(page)
                clear_of_progress()
            expect(group.locator("input:checked")).to_have_value("10")
            chosen[name] = "10"
        elif group.locator(f"input[value={PREFER_NOT_TO_SAY}]").count():
            page.keyboard.press("ArrowLeft")  # from the first choice round to the last
            expect(group.locator("input:checked")).to_have_value(PREFER_NOT_TO_SAY)
            chosen[name] = PREFER_NOT_TO_SAY
        else:
            page.keyboard.press("Space")
            chosen[name] = group.locator("input:checked").get_attribute("value") or ""
        assert_focus_visible(page)
        clear_of_progress()
        expect(page.locator("#progress-text")).to_have_text(f"{i + 1} of {len(names)} answered")
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "comment"
    page.keyboard.press("Tab")
    assert focused(page)["tag"] == "button"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/s/{rid}/done")
    expect(page.get_by_role("heading", level=1)).to_have_text(THANKS)
    [payload] = opened_payloads(app, rid)
    assert payload["answers"] == {
        k.removeprefix("q_"): int(v) for k, v in chosen.items() if v != PREFER_NOT_TO_SAY
    }
