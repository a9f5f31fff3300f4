"""The tables of the survey path: invitations, check-ins, ballots and the sealed answers.

Invariant: nothing in these tables names a person, carries a time, or has an identifier that
follows insertion order. They are keyed by random or hashed bytes and, on SQLite, declared
``WITHOUT ROWID`` so even physical order is by key (``round_mixes`` holds a round-level time
only; ``ballot_keys`` is one key per storage label, published).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

# Tables that must never link an answer to a person (checked by tests and by the audit).
ANONYMOUS_TABLES = (
    "invitations",
    "responses",
    "comments",
    "ballot_inbox",
    "spent_ballots",
    "check_ins",
    "quarantined_rows",
)


class Invitation(Base):
    """An unused one-time link: only the token's hash and what reporting needs."""

    __tablename__ = "invitations"
    __table_args__ = ({"sqlite_with_rowid": False},)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    band: Mapped[str] = mapped_column(String(32))
    # The ballot key of the storage label (unit, band); the token names it too.
    key_id: Mapped[int] = mapped_column(default=0)


class BallotKey(Base):
    """The RFC 9474 blind-signature key of one storage label of one round.

    Check-in signs with the private key (wrapped by the instance key, destroyed at close);
    a ballot is accepted for a label only with a signature its public key verifies. The
    public keys and their fingerprints are published, so a per-person key would be visible.
    """

    __tablename__ = "ballot_keys"
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    key_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    band: Mapped[str] = mapped_column(String(32))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # SubjectPublicKeyInfo, DER
    wrapped_private_key: Mapped[bytes | None] = mapped_column(LargeBinary)


class CheckIn(Base):
    """A consumed invitation's blind signature, so a check-in whose answer was lost can be
    repeated with the same blinded message (and only with it). Deleted when the round closes.

    The blinded message is uniformly random whatever message it hides, so neither it nor the
    signature over it says anything about the ballot that will carry the unblinded pair.
    """

    __tablename__ = "check_ins"
    __table_args__ = ({"sqlite_with_rowid": False},)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    blinded_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    blind_signature: Mapped[bytes] = mapped_column(LargeBinary)


class SpentBallot(Base):
    """A ballot credential that has been used: its hash, so it is accepted once.

    Nothing here points at the response it came with; ``replay_digest`` only lets the holder of the
    credential learn that an identical retry was already recorded.
    """

    __tablename__ = "spent_ballots"
    __table_args__ = ({"sqlite_with_rowid": False},)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    replay_digest: Mapped[bytes] = mapped_column(LargeBinary(32))


class InboxEntry(Base):
    """A sealed response or comment waiting to be mixed into its table.

    Ballots land here; every few minutes the whole round is rewritten in random order, so no
    stored row keeps the order or the transaction in which a ballot arrived.
    """

    __tablename__ = "ballot_inbox"
    __table_args__ = ({"sqlite_with_rowid": False},)
    id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "response" or "comment"
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    band: Mapped[str] = mapped_column(String(32))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class RoundMix(Base):
    """When a round's ballots were last mixed into storage (a round-level time only)."""

    __tablename__ = "round_mixes"
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    mixed_at: Mapped[dt.datetime] = mapped_column(DateTime)


class QuarantinedRow(Base):
    """A sealed response or comment that failed to open at release, kept for investigation."""

    __tablename__ = "quarantined_rows"
    __table_args__ = ({"sqlite_with_rowid": False},)
    id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # RESPONSE or COMMENT
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    band: Mapped[str] = mapped_column(String(32))  # "" for a comment
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class Response(Base):
    """One sealed set of answers. Random id, no time, no person."""

    __tablename__ = "responses"
    __table_args__ = ({"sqlite_with_rowid": False},)
    id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    band: Mapped[str] = mapped_column(String(32))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class Comment(Base):
    """One sealed free-text comment, stored apart from the answers it came with."""

    __tablename__ = "comments"
    __table_args__ = ({"sqlite_with_rowid": False},)
    id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
