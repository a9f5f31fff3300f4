"""The heatmap drawn as SVG in plain Python: the chart the heatmap page shows.

Invariant: the same as :mod:`survey.domain.charts`' heatmap, on the same look
(:mod:`survey.domain.chartlook`): a ``None`` cell is grey, hatched and labelled ("hidden", or
its note), never coloured; a shown cell is coloured on the fixed diverging scale (values
beyond it take the end colours, and the colour bar says so with an arrow) and carries its
number; every label is text, escaped, so user text is drawn literally and never read as
markup; the same input always gives the same bytes. Nothing here imports matplotlib, so a
heatmap nobody has drawn yet costs milliseconds, not the seconds of starting matplotlib.

Text is laid out by the browser, in the user's own fonts; widths are estimated generously
(:func:`text_px`) to size the columns and cut labels, as the matplotlib chart measures them.
"""

from __future__ import annotations

import math
import textwrap
from html import escape

from .chartinput import HeatmapData
from .chartlook import (
    BACKGROUND_COLOUR,
    COLUMN_WRAP_CHARS,
    DARK_TEXT_COLOUR,
    DPI,
    ELLIPSIS,
    EMPTY_HEATMAP_MESSAGE,
    HEATMAP_CELL_HEIGHT,
    HEATMAP_CELL_WIDTH,
    HEATMAP_GRID_WIDTH,
    HEATMAP_LINE_HEIGHT,
    HEATMAP_STOPS,
    HIDDEN_FACE_COLOUR,
    HIDDEN_FONT_SIZE,
    HIDDEN_HATCH_COLOUR,
    LABEL_GAP_INCHES,
    MAX_COLUMN_LABEL_INCHES,
    MAX_COLUMN_LABEL_LINES,
    MAX_HEATMAP_TITLE_INCHES,
    MAX_LABEL_CHARS,
    MAX_ROW_LABEL_INCHES,
    MAX_TITLE_CHARS,
    MESSAGE_FONT_SIZE,
    MESSAGE_SIZE_INCHES,
    MUTED_TEXT_COLOUR,
    NOTE_FONT_SIZE,
    POINTS_PER_INCH,
    TICK_FONT_SIZE,
    TITLE_FONT_SIZE,
    check_heatmap,
    decimals_for,
    number_text,
    plain,
    text_colour_on,
)

FONT_FAMILY = "DejaVu Sans, Verdana, Arial, sans-serif"
HATCH_ID = "candor-hidden"
HATCH_SPACING = 6  # px between the hatch's diagonal lines
BAR_WIDTH = 14  # px: the colour bar
BAR_MAX_HEIGHT = 320  # px: a tall heatmap keeps a readable bar, not one as tall as the grid
BAR_GAP = 14  # px between the grid and the bar
BAR_LABEL_ROOM = 64  # px right of the bar for its numbers and its rotated label
ARROW = 8  # px: the bar's arrow when values lie beyond the scale
# Estimated advance per character, as a share of the font size (DejaVu Sans, rounded up).
NARROW, SLIM, WIDE, CAPITAL, DIGIT, OTHER = 0.34, 0.42, 0.92, 0.72, 0.64, 0.62
NARROW_CHARS = frozenset(" .,:;'!|()[]{}ijlI")
SLIM_CHARS = frozenset("frt-/")
WIDE_CHARS = frozenset("mwMW@%")
WIDTH_MARGIN = 1.1  # room for a browser font a little wider than the estimate


def px(points: float) -> float:
    """Return a font size given in points as pixels at the charts' DPI."""
    return points * DPI / POINTS_PER_INCH


def text_px(text: str, points: float) -> float:
    """Return an estimate, erring wide, of the width of the widest line of ``text``."""

    def advance(char: str) -> float:
        if char in NARROW_CHARS:
            return NARROW
        if char in SLIM_CHARS:
            return SLIM
        if char in WIDE_CHARS:
            return WIDE
        if char.isdigit():
            return DIGIT
        if char.isupper():
            return CAPITAL
        return OTHER if ord(char) < 0x2E80 else 1.0  # CJK and wider scripts: a full em

    lines = text.split("\n")
    return max((sum(advance(c) for c in line) for line in lines), default=0.0) * px(points)


def cut(text: str, max_chars: int, points: float, max_px: float) -> str:
    """Return ``text`` (one line) cut to ``max_chars`` and ``max_px``, ending in an ellipsis."""
    line = plain(text)
    if len(line) > max_chars:
        line = line[: max_chars - 1].rstrip() + ELLIPSIS
    while line and text_px(line, points) > max_px:
        line = line[:-2].rstrip() + ELLIPSIS
    return line


def column_lines(label: str) -> list[str]:
    """Return a column label wrapped onto at most a few short lines, each cut to fit."""
    lines = textwrap.wrap(plain(label), COLUMN_WRAP_CHARS) or [""]
    if len(lines) > MAX_COLUMN_LABEL_LINES:
        lines = lines[:MAX_COLUMN_LABEL_LINES]
        lines[-1] = lines[-1][: COLUMN_WRAP_CHARS - 1].rstrip() + ELLIPSIS
    limit = MAX_COLUMN_LABEL_INCHES * DPI
    return [cut(line, COLUMN_WRAP_CHARS, TICK_FONT_SIZE, limit) for line in lines]


def colour_at(value: float, low: float, high: float) -> str:
    """Return the scale's colour for ``value`` (beyond the scale: its end colour), as #rrggbb."""
    share = min(1.0, max(0.0, (value - low) / (high - low)))
    position = share * (len(HEATMAP_STOPS) - 1)
    index = min(int(position), len(HEATMAP_STOPS) - 2)
    start, end = _rgb(HEATMAP_STOPS[index]), _rgb(HEATMAP_STOPS[index + 1])
    mix = position - index
    return "#" + "".join(f"{round(a + (b - a) * mix):02x}" for a, b in zip(start, end, strict=True))


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _text(x: float, y: float, text: str, points: float, colour: str, **extra: str) -> str:
    attributes = "".join(f' {name.replace("_", "-")}="{value}"' for name, value in extra.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{px(points):.1f}" fill="{colour}"'
        f"{attributes}>{escape(text)}</text>"
    )


def _document(width: float, height: float, title: str, desc: str, body: list[str]) -> bytes:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{math.ceil(width)}" '
        f'height="{math.ceil(height)}" viewBox="0 0 {math.ceil(width)} {math.ceil(height)}" '
        f'role="img" aria-labelledby="title desc" font-family="{FONT_FAMILY}">'
        f'<title id="title">{escape(title)}</title><desc id="desc">{escape(desc)}</desc>'
        f'<rect width="100%" height="100%" fill="{BACKGROUND_COLOUR}"/>'
    )
    return ("\n".join([head, *body, "</svg>"]) + "\n").encode()


def heatmap_svg(data: HeatmapData) -> bytes:
    """Return the heatmap as SVG bytes; hidden cells appear grey, hatched and labelled.

    :raises ChartError: for values that do not match the rows and columns.
    """
    check_heatmap(data)
    gap = LABEL_GAP_INCHES * DPI
    title = cut(data.title, MAX_TITLE_CHARS, TITLE_FONT_SIZE, MAX_HEATMAP_TITLE_INCHES * DPI)
    title_line = _text(gap, gap + px(TITLE_FONT_SIZE), title, TITLE_FONT_SIZE, DARK_TEXT_COLOUR)
    if not data.rows or not data.columns:
        width, height = (side * DPI for side in MESSAGE_SIZE_INCHES)
        message = _text(
            width / 2,
            height / 2,
            EMPTY_HEATMAP_MESSAGE,
            MESSAGE_FONT_SIZE,
            MUTED_TEXT_COLOUR,
            text_anchor="middle",
        )
        return _document(width, height, data.title, data.legend, [title_line, message])

    rows = [cut(r, MAX_LABEL_CHARS, TICK_FONT_SIZE, MAX_ROW_LABEL_INCHES * DPI) for r in data.rows]
    columns = [column_lines(c) for c in data.columns]
    row_width = max(text_px(r, TICK_FONT_SIZE) for r in rows) * WIDTH_MARGIN + 2 * gap
    cell_w = max(
        HEATMAP_CELL_WIDTH * DPI,
        max(text_px(line, TICK_FONT_SIZE) for c in columns for line in c) + 2 * gap,
    )
    cell_h = HEATMAP_CELL_HEIGHT * DPI
    line_h = HEATMAP_LINE_HEIGHT * DPI
    lines = max(len(c) for c in columns)
    top = 2 * gap + 1.6 * px(TITLE_FONT_SIZE) + lines * line_h + gap
    left = row_width
    grid_w, grid_h = cell_w * len(columns), cell_h * len(rows)
    low, high = data.centre - data.span, data.centre + data.span
    decimals = decimals_for(2 * data.span)
    half = HEATMAP_GRID_WIDTH / 2  # white gutters between cells
    tick = px(TICK_FONT_SIZE)

    body = [
        f'<defs><pattern id="{HATCH_ID}" patternUnits="userSpaceOnUse" width="{HATCH_SPACING}" '
        f'height="{HATCH_SPACING}" patternTransform="rotate(45)">'
        f'<rect width="{HATCH_SPACING}" height="{HATCH_SPACING}" fill="{HIDDEN_FACE_COLOUR}"/>'
        f'<line x1="0" y1="0" x2="0" y2="{HATCH_SPACING}" stroke="{HIDDEN_HATCH_COLOUR}" '
        f'stroke-width="1.6"/></pattern></defs>',
        title_line,
    ]
    for index, wrapped in enumerate(columns):
        x = left + cell_w * (index + 0.5)
        first = top - gap - line_h * (len(wrapped) - 1)
        for number, line in enumerate(wrapped):
            body.append(
                _text(
                    x,
                    first + number * line_h,
                    line,
                    TICK_FONT_SIZE,
                    DARK_TEXT_COLOUR,
                    text_anchor="middle",
                )
            )
    shown: list[float] = []
    for r, (label, values) in enumerate(zip(rows, data.values, strict=True)):
        y = top + cell_h * r
        middle = y + cell_h / 2 + tick * 0.35
        body.append(
            _text(left - gap, middle, label, TICK_FONT_SIZE, DARK_TEXT_COLOUR, text_anchor="end")
        )
        for c, value in enumerate(values):
            x = left + cell_w * c
            box = (
                f'x="{x + half:.1f}" y="{y + half:.1f}" width="{cell_w - 2 * half:.1f}" '
                f'height="{cell_h - 2 * half:.1f}"'
            )
            centre = x + cell_w / 2
            if value is None:
                body.append(f'<rect {box} fill="url(#{HATCH_ID})"/>')
                note = data.note(r, c)
                # A plain label behind the note keeps it readable on the hatching.
                w = text_px(note, HIDDEN_FONT_SIZE) + 4
                body.append(
                    f'<rect x="{centre - w / 2:.1f}" y="{middle - px(HIDDEN_FONT_SIZE):.1f}" '
                    f'width="{w:.1f}" height="{px(HIDDEN_FONT_SIZE) * 1.3:.1f}" '
                    f'fill="{HIDDEN_FACE_COLOUR}"/>'
                )
                body.append(
                    _text(
                        centre,
                        middle,
                        note,
                        HIDDEN_FONT_SIZE,
                        MUTED_TEXT_COLOUR,
                        text_anchor="middle",
                    )
                )
                continue
            shown.append(value)
            fill = colour_at(value, low, high)
            ink = text_colour_on([channel / 255 for channel in _rgb(fill)])
            body.append(f'<rect {box} fill="{fill}"/>')
            body.append(
                _text(
                    centre,
                    middle,
                    number_text(value, decimals),
                    TICK_FONT_SIZE,
                    ink,
                    text_anchor="middle",
                )
            )

    body += _colour_bar(left + grid_w + BAR_GAP, top, min(grid_h, BAR_MAX_HEIGHT), data, shown)
    width = left + grid_w + BAR_GAP + BAR_WIDTH + BAR_LABEL_ROOM
    return _document(width, top + grid_h + gap, data.title, data.legend, body)


def _colour_bar(
    x: float, y: float, height: float, data: HeatmapData, shown: list[float]
) -> list[str]:
    """Return the colour bar: the scale's gradient, its ends and centre, arrows if exceeded."""
    low, high = data.centre - data.span, data.centre + data.span
    decimals = decimals_for(2 * data.span)
    stops = "".join(
        f'<stop offset="{i / (len(HEATMAP_STOPS) - 1):.3f}" stop-color="{colour}"/>'
        for i, colour in enumerate(reversed(HEATMAP_STOPS))  # the top of the bar is high
    )
    parts = [
        f'<defs><linearGradient id="candor-scale" x1="0" y1="0" x2="0" y2="1">{stops}'
        "</linearGradient></defs>",
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{BAR_WIDTH}" height="{height:.1f}" '
        'fill="url(#candor-scale)"/>',
    ]
    note = px(NOTE_FONT_SIZE)
    for value, at in ((high, y), (data.centre, y + height / 2), (low, y + height)):
        parts.append(
            _text(
                x + BAR_WIDTH + 4,
                at + note * 0.35,
                number_text(value, decimals),
                NOTE_FONT_SIZE,
                MUTED_TEXT_COLOUR,
            )
        )
    if any(v > high for v in shown):
        parts.append(_arrow(x, y, -1, HEATMAP_STOPS[-1]))
    if any(v < low for v in shown):
        parts.append(_arrow(x, y + height, 1, HEATMAP_STOPS[0]))
    label_x = x + BAR_WIDTH + BAR_LABEL_ROOM - note
    parts.append(
        _text(
            label_x,
            y + height / 2,
            f"Centred on {number_text(data.centre, decimals)}",
            NOTE_FONT_SIZE,
            MUTED_TEXT_COLOUR,
            text_anchor="middle",
            transform=f"rotate(90 {label_x:.1f} {y + height / 2:.1f})",
        )
    )
    return parts


def _arrow(x: float, y: float, direction: int, colour: str) -> str:
    """Return a triangle past one end of the bar (``direction`` -1: up, 1: down)."""
    tip = y + direction * ARROW
    return (
        f'<path d="M{x:.1f},{y:.1f} L{x + BAR_WIDTH:.1f},{y:.1f} '
        f'L{x + BAR_WIDTH / 2:.1f},{tip:.1f} Z" fill="{colour}"/>'
    )
