"""Drawings for tests/services/test_drawing.py, importable by the drawing process by name."""

from __future__ import annotations

import os
import time


def whose(_subject: object) -> bytes:
    """Return the id of the process that drew it."""
    return str(os.getpid()).encode()


def slow(seconds: float) -> bytes:
    """Take ``seconds``, then return ``b"slow"``."""
    time.sleep(seconds)
    return b"slow"


def broken(message: str) -> bytes:
    """Fail, saying ``message``."""
    raise ValueError(message)
