"""Chart style and the machinery every chart shares: constants, settings, text fitting, bytes.

Invariant: rendering happens only inside :func:`rendering` (the lock and Candor's rcParams,
math parsing off), and :func:`render` writes bytes with no date or software stamp, so the same
input always gives the same bytes.
"""

from __future__ import annotations

import io
import math
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path

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


def render(fig: Figure, fmt: str) -> bytes:
    """Return ``fig`` as PNG or SVG bytes with no timestamp or version stamp."""
    buffer = io.BytesIO()
    if fmt == "png":
        FigureCanvasAgg(fig)
        fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    else:
        FigureCanvasSVG(fig)
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()


def draw_message_only(fig: Figure, title: str, message: str) -> None:
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
        if text_inches(line, size) > max_inches:
            # Binary search for the longest prefix that fits with its ellipsis.
            low, high = 0, len(line)
            while low < high:
                middle = (low + high + 1) // 2
                candidate = line[:middle].rstrip() + ELLIPSIS
                if text_inches(candidate, size) <= max_inches:
                    low = middle
                else:
                    high = middle - 1
            line = line[:low].rstrip() + ELLIPSIS
        fitted.append(line)
    return "\n".join(fitted)


def text_inches(text: str, size: float) -> float:
    """Return the width in inches of the widest line of ``text`` at ``size`` points."""
    prop = FontProperties(size=size)
    widths = [
        text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0]
        for line in text.split("\n")
        if line
    ]
    return max(widths, default=0.0) / POINTS_PER_INCH


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
