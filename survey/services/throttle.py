"""Login throttling that every worker and every host shares: slow guesses down, then refuse them.

Invariants:
- Each attempt is counted *before* its password is checked, in one statement that also
  decides when the next attempt may come (``INSERT … ON CONFLICT DO UPDATE … WHERE next_at <=
  now RETURNING``), so parallel guesses on several workers or hosts cannot slip past the count:
  an attempt the statement does not count is refused unchecked.
- A key (one account, or one client address) has :attr:`Rule.free` failures in a window at
  full speed; after that each failure doubles the wait before the next attempt, up to
  :attr:`Rule.max_delay` seconds. A key with a :attr:`Rule.limit` is refused outright once it
  reaches that many failures, until its window ends. Accounts have no limit: the most an
  attacker can make the real user wait is ``max_delay``, and the right password then works.
  Clients do, so one client spraying guesses over many accounts is stopped.
- A successful login clears its account's failures and gives back the client's count for that
  attempt, so colleagues behind one address are not slowed by each other's logins.
- A browser that logged in to an account before carries a signed known-device cookie; its
  attempts on that account count on their own key, so an attacker elsewhere can slow down
  new browsers of the account but never its owner's own.
- Keys are keyed hashes of the email or the address: the table names nobody in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import LoginThrottle

ACCOUNT = "account"
CLIENT = "client"


@dataclass(frozen=True)
class Rule:
    """How fast one key may guess.

    :param free: failures in a window before any wait.
    :param max_delay: the longest wait between two attempts, in seconds.
    :param window: seconds a run of failures counts for, from its first.
    :param limit: failures after which attempts are refused until the window ends (None: never).
    """

    free: int
    max_delay: int
    window: int
    limit: int | None = None

    def delay(self, failures: int) -> int:
        """Return the seconds to wait after ``failures`` failures in a window."""
        if failures <= self.free:
            return 0
        return int(min(self.max_delay, 2 ** (failures - self.free - 1)))


@dataclass(frozen=True)
class Rules:
    """The rule for accounts and the rule for clients."""

    account: Rule
    client: Rule


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may check its password now, else how many seconds to wait."""

    allowed: bool
    retry_after: int = 0


def rules_from_config(config: Mapping[str, Any]) -> Rules:
    """Return the throttling rules the configuration sets (``LOGIN_*``)."""
    window = int(config["LOGIN_WINDOW_MINUTES"]) * 60
    max_delay = int(config["LOGIN_MAX_DELAY_SECONDS"])
    return Rules(
        account=Rule(int(config["LOGIN_ACCOUNT_FREE_FAILURES"]), max_delay, window),
        client=Rule(
            int(config["LOGIN_CLIENT_FREE_FAILURES"]),
            max_delay,
            window,
            limit=int(config["LOGIN_CLIENT_MAX_FAILURES"]),
        ),
    )


def key_for(kind: str, value: str, secret: bytes) -> str:
    """Return the table key of an account (normalised email) or a client (address)."""
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def device_cookie(email: str, secret: bytes) -> str:
    """Return a new known-device value for a browser that just logged in as ``email``."""
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_device_mac(email, nonce, secret)}"


def known_device(email: str, cookie: str, secret: bytes) -> str:
    """Return the device id in ``cookie`` if it was issued for ``email``, else ``""``.

    A browser that logged in as an account before counts its failures on its own key, so
    others' guesses at that account never slow its owner down there (OWASP "device cookies").
    """
    nonce, _, mac = cookie.partition(".")
    if not nonce or not hmac.compare_digest(mac, _device_mac(email, nonce, secret)):
        return ""
    return nonce


def _device_mac(email: str, nonce: str, secret: bytes) -> str:
    return hmac.new(secret, f"device:{email}:{nonce}".encode(), hashlib.sha256).hexdigest()


def account_key(email: str, device: str, secret: bytes) -> str:
    """Return the key an account's attempts count on: its own, or that of a known device."""
    return key_for(ACCOUNT, f"{email}|{device}" if device else email, secret)


def admit(session: Session, keys: Sequence[tuple[str, Rule]], now: int) -> Verdict:
    """Count an attempt against every key, in order; refuse it if any key must wait.

    A refused attempt gives back what it counted on the keys before the one that refused it,
    so a real user retrying a slowed-down account does not run up their own client's count.
    The caller commits before checking the password (a concurrent attempt then sees this one).
    """
    counted: list[str] = []
    for key, rule in keys:
        if _count(session, key, rule, now):
            counted.append(key)
            continue
        for earlier in counted:
            give_back(session, earlier, now)
        wait = session.scalar(select(LoginThrottle.next_at).where(LoginThrottle.key == key))
        return Verdict(False, max(1, int(wait or now) - now))
    return Verdict(True)


def _count(session: Session, key: str, rule: Rule, now: int) -> bool:
    """Count one attempt on ``key`` unless it must wait; return whether it was counted."""
    expired = LoginThrottle.first_at <= now - rule.window
    failures = case((expired, 1), else_=LoginThrottle.failures + 1)
    first_at = case((expired, now), else_=LoginThrottle.first_at)
    insert = (postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert)(
        LoginThrottle
    )
    statement = (
        insert.values(key=key, failures=1, first_at=now, next_at=now + rule.delay(1))
        .on_conflict_do_update(
            index_elements=[LoginThrottle.key],
            set_={
                "failures": failures,
                "first_at": first_at,
                "next_at": _next_at(rule, failures, first_at, now),
            },
            where=(LoginThrottle.next_at <= now) | expired,
        )
        .returning(LoginThrottle.failures)
    )
    return session.execute(statement).first() is not None


def _next_at(
    rule: Rule, failures: ColumnElement[Any], first_at: ColumnElement[Any], now: int
) -> ColumnElement[Any]:
    """Return SQL for the time of the next allowed attempt after ``failures`` failures."""
    steps: list[tuple[ColumnElement[bool], Any]] = [(failures <= rule.free, now)]
    n = rule.free + 1
    while rule.delay(n) < rule.max_delay:
        steps.append((failures == n, now + rule.delay(n)))
        n += 1
    if rule.limit is not None:
        steps.insert(0, (failures >= rule.limit, first_at + rule.window))
    return case(*steps, else_=now + rule.max_delay)


def give_back(session: Session, key: str, now: int) -> None:
    """Undo one counted attempt on ``key``, and the wait it started."""
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key, LoginThrottle.failures > 0)
        .values(failures=LoginThrottle.failures - 1, next_at=now)
    )


def clear(session: Session, key: str) -> None:
    """Forget every failure of ``key`` (its account logged in, or its password was reset)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def forget_expired(session: Session, now: int, longest_window: int) -> None:
    """Delete keys whose window ended and whose wait is over: they hold nothing any more."""
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.first_at <= now - longest_window, LoginThrottle.next_at <= now
        )
    )


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name
