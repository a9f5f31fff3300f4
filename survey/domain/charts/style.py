"""Chart style and the machinery every chart shares: constants, settings, text fitting, bytes.

Invariant: rendering happens only inside :func:`rendering` (the lock and Candor's rcParams,
math parsing off), and :func:`render` writes bytes with no date or software stamp, so the same
input always gives the same bytes.
"""

from __future__ import annotations

import io
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

from ..chartlook import *  # noqa: F403  (the look every chart shares, re-exported)
from ..chartlook import (
    BACKGROUND_COLOUR,
    BASE_FONT_SIZE,
    DARK_TEXT_COLOUR,
    DPI,
    ELLIPSIS,
    MAX_TITLE_CHARS,
    MESSAGE_FONT_SIZE,
    MUTED_TEXT_COLOUR,
    POINTS_PER_INCH,
    SVG_HASH_SALT,
    TICK_FONT_SIZE,
    TITLE_FONT_SIZE,
    TREND_TITLE_INCHES,
)

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType


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
