"""A programme form as an administrator fills it in, every field valid."""

from __future__ import annotations

GOOD = {
    "name": "Fortnightly pulse",
    "bank": "core-v1",
    "k": "5",
    "comment_k": "10",
    "cadence": "fortnightly",
    "first_open_on": "2026-12-01",
    "window_days": "5",
    "rotation_every": "3",
    "active": "y",
}
