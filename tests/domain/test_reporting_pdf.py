"""Tests for the printable report: a valid, deterministic PDF whose pages draw exactly the
report's contents — literal user text, hidden cells as hidden, no creation date.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from survey.domain import charts, report_pdf, reporting
from survey.domain.manifest import Manifest, parse, serialise
from survey.domain.reporting import ActionRow, Event
from tests.domain.reporting_cases import CORE, SAFETY, TRUST, release, spread

HIDDEN = ("Gamma", "Small")


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    return [
        release(1, CORE + SAFETY, {4: spread(4, 8), 5: spread(3, 7)}),
        release(2, CORE + TRUST, {4: spread(4, 8), 5: spread(4, 7)}),
        release(3, CORE + SAFETY, {4: spread(2, 8), 5: spread(2, 7)}),
    ]


@pytest.fixture(scope="module")
def report(manifests: list[Manifest]) -> reporting.Report:
    return reporting.report(
        manifests,
        3,
        [
            ActionRow("Trust in leadership", "Weekly Q&A with $x$ and <b>tags</b>", "2026-03-20"),
            ActionRow("Morale", "A long action. " * 60, "2026-03-21"),
        ],
        [Event("2026-02-15", "Re-org $a_b$"), Event("2026-01-05", "שלום")],
    )


def figures(report: reporting.Report) -> list[Figure]:
    with charts.rendering():
        return report_pdf.report_figures(report)


def test_pdf_is_valid_and_deterministic(report: reporting.Report) -> None:
    first = report_pdf.render_pdf(report)
    assert first.startswith(b"%PDF-") and first.rstrip().endswith(b"%%EOF")
    assert report_pdf.render_pdf(report) == first
    assert b"CreationDate" not in first and b"ModDate" not in first
    assert b"/Creator (Candor)" in first and b"/Producer (Candor)" in first
    pages = len(re.findall(rb"/Type /Page\b", first))
    assert pages == len(figures(report))


def test_pages_draw_the_report_and_nothing_hidden(report: reporting.Report) -> None:
    drawn = report_pdf.figure_texts(figures(report))
    text = "\n".join(drawn)
    for head in report.overview.headlines:
        assert head.label in text
    assert report.verdict.split(".")[0][:60] in text.replace("\n", " ")
    assert "Trends: Lab" in text and "Trends: Lab / Research" in text
    assert report.heatmap.title in text
    assert "Weekly Q&A with $x$ and <b>tags</b>" in text  # user text drawn literally
    assert any(t.startswith("Re-org $a_b$") for t in drawn)  # event label, no mathtext
    for hidden in HIDDEN:
        assert hidden not in text


def test_long_actions_flow_onto_more_pages(report: reporting.Report) -> None:
    pages = report_pdf._action_pages(report)
    assert len(pages) >= 1
    longest = max(len(t) for t in report_pdf.figure_texts(pages))
    width = report_pdf.PAGE_PORTRAIT[0] - 2 * report_pdf.MARGIN
    assert longest <= width / report_pdf.CHAR_INCHES[report_pdf.BODY_SIZE] + 1


def test_report_without_actions_says_so(manifests: list[Manifest]) -> None:
    bare = reporting.report(manifests, 1)
    assert report_pdf.NO_ACTIONS in report_pdf.figure_texts(report_pdf._action_pages(bare))
    assert report_pdf.render_pdf(bare).startswith(b"%PDF-")


def test_everything_hidden_still_renders(manifests: list[Manifest]) -> None:
    stored = serialise(manifests[0])
    for unit in stored["units"]:
        unit["shown"], unit["themes"] = False, {}
        unit.pop("n", None)
    stored["participation"]["org_pct_rounded"] = None
    bare = reporting.report([parse(stored)], 1)
    assert bare.trends == ()
    text = "\n".join(report_pdf.figure_texts(figures(bare)))
    assert "hidden" in text and "Participation is not published" in text.replace("\n", " ")
    assert report_pdf.render_pdf(bare).startswith(b"%PDF-")


def test_module_never_uses_pyplot() -> None:
    tree = ast.parse(Path(report_pdf.__file__).read_text("utf-8"))
    names = [
        n.module if isinstance(n, ast.ImportFrom) else a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in n.names
    ]
    assert not [n for n in names if n and "pyplot" in n]


def test_pdf_carries_its_title(report: reporting.Report) -> None:
    body = report_pdf.render_pdf(report)
    assert report.title.endswith(": results of R3")
    assert f"/Title ({report.title})".encode() in body


def test_event_labels_never_overlap_or_leave_their_panel() -> None:
    # Three events on neighbouring rounds, the last at the right edge, with long labels.
    rounds = [release(n, CORE, {4: spread(4, 8), 5: spread(3, 7)}) for n in (1, 2, 3)]
    events = [
        Event("2026-01-05", "A very long re-organisation label"),
        Event("2026-02-01", "Layoffs announced to everyone"),
        Event("2026-03-01", "New unit opened at the far right"),
    ]
    made = reporting.report(rounds, 3, (), events)
    pages = figures(made)
    checked = 0
    for fig in pages:
        canvas = FigureCanvasAgg(fig)
        canvas.draw()  # a real layout, as when saved
        renderer = canvas.get_renderer()
        for ax in fig.axes:
            labels = [t for t in ax.texts if t.get_color() == charts.EVENT_COLOUR]
            boxes = [t.get_window_extent(renderer) for t in labels]
            panel = ax.get_window_extent(renderer)
            for i, box in enumerate(boxes):
                checked += 1
                assert panel.x0 - 1 <= box.x0 and box.x1 <= panel.x1 + 1, labels[i].get_text()
                for other in boxes[i + 1 :]:
                    assert not box.overlaps(other), labels[i].get_text()
    assert checked >= 3
