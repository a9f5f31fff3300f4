"""Read-only views of release manifests: overview, trends, heatmaps, answer distributions,
comments and the printable report's contents.

Invariant: everything here is computed from typed manifests alone (plus question texts and
HR-written events and actions, which are not results), and a cell the manifest hides becomes
``None`` (a gap), never a number; so does a uniform cell's mean, which keeps only its coded
index as text. A unit missing from a round's snapshot is marked absent, a theme a round did
not ask "not asked", neither as hidden. Every figure is read through
:func:`~.selection.cell`; a comparison or a movement needs two exact published cells.

Each module decides one view; this package re-exports them so callers write
``reporting.overview(...)``. Nothing here imports matplotlib: chart inputs are
:mod:`survey.domain.chartinput` shapes.
"""

from __future__ import annotations

from ..manifest import Manifest
from .bands import BandRow, band_key, band_rows, in_band_order
from .comments import COMMENT_QUERY_MAX_CHARS, CommentGroup, comment_groups, normalise_query
from .distributions import (
    AGREEMENT_LOW,
    GROUP_DISAGREES,
    TOO_LOW_TO_INTERPRET,
    ItemDistribution,
    QualityRow,
    Segment,
    answer_labels,
    distributions,
    scale_quality,
)
from .heatmap import (
    HEATMAP_SPAN,
    Heatmap,
    HeatmapCell,
    HeatmapColumn,
    HeatmapRow,
    describe_heatmap,
    heatmap,
    legend_text,
)
from .overview import (
    MOVEMENTS_SHOWN,
    Change,
    Headline,
    Movement,
    Overview,
    change_between,
    headline,
    headlines,
    movements,
    overview,
    scaled,
)
from .report import ActionRow, Report, ReportTrend, audit_verdict, report
from .selection import (
    UnitChoice,
    asked,
    cell,
    manifest_by_number,
    measured,
    root_unit,
    round_units,
    subtree,
    themes_of,
    unit_choices,
)
from .trends import (
    Event,
    TrendRow,
    place_events,
    round_of_event,
    trend_point,
    trend_rows,
    trend_series,
)
from .wording import (
    ENPS,
    FAVOURABLE_CODING,
    MINUS,
    NOT_ASKED_TEXT,
    format_delta,
    format_index,
    plural,
    theme_scale,
)

__all__ = [
    "AGREEMENT_LOW",
    "COMMENT_QUERY_MAX_CHARS",
    "ENPS",
    "FAVOURABLE_CODING",
    "GROUP_DISAGREES",
    "HEATMAP_SPAN",
    "MINUS",
    "MOVEMENTS_SHOWN",
    "NOT_ASKED_TEXT",
    "TOO_LOW_TO_INTERPRET",
    "ActionRow",
    "BandRow",
    "Change",
    "CommentGroup",
    "Event",
    "Headline",
    "Heatmap",
    "HeatmapCell",
    "HeatmapColumn",
    "HeatmapRow",
    "ItemDistribution",
    "Manifest",
    "Movement",
    "Overview",
    "QualityRow",
    "Report",
    "ReportTrend",
    "Segment",
    "TrendRow",
    "UnitChoice",
    "answer_labels",
    "asked",
    "audit_verdict",
    "band_key",
    "band_rows",
    "cell",
    "change_between",
    "comment_groups",
    "describe_heatmap",
    "distributions",
    "format_delta",
    "format_index",
    "headline",
    "headlines",
    "heatmap",
    "in_band_order",
    "legend_text",
    "manifest_by_number",
    "measured",
    "movements",
    "normalise_query",
    "overview",
    "place_events",
    "plural",
    "report",
    "root_unit",
    "round_of_event",
    "round_units",
    "scale_quality",
    "scaled",
    "subtree",
    "theme_scale",
    "themes_of",
    "trend_point",
    "trend_rows",
    "trend_series",
    "unit_choices",
]
