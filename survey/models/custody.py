"""Custodian mode: the people who hold shares of each round's opening key, and those shares.

Invariant: no table here holds a round's opening key or the custody key that wraps it in clear;
fewer than a quorum of shares say nothing about it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Custodian(Base):
    """A named person holding a share of each custodian-mode round's opening key.

    Only the public key derived from their passphrase is stored (salt and scrypt cost beside
    it), so shares can be sealed to them without them and opened only with them.
    """

    __tablename__ = "custodians"
    __table_args__ = (UniqueConstraint("program_id", "label"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(254))  # an email or another label they know
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    cost: Mapped[int] = mapped_column()  # scrypt N
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(default=True)


class RoundCustody(Base):
    """A custodian-mode round's private key, wrapped by a custody key that is never stored."""

    __tablename__ = "round_custody"
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    quorum: Mapped[int] = mapped_column()
    wrapped_private_key: Mapped[bytes] = mapped_column(LargeBinary)


class CustodyShare(Base):
    """One custodian's share of one round's custody key, sealed to their public key."""

    __tablename__ = "custody_shares"
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    custodian_id: Mapped[int] = mapped_column(ForeignKey("custodians.id"), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class PendingShare(Base):
    """A share a custodian entered on the custody page, held until the quorum is reached.

    Wrapped by the instance key, bound to its expiry, and deleted at release, at abandon or
    once expired: fewer than a quorum of shares say nothing about the key.
    """

    __tablename__ = "pending_shares"
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    custodian_id: Mapped[int] = mapped_column(ForeignKey("custodians.id"), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
