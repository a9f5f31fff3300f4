"""Trend charts: one unit's figure for one theme, round after round, with gaps and events.

Invariant: a ``None`` value is drawn as a visible gap (a hatched band labelled "hidden" or
with its note); no line or confidence band crosses it, and a gap carries no interval.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from ..chartinput import HIDDEN_LABEL, TrendSeries
from ..chartlook import check_series
from .style import (
    ALL_HIDDEN_MESSAGE,
    BACKGROUND_COLOUR,
    BAND_ALPHA,
    CLIPPED_MARKER_SIZE,
    DPI,
    ELLIPSIS,
    EMPTY_TREND_MESSAGE,
    EVENT_COLOUR,
    EVENT_LABEL_OFFSET,
    EVENT_LABEL_ROOM,
    EVENT_LABEL_TOP,
    EVENT_LINE_SPACING,
    GRID_COLOUR,
    HIDDEN_BAND_HALF_WIDTH,
    HIDDEN_FACE_COLOUR,
    HIDDEN_FONT_SIZE,
    HIDDEN_HATCH,
    HIDDEN_HATCH_COLOUR,
    HIDDEN_LABEL_BOTTOM,
    LABEL_GAP_INCHES,
    LINE_COLOUR,
    LINE_WIDTH,
    MARKER_SIZE,
    MAX_EVENT_CHARS,
    MAX_EVENT_INCHES,
    MAX_LABEL_CHARS,
    MAX_TITLE_CHARS,
    MAX_X_LABELS,
    MIN_ROUND_LABEL_INCHES,
    MUTED_TEXT_COLOUR,
    NOTE_FONT_SIZE,
    NOTE_WRAP_CHARS,
    POINTS_PER_INCH,
    REFERENCE_COLOUR,
    REFERENCE_LABEL_X,
    ROTATE_HIDDEN_LABEL_AFTER,
    TICK_FONT_SIZE,
    TITLE_FONT_SIZE,
    TREND_PLOT_INCHES,
    TREND_SIZE_INCHES,
    TREND_TITLE_INCHES,
    TREND_Y_LABEL_INCHES,
    centred_message,
    check_format,
    decimals_for,
    draw_message_only,
    fit_text,
    number_text,
    render,
    rendering,
    text_inches,
)

FloatArray = npt.NDArray[np.float64]


def trend_chart(series: TrendSeries, fmt: str = "png") -> bytes:
    """Return the trend drawn as ``fmt`` bytes; hidden rounds appear as labelled gaps.

    :raises ChartError: for an unknown ``fmt`` or an inconsistent series.
    """
    check_format(fmt)
    check_series(series)
    with rendering():
        fig = Figure(figsize=TREND_SIZE_INCHES, dpi=DPI, layout="constrained")
        if not series.points:
            draw_message_only(fig, series.title, EMPTY_TREND_MESSAGE)
        else:
            _draw_trend(fig.add_subplot(), series)
        return render(fig, fmt)


def _draw_trend(ax: Axes, series: TrendSeries) -> None:
    """Draw every part of a non-empty trend onto ``ax``."""
    count = len(series.points)
    ax.set_title(
        fit_text(series.title, MAX_TITLE_CHARS, TITLE_FONT_SIZE, TREND_TITLE_INCHES),
        parse_math=False,
    )
    ax.set_ylabel(
        fit_text(series.y_label, MAX_LABEL_CHARS, TICK_FONT_SIZE, TREND_Y_LABEL_INCHES),
        parse_math=False,
    )
    ax.set_xlim(-0.5, count - 0.5)
    ax.set_ylim(series.y_min, series.y_max)
    ax.grid(axis="y", color=GRID_COLOUR, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(axis="x", length=0)
    _set_x_labels(ax, [p.label for p in series.points])

    draw_hidden_bands(ax, series)
    if series.reference is not None:
        _draw_reference(ax, series, series.reference)
    if all(p.value is None for p in series.points):
        centred_message(ax, ALL_HIDDEN_MESSAGE)
    else:
        draw_interval(ax, series)
        draw_line(ax, series)
    if series.events:
        fig = ax.get_figure()
        assert isinstance(fig, Figure)
        fig.draw_without_rendering()  # the layout engine fixes the plot's size first
        draw_events(ax, series.events, count)


def _set_x_labels(ax: Axes, labels: Sequence[str]) -> None:
    """Label the rounds, thinning to every n-th label when there are too many to fit."""
    step = math.ceil(len(labels) / MAX_X_LABELS)
    positions = list(range(0, len(labels), step))
    room = max(MIN_ROUND_LABEL_INCHES, TREND_PLOT_INCHES / len(positions) - LABEL_GAP_INCHES)
    texts = [fit_text(labels[i], MAX_LABEL_CHARS, TICK_FONT_SIZE, room) for i in positions]
    ax.set_xticks(positions, texts)
    for label in ax.get_xticklabels():
        label.set_parse_math(False)


def _values(series: TrendSeries) -> FloatArray:
    """Return the point values with hidden rounds as NaN, which breaks the line there."""
    return np.array([np.nan if p.value is None else p.value for p in series.points], dtype=float)


def draw_line(ax: Axes, series: TrendSeries) -> None:
    """Draw the line and markers; values beyond the axis sit on its edge as outward triangles."""
    x = np.arange(len(series.points), dtype=float)
    raw = _values(series)
    drawn = np.clip(raw, series.y_min, series.y_max)
    ax.plot(x, drawn, color=LINE_COLOUR, linewidth=LINE_WIDTH, clip_on=False, zorder=3)
    inside = (raw >= series.y_min) & (raw <= series.y_max)
    marker_style: dict[str, Any] = {
        "linestyle": "none",
        "color": LINE_COLOUR,
        "markeredgecolor": BACKGROUND_COLOUR,
        "clip_on": False,
        "zorder": 4,
    }
    ax.plot(x[inside], drawn[inside], marker="o", markersize=MARKER_SIZE, **marker_style)
    for mask, marker in ((raw > series.y_max, "^"), (raw < series.y_min, "v")):
        if mask.any():
            ax.plot(
                x[mask], drawn[mask], marker=marker, markersize=CLIPPED_MARKER_SIZE, **marker_style
            )


def draw_interval(ax: Axes, series: TrendSeries) -> None:
    """Shade the confidence band where consecutive rounds have one; mark lone intervals."""
    lows = np.array([np.nan if p.ci_low is None else p.ci_low for p in series.points], dtype=float)
    highs = np.array(
        [np.nan if p.ci_high is None else p.ci_high for p in series.points], dtype=float
    )
    if np.isnan(lows).all():
        return
    lows = np.clip(lows, series.y_min, series.y_max)
    highs = np.clip(highs, series.y_min, series.y_max)
    x = np.arange(len(series.points), dtype=float)
    ax.fill_between(x, lows, highs, color=LINE_COLOUR, alpha=BAND_ALPHA, linewidth=0, zorder=2)
    present = ~np.isnan(lows)
    before = np.concatenate(([False], present[:-1]))
    after = np.concatenate((present[1:], [False]))
    lone = present & ~before & ~after  # a band needs two rounds; show these as a bar instead
    if lone.any():
        ax.vlines(
            x[lone],
            lows[lone],
            highs[lone],
            color=LINE_COLOUR,
            alpha=2 * BAND_ALPHA,
            linewidth=4 * LINE_WIDTH,
            zorder=2,
        )


def draw_hidden_bands(ax: Axes, series: TrendSeries) -> None:
    """Mark each gap with a light hatched band and a small label at the bottom.

    The label is the point's note (a coded index, or that the unit did not exist then), else
    "hidden".
    """
    rotation = 90 if len(series.points) > ROTATE_HIDDEN_LABEL_AFTER else 0
    bottom = blended_transform_factory(ax.transData, ax.transAxes)
    for index, point in enumerate(series.points):
        if point.value is not None:
            continue
        ax.axvspan(
            index - HIDDEN_BAND_HALF_WIDTH,
            index + HIDDEN_BAND_HALF_WIDTH,
            facecolor=HIDDEN_FACE_COLOUR,
            edgecolor=HIDDEN_HATCH_COLOUR,
            hatch=HIDDEN_HATCH,
            linewidth=0,
            zorder=1,
        )
        ax.text(
            index,
            HIDDEN_LABEL_BOTTOM,
            textwrap.fill(point.note, NOTE_WRAP_CHARS) if point.note else HIDDEN_LABEL,
            transform=bottom,
            ha="center",
            va="bottom",
            rotation=rotation,
            fontsize=HIDDEN_FONT_SIZE,
            color=MUTED_TEXT_COLOUR,
            bbox={"facecolor": HIDDEN_FACE_COLOUR, "edgecolor": "none", "pad": 1},
            parse_math=False,
            zorder=5,
        )


def _draw_reference(ax: Axes, series: TrendSeries, reference: float) -> None:
    """Draw the reference as a dotted line, labelled with its value just right of the axis.

    A reference beyond the y range sits on the nearer edge; its label keeps the true value.
    """
    shown = min(max(reference, series.y_min), series.y_max)
    ax.axhline(shown, color=REFERENCE_COLOUR, linestyle=":", linewidth=1.2, zorder=2)
    decimals = decimals_for(series.y_max - series.y_min)
    right = blended_transform_factory(ax.transAxes, ax.transData)
    ax.text(
        REFERENCE_LABEL_X,
        shown,
        f"Reference\n{number_text(reference, decimals)}",
        transform=right,
        ha="left",
        va="center",
        fontsize=NOTE_FONT_SIZE,
        color=REFERENCE_COLOUR,
        clip_on=False,
        parse_math=False,
    )


@dataclass(frozen=True)
class EventLabel:
    """Where an event's label goes: its (fitted) text, its row from the top, and its side.

    ``start`` and ``end`` are inches from the plot's left edge; ``right`` says the label
    starts just right of the event's line (else it ends just left of it).
    """

    index: int
    text: str
    level: int
    right: bool
    start: float
    end: float


def layout_event_labels(
    events: Sequence[tuple[int, str]], count: int, plot_inches: float, levels: int
) -> tuple[EventLabel, ...]:
    """Return a place for each event's label so that no two overlap and none leaves the plot.

    Round ``i`` of ``count`` sits at ``(i + 0.5) / count`` of the plot's width. Each label
    takes the highest row where it fits whole, right of its line or else left of it; when no
    row has room for it whole, it is cut to the widest room there is (its full text stays in
    the chart's text alternative), and left out only if not even an ellipsis fits.
    """
    offset = EVENT_LABEL_OFFSET / POINTS_PER_INCH
    placed: list[EventLabel] = []
    for index, raw in events:
        text = fit_text(raw, MAX_EVENT_CHARS, NOTE_FONT_SIZE, MAX_EVENT_INCHES)
        width = text_inches(text, NOTE_FONT_SIZE)
        x = (index + 0.5) / count * plot_inches
        options: list[tuple[float, int, bool]] = []  # (room, row, right of the line)
        for level in range(levels):
            taken = [(p.start, p.end) for p in placed if p.level == level]
            if any(a < x < b for a, b in taken):
                continue  # a label in this row already covers the event's line
            right_end = min([a for a, _ in taken if a >= x] + [plot_inches])
            left_end = max([b for _, b in taken if b <= x] + [0.0])
            options += [(right_end - x - 2 * offset, level, True)]
            options += [(x - left_end - 2 * offset, level, False)]
        whole = [o for o in options if o[0] >= width]
        choice = whole[0] if whole else max(options, default=None, key=lambda o: o[0])
        if choice is None or choice[0] <= 0:
            continue
        room, level, right = choice
        if width > room:
            text = fit_text(text, MAX_EVENT_CHARS, NOTE_FONT_SIZE, room)
            width = text_inches(text, NOTE_FONT_SIZE)
            if width > room or not text.rstrip(ELLIPSIS).strip():
                continue
        start = x + offset if right else x - offset - width
        placed.append(EventLabel(index, text, level, right, start - offset, start + width + offset))
    return tuple(placed)


def draw_events(ax: Axes, events: Sequence[tuple[int, str]], count: int) -> None:
    """Draw each event as a dashed vertical line with a label laid out not to collide.

    Call once the axes have their final size (after the layout engine ran): labels are placed
    in inches of the plot and are left out of the layout, so they cannot resize it.
    """
    if not events:
        return
    fig = ax.get_figure()
    assert isinstance(fig, Figure)
    box = ax.get_position()
    plot_w, plot_h = box.width * fig.get_figwidth(), box.height * fig.get_figheight()
    line = EVENT_LINE_SPACING * NOTE_FONT_SIZE / POINTS_PER_INCH
    levels = max(1, int(EVENT_LABEL_ROOM * plot_h / line))
    top = blended_transform_factory(ax.transData, ax.transAxes)
    for index, _ in events:
        ax.axvline(index, color=EVENT_COLOUR, linestyle="--", linewidth=1.0, zorder=2)
    for label in layout_event_labels(events, count, plot_w, levels):
        text = ax.annotate(
            label.text,
            (label.index, EVENT_LABEL_TOP - label.level * line / plot_h),
            xycoords=top,
            xytext=(EVENT_LABEL_OFFSET if label.right else -EVENT_LABEL_OFFSET, 0),
            textcoords="offset points",
            ha="left" if label.right else "right",
            va="top",
            fontsize=NOTE_FONT_SIZE,
            color=EVENT_COLOUR,
            parse_math=False,
            zorder=5,
            annotation_clip=False,
            bbox={"facecolor": BACKGROUND_COLOUR, "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
        text.set_in_layout(False)
