"""Trusted hosts, HSTS and the __Host- cookie over https, and the staff idle timeout."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from survey import clock, create_app
from survey.web import security
from tests.conftest import PASSWORD, STAFF, login
from tests.helpers import SAFE_PRODUCTION

HTTPS = "https://candor.example.org"


@pytest.fixture
def https_app(config: dict[str, Any]) -> Iterator[Flask]:
    """Yield the app with an https PUBLIC_URL (so: HSTS, __Host- cookie, that trusted host)."""
    application = create_app({**config, "PUBLIC_URL": HTTPS})
    yield application
    application.extensions["candor.engine"].dispose()


def test_an_unknown_host_gets_400(client: FlaskClient) -> None:
    refused = client.get("/login", headers={"Host": "evil.example"})
    assert refused.status_code == 400 and b"host name" in refused.data
    assert refused.headers["X-Frame-Options"] == "DENY"  # still the security headers
    assert client.get("/login", headers={"Host": "candor.test"}).status_code == 200


def test_production_trusts_only_the_public_host(config: dict[str, Any]) -> None:
    app = create_app(
        {**config, **SAFE_PRODUCTION, "PUBLIC_URL": HTTPS}  # the production settings' one home
    )
    client = app.test_client()
    assert client.get("/privacy", base_url=HTTPS).status_code == 200
    assert client.get("/privacy").status_code == 400  # Host: localhost
    assert client.get("/privacy", headers={"Host": "candor.example.org.evil"}).status_code == 400
    app.extensions["candor.engine"].dispose()


def test_https_sends_hsts_and_the_host_prefix(https_app: Flask, client: FlaskClient) -> None:
    secure = https_app.test_client()
    response = secure.post("/login", data={"email": STAFF["hr"], "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    cookies = response.headers.getlist("Set-Cookie")  # the session's and the known-device one
    assert all(c.startswith("__Host-") and "; Secure" in c for c in cookies)
    cookie = next(c for c in cookies if "candor_session=" in c)
    assert cookie.startswith("__Host-candor_session=")
    assert "; Secure" in cookie and "; Path=/" in cookie and "Domain=" not in cookie
    assert secure.get("/dashboard").status_code == 200
    plain = client.post("/login", data={"email": STAFF["hr"], "password": PASSWORD})
    assert "Strict-Transport-Security" not in plain.headers
    assert any(c.startswith("candor_session=") for c in plain.headers.getlist("Set-Cookie"))


class Clock:
    """A settable clock for the staff-session code."""

    def __init__(self) -> None:
        self.now = clock.utcnow()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += dt.timedelta(minutes=minutes)


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(security, "utcnow", fake)
    return fake


def test_idle_staff_session_ends(app: Flask, client: FlaskClient, fake_clock: Clock) -> None:
    idle = app.config["STAFF_IDLE_MINUTES"]
    assert idle == 30
    login(client, "hr")
    # Each request within the idle time keeps the session alive, past the idle time in total.
    for _ in range(3):
        fake_clock.advance(idle - 1)
        assert client.get("/dashboard").status_code == 200
    fake_clock.advance(idle + 1)
    ended = client.get("/dashboard")
    assert ended.status_code == 302 and "/login" in ended.headers["Location"]
    assert b"without activity" in client.get("/login").data
    # A copy of the cookie from before does not bring it back.
    assert client.get("/dashboard").status_code == 302


def test_old_cookie_copy_times_out_while_the_user_is_active(app: Flask, fake_clock: Clock) -> None:
    user = app.test_client()
    login(user, "hr")
    stale = user.get_cookie("candor_session")
    assert stale is not None
    for _ in range(2):
        fake_clock.advance(20)
        assert user.get("/dashboard").status_code == 200
    thief = app.test_client()
    thief.set_cookie("candor_session", stale.value)
    assert thief.get("/dashboard").status_code == 302
    assert user.get("/dashboard").status_code == 200


def test_the_absolute_limit_still_holds(app: Flask, client: FlaskClient, fake_clock: Clock) -> None:
    login(client, "hr")
    for _ in range(app.config["STAFF_SESSION_HOURS"] * 3):
        fake_clock.advance(20)
        client.get("/dashboard")
    fake_clock.advance(20)
    assert client.get("/dashboard").status_code == 302
