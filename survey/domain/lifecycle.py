"""The states a round and an action plan pass through.

Invariant: a round accepts answers only while OPEN and its answers are read only at RELEASE;
the stored value of each state is its name, so renaming a member is a migration.
"""

from __future__ import annotations

import enum


def round_label(number: int) -> str:
    """Return the short name people use for a programme's round ``number``: "R3"."""
    return f"R{number}"


class RoundStatus(enum.StrEnum):
    """The life of a round: answers are accepted only while OPEN, read only at RELEASE."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    RELEASED = "released"


class ActionStatus(enum.StrEnum):
    """Where an action plan stands; employees see it beside the action."""

    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
