"""Tests for the plain-Python SVG heatmap: the promises of the matplotlib one, no matplotlib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from survey.domain.chartinput import HIDDEN_LABEL, HeatmapData
from survey.domain.chartlook import (
    DARK_TEXT_COLOUR,
    EMPTY_HEATMAP_MESSAGE,
    HEATMAP_STOPS,
    LIGHT_TEXT_COLOUR,
    ChartError,
)
from survey.domain.heatmap_svg import HATCH_ID, colour_at, heatmap_svg, text_px
from tests.domain.chart_cases import HEATMAP_CASES, TRICKY_LABELS, heatmap, svg_root, svg_texts

CASES = pytest.mark.parametrize("data", HEATMAP_CASES.values(), ids=HEATMAP_CASES.keys())


@CASES
def test_heatmap_svg_is_well_formed_and_titled(data: HeatmapData) -> None:
    root = svg_root(heatmap_svg(data))
    title = root.find("{http://www.w3.org/2000/svg}title")
    assert root.get("role") == "img" and title is not None and title.text == data.title


@pytest.mark.parametrize("name", ["no rows", "no columns", "nothing"])
def test_empty_heatmap_svg_says_so(name: str) -> None:
    assert EMPTY_HEATMAP_MESSAGE in svg_texts(heatmap_svg(HEATMAP_CASES[name]))


@pytest.mark.parametrize("name", ["full", "hidden cells", "all hidden", "many rows"])
def test_heatmap_svg_prints_shown_values_and_hatches_hidden_cells(name: str) -> None:
    data = HEATMAP_CASES[name]
    image = heatmap_svg(data)
    texts = svg_texts(image)
    cells = [v for row in data.values for v in row]
    assert texts.count(HIDDEN_LABEL) == cells.count(None)
    assert image.count(f'fill="url(#{HATCH_ID})"'.encode()) == cells.count(None)
    for value in cells:
        if value is not None:
            assert f"{value:.0f}" in texts


def test_a_gap_carries_its_note_and_no_number() -> None:
    data = heatmap(((None, 55.0),), notes=(("≥ 90", ""),))
    texts = svg_texts(heatmap_svg(data))
    assert "≥ 90" in texts and HIDDEN_LABEL not in texts and "55" in texts


@pytest.mark.parametrize("label", TRICKY_LABELS)
@pytest.mark.parametrize("where", ["title", "row", "column"])
def test_heatmap_svg_draws_user_text_literally(label: str, where: str) -> None:
    data = heatmap(
        ((50.0,),),
        title=label if where == "title" else "Themes",
        rows=(label if where == "row" else "Unit",),
        columns=(label if where == "column" else "Theme",),
    )
    image = heatmap_svg(data)
    assert label in svg_texts(image)
    assert b"<b>" not in image  # markup is text, escaped


def test_long_labels_are_cut_with_an_ellipsis() -> None:
    texts = svg_texts(heatmap_svg(HEATMAP_CASES["very long labels"]))
    assert any(t.startswith("U") and t.endswith("…") for t in texts)
    assert all(len(t) <= 90 for t in texts)


def test_same_input_gives_identical_bytes() -> None:
    data = HEATMAP_CASES["hidden cells"]
    assert heatmap_svg(data) == heatmap_svg(data)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (45.0, HEATMAP_STOPS[0]),
        (0.0, HEATMAP_STOPS[0]),  # beyond the scale: the end colour
        (60.0, HEATMAP_STOPS[5]),
        (75.0, HEATMAP_STOPS[-1]),
        (100.0, HEATMAP_STOPS[-1]),
    ],
)
def test_colours_follow_the_fixed_scale(value: float, expected: str) -> None:
    assert colour_at(value, 45.0, 75.0) == expected


def test_numbers_contrast_with_their_cell() -> None:
    image = heatmap_svg(heatmap(((41.0, 61.0, 79.0),)))  # the bar reads 40, 60 and 80
    root = svg_root(image)
    ink = {
        "".join(e.itertext()): e.get("fill") for e in root.iter("{http://www.w3.org/2000/svg}text")
    }
    assert ink["41"] == LIGHT_TEXT_COLOUR and ink["79"] == LIGHT_TEXT_COLOUR
    assert ink["61"] == DARK_TEXT_COLOUR


def test_estimated_widths_grow_with_the_text() -> None:
    assert 0 < text_px("il", 9) < text_px("Engagement", 9) < text_px("Engagement\nMMMMMMMMMMMM", 9)


def test_values_that_do_not_fit_the_grid_are_refused() -> None:
    with pytest.raises(ChartError):
        heatmap_svg(heatmap(((50.0, 60.0),), columns=("Only one",)))


def test_drawing_never_imports_matplotlib() -> None:
    code = (
        "import sys\n"
        "from survey.domain.heatmap_svg import heatmap_svg\n"
        "from survey.domain.chartinput import HeatmapData\n"
        "heatmap_svg(HeatmapData('t', ('a',), ('b',), ((1.0,),), 0.0, 15.0))\n"
        "print('matplotlib' in sys.modules)\n"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == "False"
