"""Single sign-on against a real OpenID Connect provider (panva/oidc-provider on loopback).

The provider (``tests/oidc/provider.mjs``, installed by ``npm ci`` there) runs once for the
module. The "browser" is the Flask test client for Candor and a requests session for the
provider's own pages: it follows the redirects through the provider's login form and hands the
provider's answer back to Candor, which redeems the code and checks the ID token over real HTTP.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import selectors
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from survey import clock, create_app, db
from survey.models import Role, SsoIdentity, User
from survey.services import sso
from survey.web import sso as sso_web
from tests.conftest import PASSWORD, STAFF

OIDC_DIR = Path(__file__).resolve().parents[1] / "oidc"
PUBLIC_URL = "http://candor.test"
CALLBACK = f"{PUBLIC_URL}/login/sso/callback"
CLIENT_SECRET = "candor-test-secret"  # noqa: S105 - the test provider's
ID_TOKEN_TTL = 60
ROLE_MAP = {"candor-admins": "admin", "candor-hr": "hr", "candor-leaders": "leader"}
START_SECONDS = 20


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    """Start the provider on a free loopback port and yield its issuer URL."""
    node = shutil.which("node")
    if node is None or not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        reason = "the test OpenID provider needs Node and `npm ci` in tests/oidc"
        if os.environ.get("CANDOR_REQUIRE_ALL_TESTS"):
            pytest.fail(reason)
        pytest.skip(reason)
    env = {
        **os.environ,
        "OIDC_REDIRECT_URIS": CALLBACK,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_ID_TOKEN_TTL": str(ID_TOKEN_TTL),
    }
    process = subprocess.Popen(
        [node, "provider.mjs"],
        cwd=OIDC_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=START_SECONDS)
    line = process.stdout.readline() if ready else ""
    if not line.startswith("READY "):
        process.kill()
        process.wait()
        pytest.fail(f"the OpenID provider did not start: {line!r}")
    try:
        yield line.split()[1]
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def sso_config(config: dict[str, Any], issuer: str, **extra: Any) -> dict[str, Any]:
    """Return the test configuration with single sign-on through ``issuer``."""
    return {
        **config,
        "PUBLIC_URL": PUBLIC_URL,
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": "candor",
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_SCOPES": "openid email profile groups",
        "OIDC_ROLE_MAP": ROLE_MAP,
        "OIDC_PROVIDER_NAME": "Example SSO",
        **extra,
    }


@pytest.fixture
def make_app(config: dict[str, Any], issuer: str) -> Iterator[Any]:
    """Yield a factory of SSO-configured apps on this test's database."""
    apps: list[Flask] = []

    def make(**extra: Any) -> Flask:
        app = create_app(sso_config(config, issuer, **extra))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["candor.engine"].dispose()


@pytest.fixture
def app(make_app: Any) -> Flask:
    return make_app()


def provider_answer(client: FlaskClient, login: str, password: str, next_path: str = "") -> str:
    """Start an SSO login in ``client``, sign in at the provider, return the callback path."""
    start = client.get("/login/sso" + (f"?next={next_path}" if next_path else ""))
    assert start.status_code == 302, start.data
    url = start.headers["Location"]
    with requests.Session() as browser:
        page = browser.get(url, timeout=10)
        assert page.status_code == 200 and "Sign in to the test identity provider" in page.text
        action = re.search(r'action="([^"]+)"', page.text)
        assert action is not None
        reply = browser.post(
            urljoin(page.url, action.group(1)),
            data={"login": login, "password": password},
            allow_redirects=False,
            timeout=10,
        )
        for _ in range(5):  # the provider resumes the authorization, then answers Candor
            location = urljoin(reply.url, reply.headers["Location"])
            if location.startswith(PUBLIC_URL):
                break
            reply = browser.get(location, allow_redirects=False, timeout=10)
        else:
            raise AssertionError("the provider never sent the browser back to Candor")
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def sso_login(client: FlaskClient, login: str, next_path: str = "") -> TestResponse:
    """Log ``login`` (a user of provider.mjs, password "<login>-pw") in; return the answer."""
    return client.get(provider_answer(client, login, f"{login}-pw", next_path))


def account(app: Flask, email: str) -> User | None:
    with db.session_scope(app) as session:
        user = session.scalar(select(User).where(User.email == email))
        if user is not None:
            session.expunge(user)
        return user


def identities(app: Flask) -> int:
    with db.session_scope(app) as session:
        return int(session.scalar(select(func.count()).select_from(SsoIdentity)) or 0)


def test_a_mapped_role_lands_on_the_dashboard(app: Flask) -> None:
    client = app.test_client()
    answer = sso_login(client, "alice")
    assert answer.status_code == 302 and answer.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    user = account(app, "alice@example.org")
    assert user is not None and user.role is Role.ADMIN and user.password_hash == ""
    # A password cannot log the created account in.
    other = app.test_client()
    refused = other.post(
        "/login", data={"email": "alice@example.org", "password": "any password at all"}
    )
    assert refused.status_code == 401
    # Logging in again uses the same link; ``next`` is honoured when it is a local path.
    again = app.test_client()
    assert sso_login(again, "alice", "/reports").headers["Location"] == "/reports"
    assert identities(app) == 1


def test_the_role_follows_the_claim_at_every_login(app: Flask) -> None:
    assert sso_login(app.test_client(), "hana").status_code == 302
    with db.session_scope(app) as session:
        user = session.scalar(select(User).where(User.email == "hana@example.org"))
        assert user is not None and user.role is Role.HR
        user.role = Role.ADMIN  # changed in Candor: the provider's group still decides
        session.commit()
    client = app.test_client()
    sso_login(client, "hana")
    assert account(app, "hana@example.org").role is Role.HR  # type: ignore[union-attr]
    assert client.get("/admin/").status_code == 403


def test_a_verified_email_links_the_existing_account(app: Flask) -> None:
    client = app.test_client()
    assert sso_login(client, "existing").status_code == 302
    assert client.get("/dashboard").status_code == 200
    with db.session_scope(app) as session:
        link = session.scalar(select(SsoIdentity))
        assert link is not None and link.subject == "existing" and link.user.email == STAFF["hr"]
    # The password still works for a linked account while SSO_ONLY is off.
    assert (
        app.test_client()
        .post("/login", data={"email": STAFF["hr"], "password": PASSWORD})
        .status_code
        == 302
    )


def test_an_unverified_email_is_neither_linked_nor_provisioned(app: Flask) -> None:
    client = app.test_client()
    answer = sso_login(client, "unverified")
    assert answer.status_code == 403
    assert b"did not confirm an e-mail address" in answer.data
    assert identities(app) == 0
    assert client.get("/reports").status_code == 302  # not logged in


def test_a_user_without_a_mapped_role_is_refused(app: Flask) -> None:
    client = app.test_client()
    answer = sso_login(client, "nora")
    assert answer.status_code == 403
    text = answer.get_data(as_text=True)
    assert "You are not logged in" in text and "none of the groups" in text
    assert "Example SSO" in text
    assert account(app, "nora@example.org") is None and identities(app) == 0
    assert client.get("/dashboard").status_code == 302


def test_a_disabled_account_is_refused(app: Flask) -> None:
    sso_login(app.test_client(), "existing")
    with db.session_scope(app) as session:
        user = session.scalar(select(User).where(User.email == STAFF["hr"]))
        assert user is not None
        user.active = False
        session.commit()
    client = app.test_client()
    answer = sso_login(client, "existing")
    assert answer.status_code == 403 and b"disabled" in answer.data
    assert client.get("/dashboard").status_code == 302


def test_a_token_for_another_audience_is_refused(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The provider re-signs this client's ID tokens, with its real key, for "another-app".
    app = make_app(OIDC_CLIENT_ID="candor-misaud")
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger=sso_web.__name__):
        answer = sso_login(client, "alice")
    assert answer.status_code == 403
    assert b"could not be verified" in answer.data
    assert "invalid_claim aud" in caplog.text
    assert account(app, "alice@example.org") is None
    assert client.get("/dashboard").status_code == 302


@pytest.mark.parametrize(
    ("shift", "reason"),
    [
        # Candor's clock reads just past the token's lifetime plus the tolerated skew...
        (ID_TOKEN_TTL + sso.CLOCK_LEEWAY_SECONDS + 5, "expired_token exp"),
        # ... or so far behind the provider's that the token was issued in its future.
        (-(sso.CLOCK_LEEWAY_SECONDS + 30), "invalid_claim iat"),
    ],
    ids=["expired", "from-the-future"],
)
def test_a_token_outside_its_lifetime_is_refused(
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    shift: int,
    reason: str,
) -> None:
    client = app.test_client()
    answer_path = provider_answer(client, "alice", "alice-pw")
    moved = clock.utcnow() + dt.timedelta(seconds=shift)
    monkeypatch.setattr(sso_web, "utcnow", lambda: moved)
    with caplog.at_level(logging.WARNING, logger=sso_web.__name__):
        answer = client.get(answer_path)
    assert answer.status_code == 403 and b"could not be verified" in answer.data
    assert reason in caplog.text
    assert account(app, "alice@example.org") is None


def test_an_answer_is_redeemed_once_and_only_in_its_own_browser(app: Flask) -> None:
    client = app.test_client()
    answer_path = provider_answer(client, "alice", "alice-pw")
    # Another browser (no pending state) cannot use the answer...
    stranger = app.test_client()
    refused = stranger.get(answer_path)
    assert refused.status_code == 400 and b"Start again" in refused.data
    # ... the right one can, once.
    assert client.get(answer_path).status_code == 302
    assert client.get(answer_path).status_code == 400
    # A forged state is refused too.
    other = app.test_client()
    forged = provider_answer(other, "alice", "alice-pw")
    assert other.get(re.sub(r"state=[^&]+", "state=forged", forged)).status_code == 400
    # The provider's own refusal is said plainly.
    other.get("/login/sso")
    with other.session_transaction() as session:
        state = session[sso_web.PENDING]["state"]
    denied = other.get(f"/login/sso/callback?error=access_denied&state={state}")
    assert denied.status_code == 403 and b"did not sign you in (access_denied)" in denied.data


def test_a_provider_that_is_down_gives_a_clear_503(make_app: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe closes
    app = make_app(OIDC_ISSUER=f"http://127.0.0.1:{port}", OIDC_TIMEOUT=2.0)
    answer = app.test_client().get("/login/sso")
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    text = answer.get_data(as_text=True)
    assert "Example SSO cannot be reached right now" in text
    assert "log in with a password" in text
    # The login page itself still works, without contacting the provider.
    assert app.test_client().get("/login").status_code == 200


def test_sso_only_leaves_password_login_to_the_break_glass_admin(make_app: Any) -> None:
    app = make_app(SSO_ONLY=True, BREAK_GLASS_ADMIN=STAFF["admin"])
    page = app.test_client().get("/login").get_data(as_text=True)
    assert "Log in with Example SSO" in page and "Break-glass administrator" in page
    refused = app.test_client().post("/login", data={"email": STAFF["hr"], "password": PASSWORD})
    assert refused.status_code == 403 and b"Password login is off" in refused.data
    admin = app.test_client()
    assert (
        admin.post("/login", data={"email": STAFF["admin"], "password": PASSWORD}).status_code
        == 302
    )
    assert admin.get("/dashboard").status_code == 200
    # Single sign-on still works for everyone else.
    assert sso_login(app.test_client(), "hana").status_code == 302
    # A break-glass account must be an admin.
    misnamed = make_app(SSO_ONLY=True, BREAK_GLASS_ADMIN=STAFF["hr"])
    refused = misnamed.test_client().post(
        "/login", data={"email": STAFF["hr"], "password": PASSWORD}
    )
    assert refused.status_code == 403 and b"Password login is off" in refused.data


def test_sso_sessions_follow_the_password_rules(app: Flask) -> None:
    client = app.test_client()
    client.get("/login/sso")  # a session cookie exists before the login...
    before = client.get_cookie("candor_session")
    assert before is not None
    answer_path = provider_answer(client, "hana", "hana-pw")
    client.get(answer_path)
    cookie = client.get_cookie("candor_session")
    assert cookie is not None and cookie.value != before.value  # ... and is replaced by it
    with client.session_transaction() as session:
        assert sso_web.PENDING not in session and session.get("sid")
    # Logout ends the session on the server: a copy of the cookie dies with it.
    thief = app.test_client()
    thief.set_cookie("candor_session", cookie.value)
    assert thief.get("/dashboard").status_code == 200
    client.post("/logout")
    assert client.get("/dashboard").status_code == 302
    assert thief.get("/dashboard").status_code == 302


def test_sso_is_off_unless_configured(config: dict[str, Any]) -> None:
    plain = create_app(config)
    client = plain.test_client()
    assert client.get("/login/sso").status_code == 404
    assert b"Log in with" not in client.get("/login").data
    plain.extensions["candor.engine"].dispose()
