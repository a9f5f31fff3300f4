"""Staff accounts: Argon2id password hashes, login throttling and server-side sessions.

Invariant: a staff session is valid only while its row exists, so logout (which deletes it)
kills every copy of the cookie; each login creates a new session id.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..models import Role, StaffSession, User

# OWASP Password Storage Cheat Sheet: Argon2id, m = 19 MiB, t = 2, p = 1 (its minimum).
OWASP_TIME_COST = 2
OWASP_MEMORY_KIB = 19 * 1024
HASHER = PasswordHasher(time_cost=OWASP_TIME_COST, memory_cost=OWASP_MEMORY_KIB, parallelism=1)
MIN_PASSWORD_LENGTH = 12
_DUMMY_HASH = HASHER.hash("candor-timing-equaliser")


def configure_hashing(time_cost: int, memory_kib: int) -> None:
    """Set the Argon2id cost of new password hashes (the app factory calls this from its
    configuration; production refuses anything below OWASP's minimum, tests go cheaper)."""
    global HASHER, _DUMMY_HASH
    if (HASHER.time_cost, HASHER.memory_cost) == (time_cost, memory_kib):
        return
    HASHER = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
    _DUMMY_HASH = HASHER.hash("candor-timing-equaliser")


class AccountError(ValueError):
    """Raised for an unusable email, role or password; the message is shown to the operator."""


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a login attempt: a user on success, else a message for the form."""

    user: User | None
    message: str = ""


def normalise_email(email: str) -> str:
    """Return the email trimmed and lower-cased, or raise if it cannot be an address."""
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or len(email) > 254:
        raise AccountError(f"{email!r} is not an email address.")
    return email


def create_user(session: Session, email: str, role: str, password: str) -> User:
    """Add a staff account; the caller commits."""
    email = normalise_email(email)
    try:
        role_value = Role(role)
    except ValueError:
        raise AccountError(f"role must be one of {', '.join(r.value for r in Role)}.") from None
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters.")
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise AccountError(f"there is already an account for {email}.")
    user = User(email=email, role=role_value, password_hash=HASHER.hash(password))
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Replace a user's password hash."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters.")
    user.password_hash = HASHER.hash(password)


def authenticate(
    session: Session,
    email: str,
    password: str,
    now: dt.datetime,
    max_failures: int,
    lock_minutes: int,
) -> LoginResult:
    """Check a login; count failures and lock the account for a while after too many."""
    # One message for every refusal, so the form never tells which accounts exist or are locked.
    generic = (
        "Email or password is wrong, or the account is locked for a while after too many "
        "failed attempts."
    )
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        _verify(_DUMMY_HASH, password)  # spend the same time as for a real account
        return LoginResult(None, generic)
    if user.locked_until is not None and user.locked_until > now:
        _verify(_DUMMY_HASH, password)
        return LoginResult(None, generic)
    if not _verify(user.password_hash, password):
        # Count in the database, not in Python, so parallel guesses cannot overwrite each other.
        failures = session.execute(
            update(User)
            .where(User.id == user.id)
            .values(failed_logins=User.failed_logins + 1)
            .returning(User.failed_logins)
        ).scalar_one()
        if failures >= max_failures:
            session.execute(
                update(User)
                .where(User.id == user.id)
                .values(locked_until=now + dt.timedelta(minutes=lock_minutes), failed_logins=0)
            )
        return LoginResult(None, generic)
    user.failed_logins = 0
    user.locked_until = None
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    return LoginResult(user)


def _verify(hashed: str, password: str) -> bool:
    try:
        return HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def start_session(session: Session, user: User, now: dt.datetime, hours: int) -> str:
    """Create a new server-side session for ``user`` and return its id."""
    sid = secrets.token_urlsafe(32)
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
    session.add(StaffSession(id=sid, user_id=user.id, expires_at=now + dt.timedelta(hours=hours)))
    session.flush()
    return sid


def session_user(session: Session, sid: str, now: dt.datetime) -> User | None:
    """Return the user of a live session id, or None if it ended or expired."""
    row = session.get(StaffSession, sid)
    if row is None or row.expires_at < now:
        return None
    return row.user


def end_session(session: Session, sid: str) -> None:
    """Delete a session so no copy of its cookie works again."""
    session.execute(delete(StaffSession).where(StaffSession.id == sid))
