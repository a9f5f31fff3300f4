"""Login throttling holds across 4 real gunicorn workers (the shipped config), on SQLite and
PostgreSQL: a password spray from one client is stopped at the client limit however the
guesses are spread over workers, a burst on one account is slowed as its rule says, and the
real user's right password works after the short wait.

Client addresses come from X-Forwarded-For (TRUSTED_PROXIES=1), as behind a reverse proxy.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from survey.services.throttle import Rule
from tests.conftest import PASSWORD, STAFF
from tests.web.world import world_database

WORKERS = 4
CLIENT_FREE, CLIENT_LIMIT = 2, 6
ACCOUNT_FREE, MAX_DELAY = 3, 1
SPRAY = 30
SPRAYER = "203.0.113.5"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Both databases here (the other end-to-end tests run on SQLite only)."""
    return world_database(request, tmp_path)


@pytest.fixture
def server_workers() -> int:
    """Four workers, so guesses spread over processes that share only the database."""
    return WORKERS


@pytest.fixture
def server_env() -> dict[str, str]:
    """Addresses from X-Forwarded-For, and login limits small enough to reach in a test."""
    return {
        "CANDOR_TRUSTED_PROXIES": "1",
        "CANDOR_LOGIN_CLIENT_FREE_FAILURES": str(CLIENT_FREE),
        "CANDOR_LOGIN_CLIENT_MAX_FAILURES": str(CLIENT_LIMIT),
        "CANDOR_LOGIN_ACCOUNT_FREE_FAILURES": str(ACCOUNT_FREE),
        "CANDOR_LOGIN_MAX_DELAY_SECONDS": str(MAX_DELAY),
    }


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def post_login(base: str, email: str, password: str, client: str) -> tuple[int, dict[str, str]]:
    """Post the login form (CSRF is on in production: fetch the form's token first)."""
    cookies, token = _form(base)
    data = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token})
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{base}/login",
        data=data.encode(),
        headers={"X-Forwarded-For": client, "Cookie": cookies, "Referer": f"{base}/login"},
    )
    try:
        with OPENER.open(request, timeout=60) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def _form(base: str) -> tuple[str, str]:
    import re

    with urllib.request.urlopen(f"{base}/login", timeout=60) as response:  # noqa: S310
        html = response.read().decode()
        cookie = response.headers.get("Set-Cookie", "").split(";", 1)[0]
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert found, html
    return cookie, found.group(1)


def most_admitted(rule: Rule, seconds: float) -> int:
    """Return how many attempts ``rule`` can admit on one key within ``seconds``."""
    admitted, waited = 0, 0
    while True:
        admitted += 1
        waited += rule.delay(admitted)
        if waited > seconds:
            return admitted


def test_throttling_holds_across_four_workers(server: str) -> None:
    base = server
    # A spray: one guess at each of 30 accounts, from one client, all at once.
    with ThreadPoolExecutor(max_workers=SPRAY) as pool:
        spray = list(
            pool.map(
                lambda n: post_login(base, f"user{n}@example.org", "Summer2026!", SPRAYER)[0],
                range(SPRAY),
            )
        )
    assert set(spray) <= {401, 429}
    assert spray.count(401) <= CLIENT_LIMIT, spray  # checked: never more than the limit
    # The sprayer then waits whenever told and tries the accounts it was refused for: it is
    # stopped at the limit, refused until the window ends (minutes, not seconds).
    checked, refused_for_good = spray.count(401), 0
    for n in (n for n, status in enumerate(spray) if status == 429):
        while True:
            status, headers = post_login(base, f"user{n}@example.org", "Summer2026!", SPRAYER)
            if status == 401:
                checked += 1
                break
            if int(headers["Retry-After"]) > MAX_DELAY:
                refused_for_good += 1
                break
            time.sleep(int(headers["Retry-After"]))
    assert checked == CLIENT_LIMIT and refused_for_good == SPRAY - CLIENT_LIMIT

    # A burst on one account from many clients: no more guesses checked than its rule allows.
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        burst = list(
            pool.map(
                lambda n: post_login(base, STAFF["hr"], f"guess {n}", f"198.51.100.{n}")[0],
                range(20),
            )
        )
    elapsed = time.monotonic() - started
    rule = Rule(ACCOUNT_FREE, MAX_DELAY, 900)
    assert set(burst) <= {401, 429}
    # The throttle counts whole seconds, so a burst may touch one second more than it lasted.
    most = most_admitted(rule, elapsed + 1)
    assert ACCOUNT_FREE <= burst.count(401) <= most, (burst, elapsed)

    # The real user, from their own address: told to wait a moment, then let in.
    status, headers = post_login(base, STAFF["hr"], PASSWORD, "192.0.2.10")
    if status == 429:
        wait = int(headers["Retry-After"])
        assert wait <= MAX_DELAY
        time.sleep(wait)
        status, _ = post_login(base, STAFF["hr"], PASSWORD, "192.0.2.10")
    assert status == 302
