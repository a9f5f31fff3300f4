"""Charts: draw a trend line or a unit-by-theme heatmap as PNG or SVG bytes.

Invariant: a chart shows only the values it is given. A ``None`` value is drawn as a visible
gap (a hatched band or cell labelled "hidden", or with the note it carries: a coded index, a
theme not asked, or that the unit did not exist then); it is never interpolated, no line or
confidence band crosses it, and a gap may carry no confidence interval at all.

Every string that may come from users (titles, labels, event notes) is drawn literally: math
parsing is off, so ``$``, ``_`` and markup appear as typed, and right-to-left scripts are laid
out by matplotlib's text shaping. Labels are cut to measured widths and event labels are laid
out so that none overlaps another or leaves the figure. The same input always gives the same
bytes: PNG carries no software stamp, SVG no date, and SVG ids use a fixed hash salt.
Rendering uses ``Figure`` with explicit Agg/SVG canvases, never ``pyplot``, and holds a lock
while the process-wide rcParams are overridden, so it is safe in a threaded server.

The shapes charts are drawn from live in :mod:`survey.domain.chartinput` (no matplotlib);
``style`` holds the look and the shared machinery, ``trend`` and ``heatmap`` the two charts.
"""

from __future__ import annotations

from ..chartinput import HIDDEN_LABEL, HeatmapData, TrendPoint, TrendSeries
from ..chartlook import describe_trend
from .heatmap import HeatmapLayout, draw_heatmap, heatmap_chart
from .style import *  # noqa: F403  (the style's constants are part of the public surface)
from .style import ChartError, centred_message, fit_text, rendering
from .trend import (
    EventLabel,
    draw_events,
    draw_hidden_bands,
    draw_interval,
    draw_line,
    layout_event_labels,
    trend_chart,
)

__all__ = [
    "HIDDEN_LABEL",
    "ChartError",
    "EventLabel",
    "HeatmapData",
    "HeatmapLayout",
    "TrendPoint",
    "TrendSeries",
    "centred_message",
    "describe_trend",
    "draw_events",
    "draw_heatmap",
    "draw_hidden_bands",
    "draw_interval",
    "draw_line",
    "fit_text",
    "heatmap_chart",
    "layout_event_labels",
    "rendering",
    "trend_chart",
]
