"""Staff accounts: Argon2id password hashes, their life cycle, set-password links, sessions.

Invariants:
- A staff session is valid only while its row exists and its account is active, so logout
  (which deletes the row) kills every copy of the cookie, and a password change, a disabled
  account or "log out everywhere" deletes every row of that account at once.
- Set-password links are one-time and expiring; only their SHA-256 is stored. Using one sets
  the password, deletes the link and ends every session of the account.
- There is always an active admin: the last one cannot be disabled, deleted or given
  another role.
- Login attempts are throttled per account and per client before a password is checked
  (:mod:`survey.services.throttle`); every refusal reads the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session, selectinload

from ..domain.mail import parse_address, parse_sender, sender_domain
from ..models import AccountToken, ManagerUnit, OrgUnit, Role, StaffSession, User
from . import org, throttle, transports

# OWASP Password Storage Cheat Sheet: Argon2id, m = 19 MiB, t = 2, p = 1 (its minimum).
OWASP_TIME_COST = 2
OWASP_MEMORY_KIB = 19 * 1024
HASHER = PasswordHasher(time_cost=OWASP_TIME_COST, memory_cost=OWASP_MEMORY_KIB, parallelism=1)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # Argon2 takes any length; this only bounds the work per request
NO_PASSWORD = ""  # an invited account before its link is used: no password matches
_DUMMY_HASH = HASHER.hash("candor-timing-equaliser")
# One message for every refusal, so the form never tells which accounts exist, are disabled
# or are being slowed down.
LOGIN_REFUSED = "Email or password is wrong."
LOGIN_WAIT = "Too many attempts: wait {seconds} seconds, then try again."
# Where a set-password link points (the web route is declared with it too).
SET_PASSWORD_PATH = "/account/set-password/"  # noqa: S105 - a path, not a password


def configure_hashing(time_cost: int, memory_kib: int) -> None:
    """Set the Argon2id cost of new password hashes (the app factory calls this from its
    configuration; production refuses anything below OWASP's minimum, tests go cheaper)."""
    global HASHER, _DUMMY_HASH
    if (HASHER.time_cost, HASHER.memory_cost) == (time_cost, memory_kib):
        return
    HASHER = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
    _DUMMY_HASH = HASHER.hash("candor-timing-equaliser")


class AccountError(ValueError):
    """Raised for an unusable email, role, password or change; the message is shown as is."""


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a login attempt: a user on success, else a message for the form.

    ``retry_after`` is set (seconds) when the attempt was refused unchecked by throttling.
    """

    user: User | None
    message: str = ""
    retry_after: int = 0


@dataclass(frozen=True)
class Invitation:
    """A new or re-invited account and its set-password link's secret (shown once)."""

    user: User
    token: str
    expires_at: dt.datetime


def normalise_email(email: str) -> str:
    """Return the email trimmed and lower-cased, or raise if it cannot be an address."""
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or len(email) > 254:
        raise AccountError(f"{email!r} is not an email address.")
    return email


def parse_role(role: str) -> Role:
    """Return the role named ``role``, or raise saying which exist."""
    try:
        return Role(role)
    except ValueError:
        raise AccountError(f"role must be one of {', '.join(r.value for r in Role)}.") from None


def check_password(password: str) -> None:
    """Raise unless ``password`` is long enough (and not absurdly long)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"passwords may have at most {MAX_PASSWORD_LENGTH} characters.")


def create_user(session: Session, email: str, role: str, password: str | None) -> User:
    """Add a staff account (without a password: it is set through an invitation link)."""
    email = normalise_email(email)
    role_value = parse_role(role)
    if password is not None:
        check_password(password)
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise AccountError(f"there is already an account for {email}.")
    hashed = HASHER.hash(password) if password is not None else NO_PASSWORD
    user = User(email=email, role=role_value, password_hash=hashed, active=True)
    session.add(user)
    session.flush()
    return user


def invite_user(
    session: Session,
    email: str,
    role: str,
    now: dt.datetime,
    hours: int,
    units: Collection[int] = (),
) -> Invitation:
    """Add an account without a password and return its set-password link's secret."""
    user = create_user(session, email, role, None)
    if units:
        set_units(session, user, units)
    return issue_link(session, user, now, hours)


def issue_link(session: Session, user: User, now: dt.datetime, hours: int) -> Invitation:
    """Return a new set-password link for ``user``; any earlier link of theirs stops working."""
    session.execute(delete(AccountToken).where(AccountToken.expires_at < now))
    session.execute(delete(AccountToken).where(AccountToken.user_id == user.id))
    # "<id>.<secret>": the log filter redacts anything of this shape (survey.logs.CODE).
    token = f"{user.id}.{secrets.token_urlsafe(32)}"
    expires = now + dt.timedelta(hours=hours)
    session.add(AccountToken(token_hash=_digest(token), user_id=user.id, expires_at=expires))
    session.flush()
    return Invitation(user, token, expires)


def link_user(session: Session, token: str, now: dt.datetime) -> User | None:
    """Return the active account a set-password link is for, or None if it is not usable."""
    row = session.get(AccountToken, _digest(token))
    if row is None or row.expires_at < now:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def redeem_link(session: Session, token: str, password: str, now: dt.datetime) -> User:
    """Set the password of a link's account, use the link up and end the account's sessions."""
    user = link_user(session, token, now)
    if user is None:
        raise AccountError("This link has expired or was already used; ask an admin for a new one.")
    replace_password(session, user, password)
    return user


def set_password(user: User, password: str) -> None:
    """Replace a user's password hash (before any session exists: set-up and the demo)."""
    check_password(password)
    user.password_hash = HASHER.hash(password)


def replace_password(session: Session, user: User, password: str) -> None:
    """Replace a user's password; every session and set-password link of theirs ends."""
    set_password(user, password)
    end_all_sessions(session, user)
    session.execute(delete(AccountToken).where(AccountToken.user_id == user.id))


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """Change one's own password, which needs the current one; all sessions end."""
    if not _verify(user.password_hash or _DUMMY_HASH, current) or not user.password_hash:
        raise AccountError("The current password is wrong; nothing was changed.")
    if new == current:
        raise AccountError("The new password is the same as the current one.")
    replace_password(session, user, new)


def list_users(session: Session) -> list[User]:
    """Return every staff account, by email, with its units (one query for all of them)."""
    return list(
        session.scalars(select(User).options(selectinload(User.units)).order_by(User.email))
    )


def find_user(session: Session, email: str) -> User:
    """Return the account of ``email``, or raise saying there is none."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise AccountError(f"there is no account for {email.strip().lower()}.")
    return user


def change_role(session: Session, user: User, role: str) -> None:
    """Give ``user`` another role; a manager's units are kept only while they are a manager."""
    new = parse_role(role)
    if new is not Role.ADMIN:
        _keep_an_admin(session, user, "given another role")
    user.role = new
    if new is not Role.MANAGER:
        user.units.clear()


def set_units(session: Session, user: User, unit_ids: Collection[int]) -> None:
    """Bind a manager to exactly ``unit_ids``."""
    if user.role is not Role.MANAGER:
        raise AccountError("Only managers are bound to units.")
    wanted = set(unit_ids)
    known = set(session.scalars(select(OrgUnit.id).where(OrgUnit.id.in_(wanted))))
    if wanted - known:
        raise AccountError(f"no such unit: {', '.join(map(str, sorted(wanted - known)))}.")
    user.units[:] = [ManagerUnit(unit_id=unit) for unit in sorted(wanted)]
    session.flush()


def unit_choices(session: Session) -> list[tuple[int, str]]:
    """Return (id, path) of every unit a manager can be bound to, in path order."""
    paths = org.unit_paths(list(session.scalars(select(OrgUnit))))
    return sorted(paths.items(), key=lambda item: item[1])


def disable(session: Session, user: User) -> None:
    """Stop ``user`` from logging in, and end every session they have."""
    _keep_an_admin(session, user, "disabled")
    user.active = False
    end_all_sessions(session, user)
    session.execute(delete(AccountToken).where(AccountToken.user_id == user.id))


def enable(user: User) -> None:
    """Let a disabled account log in again (with the password it had)."""
    user.active = True


def delete_user(session: Session, user: User) -> None:
    """Delete ``user`` with their sessions, links and units."""
    _keep_an_admin(session, user, "deleted")
    end_all_sessions(session, user)
    session.delete(user)
    session.flush()


def _keep_an_admin(session: Session, user: User, what: str) -> None:
    """Raise if ``user`` is the last active admin (the other admins' rows are locked on
    PostgreSQL, so two admins cannot remove each other at the same moment)."""
    if user.role is not Role.ADMIN or not user.active:
        return
    others = session.scalars(
        select(User.id)
        .where(User.role == Role.ADMIN, User.active.is_(True), User.id != user.id)
        .with_for_update()
    ).all()
    if not others:
        raise AccountError(f"{user.email} is the last active admin and cannot be {what}.")


def authenticate(
    session: Session,
    email: str,
    password: str,
    now: dt.datetime,
    client: str,
    secret: bytes,
    device: str = "",
) -> LoginResult:
    """Check a login after the throttle admitted it; on refusal, say only what the form says.

    The throttle counts this attempt before the password is checked; the caller commits both
    the count (:func:`admit_login`) and the outcome. ``device`` is the browser's known-device
    id for this account, if it has one (:func:`survey.services.throttle.known_device`).
    """
    address = email.strip().lower()
    user = session.scalar(select(User).where(User.email == address))
    usable = user is not None and user.active and user.password_hash != NO_PASSWORD
    # Spend the same time whether or not the account exists and can log in.
    ok = _verify(user.password_hash if usable and user else _DUMMY_HASH, password) and usable
    if not ok or user is None:
        return LoginResult(None, LOGIN_REFUSED)
    epoch = _epoch(now)
    throttle.clear(session, throttle.account_key(address, device, secret))
    throttle.give_back(session, throttle.key_for(throttle.CLIENT, client, secret), epoch)
    user.last_login_at = now
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    return LoginResult(user)


def admit_login(
    session: Session,
    email: str,
    now: dt.datetime,
    rules: throttle.Rules,
    client: str,
    secret: bytes,
    device: str = "",
) -> LoginResult | None:
    """Count a login attempt against its client and its account (or the account's known
    device); return the refusal if it must wait (the caller commits before checking the
    password), else None."""
    epoch = _epoch(now)
    throttle.forget_expired(session, epoch, max(rules.account.window, rules.client.window))
    verdict = throttle.admit(
        session,
        [
            (throttle.key_for(throttle.CLIENT, client, secret), rules.client),
            (throttle.account_key(email.strip().lower(), device, secret), rules.account),
        ],
        epoch,
    )
    if verdict.allowed:
        return None
    return LoginResult(
        None, LOGIN_WAIT.format(seconds=verdict.retry_after), retry_after=verdict.retry_after
    )


def _epoch(now: dt.datetime) -> int:
    return int(now.replace(tzinfo=dt.UTC).timestamp())


def _verify(hashed: str, password: str) -> bool:
    try:
        return HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# --- sessions --------------------------------------------------------------------------------


def start_session(session: Session, user: User, now: dt.datetime, hours: int) -> str:
    """Create a new server-side session for ``user`` and return its id."""
    sid = secrets.token_urlsafe(32)
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
    session.add(StaffSession(id=sid, user_id=user.id, expires_at=now + dt.timedelta(hours=hours)))
    session.flush()
    return sid


@dataclass(frozen=True)
class SignedIn:
    """The account of a live staff session, as every staff request reads it: who, and in
    which role. A view that changes the account loads it (``session.get(User, id)``)."""

    id: int
    email: str
    role: Role

    @classmethod
    def of(cls, user: User) -> SignedIn:
        """Return what a request knows of ``user`` once signed in."""
        return cls(user.id, user.email, user.role)


# Read on every staff request: the session row, its expiry and the account in one query, built
# once (on SQLite, building a statement took longer than running it: 0.10 against 0.06 ms), as
# plain columns (an ORM object cost 0.16 ms more per request).
_SESSION_USER = (
    select(User.id, User.email, User.role)
    .join(StaffSession, StaffSession.user_id == User.id)
    .where(
        StaffSession.id == bindparam("sid"),
        StaffSession.expires_at >= bindparam("now"),
        User.active,
    )
)


def session_user(session: Session, sid: str, now: dt.datetime) -> SignedIn | None:
    """Return the active account of a live session id, or None if it ended or expired."""
    row = session.connection().execute(_SESSION_USER, {"sid": sid, "now": now}).first()
    return SignedIn(*row) if row is not None else None


def end_session(session: Session, sid: str) -> None:
    """Delete a session so no copy of its cookie works again."""
    session.execute(delete(StaffSession).where(StaffSession.id == sid))


def end_all_sessions(session: Session, user: User | SignedIn) -> int:
    """Delete every session of ``user`` (every browser, every copy of a cookie); return how many."""
    count = session.scalar(
        select(func.count()).select_from(StaffSession).where(StaffSession.user_id == user.id)
    )
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    return int(count or 0)


# --- the set-password link and its email -------------------------------------------------------


def link_url(public_url: str, token: str) -> str:
    """Return the set-password link for ``token`` under the instance's public URL."""
    return public_url.rstrip("/") + SET_PASSWORD_PATH + token


def mail_link(config: Mapping[str, Any], invitation: Invitation) -> str:
    """Email a set-password link through the configured mail transport.

    Return what happened as a sentence for the admin: sent, not configured, or the failure.
    """
    url = link_url(str(config["PUBLIC_URL"]), invitation.token)
    try:
        message = invitation_message(config, invitation.user.email, url, invitation.expires_at)
        with transports.mailer_from_config(config) as sink:
            sink.send(message)
    except transports.MailError as exc:
        return f"Pass the link on yourself: it was not emailed. {exc}"
    return f"The link was emailed to {invitation.user.email}."


# --- the invitation email --------------------------------------------------------------------


def invitation_message(
    config: Mapping[str, Any], recipient: str, url: str, expires_at: dt.datetime
) -> EmailMessage:
    """Return the email that hands a set-password link to a new or reset account."""
    sender = str(config["MAIL_FROM"])
    message = EmailMessage()
    message["Subject"] = "Candor: set your password"
    message["From"] = parse_sender(sender)
    message["To"] = parse_address(recipient)
    message["Message-ID"] = make_msgid(domain=sender_domain(sender))
    message["Date"] = formatdate(usegmt=True)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        "A Candor staff account was set up for you (or its password reset).\n\n"
        f"Set your password here; the link works once, until {expires_at:%Y-%m-%d %H:%M} UTC:\n"
        f"{url}\n\n"
        "If you did not expect this, ignore this message: nothing happens without the link.\n"
    )
    return message
