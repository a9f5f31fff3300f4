"""An admin sends a round's invitations from the browser and follows the progress.

Real gunicorn, Debian's Chromium and a real SMTP server on loopback (slowed a little, so the
progress is seen moving); axe-core on the round's page while sending and when done.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from playwright.sync_api import expect

from tests import smtp as loopback
from tests.conftest import OpenRound
from tests.e2e.audit import Audit
from tests.e2e.conftest import OpenPage, log_in, screenshot
from tests.smtp import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

start_server = loopback.start_server  # fixture


@pytest.fixture
def smtp(start_server: Any) -> Server:
    server: Server = start_server()
    server.recorder.delay = 0.2  # 23 messages take a few seconds: long enough to watch
    return server


@pytest.fixture
def server_env(smtp: Server) -> dict[str, str]:
    """Send through the loopback SMTP server."""
    return {
        "CANDOR_MAIL_BACKEND": "smtp",
        "CANDOR_MAIL_FROM": "Candor <pulse@candor.test>",
        "CANDOR_SMTP_HOST": "127.0.0.1",
        "CANDOR_SMTP_PORT": str(smtp.port),
        "CANDOR_SMTP_STARTTLS": "false",
    }


def test_admin_sends_invitations_and_reminders_and_follows_the_progress(
    open_page: OpenPage, open_round: OpenRound, smtp: Server
) -> None:
    rid, invited = open_round.round_id, len(open_round.tokens)
    audit = Audit()
    page = open_page()
    log_in(page, "admin")
    page.goto("/admin/")
    page.get_by_role("link", name="Invitations and reminders of R1").click()
    expect(
        page.get_by_text(f"{invited} personal links exist, one per invited person.")
    ).to_be_visible()
    invitations = page.locator('[data-kind="invitation"]')
    expect(invitations.locator('[data-field="state"]')).to_have_text("No invitations sent yet.")
    audit.check(page, "round page before sending")

    invitations.get_by_role("button", name="Send the invitations now").click()
    expect(page.get_by_text("Sending the invitations of R1.")).to_be_visible()
    expect(invitations.get_by_role("button", name="Send the invitations now")).to_be_disabled()
    expect(invitations.locator('[data-field="state"]')).to_have_text("Sending the invitations now.")
    audit.check(page, "round page while sending")
    screenshot(page, "round-sending")
    # The script follows the ledger without a reload, until every invitation is out.
    expect(invitations.locator('[data-field="state"]')).to_have_text(
        "All invitations are out.", timeout=60_000
    )
    expect(invitations.locator('[data-field="counts"]')).to_have_text(
        f"{invited} of {invited} sent, 0 failed (to retry), 0 given up, 0 waiting."
    )
    assert invitations.locator("progress").evaluate("bar => [bar.value, bar.max]") == [
        invited,
        invited,
    ]
    audit.check(page, "round page when done")
    screenshot(page, "round-sent")

    page.reload()  # the progress is the ledger's: a reload shows the same, and sends nothing
    expect(invitations.locator('[data-field="state"]')).to_have_text("All invitations are out.")
    expect(invitations.get_by_role("button", name="Send the invitations now")).to_be_disabled()
    per_person = Counter(r for m in smtp.messages for r in m.rcpt)
    assert sorted(per_person) == sorted(open_round.tokens) and set(per_person.values()) == {1}
    assert page.request.get(f"/admin/rounds/{rid}/mail.json").json()["polling"] is False
    audit.assert_clean()

    # Without JavaScript the page refreshes itself every few seconds while a run goes.
    plain = open_page(javascript=False)
    log_in(plain, "admin")
    plain.goto(f"/admin/rounds/{rid}")
    plain.get_by_role("button", name="Send the reminders now").click()
    reminders = plain.locator('[data-kind="reminder"]')
    expect(reminders.locator('[data-field="state"]')).to_have_text("Sending the reminders now.")
    expect(reminders.locator('[data-field="state"]')).to_have_text(
        "All reminders are out.", timeout=60_000
    )
    assert len(smtp.messages) == 2 * invited
