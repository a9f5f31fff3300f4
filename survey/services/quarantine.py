"""Sealed rows that fail to open at release: named, never silently dropped, set aside on request.

Invariants: a release that meets a row it cannot open (a flipped byte, a row copied from
another round, a row moved to another unit or band) stops and names how many rows failed and
which label they claim. Only an explicit quarantine releases without them, and then they are
moved, still sealed, to ``quarantined_rows`` so that ``responses`` and ``comments`` hold only
what the manifest counted and the audit's re-count from storage stays exact. The quarantine
table is keyed by the rows' own random ids and, like the answers' tables, has no time, no
order and no rowid.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ..models import Comment, QuarantinedRow, Response

RESPONSE = "response"
COMMENT = "comment"
QUARANTINED = "rows_quarantined"  # the audit trail's action when a release sets rows aside


@dataclass(frozen=True)
class FailedRow:
    """A stored row that did not open, with the label it claims."""

    row: Response | Comment
    kind: str
    unit_id: int
    band: str


def failed_response(row: Response) -> FailedRow:
    """Return the failure record of a response that did not open."""
    return FailedRow(row, RESPONSE, row.unit_id, row.band)


def failed_comment(row: Comment) -> FailedRow:
    """Return the failure record of a comment that did not open."""
    return FailedRow(row, COMMENT, row.unit_id, "")


def describe(failed: Sequence[FailedRow], snapshot: Mapping[str, Any]) -> str:
    """Return which labels the failed rows claim, e.g. ``2 responses of Lab/Ops (band 3y+)``."""
    units = snapshot.get("units", {})
    counts = Counter((f.kind, f.unit_id, f.band) for f in failed)
    parts = []
    for (kind, unit_id, band), count in sorted(counts.items()):
        path = units.get(str(unit_id), {}).get("path", "an unknown unit")
        where = f"{path} (unit {unit_id}" + (f", band {band})" if band else ")")
        parts.append(f"{count} {kind}{'' if count == 1 else 's'} of {where}")
    return "; ".join(parts)


def refusal(round_id: int, failed: Sequence[FailedRow], snapshot: Mapping[str, Any]) -> str:
    """Return the sentence a release stops with when rows fail to open."""
    n = len(failed)
    return (
        f"round {round_id} was not released: {n} sealed row{'' if n == 1 else 's'} failed "
        f"the integrity check ({describe(failed, snapshot)}), so they were damaged, tampered "
        "with or moved from another round or label. Investigate, then run "
        f"`candor round release {round_id} --quarantine` to release without them "
        "(they are kept sealed aside)."
    )


def set_aside(session: Session, round_id: int, failed: Sequence[FailedRow]) -> None:
    """Move failed rows, still sealed, out of the answers' tables into ``quarantined_rows``."""
    for f in failed:
        session.add(
            QuarantinedRow(
                id=f.row.id,
                round_id=round_id,
                kind=f.kind,
                unit_id=f.unit_id,
                band=f.band,
                sealed=f.row.sealed,
            )
        )
        session.delete(f.row)
    session.flush()
