"""The typed ORM schema.

Invariant: nothing in ``invitations``, ``responses`` or ``comments`` names a person, carries a
time, or has an identifier that follows insertion order. Those three tables are keyed by random
or hashed bytes and, on SQLite, declared ``WITHOUT ROWID`` so even physical order is by key.
Staff, roster and programme tables are ordinary: they describe who may log in and who may be
invited, never who answered what.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .domain.access import Role as Role  # re-exported: roles and their rights live in the domain
from .domain.cadence import DEFAULT_WINDOW_DAYS
from .domain.cadence import Cadence as Cadence  # re-exported, as the enums below
from .domain.custody import Custody as Custody
from .domain.disclosure import DEFAULT_COMMENT_K, DEFAULT_K
from .domain.lifecycle import ActionStatus as ActionStatus
from .domain.lifecycle import RoundStatus as RoundStatus
from .domain.rotation import DEFAULT_ROTATION_EVERY

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
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


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations are deterministic."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON}


class Setting(Base):
    """Instance-wide facts written once at initialisation, such as the key canary."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)


class OrgUnit(Base):
    """A node of the organisation tree (organisation, department, team...)."""

    __tablename__ = "org_units"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[OrgUnit]] = relationship(back_populates="parent")


class Person(Base):
    """Someone on the roster who can be invited. Never referenced by an answer."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    tenure_band: Mapped[str] = mapped_column(String(32), default="unstated")
    active: Mapped[bool] = mapped_column(default=True)
    unit: Mapped[OrgUnit] = relationship()


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


# --- staff accounts (survey/services/accounts.py, throttle.py, scope.py) ---
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


# --- single sign-on (survey/services/sso.py) ---
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


class Program(Base):
    """A recurring pulse: its questions and its disclosure thresholds for future rounds."""

    __tablename__ = "programs"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    bank: Mapped[str] = mapped_column(String(64), default="core-v1")
    k: Mapped[int] = mapped_column(default=DEFAULT_K)
    comment_k: Mapped[int] = mapped_column(default=DEFAULT_COMMENT_K)
    strict_links: Mapped[bool] = mapped_column(default=False)
    # Refuse the no-JavaScript path (check-in and ballot in one request) and the links export.
    unlinkable_required: Mapped[bool] = mapped_column(default=False)
    cadence: Mapped[Cadence] = mapped_column(
        Enum(Cadence, native_enum=False, length=16), default=Cadence.MANUAL
    )
    window_days: Mapped[int] = mapped_column(default=DEFAULT_WINDOW_DAYS)
    # Each rotating theme is asked at least once every ``rotation_every`` rounds.
    rotation_every: Mapped[int] = mapped_column(default=DEFAULT_ROTATION_EVERY)
    # Custody of each round's opening key, fixed when the round opens (custody/retention: 0008).
    custody: Mapped[Custody] = mapped_column(
        Enum(Custody, native_enum=False, length=16), default=Custody.INSTANCE
    )
    custody_quorum: Mapped[int] = mapped_column(default=2)
    # Days a released round's sealed answers are kept for re-analysis; 0 shreds at release.
    retention_days: Mapped[int] = mapped_column(default=0)
    # Differential-privacy budget per release (domain/noise.py); None: off (0009).
    dp_epsilon: Mapped[float | None] = mapped_column(Float)
    first_open_on: Mapped[dt.date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(default=True)
    rounds: Mapped[list[Round]] = relationship(back_populates="program", order_by="Round.number")


class Round(Base):
    """One pulse of a programme; its settings and org snapshot freeze when it opens."""

    __tablename__ = "rounds"
    __table_args__ = (UniqueConstraint("program_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[RoundStatus] = mapped_column(
        Enum(RoundStatus, native_enum=False, length=16), default=RoundStatus.DRAFT
    )
    opens_on: Mapped[dt.date | None] = mapped_column(Date)
    closes_on: Mapped[dt.date | None] = mapped_column(Date)
    k: Mapped[int | None] = mapped_column()
    comment_k: Mapped[int | None] = mapped_column()
    dp_epsilon: Mapped[float | None] = mapped_column(Float)  # the programme's, frozen at open
    items: Mapped[dict[str, Any] | None] = mapped_column()
    # Deferred: roster-sized, and the survey routes never need it on the way to a ballot.
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(deferred=True)
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    wrapped_private_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    wrapped_token_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Retention: when the opening key and sealed answers go, and when they went.
    shred_after: Mapped[dt.date | None] = mapped_column(Date)
    shredded_on: Mapped[dt.date | None] = mapped_column(Date)
    program: Mapped[Program] = relationship(back_populates="rounds")

    @property
    def label(self) -> str:
        """Return the short name people use for this round."""
        return f"R{self.number}"


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


class Release(Base):
    """The immutable manifest of a released round: everything any surface may show."""

    __tablename__ = "releases"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), unique=True)
    released_on: Mapped[dt.date] = mapped_column(Date)
    manifest: Mapped[dict[str, Any]] = mapped_column()
    digest: Mapped[str] = mapped_column(String(64))
    # Respondents per atom (unit|band), counted at release, so the release can still be
    # re-audited after its sealed rows are shredded. Never published.
    atom_counts: Mapped[dict[str, Any] | None] = mapped_column()
    round: Mapped[Round] = relationship()


class ParticipationSnapshot(Base):
    """Org-wide participation of an open round, rounded, recorded at most once a day."""

    __tablename__ = "participation_snapshots"
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    pct_rounded: Mapped[int] = mapped_column()


class QuestionBankRecord(Base):
    """A custom question bank imported by an admin (the shipped banks live in the package)."""

    __tablename__ = "question_banks"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column()


class Delivery(Base):
    """One email to send to one invited person: the ledger that makes sending resumable.

    It says who was *invited* (already known from the round's snapshot), never who answered.
    """

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("round_id", "person_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    kind: Mapped[str] = mapped_column(String(16))  # "invitation" or "reminder"
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(String(500), default="")


class MailRun(Base):
    """The latest run of one round's invitations or reminders: when it started, how it ended.

    Lets the admin page say whether sending finished and why a run stopped; the counts are in
    ``deliveries``. Like the ledger, it says nothing about who answered.
    """

    __tablename__ = "mail_runs"
    __table_args__ = (UniqueConstraint("round_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    kind: Mapped[str] = mapped_column(String(16))  # "invitation" or "reminder"
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # None: running or cut
    stopped: Mapped[str] = mapped_column(String(500), default="")  # why it stopped early


class TimelineEvent(Base):
    """Something that happened, annotated by HR on the trend charts (e.g. "re-org")."""

    __tablename__ = "timeline_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    on: Mapped[dt.date] = mapped_column(Date)
    label: Mapped[str] = mapped_column(String(80))


class Action(Base):
    """ "You said, we did": an action plan answering a released round, per theme and unit."""

    __tablename__ = "actions"
    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    theme: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    recorded_on: Mapped[dt.date] = mapped_column(Date)
    # The unit it is for (None: the whole organisation), the staff user who owns it, when it
    # is due and where it stands (migration 0010; actions recorded before it are done).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[ActionStatus] = mapped_column(
        Enum(ActionStatus, native_enum=False, length=16),
        default=ActionStatus.PLANNED,
        server_default=ActionStatus.PLANNED.name,  # SQLAlchemy stores enum names
    )


class ActionUpdate(Base):
    """A dated note on an action plan, and the status it left the action in."""

    __tablename__ = "action_updates"
    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), index=True)
    recorded_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[ActionStatus] = mapped_column(Enum(ActionStatus, native_enum=False, length=16))
    note: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(254), default="")


class AuditEvent(Base):
    """A staff action worth recording (release, link export). Never about a respondent."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")


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
