"""Timeline events: what HR marks on a programme's trend charts ("re-org", "layoffs"), and
the reading of recorded actions ("you said, we did") for reports.

Invariants: an event belongs to one programme, has a date and a label of 1..80 characters on
one line; events are annotations, never results, so adding or removing one changes how charts
look (and so their cache keys) but never what any release publishes. Services flush; the view
commits.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..domain.reporting import Event
from ..models import Program, TimelineEvent

MAX_LABEL_CHARS = 80  # the column's width
EARLIEST = dt.date(2000, 1, 1)
LATEST_DAYS_AHEAD = 5 * 366  # an event further in the future is a typing mistake


class EventError(ValueError):
    """Raised when an event cannot be added or removed; the message says why."""


@dataclass(frozen=True)
class EventView:
    """One event as the trends page lists it."""

    id: int
    on: dt.date
    label: str


def clean_label(label: str) -> str:
    """Return ``label`` on one line with runs of whitespace collapsed, or raise EventError."""
    cleaned = re.sub(r"\s+", " ", label).strip()
    if not cleaned:
        raise EventError("an event needs a label.")
    if len(cleaned) > MAX_LABEL_CHARS:
        raise EventError(f"an event label has at most {MAX_LABEL_CHARS} characters.")
    return cleaned


# Read by every trends and reports page, so built once (plain columns, no objects).
_EVENTS = (
    select(TimelineEvent.id, TimelineEvent.on, TimelineEvent.label)
    .where(TimelineEvent.program_id == bindparam("program_id"))
    .order_by(TimelineEvent.on, TimelineEvent.id)
)


def list_events(session: Session, program_id: int) -> list[EventView]:
    """Return a programme's events, oldest first."""
    rows = session.connection().execute(_EVENTS, {"program_id": program_id})
    return [EventView(*row) for row in rows]


def chart_events(session: Session, program_id: int) -> list[Event]:
    """Return a programme's events as the reporting domain places them on charts."""
    return [Event(e.on.isoformat(), e.label) for e in list_events(session, program_id)]


def add_event(
    session: Session, program_id: int, on: dt.date, label: str, today: dt.date
) -> EventView:
    """Add an event to a programme's timeline; the caller commits.

    :raises EventError: for an unknown programme, an implausible date or a bad label.
    """
    if session.get(Program, program_id) is None:
        raise EventError(f"there is no programme {program_id}.")
    latest = today + dt.timedelta(days=LATEST_DAYS_AHEAD)
    if not EARLIEST <= on <= latest:
        raise EventError(f"the date must lie between {EARLIEST} and {latest}.")
    event = TimelineEvent(program_id=program_id, on=on, label=clean_label(label))
    session.add(event)
    session.flush()
    return EventView(event.id, event.on, event.label)


def delete_event(session: Session, program_id: int, event_id: int) -> EventView:
    """Remove one event of a programme and return what it was; the caller commits.

    :raises EventError: if the programme has no such event.
    """
    event = session.get(TimelineEvent, event_id)
    if event is None or event.program_id != program_id:
        raise EventError("that event does not exist (it may have been removed already).")
    removed = EventView(event.id, event.on, event.label)
    session.delete(event)
    session.flush()
    return removed
