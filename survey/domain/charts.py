"""Charts: draw a trend line or a unit-by-theme heatmap as PNG or SVG bytes.

Invariant: a chart shows only the values it is given. A ``None`` value is drawn as a visible
gap (a hatched band or cell labelled "hidden", or with the note it carries: a coded index, or
that the unit did not exist then); it is never interpolated, no line or confidence band
crosses it, and a gap may carry no confidence interval at all.

Every string that may come from users (titles, labels, event notes) is drawn literally: math
parsing is off, so ``$``, ``_`` and markup appear as typed, and right-to-left scripts are laid
out by matplotlib's text shaping. The same input always gives the same bytes: PNG carries no
software stamp, SVG no date, and SVG ids use a fixed hash salt. Rendering uses ``Figure`` with
explicit Agg/SVG canvases, never ``pyplot``, and holds a lock while the process-wide rcParams
are overridden, so it is safe in a threaded server.
"""

from __future__ import annotations

import io
import math
import re
import textwrap
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle
from matplotlib.textpath import text_to_path
from matplotlib.transforms import blended_transform_factory

from .disclosure import HIDDEN_TEXT

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

CHART_FORMATS = ("png", "svg")
DPI = 100
TREND_SIZE_INCHES = (6.4, 2.8)
MESSAGE_SIZE_INCHES = TREND_SIZE_INCHES  # a chart with nothing to draw but a message

# Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies.
OKABE_ITO_BLUE = "#0072B2"
OKABE_ITO_VERMILLION = "#D55E00"
LINE_COLOUR = OKABE_ITO_BLUE
EVENT_COLOUR = OKABE_ITO_VERMILLION
REFERENCE_COLOUR = "#4D4D4D"
MUTED_TEXT_COLOUR = "#595959"  # 7:1 contrast on white
DARK_TEXT_COLOUR = "#1A1A1A"
LIGHT_TEXT_COLOUR = "#FFFFFF"
BACKGROUND_COLOUR = "#FFFFFF"
GRID_COLOUR = "#E6E6E6"
HIDDEN_FACE_COLOUR = "#EFEFEF"
HIDDEN_HATCH_COLOUR = "#BDBDBD"
HIDDEN_HATCH = "///"
BAND_ALPHA = 0.2
HEATMAP_COLOURMAP = "BrBG"  # diverging, colour-blind safe; brown below the centre, teal above

BASE_FONT_SIZE = 10
TITLE_FONT_SIZE = 11
TICK_FONT_SIZE = 9
NOTE_FONT_SIZE = 8
HIDDEN_FONT_SIZE = 8
MESSAGE_FONT_SIZE = 11
EVENT_LABEL_OFFSET = 3  # points between an event line and its label
EVENT_LABEL_TOP = 0.98  # axes fraction
EVENT_LABEL_STAGGER = 0.1  # every other event label sits this much lower
HIDDEN_LABEL_BOTTOM = 0.03  # axes fraction
REFERENCE_LABEL_X = 1.01  # axes fraction: just right of the plot
LINE_WIDTH = 2.0
MARKER_SIZE = 5.0
CLIPPED_MARKER_SIZE = 7.0

HIDDEN_LABEL = "hidden"
EMPTY_TREND_MESSAGE = "No released results yet"
ALL_HIDDEN_MESSAGE = "No round has an exact figure to draw"
EMPTY_HEATMAP_MESSAGE = "No units or themes to show"
NOTE_WRAP_CHARS = 16  # a gap's note is wrapped to fit its band

HIDDEN_BAND_HALF_WIDTH = 0.4  # in round units, so neighbouring hidden rounds stay distinct
MAX_X_LABELS = 12  # more rounds than this: label every n-th round so labels do not collide
ROTATE_HIDDEN_LABEL_AFTER = 10
# User text is cut (with an ellipsis) first to a character count, then to a measured width,
# so that no label can push the layout off the figure.
MAX_TITLE_CHARS = 90
MAX_LABEL_CHARS = 40
MAX_EVENT_CHARS = 24
COLUMN_WRAP_CHARS = 14
MAX_COLUMN_LABEL_LINES = 3
POINTS_PER_INCH = 72
TREND_TITLE_INCHES = 5.4  # figure width less the y axis and the reference label
TREND_Y_LABEL_INCHES = 2.0
TREND_PLOT_INCHES = 5.2  # approximate plot width, shared by the round labels
MAX_EVENT_INCHES = 1.4
MIN_ROUND_LABEL_INCHES = 0.45
MAX_ROW_LABEL_INCHES = 2.6
MAX_COLUMN_LABEL_INCHES = 1.4
MAX_HEATMAP_TITLE_INCHES = 7.0
LABEL_GAP_INCHES = 0.08
# Decimals shown: none on a scale at least this wide (0-100), one on a narrower one (1-5).
WHOLE_NUMBER_RANGE = 20
ONE_DECIMAL_RANGE = 2
ELLIPSIS = "\u2026"

HEATMAP_MIN_WIDTH = 4.8
HEATMAP_MIN_HEIGHT = 2.4
HEATMAP_CELL_WIDTH = 0.9
HEATMAP_CELL_HEIGHT = 0.42
HEATMAP_FIXED_WIDTH = 1.3  # colour bar, its labels and the margins
HEATMAP_FIXED_HEIGHT = 0.9  # title and margins
HEATMAP_LINE_HEIGHT = 0.17  # one line of a column label at TICK_FONT_SIZE
HEATMAP_GRID_WIDTH = 2.0

SVG_HASH_SALT = "candor-charts"

_RC: dict[RcKeyType, Any] = {
    "text.parse_math": False,
    "svg.hashsalt": SVG_HASH_SALT,
    "svg.fonttype": "none",  # real <text>: selectable, screen-readable, shaped by the browser
    "font.size": BASE_FONT_SIZE,
    "axes.titlesize": TITLE_FONT_SIZE,
    "axes.titlelocation": "left",
    "axes.labelsize": TICK_FONT_SIZE,
    "axes.labelcolor": MUTED_TEXT_COLOUR,
    "axes.edgecolor": MUTED_TEXT_COLOUR,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.labelsize": TICK_FONT_SIZE,
    "ytick.labelsize": TICK_FONT_SIZE,
    "xtick.color": MUTED_TEXT_COLOUR,
    "ytick.color": MUTED_TEXT_COLOUR,
    "xtick.labelcolor": DARK_TEXT_COLOUR,
    "ytick.labelcolor": DARK_TEXT_COLOUR,
    "hatch.linewidth": 0.8,
    "figure.facecolor": BACKGROUND_COLOUR,
    "savefig.facecolor": BACKGROUND_COLOUR,
}

# rcParams are process-wide; the lock keeps one thread's overrides from leaking into another's.
_RENDER_LOCK = threading.Lock()

FloatArray = npt.NDArray[np.float64]


class ChartError(ValueError):
    """Raised for an unknown format or data whose shapes or values do not fit together."""


@dataclass(frozen=True)
class TrendPoint:
    """One round on a trend: its tick label, value (``None`` = a gap) and optional interval.

    ``note`` labels a gap that is not a hidden cell: a coded index, or an absent unit.
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
    """Values per unit (row) and theme (column), coloured on a scale centred on ``centre``."""

    title: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    values: tuple[tuple[float | None, ...], ...]
    centre: float
    span: float
    notes: tuple[tuple[str, ...], ...] = ()  # per cell: the label of a None value ("" = hidden)

    def note(self, row: int, column: int) -> str:
        """Return the label drawn in the gap at ``row``, ``column``."""
        found = self.notes[row][column] if row < len(self.notes) else ""
        return found or HIDDEN_LABEL


# --- public API -------------------------------------------------------------------------------


def trend_chart(series: TrendSeries, fmt: str = "png") -> bytes:
    """Return the trend drawn as ``fmt`` bytes; hidden rounds appear as labelled gaps.

    :raises ChartError: for an unknown ``fmt`` or an inconsistent series.
    """
    _check_format(fmt)
    _check_series(series)
    with rendering():
        fig = Figure(figsize=TREND_SIZE_INCHES, dpi=DPI, layout="constrained")
        if not series.points:
            _draw_message_only(fig, series.title, EMPTY_TREND_MESSAGE)
        else:
            _draw_trend(fig.add_subplot(), series)
        return _render(fig, fmt)


def heatmap_chart(data: HeatmapData, fmt: str = "png") -> bytes:
    """Return the heatmap drawn as ``fmt`` bytes; hidden cells appear grey, hatched and labelled.

    :raises ChartError: for an unknown ``fmt`` or values that do not match the rows and columns.
    """
    _check_format(fmt)
    _check_heatmap(data)
    with rendering():
        if not data.rows or not data.columns:
            fig = Figure(figsize=MESSAGE_SIZE_INCHES, dpi=DPI, layout="constrained")
            _draw_message_only(fig, data.title, EMPTY_HEATMAP_MESSAGE)
        else:
            layout = HeatmapLayout.fit(data)
            fig = Figure(figsize=layout.size, dpi=DPI, layout="constrained")
            draw_heatmap(fig, data, layout)
        return _render(fig, fmt)


def describe_trend(series: TrendSeries) -> str:
    """Return a one-paragraph plain-English text alternative to :func:`trend_chart`.

    :raises ChartError: for an inconsistent series.
    """
    _check_series(series)
    title = _plain(series.title)
    total = len(series.points)
    if total == 0:
        return f"{title}: {EMPTY_TREND_MESSAGE.lower()}."
    shown = [(p.label, p.value) for p in series.points if p.value is not None]
    noted = [f"{_plain(p.label)}: {p.note}" for p in series.points if p.value is None and p.note]
    hidden = total - len(shown) - len(noted)
    rounds = _plural(total, "round")
    gaps = f" Without an exact figure: {'; '.join(noted)}." if noted else ""
    if not shown and not noted:
        which = "the only round is" if total == 1 else f"all {rounds} are"
        return f"{title}: {which} {HIDDEN_TEXT}."
    if not shown:
        hid = f" {_plural(hidden, 'round').capitalize()} {HIDDEN_TEXT}." if hidden else ""
        return f"{title}: {_plain(series.y_label)}, {rounds}.{gaps.rstrip()}{hid}"
    decimals = _decimals(series.y_max - series.y_min)
    first_label, first = shown[0]
    last_label, last = shown[-1]
    sentences = [f"{title}: {_plain(series.y_label)}, {rounds}."]
    if len(shown) == 1:
        sentences.append(
            f"Only one round is shown: {_fmt(first, decimals)} in {_plain(first_label)}."
        )
    else:
        sentences.append(
            f"The first shown value is {_fmt(first, decimals)} in {_plain(first_label)} and the "
            f"last is {_fmt(last, decimals)} in {_plain(last_label)}, "
            f"{_describe_change(last - first, decimals)}."
        )
    if noted:
        sentences.append(gaps.strip())
    if hidden:
        verb = "is" if hidden == 1 else "are"
        sentences.append(
            f"{_plural(hidden, 'round').capitalize()} of {total} {verb} {HIDDEN_TEXT}."
        )
    else:
        sentences.append("No rounds are hidden.")
    if series.reference is not None:
        sentences.append(f"The reference line is at {_fmt(series.reference, decimals)}.")
    if series.events:
        marked = "; ".join(
            f"{_plain(text)} ({_plain(series.points[index].label)})"
            for index, text in series.events
        )
        sentences.append(f"Marked events: {marked}.")
    return " ".join(sentences)


# --- validation -------------------------------------------------------------------------------


def _check_format(fmt: str) -> None:
    """Raise :class:`ChartError` unless ``fmt`` is one of :data:`CHART_FORMATS`."""
    if fmt not in CHART_FORMATS:
        raise ChartError(f"unknown chart format {fmt!r}; expected one of {CHART_FORMATS}")


def _check_finite(name: str, value: float | None) -> None:
    """Raise :class:`ChartError` if ``value`` is NaN or infinite."""
    if value is not None and not math.isfinite(value):
        raise ChartError(f"{name} must be a finite number or None, got {value!r}")


def _check_series(series: TrendSeries) -> None:
    """Raise :class:`ChartError` unless the series can be drawn without guessing."""
    _check_finite("y_min", series.y_min)
    _check_finite("y_max", series.y_max)
    _check_finite("reference", series.reference)
    if not series.y_min < series.y_max:
        raise ChartError(f"y_min ({series.y_min}) must be below y_max ({series.y_max})")
    for index, point in enumerate(series.points):
        for name in ("value", "ci_low", "ci_high"):
            _check_finite(f"points[{index}].{name}", getattr(point, name))
        has_low, has_high = point.ci_low is not None, point.ci_high is not None
        if has_low != has_high:
            raise ChartError(f"points[{index}] needs both ci_low and ci_high, or neither")
        if point.value is None and has_low:
            raise ChartError(f"points[{index}] is hidden but carries a confidence interval")
        if point.value is not None and point.note:
            raise ChartError(f"points[{index}] has a value and a gap's note")
        if point.ci_low is not None and point.ci_high is not None and point.ci_low > point.ci_high:
            raise ChartError(f"points[{index}] has ci_low above ci_high")
    for index, _ in series.events:
        if not 0 <= index < len(series.points):
            raise ChartError(f"event index {index} is outside 0..{len(series.points) - 1}")


def _check_heatmap(data: HeatmapData) -> None:
    """Raise :class:`ChartError` unless values form a rows x columns grid on a usable scale."""
    _check_finite("centre", data.centre)
    _check_finite("span", data.span)
    if not data.span > 0:
        raise ChartError(f"span must be positive, got {data.span}")
    if len(data.values) != len(data.rows):
        raise ChartError(f"{len(data.values)} value rows for {len(data.rows)} row labels")
    for index, row in enumerate(data.values):
        if len(row) != len(data.columns):
            raise ChartError(
                f"values[{index}] has {len(row)} cells for {len(data.columns)} columns"
            )
        for column, value in enumerate(row):
            _check_finite(f"values[{index}][{column}]", value)
    if data.notes and [len(r) for r in data.notes] != [len(r) for r in data.values]:
        raise ChartError("notes must have the shape of values")


# --- drawing: trend ---------------------------------------------------------------------------


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
    for order, (index, text) in enumerate(series.events):
        draw_event(ax, index, text, order)
    if all(p.value is None for p in series.points):
        centred_message(ax, ALL_HIDDEN_MESSAGE)
        return
    draw_interval(ax, series)
    draw_line(ax, series)


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
    decimals = _decimals(series.y_max - series.y_min)
    right = blended_transform_factory(ax.transAxes, ax.transData)
    ax.text(
        REFERENCE_LABEL_X,
        shown,
        f"Reference\n{_fmt(reference, decimals)}",
        transform=right,
        ha="left",
        va="center",
        fontsize=NOTE_FONT_SIZE,
        color=REFERENCE_COLOUR,
        clip_on=False,
        parse_math=False,
    )


def draw_event(ax: Axes, index: int, text: str, order: int) -> None:
    """Draw an event as a dashed vertical line with a short label, staggered to avoid overlap."""
    ax.axvline(index, color=EVENT_COLOUR, linestyle="--", linewidth=1.0, zorder=2)
    top = blended_transform_factory(ax.transData, ax.transAxes)
    height = EVENT_LABEL_TOP - EVENT_LABEL_STAGGER * (order % 2)
    ax.annotate(
        fit_text(text, MAX_EVENT_CHARS, NOTE_FONT_SIZE, MAX_EVENT_INCHES),
        (index, height),
        xycoords=top,
        xytext=(EVENT_LABEL_OFFSET, 0),
        textcoords="offset points",
        ha="left",
        va="top",
        fontsize=NOTE_FONT_SIZE,
        color=EVENT_COLOUR,
        parse_math=False,
        zorder=5,
        bbox={"facecolor": BACKGROUND_COLOUR, "edgecolor": "none", "alpha": 0.8, "pad": 1},
    )


# --- drawing: heatmap -------------------------------------------------------------------------


@dataclass(frozen=True)
class HeatmapLayout:
    """Labels cut to fit, and the figure size that gives every cell and label room."""

    title: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    size: tuple[float, float]

    @classmethod
    def fit(cls, data: HeatmapData) -> HeatmapLayout:
        """Return the layout for ``data``, measuring its labels in the current font."""
        rows = tuple(
            fit_text(r, MAX_LABEL_CHARS, TICK_FONT_SIZE, MAX_ROW_LABEL_INCHES) for r in data.rows
        )
        columns = tuple(_wrap_column(c) for c in data.columns)
        title = fit_text(data.title, MAX_TITLE_CHARS, TITLE_FONT_SIZE, MAX_HEATMAP_TITLE_INCHES)
        row_width = max(_text_inches(r, TICK_FONT_SIZE) for r in rows)
        cell_width = max(
            HEATMAP_CELL_WIDTH,
            max(_text_inches(c, TICK_FONT_SIZE) for c in columns) + LABEL_GAP_INCHES,
        )
        column_lines = max(c.count("\n") + 1 for c in columns)
        width = max(
            HEATMAP_MIN_WIDTH,
            row_width + cell_width * len(columns) + HEATMAP_FIXED_WIDTH,
            _text_inches(title, TITLE_FONT_SIZE) + 2 * LABEL_GAP_INCHES,
        )
        height = max(
            HEATMAP_MIN_HEIGHT,
            HEATMAP_FIXED_HEIGHT
            + HEATMAP_LINE_HEIGHT * column_lines
            + HEATMAP_CELL_HEIGHT * len(rows),
        )
        return cls(title, rows, columns, (width, height))


def _wrap_column(label: str) -> str:
    """Return a column label wrapped onto at most a few short lines, each cut to fit."""
    lines = textwrap.wrap(_plain(label), COLUMN_WRAP_CHARS) or [""]
    if len(lines) > MAX_COLUMN_LABEL_LINES:
        lines = lines[:MAX_COLUMN_LABEL_LINES]
        lines[-1] = lines[-1][: COLUMN_WRAP_CHARS - 1].rstrip() + ELLIPSIS
    return "\n".join(
        fit_text(line, COLUMN_WRAP_CHARS, TICK_FONT_SIZE, MAX_COLUMN_LABEL_INCHES) for line in lines
    )


def draw_heatmap(fig: Figure, data: HeatmapData, layout: HeatmapLayout) -> None:
    """Draw the grid of cells, their values, the hidden cells and the colour bar."""
    ax = fig.add_subplot()
    n_rows, n_cols = len(data.rows), len(data.columns)
    grid = np.array([[np.nan if v is None else v for v in row] for row in data.values], dtype=float)
    low, high = data.centre - data.span, data.centre + data.span
    norm = Normalize(vmin=low, vmax=high)
    cmap = matplotlib.colormaps[HEATMAP_COLOURMAP]
    mesh = ax.pcolormesh(
        np.arange(n_cols + 1),
        np.arange(n_rows + 1),
        np.ma.masked_invalid(grid),
        cmap=cmap,
        norm=norm,
    )
    ax.set_xlim(0, n_cols)
    ax.set_ylim(n_rows, 0)  # first row at the top, as in a table
    # A figure title, not an axes title: a long axes title would squeeze the grid.
    fig.suptitle(
        layout.title,
        x=LABEL_GAP_INCHES / layout.size[0],
        ha="left",
        fontsize=TITLE_FONT_SIZE,
        parse_math=False,
    )
    ax.set_xticks(np.arange(n_cols) + 0.5, layout.columns)
    ax.set_yticks(np.arange(n_rows) + 0.5, layout.rows)
    for label in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
        label.set_parse_math(False)
    ax.tick_params(length=0, top=False, bottom=False, labeltop=True, labelbottom=False)
    for spine in ax.spines.values():
        spine.set_visible(False)

    decimals = _decimals(2 * data.span)
    for (row, col), value in np.ndenumerate(grid):
        if math.isnan(value):
            ax.add_patch(
                Rectangle(
                    (col, row),
                    1,
                    1,
                    facecolor=HIDDEN_FACE_COLOUR,
                    edgecolor=HIDDEN_HATCH_COLOUR,
                    hatch=HIDDEN_HATCH,
                    linewidth=0,
                )
            )
            ax.text(
                col + 0.5,
                row + 0.5,
                data.note(row, col),
                ha="center",
                va="center",
                fontsize=HIDDEN_FONT_SIZE,
                color=MUTED_TEXT_COLOUR,
                parse_math=False,
                bbox={"facecolor": HIDDEN_FACE_COLOUR, "edgecolor": "none", "pad": 1},
            )
        else:
            rgba = cmap(norm(value))
            ax.text(
                col + 0.5,
                row + 0.5,
                _fmt(value, decimals),
                ha="center",
                va="center",
                fontsize=TICK_FONT_SIZE,
                color=_text_colour_on(rgba[:3]),
                parse_math=False,
            )
    # White gutters separate the cells more cleanly than edge lines on each cell.
    ax.hlines(
        np.arange(1, n_rows), 0, n_cols, color=BACKGROUND_COLOUR, linewidth=HEATMAP_GRID_WIDTH
    )
    ax.vlines(
        np.arange(1, n_cols), 0, n_rows, color=BACKGROUND_COLOUR, linewidth=HEATMAP_GRID_WIDTH
    )

    shown = grid[~np.isnan(grid)]
    below = bool((shown < low).any())
    above = bool((shown > high).any())
    extend = {(False, False): "neither", (True, False): "min", (False, True): "max"}.get(
        (below, above), "both"
    )
    bar = fig.colorbar(mesh, ax=ax, extend=extend, shrink=0.9, aspect=15, pad=0.02)
    bar.set_ticks(
        [low, data.centre, high],
        labels=[_fmt(v, decimals) for v in (low, data.centre, high)],
    )
    bar.ax.tick_params(labelsize=NOTE_FONT_SIZE, length=2)
    bar.outline.set_visible(False)
    bar.set_label(
        f"Centred on {_fmt(data.centre, decimals)}",
        fontsize=NOTE_FONT_SIZE,
        color=MUTED_TEXT_COLOUR,
    )


def _text_colour_on(rgb: Sequence[float]) -> str:
    """Return dark or light text, whichever contrasts more with ``rgb`` (WCAG luminance)."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    on_dark_text = (luminance + 0.05) / 0.05
    on_light_text = 1.05 / (luminance + 0.05)
    return DARK_TEXT_COLOUR if on_dark_text >= on_light_text else LIGHT_TEXT_COLOUR


# --- shared helpers ---------------------------------------------------------------------------


@contextmanager
def rendering() -> Iterator[None]:
    """Hold the render lock and Candor's rcParams while a figure is built and saved."""
    # Text objects (tick labels included, which are created during drawing) read
    # text.parse_math when they are made, so the override must cover building and saving.
    # Starting from the built-in defaults keeps a deployment's matplotlibrc, or anything else
    # in the process that changed rcParams, from changing the bytes.
    with _RENDER_LOCK, matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(_RC)
        yield


def _render(fig: Figure, fmt: str) -> bytes:
    """Return ``fig`` as PNG or SVG bytes with no timestamp or version stamp."""
    buffer = io.BytesIO()
    if fmt == "png":
        FigureCanvasAgg(fig)
        fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    else:
        FigureCanvasSVG(fig)
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()


def _draw_message_only(fig: Figure, title: str, message: str) -> None:
    """Draw a title and a centred message on an otherwise empty figure."""
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(
        fit_text(title, MAX_TITLE_CHARS, TITLE_FONT_SIZE, TREND_TITLE_INCHES), parse_math=False
    )
    centred_message(ax, message)


def centred_message(ax: Axes, message: str) -> None:
    """Write ``message`` in the middle of ``ax`` on a white label."""
    ax.text(
        0.5,
        0.5,
        message,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=MESSAGE_FONT_SIZE,
        color=MUTED_TEXT_COLOUR,
        parse_math=False,
        zorder=6,
        bbox={"facecolor": BACKGROUND_COLOUR, "edgecolor": "none", "pad": 4},
    )


def fit_text(text: str, max_chars: int, size: float, max_inches: float) -> str:
    """Return ``text`` with each line cut to ``max_chars`` and ``max_inches`` at ``size`` points.

    A cut line ends in an ellipsis. Lines are measured in the current font, so wide glyphs
    are cut sooner than narrow ones.
    """
    fitted = []
    for line in text.split("\n"):
        if len(line) > max_chars:
            line = line[: max_chars - 1].rstrip() + ELLIPSIS
        if _text_inches(line, size) > max_inches:
            # Binary search for the longest prefix that fits with its ellipsis.
            low, high = 0, len(line)
            while low < high:
                middle = (low + high + 1) // 2
                candidate = line[:middle].rstrip() + ELLIPSIS
                if _text_inches(candidate, size) <= max_inches:
                    low = middle
                else:
                    high = middle - 1
            line = line[:low].rstrip() + ELLIPSIS
        fitted.append(line)
    return "\n".join(fitted)


def _text_inches(text: str, size: float) -> float:
    """Return the width in inches of the widest line of ``text`` at ``size`` points."""
    prop = FontProperties(size=size)
    widths = [
        text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0]
        for line in text.split("\n")
        if line
    ]
    return max(widths, default=0.0) / POINTS_PER_INCH


def _plain(text: str) -> str:
    """Return ``text`` on one line, with runs of whitespace (including newlines) as one space."""
    return re.sub(r"\s+", " ", text).strip()


def _decimals(value_range: float) -> int:
    """Return how many decimals make a value on a scale of width ``value_range`` readable."""
    if value_range >= WHOLE_NUMBER_RANGE:
        return 0
    if value_range >= ONE_DECIMAL_RANGE:
        return 1
    return 2


def _fmt(value: float, decimals: int) -> str:
    """Return ``value`` rounded to ``decimals`` places, without a negative zero."""
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _describe_change(change: float, decimals: int) -> str:
    """Return a phrase for the change between the first and last shown value."""
    size = _fmt(abs(change), decimals)
    if float(size) == 0:
        return "about the same"
    return f"up {size}" if change > 0 else f"down {size}"


def _plural(count: int, noun: str) -> str:
    """Return ``count`` with ``noun``, pluralised by adding "s" when needed."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
