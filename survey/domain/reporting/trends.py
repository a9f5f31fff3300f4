"""Trends: one unit's figure for one theme, round after round, as table rows and chart input.

Invariant: every released round has a row. A round that did not ask the theme reads
:data:`~.wording.NOT_ASKED_TEXT`, a unit missing from a round's snapshot reads
``ABSENT_TEXT``, a hidden cell ``HIDDEN_TEXT``, and none of them carries a number; a uniform
cell keeps only its coded index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..chartinput import TrendPoint, TrendSeries
from ..disclosure import ABSENT_TEXT, HIDDEN_TEXT
from ..manifest import Manifest, UnitRow
from .selection import cell
from .wording import NOT_ASKED_TEXT, theme_scale


@dataclass(frozen=True)
class TrendRow:
    """One round of a trend as shown in the data table beside a chart."""

    round_label: str
    closed_on: str
    shown: bool
    n: int | None
    mean: float | None
    favourable: str
    ci_low: float | None
    ci_high: float | None
    coded_index: str = ""  # a uniform cell: its coded index ("≥ 90"), and why it is coded
    coded: str = ""
    absent: bool = False  # the unit was not in this round's snapshot
    asked: bool = True  # False: a rotating theme this round left out

    @property
    def status_text(self) -> str:
        """Return why the row has no exact figure ("" when it has one)."""
        if not self.asked:
            return NOT_ASKED_TEXT
        if self.absent:
            return ABSENT_TEXT
        if not self.shown:
            return HIDDEN_TEXT
        if self.coded:
            return f"{self.coded_index} ({self.coded})"
        return ""

    @property
    def note(self) -> str:
        """Return the label of this round's gap on a chart ("" for a hidden cell or a value)."""
        if not self.asked:
            return NOT_ASKED_TEXT
        return ABSENT_TEXT if self.absent else self.coded_index


@dataclass(frozen=True)
class Event:
    """Something HR marked on the timeline: an ISO date and a short label."""

    on: str
    label: str


def tick(manifest: Manifest) -> str:
    """Return a round's label on a chart's x axis: its name and closing day."""
    closed = manifest.round.closed_on
    try:
        day = dt.date.fromisoformat(closed).strftime("%d %b")
    except ValueError:
        day = closed
    return f"{manifest.round.label}\n{day}"


def row(manifest: Manifest, unit: UnitRow | None, theme: str) -> TrendRow:
    """Return one round's row for ``unit`` (None: not in that round) and ``theme``."""
    found = cell(unit, theme) if manifest.asked(theme) else None
    return TrendRow(
        round_label=manifest.round.label,
        closed_on=manifest.round.closed_on,
        shown=found is not None,
        n=found.n if found else None,
        mean=found.mean if found else None,
        favourable=found.favourable_text if found else "",
        ci_low=found.ci_low if found else None,
        ci_high=found.ci_high if found else None,
        coded_index=(found.mean_text or "") if found else "",
        coded=(found.coded or "") if found else "",
        absent=unit is None,
        asked=manifest.asked(theme),
    )


def trend_point(label: str, trend: TrendRow) -> TrendPoint:
    """Return a row as a chart point: a gap labelled with its note, or hidden."""
    return TrendPoint(label, trend.mean, trend.ci_low, trend.ci_high, trend.note)


def trend_rows(manifests: Sequence[Manifest], unit_id: int, theme: str) -> list[TrendRow]:
    """Return one row per released round for ``unit_id`` and ``theme``, oldest first."""
    return [row(m, m.unit(unit_id), theme) for m in manifests]


def place_events(closed_on: Sequence[str], events: Iterable[Event]) -> tuple[tuple[int, str], ...]:
    """Return (round index, label) for each event, placed at the first round closing on or after it.

    ``closed_on`` holds the ISO closing dates of the rounds on the chart, oldest first. An
    event after the last of them is not placed (it belongs to a round not released yet).
    """
    placed = []
    for event in sorted(events, key=lambda e: (e.on, e.label)):
        index = next((i for i, closed in enumerate(closed_on) if closed >= event.on), None)
        if index is not None:
            placed.append((index, event.label))
    return tuple(placed)


def round_of_event(manifests: Sequence[Manifest], on: str) -> str | None:
    """Return the label of the round an event dated ``on`` is placed at, or None (not yet)."""
    placed = place_events([m.round.closed_on for m in manifests], [Event(on, "")])
    return manifests[placed[0][0]].round.label if placed else None


def trend_series(
    manifests: Sequence[Manifest],
    unit_id: int,
    theme: str,
    theme_label: str,
    unit_path: str,
    events: Sequence[Event] = (),
    reference: float | None = None,
) -> TrendSeries:
    """Return the chart input for one unit and theme over all released rounds."""
    low, high, label = theme_scale(theme)
    points = tuple(
        trend_point(tick(m), r)
        for m, r in zip(manifests, trend_rows(manifests, unit_id, theme), strict=True)
    )
    return TrendSeries(
        title=f"{theme_label} — {unit_path}",
        y_label=label,
        y_min=low,
        y_max=high,
        points=points,
        reference=reference,
        events=place_events([m.round.closed_on for m in manifests], events),
    )
