"""The audit trail: staff actions worth recording, and what a round's privacy page lists.

Invariant: an event records who did what to which round, never anything about a respondent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..models import AuditEvent, User

LINKS_EXPORTED = "links_exported"
LINKS_PRINTED = "links_printed"


def record(session: Session, actor: str, action: str, detail: str, now: dt.datetime) -> None:
    """Record a staff action in the audit trail (never anything about a respondent)."""
    session.add(AuditEvent(at=now, actor=actor, action=action, detail=detail))


def round_detail(round_id: int) -> str:
    """Return the detail that names a round in the audit trail."""
    return f"round={round_id}"


def first_event(session: Session, action: str, detail: str) -> AuditEvent | None:
    """Return the earliest event of ``action`` with ``detail``, if there is one."""
    return session.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.detail == detail)
        .order_by(AuditEvent.at)
        .limit(1)
    )


@dataclass(frozen=True)
class LinksHandedOut:
    """That a round's links left Candor other than by email: when, and by which role."""

    at: dt.datetime
    role: str


# Built once: this runs on every survey page. The role is the one the exporting account holds
# now; an actor without an account is the operator (the CLI).
HANDED_OUT = (
    select(AuditEvent.at, User.role)
    .outerjoin(User, User.email == AuditEvent.actor)
    .where(
        AuditEvent.action.in_((LINKS_EXPORTED, LINKS_PRINTED)),
        AuditEvent.detail == bindparam("detail"),
    )
    .order_by(AuditEvent.at, AuditEvent.id)
)


def links_handed_out(session: Session, round_id: int) -> list[LinksHandedOut]:
    """Return every export or printing of a round's links, oldest first (for the survey page
    and the round's privacy manifest)."""
    rows = session.connection().execute(HANDED_OUT, {"detail": round_detail(round_id)})
    return [
        LinksHandedOut(at, f"an {role.value} account" if role else "the operator")
        for at, role in rows
    ]
