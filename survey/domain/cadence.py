"""When a programme's rounds open and close.

Invariant: dates depend only on the programme's settings and the previous round, never on
when a tick happens to run; a missed tick opens the round late instead of opening several.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum

PERIOD_DAYS = {"weekly": 7, "fortnightly": 14}
MIN_WINDOW_DAYS = 1
DEFAULT_WINDOW_DAYS = 5  # a new programme's rounds stay open this many days


class Cadence(enum.StrEnum):
    """How often a programme opens a round by itself (``manual``: only when an admin says)."""

    MANUAL = "manual"
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"


def add_period(day: dt.date, cadence: str) -> dt.date:
    """Return the date one cadence period after ``day`` (months keep the day where possible)."""
    if cadence in PERIOD_DAYS:
        return day + dt.timedelta(days=PERIOD_DAYS[cadence])
    if cadence == "monthly":
        year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
        return day.replace(
            year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
        )
    raise ValueError(f"unknown cadence {cadence!r}")


def max_window(cadence: str) -> int:
    """Return the longest open window that ends before the next round would open."""
    if cadence == "monthly":
        return 27
    return PERIOD_DAYS[cadence] - 1


def next_open(first_open_on: dt.date, last_opened_on: dt.date | None, cadence: str) -> dt.date:
    """Return when the next round is due: the first date, or one period after the last one."""
    if last_opened_on is None:
        return first_open_on
    return add_period(last_opened_on, cadence)


def closes_on(opened_on: dt.date, window_days: int) -> dt.date:
    """Return the day a round opened on ``opened_on`` closes (the window is whole days)."""
    return opened_on + dt.timedelta(days=window_days)


def reminder_on(opened_on: dt.date, window_days: int) -> dt.date:
    """Return the day reminders go out: halfway through the window, at least one day in."""
    return opened_on + dt.timedelta(days=max(1, window_days // 2))
