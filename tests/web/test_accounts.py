"""Staff accounts through the browser and the command line: invite, set a password, change
it, log out everywhere, disable, change role; and login throttling with the right password."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from survey import db, logs
from survey.services import accounts
from tests.conftest import PASSWORD, STAFF, login

NEW_PASSWORD = "a fresh staff passphrase"


def logged_in(app: Flask, email_: str, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"email": email_, "password": password})
    assert response.status_code == 302, response.data
    return client


def still_in(client: FlaskClient) -> bool:
    return client.get("/account").status_code == 200


def user_id(app: Flask, email_: str) -> int:
    with db.session_scope(app) as session:
        return accounts.find_user(session, email_).id


def link_on(html: str) -> str:
    found = re.search(r'id="set-password-link" type="text" readonly value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_invite_shows_and_mails_a_one_time_link(app: Flask, client: FlaskClient) -> None:
    login(client, "admin")
    page = client.post("/admin/accounts/invite", data={"email": "new@example.org", "role": "hr"})
    assert page.status_code == 200
    html = page.data.decode()
    url = link_on(html)
    assert url.startswith("http://candor.test/account/set-password/")
    secret = url.rsplit("/", 1)[1]
    assert secret not in logs.redact(f'"GET /account/set-password/{secret} HTTP/1.1" 200')
    assert "The link was emailed to new@example.org." in html
    [mail] = list(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"))
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["To"] == "new@example.org" and url in message.get_content()
    # The invited person sets a password once; the link then stops working.
    path = url.removeprefix("http://candor.test")
    visitor = app.test_client()
    assert b"new@example.org" in visitor.get(path).data
    short = visitor.post(path, data={"new": "short", "repeat": "short"})
    assert short.status_code == 400 and b"at least 12" in short.data
    done = visitor.post(path, data={"new": NEW_PASSWORD, "repeat": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert visitor.get(path).status_code == 404
    assert still_in(logged_in(app, "new@example.org", NEW_PASSWORD))
    # The list shows the account; inviting it again is refused with a clear message.
    listed = client.get("/admin/accounts/").data.decode()
    assert "new@example.org" in listed and "active" in listed
    again = client.post("/admin/accounts/invite", data={"email": "new@example.org", "role": "hr"})
    assert again.status_code == 400 and b"there is already an account" in again.data


def test_invite_a_manager_with_units(app: Flask, client: FlaskClient, organisation: Any) -> None:
    login(client, "admin")
    alpha = organisation.units["Alpha"]
    page = client.post(
        "/admin/accounts/invite",
        data={"email": "boss@example.org", "role": "manager", "units": [str(alpha)]},
    )
    assert page.status_code == 200
    assert "Lab/Research/Alpha" in page.data.decode()
    uid = user_id(app, "boss@example.org")
    beta = organisation.units["Beta"]
    # The accounts page lists no unit per manager (it would grow with units x managers): each
    # manager's row names their units and links to a page of their own to change them.
    listed = client.get("/admin/accounts/").data.decode()
    invite_list = listed[listed.index("<h2>Invite someone</h2>") :]
    assert listed.count(f'<option value="{alpha}"') == invite_list.count(f'<option value="{alpha}"')
    assert f'href="/admin/accounts/{uid}/units"' in listed
    page = client.get(f"/admin/accounts/{uid}/units")
    assert page.status_code == 200
    html = page.data.decode()
    assert "Units boss@example.org sees" in html
    assert f'<option value="{alpha}" selected>Lab/Research/Alpha</option>' in html
    assert f'<option value="{beta}">' in html
    saved = client.post(f"/admin/accounts/{uid}/units", data={"units": [str(alpha), str(beta)]})
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"#user-{uid}")
    with db.session_scope(app) as session:
        user = accounts.find_user(session, "boss@example.org")
        assert sorted(u.unit_id for u in user.units) == sorted([alpha, beta])
    shown = client.get(saved.headers["Location"]).data.decode()
    assert "Saved the units of boss@example.org." in shown
    assert "Lab/Research/Alpha; Lab/Research/Beta" in shown
    html = client.get(f"/admin/accounts/{uid}/units").data.decode()
    assert f'<option value="{beta}" selected>' in html
    # Someone who is not a manager is bound to nothing: the page says so, with no form.
    hr_page = client.get(f"/admin/accounts/{user_id(app, STAFF['hr'])}/units").data.decode()
    assert "only managers see the results of chosen units" in hr_page
    assert 'name="units"' not in hr_page
    assert client.get("/admin/accounts/424242/units").status_code == 404


def test_change_own_password_ends_other_sessions(app: Flask) -> None:
    here, elsewhere = logged_in(app, STAFF["leader"]), logged_in(app, STAFF["leader"])
    wrong = here.post(
        "/account/password",
        data={"current": "not my password", "new": NEW_PASSWORD, "repeat": NEW_PASSWORD},
    )
    assert wrong.status_code == 400 and b"current password is wrong" in wrong.data
    assert still_in(elsewhere)
    mismatch = here.post(
        "/account/password", data={"current": PASSWORD, "new": NEW_PASSWORD, "repeat": "other"}
    )
    assert mismatch.status_code == 400 and b"differ" in mismatch.data
    done = here.post(
        "/account/password",
        data={"current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD},
    )
    assert done.status_code == 302
    assert still_in(here) and not still_in(elsewhere)
    assert (
        app.test_client()
        .post("/login", data={"email": STAFF["leader"], "password": PASSWORD})
        .status_code
        == 401
    )
    assert still_in(logged_in(app, STAFF["leader"], NEW_PASSWORD))


def test_log_out_everywhere(app: Flask) -> None:
    first, second = logged_in(app, STAFF["hr"]), logged_in(app, STAFF["hr"])
    cookie = second.get_cookie("candor_session")
    assert cookie is not None
    copy = app.test_client()
    copy.set_cookie("candor_session", cookie.value)
    assert still_in(copy)
    first.post("/account/logout-everywhere")
    assert not still_in(first) and not still_in(second) and not still_in(copy)


def test_admin_disables_enables_and_changes_role(app: Flask, client: FlaskClient) -> None:
    login(client, "admin")
    hr = logged_in(app, STAFF["hr"])
    uid = user_id(app, STAFF["hr"])
    assert client.post(f"/admin/accounts/{uid}/disable").status_code == 302
    assert not still_in(hr)
    refused = app.test_client().post("/login", data={"email": STAFF["hr"], "password": PASSWORD})
    assert refused.status_code == 401 and accounts.LOGIN_REFUSED.encode() in refused.data
    assert "disabled" in client.get("/admin/accounts/").data.decode()
    client.post(f"/admin/accounts/{uid}/enable")
    hr = logged_in(app, STAFF["hr"])
    client.post(f"/admin/accounts/{uid}/role", data={"role": "leader"})
    assert hr.get("/dashboard").status_code == 403  # the live session has the new role
    # "Log out everywhere" and a new set-password link, from the admin page.
    client.post(f"/admin/accounts/{uid}/logout")
    assert not still_in(hr)
    page = client.post(f"/admin/accounts/{uid}/reset")
    assert page.status_code == 200 and "/account/set-password/" in link_on(page.data.decode())


@pytest.mark.parametrize("change", ["disable", "delete", "role"])
def test_the_last_admin_cannot_remove_themselves(
    app: Flask, client: FlaskClient, change: str
) -> None:
    login(client, "admin")
    uid = user_id(app, STAFF["admin"])
    response = client.post(f"/admin/accounts/{uid}/{change}", data={"role": "hr"})
    assert response.status_code == 302
    page = client.get("/admin/accounts/")
    assert page.status_code == 200 and b"last active admin" in page.data


def test_right_password_works_after_a_short_wait(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = dt.datetime(2026, 12, 1, 9, 0)
    clock = {"now": start}
    monkeypatch.setattr("survey.web.auth.utcnow", lambda: clock["now"])
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.66"
    checked = 0
    while checked < app.config["LOGIN_ACCOUNT_FREE_FAILURES"] + 4:
        # An attacker elsewhere keeps guessing as fast as allowed, waiting when told to.
        guess = attacker.post("/login", data={"email": STAFF["hr"], "password": "guess"})
        if guess.status_code == 429:
            clock["now"] += dt.timedelta(seconds=int(guess.headers["Retry-After"]))
        else:
            assert guess.status_code == 401
            checked += 1
    slowed = client.post("/login", data={"email": STAFF["hr"], "password": PASSWORD})
    assert slowed.status_code == 429
    wait = int(slowed.headers["Retry-After"])
    assert 1 <= wait <= app.config["LOGIN_MAX_DELAY_SECONDS"]
    clock["now"] += dt.timedelta(seconds=wait)
    assert (
        client.post("/login", data={"email": STAFF["hr"], "password": PASSWORD}).status_code == 302
    )


def test_a_browser_that_logged_in_before_is_not_slowed_by_others(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = dt.datetime(2026, 12, 1, 9, 0)
    monkeypatch.setattr("survey.web.auth.utcnow", lambda: frozen)  # no wait ends by itself
    owner = logged_in(app, STAFF["hr"])  # gets the known-device cookie
    owner.post("/logout")
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.77"
    for _ in range(app.config["LOGIN_ACCOUNT_FREE_FAILURES"] + 1):
        attacker.post("/login", data={"email": STAFF["hr"], "password": "guess"})
    fresh = app.test_client()
    assert (
        fresh.post("/login", data={"email": STAFF["hr"], "password": PASSWORD}).status_code == 429
    )
    assert (
        owner.post("/login", data={"email": STAFF["hr"], "password": PASSWORD}).status_code == 302
    )
    # A cookie that was not issued here counts for nothing.
    forged = app.test_client()
    cookie = owner.get_cookie("candor_device")
    assert cookie is not None
    forged.set_cookie("candor_device", cookie.value.split(".")[0] + ".0000")
    assert (
        forged.post("/login", data={"email": STAFF["hr"], "password": PASSWORD}).status_code == 429
    )


def invoke(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["candor", "user", *args])


def test_cli_manages_accounts_without_passwords_on_screen(app: Flask) -> None:
    invited = invoke(app, "invite", "cli@example.org", "leader")
    assert invited.exit_code == 0, invited.output
    assert "/account/set-password/" in invited.output and "password:" not in invited.output
    listing = invoke(app, "list")
    assert re.search(r"cli@example.org\tleader\tinvited", listing.output), listing.output
    assert invoke(app, "role", "cli@example.org", "hr").exit_code == 0
    assert invoke(app, "disable", "cli@example.org").exit_code == 0
    assert "cli@example.org\thr\tdisabled" in invoke(app, "list").output
    refused = invoke(app, "disable", STAFF["admin"])
    assert refused.exit_code != 0 and "last active admin" in refused.output
    assert invoke(app, "enable", "cli@example.org").exit_code == 0
    reset = invoke(app, "reset", "cli@example.org")
    assert reset.exit_code == 0 and "/account/set-password/" in reset.output
    assert invoke(app, "delete", "--yes", "cli@example.org").exit_code == 0
    assert "cli@example.org" not in invoke(app, "list").output
