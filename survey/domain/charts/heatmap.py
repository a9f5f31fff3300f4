"""Heatmaps: units × themes of one round, coloured on a fixed scale, hidden cells hatched.

Invariant: a ``None`` cell is drawn grey, hatched and labelled ("hidden", or its note); the
colour bar shows the scale the data says, with its legend.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..chartinput import HeatmapData
from ..chartlook import check_heatmap, text_colour_on
from .style import (
    BACKGROUND_COLOUR,
    COLUMN_WRAP_CHARS,
    DPI,
    ELLIPSIS,
    EMPTY_HEATMAP_MESSAGE,
    HEATMAP_CELL_HEIGHT,
    HEATMAP_CELL_WIDTH,
    HEATMAP_COLOURMAP,
    HEATMAP_FIXED_HEIGHT,
    HEATMAP_FIXED_WIDTH,
    HEATMAP_GRID_WIDTH,
    HEATMAP_LINE_HEIGHT,
    HEATMAP_MIN_HEIGHT,
    HEATMAP_MIN_WIDTH,
    HIDDEN_FACE_COLOUR,
    HIDDEN_FONT_SIZE,
    HIDDEN_HATCH,
    HIDDEN_HATCH_COLOUR,
    LABEL_GAP_INCHES,
    MAX_COLUMN_LABEL_INCHES,
    MAX_COLUMN_LABEL_LINES,
    MAX_HEATMAP_TITLE_INCHES,
    MAX_LABEL_CHARS,
    MAX_ROW_LABEL_INCHES,
    MAX_TITLE_CHARS,
    MESSAGE_SIZE_INCHES,
    MUTED_TEXT_COLOUR,
    NOTE_FONT_SIZE,
    TICK_FONT_SIZE,
    TITLE_FONT_SIZE,
    check_format,
    decimals_for,
    draw_message_only,
    fit_text,
    number_text,
    plain,
    render,
    rendering,
    text_inches,
)


def heatmap_chart(data: HeatmapData, fmt: str = "png") -> bytes:
    """Return the heatmap drawn as ``fmt`` bytes; hidden cells appear grey, hatched and labelled.

    :raises ChartError: for an unknown ``fmt`` or values that do not match the rows and columns.
    """
    check_format(fmt)
    check_heatmap(data)
    with rendering():
        if not data.rows or not data.columns:
            fig = Figure(figsize=MESSAGE_SIZE_INCHES, dpi=DPI, layout="constrained")
            draw_message_only(fig, data.title, EMPTY_HEATMAP_MESSAGE)
        else:
            layout = HeatmapLayout.fit(data)
            fig = Figure(figsize=layout.size, dpi=DPI, layout="constrained")
            draw_heatmap(fig, data, layout)
        return render(fig, fmt)


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
        row_width = max(text_inches(r, TICK_FONT_SIZE) for r in rows)
        cell_width = max(
            HEATMAP_CELL_WIDTH,
            max(text_inches(c, TICK_FONT_SIZE) for c in columns) + LABEL_GAP_INCHES,
        )
        column_lines = max(c.count("\n") + 1 for c in columns)
        width = max(
            HEATMAP_MIN_WIDTH,
            row_width + cell_width * len(columns) + HEATMAP_FIXED_WIDTH,
            text_inches(title, TITLE_FONT_SIZE) + 2 * LABEL_GAP_INCHES,
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
    lines = textwrap.wrap(plain(label), COLUMN_WRAP_CHARS) or [""]
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

    decimals = decimals_for(2 * data.span)
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
                number_text(value, decimals),
                ha="center",
                va="center",
                fontsize=TICK_FONT_SIZE,
                color=text_colour_on(rgba[:3]),
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
        labels=[number_text(v, decimals) for v in (low, data.centre, high)],
    )
    bar.ax.tick_params(labelsize=NOTE_FONT_SIZE, length=2)
    bar.outline.set_visible(False)
    bar.set_label(
        f"Centred on {number_text(data.centre, decimals)}",
        fontsize=NOTE_FONT_SIZE,
        color=MUTED_TEXT_COLOUR,
    )
