"""Programmes, their rounds and releases, and what HR does with them (mail, events, actions).

Invariant: a round's settings and org snapshot freeze when it opens; a release is the immutable
manifest every surface reads. The mail ledger says who was *invited*, never who answered.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.cadence import DEFAULT_WINDOW_DAYS, Cadence
from ..domain.custody import Custody
from ..domain.disclosure import DEFAULT_COMMENT_K, DEFAULT_K
from ..domain.lifecycle import ActionStatus, RoundStatus, round_label
from ..domain.rotation import DEFAULT_ROTATION_EVERY
from .base import Base


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
        return round_label(self.number)


class Release(Base):
    """The immutable manifest of a released round: everything any surface may show."""

    __tablename__ = "releases"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), unique=True)
    released_on: Mapped[dt.date] = mapped_column(Date)
    # Before the manifest (0012): SQLite reads a row's columns in order, and every results
    # request reads the digest, never the manifest once it is kept.
    digest: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict[str, Any]] = mapped_column()
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
