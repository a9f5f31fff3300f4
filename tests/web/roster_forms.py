"""The roster pages as a test drives them: a file to upload, a hidden field of the preview, and
the whole roster read back to prove what changed."""

from __future__ import annotations

import html
import io
import re

from flask import Flask
from sqlalchemy import select

from survey import db
from survey.models import OrgUnit, Person


def upload(text: str | bytes, name: str = "roster.csv") -> dict[str, object]:
    data = text.encode() if isinstance(text, str) else text
    return {"file": (io.BytesIO(data), name)}


def everything(app: Flask) -> tuple[list[tuple[str, int, str, bool]], list[tuple[str, int | None]]]:
    """Return every person and every unit, to prove that nothing changed."""
    with db.session_scope(app) as session:
        people = [
            (p.email, p.unit_id, p.tenure_band, p.active)
            for p in session.scalars(select(Person).order_by(Person.id))
        ]
        units = [
            (u.name, u.parent_id) for u in session.scalars(select(OrgUnit).order_by(OrgUnit.id))
        ]
    return people, units


def hidden(page: str, name: str) -> str:
    match = re.search(rf'id="{name}" name="{name}" type="hidden" value="([^"]*)"', page)
    assert match is not None, f"no hidden {name}"
    return html.unescape(match.group(1))
