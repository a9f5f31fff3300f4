"""Headers, sessions, throttling and log hygiene."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, STAFF, OpenRound, answers_for, login


def test_security_headers(client: FlaskClient, open_round: OpenRound) -> None:
    for path in ("/", f"/s/{open_round.round_id}", "/login"):
        headers = client.get(path).headers
        assert headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == ("origin" if path.startswith("/s/") else "same-origin")
    assert client.get(f"/s/{open_round.round_id}").headers["Cache-Control"] == "no-store"


def test_dashboard_is_not_cached(client: FlaskClient, open_round: OpenRound) -> None:
    login(client, "hr")
    assert client.get("/dashboard").headers["Cache-Control"] == "no-store"


def test_session_rotates_and_dies_on_logout(app: Flask, open_round: OpenRound) -> None:
    first = app.test_client()
    login(first, "hr")
    cookie_a = first.get_cookie("candor_session").value
    login(first, "hr")
    cookie_b = first.get_cookie("candor_session").value
    assert cookie_a != cookie_b
    # A copy of the cookie taken before logout must not work afterwards.
    thief = app.test_client()
    thief.set_cookie("candor_session", cookie_b)
    assert thief.get("/dashboard").status_code == 200
    first.post("/logout")
    assert thief.get("/dashboard").status_code == 302
    # The older session was ended when the second login replaced it.
    old = app.test_client()
    old.set_cookie("candor_session", cookie_a)
    assert old.get("/dashboard").status_code == 302


def test_cookie_flags(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/login", data={"email": STAFF["hr"], "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_is_throttled(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Free failures, then one that starts a wait: even the right password must wait
    # (tests/services/test_throttle.py and tests/web/test_accounts.py test the rest).
    frozen = dt.datetime(2026, 12, 1, 9, 0)
    monkeypatch.setattr("survey.web.auth.utcnow", lambda: frozen)  # the wait cannot end
    for _ in range(app.config["LOGIN_ACCOUNT_FREE_FAILURES"] + 1):
        assert (
            client.post("/login", data={"email": STAFF["hr"], "password": "wrong"}).status_code
            == 401
        )
    slowed = client.post("/login", data={"email": STAFF["hr"], "password": PASSWORD})
    assert slowed.status_code == 429 and b"Too many attempts" in slowed.data
    assert int(slowed.headers["Retry-After"]) >= 1


def test_unknown_and_wrong_password_look_alike(client: FlaskClient) -> None:
    a = client.post("/login", data={"email": "nobody@example.org", "password": "wrong"})
    b = client.post("/login", data={"email": STAFF["hr"], "password": "wrong"})
    assert a.status_code == b.status_code == 401
    assert a.data.replace(b"nobody@example.org", b"X") == b.data.replace(STAFF["hr"].encode(), b"X")


def test_open_redirect_refused(client: FlaskClient) -> None:
    response = client.post(
        "/login?next=//evil.example/x", data={"email": STAFF["hr"], "password": PASSWORD}
    )
    assert response.headers["Location"] in ("/", "http://localhost/")


def test_development_server_log_has_no_token_or_address(
    app: Flask, open_round: OpenRound, caplog: pytest.LogCaptureFixture
) -> None:
    """Serve the app with Werkzeug's real development server and read its request log."""
    import threading
    import urllib.request

    from werkzeug.serving import make_server

    token = next(iter(open_round.tokens.values()))
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            url = f"http://127.0.0.1:{server.port}/s/{open_round.round_id}/{token}"
            with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - loopback
                assert reply.status == 200
    finally:
        server.shutdown()
        thread.join(timeout=10)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any(f"/s/{open_round.round_id}/[redacted]" in line for line in lines), lines
    assert not any(token in line or "127.0.0.1 -" in line for line in lines), lines


def test_survey_pages_send_only_the_origin_as_referrer(
    client: FlaskClient, open_round: OpenRound
) -> None:
    token = next(iter(open_round.tokens.values()))
    assert client.get(f"/s/{open_round.round_id}/{token}").headers["Referrer-Policy"] == "origin"
    assert client.get("/login").headers["Referrer-Policy"] == "same-origin"


def test_https_public_url_makes_cookies_secure(config: dict) -> None:
    from survey import create_app

    secure = create_app({**config, "PUBLIC_URL": "https://candor.example.org"})
    assert secure.config["SESSION_COOKIE_SECURE"] is True
    plain = create_app(config)
    assert plain.config["SESSION_COOKIE_SECURE"] is False
    for application in (secure, plain):
        application.extensions["candor.engine"].dispose()


def test_survey_routes_log_no_token(
    app: Flask, client: FlaskClient, open_round: OpenRound, caplog: pytest.LogCaptureFixture
) -> None:
    token = next(iter(open_round.tokens.values()))
    from survey.logs import RedactTokens

    # The line as Werkzeug's development server really logs it (address in the format).
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '10.1.2.3 - - [28/Nov/2026 10:00:00] "%s" %s %s',
        (f"GET /s/1/{token} HTTP/1.1", "200", "-"),
        None,
    )
    RedactTokens().filter(record)
    text = record.getMessage()
    assert token not in text and "10.1.2.3" not in text and "/s/1/[redacted]" in text
    with caplog.at_level(logging.DEBUG):
        client.get(f"/s/{open_round.round_id}/{token}")
        data = {**answers_for(app, open_round.round_id), "token": token}
        client.post(f"/s/{open_round.round_id}", data=data)
    assert token not in caplog.text
