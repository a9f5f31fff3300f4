"""An employee answers on a phone: by keyboard with the fragment link (the unlinkable ballot of
static/ballot.js: check-in at the first answer, then the ballot), without JavaScript with the
path link (the server does both steps), and after a validation error. Each link works exactly
once. tests/e2e/test_ballot.py covers the two steps themselves.
"""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.conftest import OpenRound
from tests.e2e.conftest import OpenPage, screenshot
from tests.e2e.survey_page import (
    THANKS,
    answer_by_clicks,
    assert_focus_visible,
    focused,
    options_of,
    question_names,
    responses_stored,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

UNUSABLE = "This link cannot be used"


def progress(page: Page) -> int:
    return int(page.locator("#progress").evaluate("bar => bar.value"))


def test_keyboard_only_on_a_phone(app: Flask, open_page: OpenPage, open_round: OpenRound) -> None:
    rid = open_round.round_id
    token = next(iter(open_round.tokens.values()))
    page = open_page(phone=True)
    page.goto(f"/s/{rid}#{token}")

    # The script moved the token from the fragment into the form and out of the address bar.
    expect(page.locator("#token")).to_have_value(token)
    expect(page.locator("#token-box")).to_be_hidden()
    assert "#" not in page.url and page.url.endswith(f"/s/{rid}")
    names = question_names(page)
    assert len(names) >= 10 and progress(page) == 0
    expect(page.locator("#progress")).to_have_attribute("max", str(len(names)))
    # The eNPS anchors reach screen readers with the question, not only by sight.
    expect(page.locator("fieldset.question.nps")).to_have_accessible_description(
        "0 = not at all likely 10 = extremely likely"
    )
    screenshot(page, "survey")

    for _ in range(10):  # skip link, brand, privacy links: then the first question
        page.keyboard.press("Tab")
        assert_focus_visible(page)
        if focused(page)["type"] == "radio":
            break
    assert focused(page) == {
        "tag": "input",
        "type": "radio",
        "name": names[0],
        "value": options_of(page, names[0])[0],
    }

    chosen = {}
    for i, name in enumerate(names):
        if i:
            page.keyboard.press("Tab")  # Tab leaves the group for the next question
            assert focused(page)["name"] == name, f"Tab after question {i} went to {focused(page)}"
        options = options_of(page, name)
        target = (i + 1) % len(options)
        if target == 0:
            page.keyboard.press("Space")
        for _ in range(target):
            page.keyboard.press("ArrowRight")  # arrows select within the group
        assert focused(page)["name"] == name
        assert_focus_visible(page)
        expect(page.locator(f"input[name={name}]:checked")).to_have_value(options[target])
        chosen[name] = options[target]
        assert progress(page) == i + 1
        expect(page.locator("#progress-text")).to_have_text(f"{i + 1} of {len(names)} answered")

    for name, value in chosen.items():  # arrows in later groups left earlier answers alone
        expect(page.locator(f"input[name={name}]:checked")).to_have_value(value)
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "comment"
    page.keyboard.type("Typed on a phone keyboard.")
    page.keyboard.press("Tab")
    assert focused(page)["tag"] == "button"
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/s/{rid}/done")
    expect(page.get_by_role("heading", level=1)).to_have_text(THANKS)
    assert responses_stored(app) == 1

    # The link is spent. Looking at it shows the form as before (a GET never tells anyone
    # whether a link was used, so links cannot be polled); a second send is refused, nothing
    # is stored, and the code box reappears with the message.
    response = page.goto(f"/s/{rid}/{token}")
    assert response is not None and response.status == 200
    page.goto(f"/s/{rid}#{token}")
    answer_by_clicks(page)
    page.get_by_role("button", name="Send my answers").click()
    expect(page.locator("#form-message")).to_contain_text("the access code did not work")
    expect(page.locator("#token-box")).to_be_visible()
    assert focused(page)["name"] == "token"
    assert responses_stored(app) == 1


def test_fragment_that_is_no_code(open_page: OpenPage, open_round: OpenRound) -> None:
    """A fragment that cannot be an access code (the skip link's ``#main`` after a reload, a
    link cut or mangled by a mail client) leaves the code box empty and visible, and breaks
    nothing else on the page.
    """
    page = open_page(phone=True)
    for fragment in ("main", "%E0%A4%A", "abc%20def", "tooShort-1234"):
        page.goto("about:blank")  # a new document each time, not a same-page hash change
        page.goto(f"/s/{open_round.round_id}#{fragment}")
        expect(page.locator("#token-box")).to_be_visible()
        expect(page.locator("#token")).to_have_value("")
        page.locator("fieldset.question label.choice").first.click()
        assert progress(page) == 1, fragment


def test_without_javascript(app: Flask, open_page: OpenPage, open_round: OpenRound) -> None:
    rid = open_round.round_id
    token = list(open_round.tokens.values())[1]
    page = open_page(phone=True, javascript=False)

    # A fragment link cannot work without the script: the code box stays visible and explains.
    page.goto(f"/s/{rid}#{token}")
    expect(page.locator("#token")).to_be_visible()
    expect(page.locator("#token")).to_have_value("")
    expect(page.locator("#token-box")).to_contain_text("copy the code after the “#”")

    response = page.goto(f"/s/{rid}/{token}")
    assert response is not None and response.status == 200
    expect(page.locator("#token")).to_have_value(token)
    chosen = answer_by_clicks(page)
    for name, value in chosen.items():
        expect(page.locator(f"input[name={name}]:checked")).to_have_value(value)
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url(f"**/s/{rid}/done")
    expect(page.get_by_role("heading", level=1)).to_have_text(THANKS)
    assert responses_stored(app) == 1

    response = page.goto(f"/s/{rid}/{token}")
    assert response is not None and response.status == 200
    answer_by_clicks(page)
    page.get_by_role("button", name="Send my answers").click()
    expect(page.locator("#form-message")).to_contain_text("the access code did not work")
    assert responses_stored(app) == 1
    response = page.goto(f"/s/{rid + 1000}/{token}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text(UNUSABLE)


def test_unanswered_question(app: Flask, open_page: OpenPage, open_round: OpenRound) -> None:
    rid = open_round.round_id
    token = list(open_round.tokens.values())[2]
    page = open_page(phone=True)
    page.goto(f"/s/{rid}#{token}")
    names = question_names(page)
    missing = names[2]
    chosen = answer_by_clicks(page, skip=missing)
    page.locator("#comment").fill("Kept across the error.")
    page.get_by_role("button", name="Send my answers").click()

    expect(page.locator("#form-message")).to_have_text(
        "1 answer needs your attention; everything you chose is still here."
    )
    group = page.locator(f"fieldset#{missing}-group")
    expect(group).to_have_attribute("aria-describedby", f"{missing}-error")
    expect(group.locator(f"#{missing}-error")).to_have_text("Please choose an answer.")
    assert focused(page) == {
        "tag": "input",
        "type": "radio",
        "name": missing,
        "value": options_of(page, missing)[0],
    }
    for name, value in chosen.items():
        expect(page.locator(f"input[name={name}]:checked")).to_have_value(value)
    expect(page.locator("#comment")).to_have_value("Kept across the error.")
    expect(page.locator("#token-box")).to_be_hidden()  # the code came back with the form
    assert progress(page) == len(names) - 1
    assert responses_stored(app) == 0

    page.keyboard.press("ArrowRight")  # focus is in the group: one key answers it
    assert progress(page) == len(names)
    page.get_by_role("button", name="Send my answers").focus()
    page.keyboard.press("Space")
    page.wait_for_url(f"**/s/{rid}/done")
    assert responses_stored(app) == 1
