"""Login throttling in the database: slow down, then refuse; never lock an account for long."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from survey import db
from survey.models import LoginThrottle
from survey.services import throttle

SECRET = b"k" * 32
T0 = 1_800_000_000
ACCOUNT = throttle.Rule(free=5, max_delay=30, window=900)
CLIENT = throttle.Rule(free=10, max_delay=30, window=900, limit=20)


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    engine = db.make_engine(database_url)
    with Session(engine) as s:
        yield s
    engine.dispose()


def key(kind: str, value: str) -> str:
    return throttle.key_for(kind, value, SECRET)


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, 0), (5, 0), (6, 1), (7, 2), (8, 4), (9, 8), (10, 16), (11, 30), (40, 30)],
)
def test_delay_doubles_up_to_the_cap(failures: int, delay: int) -> None:
    assert ACCOUNT.delay(failures) == delay


def test_keys_name_nobody_in_clear() -> None:
    value = key(throttle.ACCOUNT, "hr@example.org")
    assert "hr@" not in value and len(value) == 64
    assert value != key(throttle.CLIENT, "hr@example.org") != throttle.key_for("account", "x", b"o")


def attempt(session: Session, now: int, *keys: tuple[str, throttle.Rule]) -> throttle.Verdict:
    verdict = throttle.admit(session, list(keys), now)
    session.commit()
    return verdict


def test_account_slows_down_but_never_locks(session: Session) -> None:
    account = (key(throttle.ACCOUNT, "hr@example.org"), ACCOUNT)
    for i in range(ACCOUNT.free):
        assert attempt(session, T0 + i, account).allowed
    # The sixth failure starts a 1 s wait; attempts inside a wait are refused unchecked and
    # do not lengthen it.
    assert attempt(session, T0 + 5, account).allowed
    refused = attempt(session, T0 + 5, account)
    assert not refused.allowed and refused.retry_after == 1
    assert attempt(session, T0 + 6, account).allowed  # after the wait
    now = T0 + 6
    for _ in range(20):  # a long run: each wait doubles, up to the cap
        verdict = attempt(session, now, account)
        if not verdict.allowed:
            now += verdict.retry_after
            assert verdict.retry_after <= ACCOUNT.max_delay
            assert attempt(session, now, account).allowed  # always admitted after the wait
    assert attempt(session, now, account).retry_after == ACCOUNT.max_delay


def test_client_spray_over_30_accounts_is_stopped(session: Session) -> None:
    """One client guessing one password for each of 30 accounts, waiting whenever told."""
    client = (key(throttle.CLIENT, "203.0.113.9"), CLIENT)
    now, checked, refused_for_good = T0, 0, 0
    for n in range(30):
        account = (key(throttle.ACCOUNT, f"user{n}@example.org"), ACCOUNT)
        verdict = attempt(session, now, client, account)
        if not verdict.allowed and verdict.retry_after <= CLIENT.max_delay:
            now += verdict.retry_after  # slowed down: the sprayer waits and tries again
            verdict = attempt(session, now, client, account)
        if verdict.allowed:
            checked += 1
        else:
            refused_for_good += 1
            assert verdict.retry_after > CLIENT.max_delay  # refused until the window ends
    assert checked == CLIENT.limit and refused_for_good == 30 - CLIENT.limit
    # Another client is not affected, and the window's end lets this one try again.
    other = (key(throttle.CLIENT, "198.51.100.7"), CLIENT)
    assert attempt(session, now, other).allowed
    assert attempt(session, T0 + CLIENT.window, client).allowed


def test_refused_by_the_account_gives_the_client_its_count_back(session: Session) -> None:
    client_key = key(throttle.CLIENT, "192.0.2.1")
    account = (key(throttle.ACCOUNT, "hr@example.org"), ACCOUNT)
    for _ in range(ACCOUNT.free + 1):
        assert attempt(session, T0, (client_key, CLIENT), account).allowed
    for _ in range(50):  # the real user hammering a slowed-down account from their own client
        assert not attempt(session, T0, (client_key, CLIENT), account).allowed
    assert _failures(session, client_key) == ACCOUNT.free + 1


def test_success_clears_the_account_and_gives_back_the_client(session: Session) -> None:
    client_key, account_key = key(throttle.CLIENT, "192.0.2.2"), key(throttle.ACCOUNT, "a@b.org")
    for _ in range(3):
        attempt(session, T0, (client_key, CLIENT), (account_key, ACCOUNT))
    throttle.clear(session, account_key)
    throttle.give_back(session, client_key, T0)
    session.commit()
    assert _failures(session, account_key) is None
    assert _failures(session, client_key) == 2


def test_expired_keys_are_forgotten(session: Session) -> None:
    gone, kept = key(throttle.CLIENT, "192.0.2.3"), key(throttle.CLIENT, "192.0.2.4")
    attempt(session, T0, (gone, CLIENT))
    attempt(session, T0 + 800, (kept, CLIENT))
    throttle.forget_expired(session, T0 + 900, 900)
    session.commit()
    assert _failures(session, gone) is None and _failures(session, kept) == 1


def _failures(session: Session, key_: str) -> int | None:
    session.expire_all()
    row = session.get(LoginThrottle, key_)
    return None if row is None else row.failures
