"""The one clock: the current time in UTC, without tzinfo, as the database stores it."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Return the current UTC time without tzinfo, as stored in the database."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
