"""axe-core on every page people use: no serious or critical violation anywhere.

axe-core comes from the ``axe-playwright-python`` wheel (its bundled ``axe.min.js``), so nothing
is fetched at run time. It is run with ``page.evaluate``, which the app's CSP
(``script-src 'self'``) does not govern, so the pages are checked under their real policy.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import OpenRound
from tests.e2e.audit import Audit
from tests.e2e.conftest import OpenPage, log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_survey_pages_on_a_phone(open_page: OpenPage, open_round: OpenRound) -> None:
    rid = open_round.round_id
    token = next(iter(open_round.tokens.values()))
    audit = Audit()
    page = open_page(phone=True)

    page.goto(f"/s/{rid}#{token}")
    expect(page.locator("#token-box")).to_be_hidden()
    expect(page.locator("#ballot-fingerprint")).to_be_visible()  # the ballot mode is shown
    audit.check(page, "survey form")

    page.get_by_role("button", name="Send my answers").click()  # nothing answered
    expect(page.locator("#form-message")).to_be_visible()
    audit.check(page, "survey form with errors")

    for fieldset in page.locator("fieldset.question").all():
        fieldset.locator("label.choice").first.click()
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url(f"**/s/{rid}/done")
    audit.check(page, "thanks")

    page.goto(f"/s/{rid}#{token}")  # the used link: the code box comes back with the message
    page.locator("fieldset.question label.choice").first.click()
    expect(page.get_by_role("alert")).to_contain_text("not valid or has already been used")
    expect(page.locator("#token-box")).to_be_visible()
    audit.check(page, "survey form with a used code")

    page.goto(f"/s/{rid + 1000}/{token}")
    expect(page.get_by_role("heading", level=1)).to_have_text("This link cannot be used")
    audit.check(page, "link cannot be used")
    audit.assert_clean()


def test_staff_and_public_pages(open_page: OpenPage, released_round: dict[str, Any]) -> None:
    audit = Audit()
    page = open_page()

    page.goto("/login")
    audit.check(page, "login")
    page.get_by_label("Email").fill("nobody@example.org")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    audit.check(page, "login with error")

    log_in(page, "hr")
    page.goto("/dashboard")
    audit.check(page, "dashboard")
    page.goto("/reports")
    audit.check(page, "reports")
    page.goto("/privacy")
    expect(page.locator("table.data")).to_have_count(1)  # the released round's manifest
    audit.check(page, "privacy")
    audit.assert_clean()
