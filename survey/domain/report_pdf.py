"""The printable report of one released round, as a PDF drawn with matplotlib ``Figure`` objects.

Invariant: the PDF draws exactly the :class:`~survey.domain.reporting.Report` it is given,
which :func:`survey.domain.reporting.report` builds from manifests alone; a hidden cell is drawn
as a hatched gap (trends) or a hatched "hidden" cell (heatmap), never as a number. The same
report always gives the same bytes: no creation date, a fixed creator and producer. Pages are
built with ``Figure`` and saved through ``PdfPages``, never ``pyplot``, under the chart module's
render lock and settings (math parsing off, so user text such as event labels is drawn as typed).
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from . import charts
from .disclosure import ABSENT_TEXT, HIDDEN_TEXT, UNIFORM_TEXT
from .reporting import FAVOURABLE_CODING, NOT_ASKED_TEXT, Report, ReportTrend, trend_point

PAGE_PORTRAIT = (8.27, 11.69)  # A4, inches
PAGE_LANDSCAPE = (11.69, 8.27)
MARGIN = 0.6  # inches on every side
LINE_INCHES = {14: 0.3, 11: 0.23, 9: 0.18, 8: 0.16}  # line height per font size
# Average DejaVu Sans advance per character of English text (measured), for wrapping.
CHAR_INCHES = {14: 0.108, 11: 0.086, 9: 0.072, 8: 0.064}
TITLE_SIZE, HEADING_SIZE, BODY_SIZE, NOTE_SIZE = 14, 11, 9, 8
PARAGRAPH_GAP = 0.08  # inches after a paragraph
# Where the small multiples sit on a portrait page (figure fractions), leaving room for the
# page title above, the note below and each panel's title and tick labels.
PANEL_GRID = {
    "left": (MARGIN + 0.35) / PAGE_PORTRAIT[0],
    "right": 1 - MARGIN / PAGE_PORTRAIT[0],
    "bottom": (MARGIN + 0.35) / PAGE_PORTRAIT[1],
    "top": 1 - (MARGIN + 0.55) / PAGE_PORTRAIT[1],
    "wspace": 0.3,
    "hspace": 0.6,
}
PANEL_COLUMNS = 2
PANEL_ROWS = 4  # small multiples per page: 2 x 4 fits the eight themes of the core bank
MAX_PANEL_TICKS = 6
METADATA = {"Creator": "Candor", "Producer": "Candor", "CreationDate": None}  # and a Title
NO_ACTIONS = "No actions have been recorded for this round yet."


@dataclass
class _Flow:
    """Lays text out top to bottom over as many portrait pages as it needs."""

    title: str
    pages: list[Figure] = field(default_factory=list)
    y: float = 0.0  # inches from the bottom of the current page

    def _page(self) -> Figure:
        fig = Figure(figsize=PAGE_PORTRAIT)
        self.pages.append(fig)
        self.y = PAGE_PORTRAIT[1] - MARGIN
        return fig

    def write(
        self,
        text: str,
        size: int = BODY_SIZE,
        bold: bool = False,
        indent: float = 0.0,
        gap: float = PARAGRAPH_GAP,
    ) -> None:
        """Add a wrapped paragraph, starting a new page when this one is full."""
        width = PAGE_PORTRAIT[0] - 2 * MARGIN - indent
        lines = textwrap.wrap(text, max(20, int(width / CHAR_INCHES[size]))) or [""]
        for line in lines:
            if not self.pages or self.y - LINE_INCHES[size] < MARGIN:
                self._page()
                if len(self.pages) > 1:
                    self._place(f"{self.title} (continued)", NOTE_SIZE, False, 0.0)
            self._place(line, size, bold, indent)
        self.y -= gap

    def _place(self, line: str, size: int, bold: bool, indent: float) -> None:
        fig = self.pages[-1]
        self.y -= LINE_INCHES[size]
        fig.text(
            (MARGIN + indent) / PAGE_PORTRAIT[0],
            self.y / PAGE_PORTRAIT[1],
            line,
            fontsize=size,
            fontweight="bold" if bold else "normal",
            color=charts.DARK_TEXT_COLOUR,
            va="bottom",
            parse_math=False,
        )

    def gap(self, inches: float) -> None:
        """Leave vertical space."""
        self.y -= inches


def _overview_pages(report: Report) -> list[Figure]:
    """Headlines with their sentences, the largest changes, participation and the verdict."""
    view = report.overview
    flow = _Flow(f"{report.program}: {report.round_label}")
    flow.write(report.title, TITLE_SIZE, bold=True)
    flow.write(
        f"Round closed on {report.closed_on}. {view.rounds} released rounds so far. "
        f"{view.participation_sentence}",
        BODY_SIZE,
    )
    flow.gap(0.1)
    flow.write(f"Headlines for {view.unit_path}", HEADING_SIZE, bold=True)
    for item in view.headlines:
        change = ""
        if item.change is not None:
            change = "   change " + _signed(item.change.delta)
            change += " (clear)" if item.change.clear else " (within uncertainty)"
        flow.write(f"{item.label}: {item.value_text}{change}", BODY_SIZE, bold=True, gap=0.0)
        flow.write(item.sentence, BODY_SIZE, indent=0.2)
    flow.gap(0.1)
    flow.write("Largest changes", HEADING_SIZE, bold=True)
    flow.write(view.movements_sentence, BODY_SIZE)
    for move in view.movements:
        flow.write("• " + move.sentence, BODY_SIZE, indent=0.2)
    flow.gap(0.1)
    flow.write("What was protected", HEADING_SIZE, bold=True)
    flow.write(report.verdict, BODY_SIZE)
    flow.write(
        "Indices run from 0 to 100 (eNPS from −100 to +100), higher is healthier. A change is "
        "called clear when it is larger than 1.96 × the combined standard error of the two "
        f"measurements. A cell without a figure is {HIDDEN_TEXT}; where {UNIFORM_TEXT}, "
        "the index is coded (for example ≥ 90) instead of exact; a unit created later reads "
        f"{ABSENT_TEXT!r} in earlier rounds, and a rotating theme reads {NOT_ASKED_TEXT!r} "
        "in a round that left it out.",
        NOTE_SIZE,
    )
    flow.write(FAVOURABLE_CODING, NOTE_SIZE)
    return flow.pages


def _signed(value: float) -> str:
    text = f"{abs(value):.0f}"
    return "0" if text == "0" else ("+" if value > 0 else "\u2212") + text


def _series(trend: ReportTrend) -> charts.TrendSeries:
    points = tuple(
        trend_point(tick, row) for tick, row in zip(trend.ticks, trend.rows, strict=True)
    )
    return charts.TrendSeries(
        title=trend.theme_label,
        y_label="",
        y_min=trend.y_min,
        y_max=trend.y_max,
        points=points,
        events=trend.events,
    )


def _draw_panel(ax: Axes, trend: ReportTrend, width_inches: float) -> None:
    """Draw one small multiple with the chart module's own gap, band, line and event drawing."""
    series = _series(trend)
    ax.set_title(
        charts.fit_text(
            trend.theme_label, charts.MAX_TITLE_CHARS, charts.BASE_FONT_SIZE, width_inches
        ),
        fontsize=charts.BASE_FONT_SIZE,
        parse_math=False,
    )
    ax.set_ylim(series.y_min, series.y_max)
    ax.grid(axis="y", color=charts.GRID_COLOUR, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(axis="x", length=0)
    if not series.points:
        ax.set_xticks([])
        charts.centred_message(ax, charts.EMPTY_TREND_MESSAGE)
        return
    count = len(series.points)
    ax.set_xlim(-0.5, count - 0.5)
    step = math.ceil(count / MAX_PANEL_TICKS)
    positions = list(range(0, count, step))
    ax.set_xticks(positions, [trend.ticks[i] for i in positions])
    for label in [*ax.get_xticklabels(), *ax.get_yticklabels()]:
        label.set_parse_math(False)
    charts.draw_hidden_bands(ax, series)
    if all(p.value is None for p in series.points):
        charts.centred_message(ax, charts.ALL_HIDDEN_MESSAGE)
    else:
        charts.draw_interval(ax, series)
        charts.draw_line(ax, series)
    charts.draw_events(ax, series.events, count)  # the fixed grid has sized the panel


def _trend_pages(report: Report) -> list[Figure]:
    """One page of small multiples (one panel per theme) per unit: organisation, departments."""
    pages = []
    per_page = PANEL_COLUMNS * PANEL_ROWS
    panel_width = (PAGE_PORTRAIT[0] - 2 * MARGIN) / PANEL_COLUMNS
    for unit_path, trends in report.trends:
        for start in range(0, max(len(trends), 1), per_page):
            # A fixed grid, not the constrained layout: its solver's rounding varies from run
            # to run (sets of artists), which would change the bytes of an identical report.
            fig = Figure(figsize=PAGE_PORTRAIT)
            fig.subplots_adjust(**PANEL_GRID)
            fig.suptitle(
                charts.fit_text(f"Trends: {unit_path}", charts.MAX_TITLE_CHARS, HEADING_SIZE, 7.0),
                x=MARGIN / PAGE_PORTRAIT[0],
                y=1 - MARGIN / PAGE_PORTRAIT[1],
                ha="left",
                va="top",
                fontsize=HEADING_SIZE,
                fontweight="bold",
                parse_math=False,
            )
            axes = fig.subplots(PANEL_ROWS, PANEL_COLUMNS, squeeze=False)
            chunk = trends[start : start + per_page]
            for ax, trend in zip(axes.flat, chunk, strict=False):
                _draw_panel(ax, trend, panel_width - 0.3)
            for ax in list(axes.flat)[len(chunk) :]:
                ax.set_axis_off()
            fig.text(
                MARGIN / PAGE_PORTRAIT[0],
                MARGIN / 2 / PAGE_PORTRAIT[1],
                f"Line: mean index; band: 95 % interval; hatched: {HIDDEN_TEXT}, or labelled "
                "with a coded index or why there is no figure;\ndashed: an event marked by HR. "
                "eNPS panels run from −100 to +100.",
                fontsize=NOTE_SIZE,
                color=charts.MUTED_TEXT_COLOUR,
                parse_math=False,
            )
            pages.append(fig)
    return pages


def _heatmap_page(report: Report) -> Figure:
    """The round's organisation and departments by theme, as on the dashboard's heatmap."""
    # The page writes its own heading inside the margins; the chart's title would sit at the
    # figure's corner.
    data = report.heatmap.chart_input(title="")
    if not data.rows or not data.columns:
        fig = Figure(figsize=PAGE_PORTRAIT)
        flow = _Flow("Heatmap", pages=[fig], y=PAGE_PORTRAIT[1] - MARGIN)
        flow.write(report.heatmap.title, HEADING_SIZE, bold=True)
        flow.write(report.heatmap.description, BODY_SIZE)
        return fig
    layout = charts.HeatmapLayout.fit(data)
    chart_w, chart_h = layout.size
    page = PAGE_PORTRAIT if chart_w <= PAGE_PORTRAIT[0] - 2 * MARGIN else PAGE_LANDSCAPE
    width = max(page[0], chart_w + 2 * MARGIN)
    lines = textwrap.wrap(
        f"{report.heatmap.legend} {report.heatmap.description}",
        int((width - 2 * MARGIN) / CHAR_INCHES[BODY_SIZE]),
    )
    heading_h = LINE_INCHES[HEADING_SIZE] * 2
    text_h = LINE_INCHES[BODY_SIZE] * (len(lines) + 1)
    height = max(page[1], heading_h + chart_h + text_h + 2 * MARGIN)
    chart_top = height - MARGIN - heading_h
    # The chart keeps the size its layout asked for, under the heading; the text follows.
    rect = (MARGIN / width, (chart_top - chart_h) / height, chart_w / width, chart_h / height)
    fig = Figure(figsize=(width, height), layout=ConstrainedLayoutEngine(rect=rect))
    charts.draw_heatmap(fig, data, layout)
    fig.text(
        MARGIN / width,
        (height - MARGIN) / height,
        report.heatmap.title,
        fontsize=HEADING_SIZE,
        fontweight="bold",
        va="top",
        color=charts.DARK_TEXT_COLOUR,
        parse_math=False,
    )
    fig.text(
        MARGIN / width,
        (chart_top - chart_h - LINE_INCHES[BODY_SIZE]) / height,
        "\n".join(lines),
        fontsize=BODY_SIZE,
        va="top",
        color=charts.DARK_TEXT_COLOUR,
        parse_math=False,
    )
    return fig


def _action_pages(report: Report) -> list[Figure]:
    """ "You said, we did": what was done after this round, by theme."""
    flow = _Flow(f"You said, we did: {report.round_label}")
    flow.write(f"You said, we did: actions after {report.round_label}", HEADING_SIZE, bold=True)
    if not report.actions:
        flow.write(NO_ACTIONS, BODY_SIZE)
    for action in report.actions:
        flow.write(f"{action.theme_label} (recorded {action.recorded_on})", BODY_SIZE, bold=True)
        flow.write(action.text, BODY_SIZE, indent=0.2)
    return flow.pages


def report_figures(report: Report) -> list[Figure]:
    """Return the report's pages as figures, in order (call under ``charts.rendering``)."""
    return [
        *_overview_pages(report),
        *_trend_pages(report),
        _heatmap_page(report),
        *_action_pages(report),
    ]


def render_pdf(report: Report) -> bytes:
    """Return the printable report as PDF bytes."""
    buffer = io.BytesIO()
    with charts.rendering():
        with PdfPages(buffer, metadata={**METADATA, "Title": report.title}) as pdf:
            for fig in report_figures(report):
                pdf.savefig(fig)
    return buffer.getvalue()


def figure_texts(figures: Sequence[Figure]) -> list[str]:
    """Return every piece of text drawn on ``figures`` (titles, labels, cells, paragraphs)."""
    from matplotlib.text import Text

    return [t.get_text() for fig in figures for t in fig.findobj(Text) if t.get_text()]
