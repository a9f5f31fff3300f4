"""Helpers shared by tests of several layers (import from here, not from other test modules)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.models import InboxEntry, Response
from survey.services import mixing


def stored_answers(session: Session, round_id: int | None = None) -> int:
    """Return how many responses are stored, mixed or still waiting in the ballot inbox."""
    mixed = select(func.count()).select_from(Response)
    waiting = select(func.count()).select_from(InboxEntry).where(InboxEntry.kind == mixing.RESPONSE)
    if round_id is not None:
        mixed = mixed.where(Response.round_id == round_id)
        waiting = waiting.where(InboxEntry.round_id == round_id)
    return int(session.scalar(mixed) or 0) + int(session.scalar(waiting) or 0)
