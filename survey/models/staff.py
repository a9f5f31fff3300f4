"""Staff accounts and what they did: logins, sessions, single sign-on, the audit trail.

Invariant: these tables describe who may log in and what staff did, never a respondent: an
audit event names its staff actor, throttling keys are keyed hashes, never an address or an
email in clear.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.access import Role
from .base import Base


class User(Base):
    """A staff account: admin, HR, leadership or a manager of some units."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # Empty until an invited user sets one through their link (no password then matches).
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    # --- accounts (0006): a disabled account cannot log in and has no live session.
    active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    units: Mapped[list[ManagerUnit]] = relationship(
        cascade="all, delete-orphan", order_by="ManagerUnit.unit_id"
    )


class ManagerUnit(Base):
    """A unit a manager account is bound to: they see its released results (0006)."""

    __tablename__ = "manager_units"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("org_units.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AccountToken(Base):
    """A one-time, expiring set-password link of a staff account: only its hash (0006)."""

    __tablename__ = "account_tokens"
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class LoginThrottle(Base):
    """Recent failed logins of one account or one client, shared by every worker (0006).

    ``key`` is a keyed hash (never an address or an email in clear); times are epoch seconds so
    the database can compute the next allowed attempt in the same statement that counts one.
    """

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column()
    first_at: Mapped[int] = mapped_column(BigInteger)
    next_at: Mapped[int] = mapped_column(BigInteger)


class StaffSession(Base):
    """A server-side record of a logged-in staff session, deleted at logout."""

    __tablename__ = "staff_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    user: Mapped[User] = relationship()


class SsoIdentity(Base):
    """The OpenID Connect identity (issuer, subject) a staff account logs in with: one per
    issuer per account, and one account per identity."""

    __tablename__ = "sso_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"), UniqueConstraint("user_id", "issuer"))
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    linked_at: Mapped[dt.datetime] = mapped_column(DateTime)
    user: Mapped[User] = relationship()


class AuditEvent(Base):
    """A staff action worth recording (release, link export). Never about a respondent."""

    __tablename__ = "audit_events"
    # Every survey page lists its round's link hand-outs (by detail and action): without this
    # index each page view read the whole trail, which only grows.
    __table_args__ = (Index("ix_audit_events_detail_action", "detail", "action"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
