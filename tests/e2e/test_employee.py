"""An employee answers on a phone: by keyboard with the fragment link (the unlinkable ballot of
static/ballot.js: check-in at the first answer, then the ballot), without JavaScript with the
path link (the server does both steps), and after a validation error. Each link works exactly
once. tests/e2e/test_ballot.py covers the two steps themselves.
"""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from survey import db
from tests.conftest import OpenRound
from tests.e2e.conftest import OpenPage, screenshot
from tests.helpers import stored_answers

pytestmark = [pytest.mark.browser, pytest.mark.slow]

THANKS = "Thank you — your answers are in"
UNUSABLE = "This link cannot be used"


def focused(page: Page) -> dict[str, str]:
    """Return the tag, type, name and value of the focused element."""
    return page.evaluate(
        """() => { const e = document.activeElement;
                   return {tag: e.tagName.toLowerCase(), type: e.type || '', name: e.name || '',
                           value: e.value || ''}; }"""
    )


# WCAG 2.1 SC 1.4.11: a focus indicator needs 3:1 against what it is drawn on.
FOCUS_RING_CONTRAST = 3.0
FOCUS_RING_JS = """() => {
  const e = document.activeElement, s = getComputedStyle(e);
  if (s.outlineStyle === 'none' || parseFloat(s.outlineWidth) < 2) { return 0; }
  const rgb = c => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => v / 255)
    .map(v => v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  let under = [255, 255, 255];
  for (let p = e.parentElement; p; p = p.parentElement) {
    const c = rgb(getComputedStyle(p).backgroundColor);
    if (c.length < 4 || c[3] > 0) { under = c.slice(0, 3); break; }
  }
  const [a, b] = [lum(rgb(s.outlineColor)), lum(under)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


def assert_focus_visible(page: Page) -> None:
    """Check the focused element shows an outline that stands out from its background."""
    contrast = page.evaluate(FOCUS_RING_JS)
    assert contrast >= FOCUS_RING_CONTRAST, f"focus ring contrast {contrast:.2f} on {focused(page)}"


def question_names(page: Page) -> list[str]:
    """Return the radio-group names of the questions, in page order."""
    return page.eval_on_selector_all(
        "fieldset.question", "sets => sets.map(s => s.querySelector('input[type=radio]').name)"
    )


def options_of(page: Page, name: str) -> list[str]:
    return page.eval_on_selector_all(f"input[name={name}]", "inputs => inputs.map(i => i.value)")


def progress(page: Page) -> int:
    return int(page.locator("#progress").evaluate("bar => bar.value"))


def responses_stored(app: Flask) -> int:
    with db.session_scope(app) as session:
        return stored_answers(session)


def answer_by_clicks(page: Page, skip: str = "") -> dict[str, str]:
    """Click the fourth choice of every question except ``skip``; return what was chosen."""
    chosen = {}
    for name in question_names(page):
        if name != skip:
            page.locator(f"fieldset#{name}-group label.choice").nth(3).click()
            chosen[name] = options_of(page, name)[3]
    return chosen


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
