"""Staff accounts in a real browser: an admin invites a manager, the manager sets a password
through the link and logs in; every new page passes axe-core (no serious or critical issue)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import Org
from tests.e2e.audit import Audit
from tests.e2e.conftest import OpenPage, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
MANAGER = "team.lead@example.org"
PASSWORD = "the manager's own passphrase"


def test_invite_set_password_and_log_in(open_page: OpenPage, organisation: Org) -> None:
    audit = Audit()
    admin = open_page()
    log_in(admin, "admin")
    admin.get_by_role("link", name="Accounts").click()
    expect(admin.get_by_role("heading", name="Staff accounts")).to_be_visible()
    audit.check(admin, "accounts")

    admin.get_by_label("Email").fill(MANAGER)
    admin.get_by_label("Role", exact=True).select_option("manager")
    admin.get_by_label("Units (managers only)").select_option(label="Lab/Research/Alpha")
    admin.get_by_role("button", name="Invite").click()
    link = admin.get_by_role("textbox", name="One-time link").input_value()
    assert "/account/set-password/" in link
    audit.check(admin, "accounts with a new link")
    screenshot(admin, "accounts")

    admin.get_by_role("link", name="Accounts").click()
    admin.get_by_role("link", name=f"Change units of {MANAGER}").click()
    expect(admin.get_by_role("heading", name=f"Units {MANAGER} sees")).to_be_visible()
    audit.check(admin, "a manager's units")
    admin.get_by_label("Units", exact=True).select_option(
        label=["Lab/Research/Alpha", "Lab/Research/Beta"]
    )
    admin.get_by_role("button", name="Save units").click()
    expect(admin.get_by_text(f"Saved the units of {MANAGER}.")).to_be_visible()
    expect(admin.get_by_role("row", name=MANAGER)).to_contain_text(
        "Lab/Research/Alpha; Lab/Research/Beta"
    )

    admin.get_by_role("link", name="Your account").click()
    expect(admin.get_by_role("heading", name="Your account")).to_be_visible()
    audit.check(admin, "own account")

    manager = open_page()
    manager.goto(link)
    expect(manager.get_by_text(MANAGER)).to_be_visible()
    audit.check(manager, "set password")
    manager.get_by_label("New password (at least 12 characters)").fill(PASSWORD)
    manager.get_by_label("New password again").fill(PASSWORD)
    manager.get_by_role("button", name="Set password").click()
    expect(manager.get_by_text("Your password is set")).to_be_visible()
    manager.get_by_label("Email").fill(MANAGER)
    manager.get_by_label("Password").fill(PASSWORD)
    manager.get_by_role("button", name="Log in").click()
    expect(manager.get_by_role("button", name=f"Log out {MANAGER}")).to_be_visible()
    expect(manager.get_by_role("heading", name="Leadership reports")).to_be_visible()
    audit.assert_clean()
