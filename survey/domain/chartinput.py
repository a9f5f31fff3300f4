"""What a chart is drawn from: trend series and heatmap grids, with no drawing library.

Invariant: these shapes carry only published values; a ``None`` value is a gap that a chart
draws as such, labelled with its note (a coded index, "not asked", or that the unit did not
exist then) or as hidden. Pages and caches build them without importing matplotlib; only
:mod:`survey.domain.charts` draws them.
"""

from __future__ import annotations

from dataclasses import dataclass

HIDDEN_LABEL = "hidden"


@dataclass(frozen=True)
class TrendPoint:
    """One round on a trend: its tick label, value (``None`` = a gap) and optional interval.

    ``note`` labels a gap that is not a hidden cell: a coded index, a theme not asked that
    round, or an absent unit.
    """

    label: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    note: str = ""


@dataclass(frozen=True)
class TrendSeries:
    """A titled series of rounds on a fixed y range, with an optional reference and events."""

    title: str
    y_label: str
    y_min: float
    y_max: float
    points: tuple[TrendPoint, ...]
    reference: float | None = None
    events: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class HeatmapData:
    """Values per unit (row) and theme (column), coloured on a scale centred on ``centre``.

    ``span`` is the half-width of the colour scale; ``legend`` says what the colours mean.
    """

    title: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    values: tuple[tuple[float | None, ...], ...]
    centre: float
    span: float
    notes: tuple[tuple[str, ...], ...] = ()  # per cell: the label of a None value ("" = hidden)
    legend: str = ""

    def note(self, row: int, column: int) -> str:
        """Return the label drawn in the gap at ``row``, ``column``."""
        found = self.notes[row][column] if row < len(self.notes) else ""
        return found or HIDDEN_LABEL
