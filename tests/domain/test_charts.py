"""Tests for the chart renderer: valid bytes, literal text, gaps for hidden values, determinism."""

from __future__ import annotations

import ast
import io
import math
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.image
import pytest

from survey.domain import charts
from survey.domain.charts import (
    ALL_HIDDEN_MESSAGE,
    CHART_FORMATS,
    DPI,
    EMPTY_HEATMAP_MESSAGE,
    EMPTY_TREND_MESSAGE,
    HEATMAP_MIN_HEIGHT,
    HEATMAP_MIN_WIDTH,
    HIDDEN_LABEL,
    LINE_COLOUR,
    TREND_SIZE_INCHES,
    ChartError,
    HeatmapData,
    TrendPoint,
    TrendSeries,
    describe_trend,
    heatmap_chart,
    trend_chart,
)
from survey.domain.disclosure import ABSENT_TEXT, HIDDEN_TEXT
from tests.domain.chart_cases import HEATMAP_CASES, TRICKY_LABELS, heatmap, svg_root, svg_texts

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TREND_PIXELS = (round(TREND_SIZE_INCHES[1] * DPI), round(TREND_SIZE_INCHES[0] * DPI))
# Strings that would be mangled by mathtext or markup, and right-to-left scripts
# (all covered by DejaVu Sans, so no missing-glyph warning).
FMT = pytest.mark.parametrize("fmt", CHART_FORMATS)


def _series(*values: float | None, **kwargs: object) -> TrendSeries:
    """Return a 0–100 series with one round per value, labelled R1, R2, ..."""
    points = tuple(TrendPoint(f"R{i}\n{i} May", v) for i, v in enumerate(values, start=1))
    options: dict[str, object] = {
        "title": "Safety",
        "y_label": "Score",
        "y_min": 0.0,
        "y_max": 100.0,
        "points": points,
    }
    options.update(kwargs)
    return TrendSeries(**options)  # type: ignore[arg-type]


def _png_shape(data: bytes) -> tuple[int, int]:
    """Assert ``data`` is a decodable PNG and return its (height, width) in pixels."""
    assert data.startswith(PNG_SIGNATURE)
    image = matplotlib.image.imread(io.BytesIO(data), format="png")
    assert image.ndim == 3
    return image.shape[0], image.shape[1]


def _check_valid(data: bytes, fmt: str) -> None:
    """Assert ``data`` is a valid image in ``fmt``."""
    if fmt == "png":
        height, width = _png_shape(data)
        assert height > 0 and width > 0
    else:
        svg_root(data)


# --- trend: every shape of series gives a valid image -------------------------------------------

TREND_CASES = {
    "empty": _series(),
    "single round": _series(55.0),
    "single round with interval": TrendSeries(
        "Safety", "Score", 0, 100, (TrendPoint("R1", 55.0, 48.0, 61.0),)
    ),
    "single hidden round": _series(None),
    "all hidden": _series(None, None, None),
    "gaps": _series(60.0, None, 62.0, 65.0, None, 70.0),
    "extremes 0 and 100": _series(0.0, 100.0, 0.0, 100.0),
    "outside the y range": _series(-20.0, 140.0, 50.0, reference=150.0),
    "interval beyond the y range": TrendSeries(
        "Safety",
        "Score",
        0,
        100,
        (TrendPoint("R1", 2.0, -10.0, 9.0), TrendPoint("R2", 98.0, 91.0, 110.0)),
    ),
    "lone interval between gaps": TrendSeries(
        "Safety",
        "Score",
        0,
        100,
        (TrendPoint("R1", None), TrendPoint("R2", 50.0, 40.0, 60.0), TrendPoint("R3", None)),
    ),
    "five-point scale": TrendSeries(
        "Safety",
        "Mean (1–5)",
        1,
        5,
        tuple(TrendPoint(f"R{i}", 3 + i / 10, 2.5 + i / 10, 3.5 + i / 10) for i in range(6)),
    ),
    "many rounds": _series(*[None if i % 5 == 3 else 40.0 + i for i in range(40)]),
    "reference and events": _series(
        60.0, 62.0, None, 70.0, reference=65.0, events=((0, "Launch"), (2, "Reorg"), (3, "x"))
    ),
    "tricky labels": TrendSeries(
        TRICKY_LABELS[0],
        TRICKY_LABELS[2],
        0,
        100,
        tuple(TrendPoint(label, 10.0 * i) for i, label in enumerate(TRICKY_LABELS)),
        events=tuple((i, label) for i, label in enumerate(TRICKY_LABELS)),
    ),
    "very long labels": _series(
        50.0, 55.0, title="T" * 300, y_label="Y" * 200, events=((1, "E" * 100),)
    ),
}


@FMT
@pytest.mark.parametrize("series", TREND_CASES.values(), ids=TREND_CASES.keys())
def test_trend_chart_is_a_valid_image(series: TrendSeries, fmt: str) -> None:
    data = trend_chart(series, fmt)
    if fmt == "png":
        assert _png_shape(data) == TREND_PIXELS
    else:
        svg_root(data)


def test_trend_defaults_to_png() -> None:
    assert trend_chart(_series(50.0)).startswith(PNG_SIGNATURE)


@pytest.mark.parametrize(
    ("series", "message"),
    [
        (_series(), EMPTY_TREND_MESSAGE),
        (_series(None, None), ALL_HIDDEN_MESSAGE),
    ],
    ids=["empty", "all hidden"],
)
def test_trend_without_shown_values_says_why(series: TrendSeries, message: str) -> None:
    assert message in svg_texts(trend_chart(series, "svg"))


@pytest.mark.parametrize(
    "values",
    [(50.0, None, 60.0), (None, None, 40.0, 45.0), (10.0, 20.0, None), (50.0,), (30.0, 40.0)],
)
def test_trend_marks_each_hidden_round(values: tuple[float | None, ...]) -> None:
    texts = svg_texts(trend_chart(_series(*values), "svg"))
    assert texts.count(HIDDEN_LABEL) == values.count(None)


def _line_runs(data: bytes) -> int:
    """Return how many separate pieces the trend line (thick, LINE_COLOUR) is drawn in."""
    colour = LINE_COLOUR.lower()
    runs = 0
    for path in svg_root(data).iter("{http://www.w3.org/2000/svg}path"):
        style = path.get("style", "")
        if f"stroke: {colour}" in style and "stroke-width: 2" in style:
            runs += len(re.findall(r"\bM\b", path.get("d", "")))
    return runs


@pytest.mark.parametrize(
    ("values", "runs"),
    [
        ((50.0, 55.0, 60.0), 1),
        ((50.0, None, 60.0, 65.0), 2),
        ((50.0, 55.0, None, None, 60.0, 62.0, None, 70.0, 71.0), 3),
    ],
)
def test_trend_line_is_broken_at_hidden_rounds_never_interpolated(
    values: tuple[float | None, ...], runs: int
) -> None:
    assert _line_runs(trend_chart(_series(*values), "svg")) == runs


@pytest.mark.parametrize("label", TRICKY_LABELS)
@pytest.mark.parametrize("where", ["title", "y_label", "point", "event"])
def test_trend_draws_user_text_literally(label: str, where: str) -> None:
    points = (TrendPoint(label if where == "point" else "R1", 40.0), TrendPoint("R2", 50.0))
    series = TrendSeries(
        title=label if where == "title" else "Safety",
        y_label=label if where == "y_label" else "Score",
        y_min=0,
        y_max=100,
        points=points,
        events=((1, label),) if where == "event" else (),
    )
    assert label in svg_texts(trend_chart(series, "svg"))
    _png_shape(trend_chart(series, "png"))


# --- heatmap -----------------------------------------------------------------------------------


@FMT
@pytest.mark.parametrize("data", HEATMAP_CASES.values(), ids=HEATMAP_CASES.keys())
def test_heatmap_chart_is_a_valid_image(data: HeatmapData, fmt: str) -> None:
    image = heatmap_chart(data, fmt)
    if fmt == "png":
        height, width = _png_shape(image)
        assert width >= HEATMAP_MIN_WIDTH * DPI and height >= HEATMAP_MIN_HEIGHT * DPI
    else:
        svg_root(image)


def test_heatmap_defaults_to_png() -> None:
    assert heatmap_chart(HEATMAP_CASES["full"]).startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("name", ["no rows", "no columns", "nothing"])
def test_empty_heatmap_says_so(name: str) -> None:
    assert EMPTY_HEATMAP_MESSAGE in svg_texts(heatmap_chart(HEATMAP_CASES[name], "svg"))


@pytest.mark.parametrize("name", ["full", "hidden cells", "all hidden", "many rows"])
def test_heatmap_prints_shown_values_and_marks_hidden_cells(name: str) -> None:
    data = HEATMAP_CASES[name]
    texts = svg_texts(heatmap_chart(data, "svg"))
    cells = [v for row in data.values for v in row]
    assert texts.count(HIDDEN_LABEL) == cells.count(None)
    for value in cells:
        if value is not None:
            assert f"{value:.0f}" in texts


@pytest.mark.parametrize("label", TRICKY_LABELS)
@pytest.mark.parametrize("where", ["title", "row", "column"])
def test_heatmap_draws_user_text_literally(label: str, where: str) -> None:
    data = heatmap(
        ((50.0,),),
        title=label if where == "title" else "Themes",
        rows=(label if where == "row" else "Unit",),
        columns=(label if where == "column" else "Theme",),
    )
    assert label in svg_texts(heatmap_chart(data, "svg"))


# --- determinism, formats, validation ----------------------------------------------------------


@FMT
@pytest.mark.parametrize(
    ("draw", "subject"),
    [
        (trend_chart, TREND_CASES["reference and events"]),
        (trend_chart, TREND_CASES["interval beyond the y range"]),
        (trend_chart, TREND_CASES["empty"]),
        (heatmap_chart, HEATMAP_CASES["hidden cells"]),
    ],
    ids=["trend", "trend with interval", "empty trend", "heatmap"],
)
def test_same_input_gives_identical_bytes(
    draw: Callable[[Any, str], bytes], subject: object, fmt: str
) -> None:
    first = draw(subject, fmt)
    trend_chart(TREND_CASES["tricky labels"], fmt)  # unrelated work in between changes nothing
    assert draw(subject, fmt) == first


@FMT
def test_output_carries_no_date_or_version_stamp(fmt: str) -> None:
    data = trend_chart(TREND_CASES["gaps"], fmt) + heatmap_chart(HEATMAP_CASES["full"], fmt)
    assert matplotlib.__version__.encode() not in data
    assert b"<dc:date>" not in data and b"Software" not in data


@FMT
def test_global_settings_do_not_change_the_bytes(fmt: str) -> None:
    series = TREND_CASES["tricky labels"]
    expected = trend_chart(series, fmt)
    with matplotlib.rc_context(
        {"font.size": 20, "lines.linewidth": 5, "svg.fonttype": "path", "svg.hashsalt": None}
    ):
        assert trend_chart(series, fmt) == expected


def test_rendering_leaves_global_settings_untouched() -> None:
    before = dict(matplotlib.rcParams)
    trend_chart(TREND_CASES["gaps"], "svg")
    heatmap_chart(HEATMAP_CASES["hidden cells"], "png")
    assert dict(matplotlib.rcParams) == before


def test_concurrent_renders_match_serial_ones() -> None:
    jobs: list[tuple[Callable[[Any, str], bytes], object, str]] = [
        (trend_chart, TREND_CASES["gaps"], "svg"),
        (heatmap_chart, HEATMAP_CASES["full"], "png"),
        (trend_chart, TREND_CASES["tricky labels"], "png"),
    ] * 3
    serial = [draw(subject, fmt) for draw, subject, fmt in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda job: job[0](job[1], job[2]), jobs))
    assert parallel == serial


@pytest.mark.parametrize("fmt", ["pdf", "PNG", "", "svgz", "png "])
def test_unknown_format_is_refused(fmt: str) -> None:
    with pytest.raises(ChartError, match="format"):
        trend_chart(_series(50.0), fmt)
    with pytest.raises(ChartError, match="format"):
        heatmap_chart(HEATMAP_CASES["full"], fmt)


def test_chart_error_is_a_value_error() -> None:
    assert issubclass(ChartError, ValueError)


BAD_SERIES = {
    "y_min not below y_max": _series(50.0, y_min=100.0, y_max=100.0),
    "y range reversed": _series(50.0, y_min=100.0, y_max=0.0),
    "NaN value": _series(math.nan),
    "infinite value": _series(math.inf),
    "infinite reference": _series(50.0, reference=-math.inf),
    "NaN y_max": _series(50.0, y_max=math.nan),
    "only ci_low": TrendSeries("S", "Y", 0, 100, (TrendPoint("R1", 50.0, ci_low=40.0),)),
    "only ci_high": TrendSeries("S", "Y", 0, 100, (TrendPoint("R1", 50.0, ci_high=60.0),)),
    "interval on a hidden round": TrendSeries(
        "S", "Y", 0, 100, (TrendPoint("R1", None, 40.0, 60.0),)
    ),
    "interval upside down": TrendSeries("S", "Y", 0, 100, (TrendPoint("R1", 50.0, 60.0, 40.0),)),
    "event past the end": _series(50.0, 60.0, events=((2, "late"),)),
    "event before the start": _series(50.0, events=((-1, "early"),)),
    "event on an empty series": _series(events=((0, "nothing"),)),
}


@pytest.mark.parametrize("series", BAD_SERIES.values(), ids=BAD_SERIES.keys())
def test_inconsistent_series_is_refused(series: TrendSeries) -> None:
    with pytest.raises(ChartError):
        trend_chart(series)
    with pytest.raises(ChartError):
        describe_trend(series)


BAD_HEATMAPS = {
    "fewer value rows than labels": heatmap(((1.0,),), rows=("A", "B")),
    "more value rows than labels": heatmap(((1.0,), (2.0,)), rows=("A",)),
    "ragged row": heatmap(((1.0, 2.0), (3.0,))),
    "cells without columns": heatmap(((1.0,),), columns=()),
    "zero span": heatmap(((1.0,),), span=0.0),
    "negative span": heatmap(((1.0,),), span=-5.0),
    "NaN cell": heatmap(((math.nan,),)),
    "infinite centre": heatmap(((1.0,),), centre=math.inf),
}


@FMT
@pytest.mark.parametrize("data", BAD_HEATMAPS.values(), ids=BAD_HEATMAPS.keys())
def test_inconsistent_heatmap_is_refused(data: HeatmapData, fmt: str) -> None:
    with pytest.raises(ChartError):
        heatmap_chart(data, fmt)


# --- text alternative --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("series", "expected", "absent"),
    [
        (_series(), ["Safety", EMPTY_TREND_MESSAGE.lower()], ["hidden"]),
        (_series(None, None, None), ["all 3 rounds are " + HIDDEN_TEXT], ["too few"]),
        (_series(None), ["the only round is hidden"], ["1 round"]),
        (
            _series(60.0, None, 64.0, None, 72.0),
            [
                "5 rounds",
                "60 in R1 1 May",
                "72 in R5 5 May",
                "up 12",
                "2 rounds of 5 are " + HIDDEN_TEXT,
            ],
            ["\n", "too few"],
        ),
        (
            TrendSeries(
                "Safety",
                "Index",
                0,
                100,
                (
                    TrendPoint("R1", None, note=ABSENT_TEXT),
                    TrendPoint("R2", None, note="≥ 90"),
                    TrendPoint("R3", 70.0),
                    TrendPoint("R4", None),
                ),
            ),
            [f"R1: {ABSENT_TEXT}", "R2: ≥ 90", "1 round of 4 is " + HIDDEN_TEXT],
            ["too few"],
        ),
        (
            TrendSeries("Safety", "Index", 0, 100, (TrendPoint("R1", None, note="≥ 90"),)),
            ["R1: ≥ 90"],
            ["hidden"],
        ),
        (_series(None, 70.0, 61.0), ["down 9", "1 round of 3 is hidden"], []),
        (_series(50.0, 50.2), ["about the same", "No rounds are hidden"], ["up", "down"]),
        (_series(None, 55.0), ["Only one round is shown: 55 in R2 2 May", "1 round of 2"], []),
        (
            TrendSeries("Safety", "Mean", 1, 5, (TrendPoint("R1", 3.14), TrendPoint("R2", 3.56))),
            ["3.1 in R1", "3.6 in R2", "up 0.4"],
            [],
        ),
        (_series(-20.0, 140.0), ["-20 in R1", "140 in R2", "up 160"], []),
        (_series(60.0, 62.0, reference=65.0), ["reference line is at 65"], []),
        (
            _series(60.0, 62.0, 64.0, events=((1, "Reorg\nannounced"),)),
            ["Marked events: Reorg announced (R2 2 May)"],
            ["\n"],
        ),
    ],
    ids=[
        "empty",
        "all hidden",
        "one hidden round",
        "gaps",
        "absent, coded and hidden",
        "only coded",
        "down",
        "flat",
        "one shown",
        "five-point scale",
        "outside the y range",
        "reference",
        "events",
    ],
)
def test_describe_trend(series: TrendSeries, expected: list[str], absent: list[str]) -> None:
    text = describe_trend(series)
    for phrase in expected:
        assert phrase in text
    for phrase in absent:
        assert phrase not in text


def test_describe_trend_keeps_user_text_literal() -> None:
    series = TrendSeries("$x$ <b>markup</b>", "a_b^c", 0, 100, (TrendPoint("שלום", 50.0),))
    text = describe_trend(series)
    assert "$x$ <b>markup</b>" in text and "a_b^c" in text and "שלום" in text


# --- purity --------------------------------------------------------------------------------------


def test_module_is_pure_and_never_uses_pyplot() -> None:
    modules = sorted(Path(charts.__file__).parent.glob("*.py"))
    assert len(modules) > 1  # the package's every module is checked, not just its front
    trees = [ast.parse(m.read_text(encoding="utf-8")) for m in modules]
    imported: set[str] = set()
    for node in (n for tree in trees for n in ast.walk(tree)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr != "use", "matplotlib.use must not be called"
    forbidden = ("flask", "sqlalchemy", "wtforms", "flask_wtf", "matplotlib.pyplot")
    for name in imported:
        assert not name.startswith(forbidden), name
