"""The overview: each theme's latest figure for a unit, the change since, and the largest moves.

Invariant: a change is only stated between two exact published measurements, and called
clear only when it exceeds 1.96 times the combined standard error of the two.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ..disclosure import HIDDEN_TEXT
from ..manifest import Manifest
from .selection import measured, subtree, themes_of
from .trends import TrendRow, row
from .wording import MINUS, format_delta, format_index, scale_words, theme_scale

Z95 = 1.96  # two-sided 95 % normal quantile: standard errors from 95 % interval half-widths
MOVEMENTS_SHOWN = 3


@dataclass(frozen=True)
class Change:
    """A change between two published measurements and whether it exceeds its uncertainty.

    ``threshold`` is 1.96·sqrt(se₁² + se₂²) with each standard error taken from its 95 %
    interval's half-width; ``clear`` says the change is larger than that.
    """

    delta: float
    threshold: float
    clear: bool

    @property
    def direction(self) -> str:
        """Return "up", "down" or "same" as rounded for display."""
        shown = format_delta(self.delta)
        return "same" if shown == "0" else ("up" if self.delta > 0 else "down")

    @property
    def text(self) -> str:
        """Return the change as printed, with its sign (+4, −3, 0)."""
        return format_delta(self.delta)


def _standard_error(trend: TrendRow) -> float | None:
    if trend.ci_low is None or trend.ci_high is None:
        return None
    return (trend.ci_high - trend.ci_low) / (2 * Z95)


def change_between(previous: TrendRow, current: TrendRow) -> Change | None:
    """Return the change from ``previous`` to ``current``, or None unless both are published."""
    if previous.mean is None or current.mean is None:
        return None
    se_prev, se_cur = _standard_error(previous), _standard_error(current)
    if se_prev is None or se_cur is None:
        return None
    delta = current.mean - previous.mean
    threshold = Z95 * math.sqrt(se_prev**2 + se_cur**2)
    return Change(delta=delta, threshold=threshold, clear=abs(delta) > threshold)


def _change_words(change: Change) -> str:
    if change.direction == "same":
        return "about the same as"
    amount = format_delta(change.delta).lstrip("+" + MINUS)
    return f"{change.direction} {amount} since"


def _certainty_words(change: Change) -> str:
    if change.clear:
        return "larger than its uncertainty, so probably a real change"
    return "within its uncertainty, so it may be chance"


@dataclass(frozen=True)
class Headline:
    """One theme's latest measurement for a unit, the change since the one before, in words."""

    theme: str
    label: str
    current: TrendRow
    previous: TrendRow | None
    change: Change | None
    in_latest: bool
    value_text: str
    sentence: str

    @property
    def interval_text(self) -> str:
        """Return the 95 % interval of the current measurement as printed ("" if hidden)."""
        low, high = self.current.ci_low, self.current.ci_high
        if low is None or high is None:
            return ""
        separator = " to " if high < 0 else "–"  # "−39 to −12" reads better than "−39–−12"
        return f"{format_index(self.theme, low)}{separator}{format_index(self.theme, high)}"


@dataclass(frozen=True)
class Movement:
    """A change of one theme in one unit between two published measurements."""

    theme: str
    label: str
    unit_id: int
    unit_path: str
    previous: TrendRow
    current: TrendRow
    change: Change
    sentence: str


@dataclass(frozen=True)
class Overview:
    """The latest released round of a programme at a glance, for one unit and those below it."""

    round_label: str
    closed_on: str
    rounds: int
    unit_id: int
    unit_path: str
    participation: int | None
    participation_sentence: str
    headlines: tuple[Headline, ...]
    movements: tuple[Movement, ...]
    movements_sentence: str


def headline(
    manifests: Sequence[Manifest], unit_id: int, theme: str, label: str
) -> Headline | None:
    """Return ``theme``'s latest measurement for ``unit_id``, or None if it was never asked."""
    asked = measured(manifests, theme)
    if not asked:
        return None
    current = row(asked[-1], asked[-1].unit(unit_id), theme)
    previous = row(asked[-2], asked[-2].unit(unit_id), theme) if len(asked) > 1 else None
    in_latest = asked[-1] is manifests[-1]
    change = change_between(previous, current) if previous else None
    when = current.round_label if in_latest else f"{current.round_label}, when it was last asked"
    if current.coded:
        return Headline(
            theme,
            label,
            current,
            previous,
            None,
            in_latest,
            current.coded_index,
            f"{label} is {current.coded_index} {scale_words(theme)} in {when}: "
            f"{current.coded}, so no exact figure is published.",
        )
    if current.mean is None:
        return Headline(
            theme,
            label,
            current,
            previous,
            None,
            in_latest,
            current.status_text,
            f"{label} in {when}: {current.status_text}.",
        )
    value = format_index(theme, current.mean)
    sentence = f"{label} is {value} {scale_words(theme)} in {when}"
    if previous is None:
        sentence += ", the first time it was measured."
    elif change is None:
        sentence += f"; no comparison with {previous.round_label}: {previous.status_text}."
    else:
        before = format_index(theme, previous.mean or 0.0)
        sentence += (
            f", {_change_words(change)} {previous.round_label} ({before}): "
            f"{_certainty_words(change)}."
        )
    return Headline(theme, label, current, previous, change, in_latest, value, sentence)


def headlines(
    manifests: Sequence[Manifest], unit_id: int, themes: Sequence[tuple[str, str]] | None = None
) -> list[Headline]:
    """Return a headline per theme of the programme, in question-bank order."""
    found = []
    for key, label in themes if themes is not None else themes_of(manifests):
        item = headline(manifests, unit_id, key, label)
        if item is not None:
            found.append(item)
    return found


def scaled(theme: str, delta: float) -> float:
    """Return a change as a share of its theme's range, so eNPS (twice as wide) compares fairly."""
    low, high, _ = theme_scale(theme)
    return abs(delta) / (high - low)


def movements(
    manifests: Sequence[Manifest],
    unit_ids: Collection[int],
    themes: Sequence[tuple[str, str]] | None = None,
    limit: int = MOVEMENTS_SHOWN,
) -> list[Movement]:
    """Return the largest changes between each theme's last two measurements.

    Only units in ``unit_ids`` count, and only where both measurements are published. Changes
    are ranked by size relative to the theme's range.
    """
    candidates = []
    for key, label in themes if themes is not None else themes_of(manifests):
        asked = measured(manifests, key)
        if len(asked) < 2:
            continue
        before_m, after_m = asked[-2], asked[-1]
        for unit in after_m.units:
            if unit.id not in unit_ids:
                continue
            current = row(after_m, unit, key)
            previous = row(before_m, before_m.unit(unit.id), key)
            change = change_between(previous, current)
            if change is None or change.direction == "same":
                continue
            rank = (-scaled(key, change.delta), unit.path, key)
            candidates.append((rank, key, label, unit, previous, current, change))
    candidates.sort(key=lambda c: c[0])
    found = []
    for _, key, label, unit, previous, current, change in candidates[:limit]:
        sentence = (
            f"{label} in {unit.path}: {_change_words(change).replace(' since', '')} "
            f"from {format_index(key, previous.mean or 0.0)} in {previous.round_label} to "
            f"{format_index(key, current.mean or 0.0)} in {current.round_label}, "
            f"{_certainty_words(change)}."
        )
        found.append(Movement(key, label, unit.id, unit.path, previous, current, change, sentence))
    return found


def overview(
    manifests: Sequence[Manifest], unit_id: int, themes: Sequence[tuple[str, str]] | None = None
) -> Overview:
    """Return the overview of the newest of ``manifests`` for ``unit_id`` and the units below it."""
    latest = manifests[-1]
    themes = list(themes) if themes is not None else themes_of(manifests)
    # The newest path the unit had (a unit missing from the latest release keeps its old one).
    path = next((u.path for m in reversed(manifests) if (u := m.unit(unit_id)) is not None), "")
    pct = latest.participation.org_pct_rounded
    if pct is None:
        taking_part = f"Participation is not published for {latest.round.label}: {HIDDEN_TEXT}."
    else:
        taking_part = (
            f"About {pct} % of the people invited across the organisation took part in "
            f"{latest.round.label}."
        )
    moves = movements(manifests, subtree(latest, unit_id), themes)
    if moves:
        largest = "largest change" if len(moves) == 1 else f"{len(moves)} largest changes"
        moved = (
            f"The {largest} since each theme's previous measurement, among "
            f"{path} and the units below it that were shown both times:"
        )
    else:
        moved = "No change can be compared yet: that needs two published measurements."
    return Overview(
        round_label=latest.round.label,
        closed_on=latest.round.closed_on,
        rounds=len(manifests),
        unit_id=unit_id,
        unit_path=path,
        participation=pct,
        participation_sentence=taking_part,
        headlines=tuple(headlines(manifests, unit_id, themes)),
        movements=tuple(moves),
        movements_sentence=moved,
    )
