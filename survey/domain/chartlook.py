"""What every chart shares without a drawing library: its look, its words and its checks.

Invariant: nothing here imports matplotlib, so a page, a cache key or the SVG heatmap
(:mod:`survey.domain.heatmap_svg`) can use the charts' colours, sizes, text limits, input
checks and a trend's text alternative without paying for it; :mod:`survey.domain.charts`
draws with the same values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from .chartinput import HeatmapData, TrendSeries
from .disclosure import HIDDEN_TEXT
from .reporting.wording import plural

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
EVENT_LINE_SPACING = 1.5  # an event label row, in multiples of its font size
EVENT_LABEL_ROOM = 0.6  # event label rows may fill this top share of the plot
HIDDEN_LABEL_BOTTOM = 0.03  # axes fraction
REFERENCE_LABEL_X = 1.01  # axes fraction: just right of the plot
LINE_WIDTH = 2.0
MARKER_SIZE = 5.0
CLIPPED_MARKER_SIZE = 7.0

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

# The diverging scale of HEATMAP_COLOURMAP (ColorBrewer BrBG, 11 classes), low to high, which
# matplotlib interpolates linearly; the SVG heatmap interpolates the same stops.
HEATMAP_STOPS = (
    "#543005",
    "#8c510a",
    "#bf812d",
    "#dfc27d",
    "#f6e8c3",
    "#f5f5f5",
    "#c7eae5",
    "#80cdc1",
    "#35978f",
    "#01665e",
    "#003c30",
)


class ChartError(ValueError):
    """Raised for an unknown format or data whose shapes or values do not fit together."""


def check_format(fmt: str) -> None:
    """Raise :class:`ChartError` unless ``fmt`` is one of :data:`CHART_FORMATS`."""
    if fmt not in CHART_FORMATS:
        raise ChartError(f"unknown chart format {fmt!r}; expected one of {CHART_FORMATS}")


def check_finite(name: str, value: float | None) -> None:
    """Raise :class:`ChartError` if ``value`` is NaN or infinite."""
    if value is not None and not math.isfinite(value):
        raise ChartError(f"{name} must be a finite number or None, got {value!r}")


def check_heatmap(data: HeatmapData) -> None:
    """Raise :class:`ChartError` unless values form a rows x columns grid on a usable scale."""
    check_finite("centre", data.centre)
    check_finite("span", data.span)
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
            check_finite(f"values[{index}][{column}]", value)
    if data.notes and [len(r) for r in data.notes] != [len(r) for r in data.values]:
        raise ChartError("notes must have the shape of values")


def plain(text: str) -> str:
    """Return ``text`` on one line, with runs of whitespace (including newlines) as one space."""
    return re.sub(r"\s+", " ", text).strip()


def decimals_for(value_range: float) -> int:
    """Return how many decimals make a value on a scale of width ``value_range`` readable."""
    if value_range >= WHOLE_NUMBER_RANGE:
        return 0
    if value_range >= ONE_DECIMAL_RANGE:
        return 1
    return 2


def number_text(value: float, decimals: int) -> str:
    """Return ``value`` rounded to ``decimals`` places, without a negative zero."""
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def text_colour_on(rgb: Sequence[float]) -> str:
    """Return dark or light text, whichever contrasts more with ``rgb`` (WCAG luminance)."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    on_dark_text = (luminance + 0.05) / 0.05
    on_light_text = 1.05 / (luminance + 0.05)
    return DARK_TEXT_COLOUR if on_dark_text >= on_light_text else LIGHT_TEXT_COLOUR


def check_series(series: TrendSeries) -> None:
    """Raise :class:`ChartError` unless the series can be drawn without guessing."""
    check_finite("y_min", series.y_min)
    check_finite("y_max", series.y_max)
    check_finite("reference", series.reference)
    if not series.y_min < series.y_max:
        raise ChartError(f"y_min ({series.y_min}) must be below y_max ({series.y_max})")
    for index, point in enumerate(series.points):
        for name in ("value", "ci_low", "ci_high"):
            check_finite(f"points[{index}].{name}", getattr(point, name))
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


def describe_trend(series: TrendSeries) -> str:
    """Return a one-paragraph plain-English text alternative to :func:`trend_chart`.

    :raises ChartError: for an inconsistent series.
    """
    check_series(series)
    title = plain(series.title)
    total = len(series.points)
    if total == 0:
        return f"{title}: {EMPTY_TREND_MESSAGE.lower()}."
    shown = [(p.label, p.value) for p in series.points if p.value is not None]
    noted = [f"{plain(p.label)}: {p.note}" for p in series.points if p.value is None and p.note]
    hidden = total - len(shown) - len(noted)
    rounds = plural(total, "round")
    gaps = f" Without an exact figure: {'; '.join(noted)}." if noted else ""
    if not shown and not noted:
        which = "the only round is" if total == 1 else f"all {rounds} are"
        return f"{title}: {which} {HIDDEN_TEXT}."
    if not shown:
        hid = f" {plural(hidden, 'round').capitalize()} {HIDDEN_TEXT}." if hidden else ""
        return f"{title}: {plain(series.y_label)}, {rounds}.{gaps.rstrip()}{hid}"
    decimals = decimals_for(series.y_max - series.y_min)
    first_label, first = shown[0]
    last_label, last = shown[-1]
    sentences = [f"{title}: {plain(series.y_label)}, {rounds}."]
    if len(shown) == 1:
        sentences.append(
            f"Only one round is shown: {number_text(first, decimals)} in {plain(first_label)}."
        )
    else:
        sentences.append(
            f"The first shown value is {number_text(first, decimals)} in {plain(first_label)} "
            f"and the last is {number_text(last, decimals)} in {plain(last_label)}, "
            f"{describe_change(last - first, decimals)}."
        )
    if noted:
        sentences.append(gaps.strip())
    if hidden:
        verb = "is" if hidden == 1 else "are"
        sentences.append(f"{plural(hidden, 'round').capitalize()} of {total} {verb} {HIDDEN_TEXT}.")
    else:
        sentences.append("No rounds are hidden.")
    if series.reference is not None:
        sentences.append(f"The reference line is at {number_text(series.reference, decimals)}.")
    if series.events:
        marked = "; ".join(
            f"{plain(text)} ({plain(series.points[index].label)})" for index, text in series.events
        )
        sentences.append(f"Marked events: {marked}.")
    return " ".join(sentences)


def describe_change(change: float, decimals: int) -> str:
    """Return a phrase for the change between the first and last shown value."""
    size = number_text(abs(change), decimals)
    if float(size) == 0:
        return "about the same"
    return f"up {size}" if change > 0 else f"down {size}"
