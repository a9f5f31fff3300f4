"""Tests for the read-only views of manifests: overview, changes, movements, events, heatmap,
distributions, scale quality, comments and the printable report's contents.

Manifests are built by the real ``build_manifest`` from answers chosen so every mean is known.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from survey.domain import reporting
from survey.domain.disclosure import ABSENT_TEXT, HIDDEN_TEXT, UNIFORM_TEXT
from survey.domain.manifest import Manifest, parse, serialise
from survey.domain.reporting import NOT_ASKED_TEXT, Event, TrendRow
from tests.domain.reporting_cases import BANK, CORE, SAFETY, TREE, TRUST, release, spread

# Of reporting_cases.TREE, Lab, Research, Ops, Alpha and Beta are shown; Small and Gamma not.
SHOWN = {1, 2, 3, 4, 5}
HIDDEN_PATHS = ("Lab / Ops / Small", "Lab / Ops / Gamma")


def all_text(value: Any) -> str:
    """Return every string and number reachable from a dataclass tree, as one text."""
    return json.dumps(value, default=lambda o: dataclasses.asdict(o), ensure_ascii=False)


@pytest.fixture(scope="module")
def three_rounds() -> list[Manifest]:
    """R1 asks core + safety, R2 core + trust, R3 core + safety; Research drops sharply in R3."""
    r1 = release(1, CORE + SAFETY, {4: spread(4, 8), 5: spread(4, 7)})
    r2 = release(2, CORE + TRUST, {4: spread(4, 8), 5: spread(4, 7)})
    r3 = release(3, CORE + SAFETY, {4: spread(2, 8), 5: spread(2, 7)})
    return [r1, r2, r3]


# --- numbers in words ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("theme", "value", "text"),
    [
        ("morale", 67.4, "67"),
        ("morale", 0.2, "0"),
        ("enps", 12.0, "+12"),
        ("enps", -26.0, "\u221226"),
        ("enps", -0.3, "0"),
        ("enps", 0.0, "0"),
    ],
)
def test_format_index(theme: str, value: float, text: str) -> None:
    assert reporting.format_index(theme, value) == text


@pytest.mark.parametrize(
    ("value", "text"), [(4.2, "+4"), (-3.6, "\u22124"), (0.4, "0"), (-0.4, "0")]
)
def test_format_delta(value: float, text: str) -> None:
    assert reporting.format_delta(value) == text


# --- changes ---------------------------------------------------------------------------------


def row(mean: float | None, low: float | None = None, high: float | None = None) -> TrendRow:
    return TrendRow("R", "2026-01-01", mean is not None, 10, mean, "", low, high)


@pytest.mark.parametrize(
    ("before", "after", "clear"),
    [
        # se = half-width / 1.96; threshold = 1.96 * sqrt(se1² + se2²) = sqrt(h1² + h2²)
        (row(60, 55, 65), row(70, 65, 75), True),  # 10 > sqrt(50) ≈ 7.07
        (row(60, 55, 65), row(66, 61, 71), False),  # 6 < 7.07
        (row(60, 50, 70), row(75, 65, 85), True),  # 15 > 14.1
        (row(60, 50, 70), row(73, 63, 83), False),  # 13 < 14.1: intervals overlap a lot
        (row(60, 60, 60), row(60.4, 60.4, 60.4), True),  # no spread: any change is real
    ],
)
def test_change_compares_with_combined_uncertainty(
    before: TrendRow, after: TrendRow, clear: bool
) -> None:
    change = reporting.change_between(before, after)
    assert change is not None
    assert change.clear is clear
    assert change.delta == pytest.approx(after.mean - before.mean)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("before", "after"),
    [(row(None), row(70, 65, 75)), (row(60, 55, 65), row(None)), (row(None), row(None))],
)
def test_no_change_unless_both_are_published(before: TrendRow, after: TrendRow) -> None:
    assert reporting.change_between(before, after) is None


# --- themes, headlines, movements ------------------------------------------------------------


def test_themes_in_bank_order_across_rotation(three_rounds: list[Manifest]) -> None:
    keys = [k for k, _ in reporting.themes_of(three_rounds)]
    assert keys == ["morale", "clarity", "safety", "trust", "enps"]


def test_headlines_say_which_round_measured_a_rotating_theme(
    three_rounds: list[Manifest],
) -> None:
    heads = {h.theme: h for h in reporting.headlines(three_rounds, 1)}
    assert set(heads) == {"morale", "clarity", "safety", "trust", "enps"}
    trust = heads["trust"]
    assert not trust.in_latest and trust.current.round_label == "R2"
    assert "in R2, when it was last asked" in trust.sentence
    assert trust.previous is None and "first time it was measured" in trust.sentence
    safety = heads["safety"]
    assert safety.in_latest and safety.previous is not None
    assert safety.previous.round_label == "R1"  # the previous measurement of safety, not R2
    assert safety.change is not None and safety.change.direction == "down"
    morale = heads["morale"]
    assert morale.previous is not None and morale.previous.round_label == "R2"


def test_headline_for_a_hidden_unit_has_no_number(three_rounds: list[Manifest]) -> None:
    for head in reporting.headlines(three_rounds, 7):  # Small
        assert head.current.mean is None and head.change is None
        assert head.value_text == HIDDEN_TEXT
        assert not re.search(r"\d", head.sentence.replace("R3", "").replace("R2", ""))


def test_no_comparison_when_the_previous_measurement_was_hidden() -> None:
    # Alpha as a release would publish it hidden in R1: no n, no cells.
    r1 = release(1, values={4: spread(4, 8)})
    r2 = release(2, values={4: spread(4, 8)})
    stored = serialise(r1)
    for unit in stored["units"]:
        if unit["id"] == 4:
            unit["shown"], unit["themes"] = False, {}
            unit.pop("n")
    hidden = parse(stored)
    head = reporting.headline([hidden, r2], 4, "morale", "Morale")
    assert head is not None and head.change is None
    assert f"no comparison with R1: {HIDDEN_TEXT}" in head.sentence


def test_movements_only_between_published_cells_and_largest_first(
    three_rounds: list[Manifest],
) -> None:
    moves = reporting.movements(three_rounds, {1, 2, 3, 4, 5, 6, 7})
    assert 0 < len(moves) <= reporting.MOVEMENTS_SHOWN
    assert all(m.unit_id in SHOWN for m in moves)
    assert all("Small" not in m.sentence and "Gamma" not in m.sentence for m in moves)
    sizes = [reporting.scaled(m.theme, m.change.delta) for m in moves]
    assert sizes == sorted(sizes, reverse=True)
    assert moves[0].unit_path.startswith("Lab / Research")  # Research fell from agree to disagree
    assert moves[0].change.direction == "down" and moves[0].change.clear


def test_movements_respect_the_chosen_units(three_rounds: list[Manifest]) -> None:
    ops_only = reporting.movements(three_rounds, reporting.subtree(three_rounds[-1], 3))
    assert all(m.unit_path.startswith("Lab / Ops") for m in ops_only)


def test_overview_of_a_single_round() -> None:
    view = reporting.overview([release(1)], 1)
    assert view.movements == ()
    assert "needs two published measurements" in view.movements_sentence
    assert all(h.previous is None for h in view.headlines)
    assert view.participation is not None
    assert f"About {view.participation} %" in view.participation_sentence


# --- events ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "placed"),
    [
        ([Event("2026-01-01", "Before")], ((0, "Before"),)),
        ([Event("2026-02-10", "On the day")], ((1, "On the day"),)),
        ([Event("2026-02-11", "Day after")], ((2, "Day after"),)),
        ([Event("2026-04-01", "Not yet")], ()),
        (
            [Event("2026-03-05", "B"), Event("2026-01-05", "A"), Event("2026-03-05", "A2")],
            ((0, "A"), (2, "A2"), (2, "B")),
        ),
    ],
)
def test_place_events_at_first_round_closing_on_or_after(
    events: list[Event], placed: tuple[tuple[int, str], ...]
) -> None:
    closed = ["2026-01-10", "2026-02-10", "2026-03-10"]
    assert reporting.place_events(closed, events) == placed


def test_events_land_on_their_round_whether_or_not_it_asked_the_theme(
    three_rounds: list[Manifest],
) -> None:
    # Trust was asked only in R2: every round is on its chart, R1 and R3 as "not asked".
    series = reporting.trend_series(
        three_rounds, 1, "trust", "Trust", "Lab", [Event("2026-03-01", "Re-org")]
    )
    assert [p.note for p in series.points] == [NOT_ASKED_TEXT, "", NOT_ASKED_TEXT]
    assert series.events == ((2, "Re-org"),)
    series = reporting.trend_series(
        three_rounds, 1, "safety", "Safety", "Lab", [Event("2026-04-15", "Later")]
    )
    assert series.events == ()  # after the last released round: not placed yet


# --- heatmap ---------------------------------------------------------------------------------


def test_heatmap_hides_hidden_units_and_centres_on_the_organisation(
    three_rounds: list[Manifest],
) -> None:
    data = reporting.heatmap(three_rounds[-1])
    rows = {r.unit_id: r for r in data.rows}
    assert set(rows) == set(TREE)
    for uid in (6, 7):
        assert not rows[uid].shown and rows[uid].n is None
        assert all(c is None for c in rows[uid].cells)
    org = {c.key: c.org_value for c in data.columns}
    morale = [c.key for c in data.columns].index("morale")
    alpha = rows[4].cells[morale]
    assert alpha is not None and alpha.difference == pytest.approx(
        round(alpha.value - org["morale"], 1)  # type: ignore[operator]
    )
    chart = data.chart_input()
    assert "Lab" not in chart.rows  # the organisation's own row of zeros is left out
    assert chart.centre == 0.0
    assert chart.span == reporting.HEATMAP_SPAN
    assert chart.values[chart.rows.index("Ops / Small")] == (None,) * len(data.columns)


def test_heatmap_scope_and_depth(three_rounds: list[Manifest]) -> None:
    research = reporting.heatmap(three_rounds[-1], scope=2)
    assert {r.unit_id for r in research.rows} == {2, 4, 5}
    shallow = reporting.heatmap(three_rounds[-1], max_depth=1)
    assert {r.unit_id for r in shallow.rows} == {1, 2, 3}


def test_heatmap_description_names_no_hidden_number(three_rounds: list[Manifest]) -> None:
    data = reporting.heatmap(three_rounds[-1])
    text = data.description
    assert "cells are hidden" in text
    assert "Small" not in text and "Gamma" not in text
    assert "Furthest below" in text  # Research is below the organisation in R3


def test_heatmap_with_the_organisation_hidden() -> None:
    stored = serialise(release(1))
    for unit in stored["units"]:
        unit["shown"], unit["themes"] = False, {}
        unit.pop("n", None)
    data = reporting.heatmap(parse(stored))
    assert all(c.org_value is None for c in data.columns)
    assert all(not r.shown for r in data.rows)
    assert "no unit below the organisation" in data.description.lower()


# --- distributions and scale quality ---------------------------------------------------------


def test_distributions_only_where_published(three_rounds: list[Manifest]) -> None:
    latest = three_rounds[-1]
    items = BANK.items_for(CORE + SAFETY)
    published = {u.id for u in latest.units if u.distributions is not None}
    assert published, "the fixture should publish some distributions"
    for unit in TREE:
        found = reporting.distributions(latest, unit, items)
        assert bool(found) == (unit in published)
    lab = reporting.distributions(latest, 1, items)
    assert [d.key for d in lab] == [i.key for i in items]
    for dist in lab:
        assert sum(s.count for s in dist.segments) == dist.n
        assert sum(s.pct for s in dist.segments) == pytest.approx(100, abs=0.3)
        starts = [s.start for s in dist.segments]
        assert starts == sorted(starts) and starts[0] == 0
    nps = next(d for d in lab if d.scale == "nps")
    assert len(nps.segments) == 11 and "promoters" in nps.sentence
    reverse = next(d for d in lab if d.reverse)
    assert "negative" in reverse.sentence


@pytest.mark.parametrize(
    ("quality", "flags"),
    [
        ({"items": 2, "alpha": 0.8, "agreement": 0.9, "interpretable": True}, ()),
        (
            {"items": 2, "alpha": 0.3, "agreement": 0.9, "interpretable": False},
            (reporting.TOO_LOW_TO_INTERPRET,),
        ),
        (
            {"items": 3, "alpha": 0.7, "agreement": 0.5, "interpretable": True},
            (reporting.GROUP_DISAGREES,),
        ),
        (
            {"items": 2, "alpha": None, "agreement": None, "interpretable": False},
            (reporting.TOO_LOW_TO_INTERPRET,),
        ),
        (
            {"items": 2, "alpha": 0.1, "agreement": 0.69, "interpretable": False},
            (reporting.TOO_LOW_TO_INTERPRET, reporting.GROUP_DISAGREES),
        ),
    ],
)
def test_scale_quality_flags(quality: dict[str, Any], flags: tuple[str, ...]) -> None:
    stored = serialise(release(1))
    unit = stored["units"][0]
    manifest = parse(
        {
            **stored,
            "themes": [{"key": "safety", "label": "Safety"}],
            "units": [
                {**unit, "id": 1, "shown": True, "scale_quality": {"safety": quality}},
                {**unit, "id": 2, "shown": False, "themes": {}},
            ],
        }
    )
    rows = reporting.scale_quality(manifest, 1)
    assert [r.flags for r in rows] == [flags]
    assert reporting.scale_quality(manifest, 2) == []


# --- comments --------------------------------------------------------------------------------


def test_comment_search_filters_texts_but_keeps_published_counts() -> None:
    stored = serialise(release(1))
    comments = [
        {"unit": 2, "label": "Lab / Research", "count": 3, "texts": ["Roadmap!", "b", "c"]},
        {"unit": 1, "label": "Elsewhere", "count": 2, "texts": ["the ROADMAP", "x"]},
    ]
    manifest = parse({**stored, "comments": comments})
    groups = reporting.comment_groups(manifest, "\n  ROADmap \t")
    assert [(g.label, g.count, g.texts) for g in groups] == [
        ("Lab / Research", 3, ("Roadmap!",)),
        ("Elsewhere", 2, ("the ROADMAP",)),
    ]
    assert [len(g.texts) for g in reporting.comment_groups(manifest, "")] == [3, 2]
    assert reporting.comment_groups(parse({**stored, "comments": []}), "x") == []
    assert [g.count_text for g in groups] == ["3 comments", "2 comments"]
    one = parse({**stored, "comments": [{**comments[0], "count": 1, "texts": ["x"]}]})
    assert [g.count_text for g in reporting.comment_groups(one)] == ["1 comment"]


def test_comment_query_is_bounded() -> None:
    assert len(reporting.normalise_query("a" * 500)) == reporting.COMMENT_QUERY_MAX_CHARS


# --- the printable report --------------------------------------------------------------------


def test_report_uses_rounds_up_to_its_own_and_departments_only(
    three_rounds: list[Manifest],
) -> None:
    made = reporting.report(
        three_rounds, 2, [reporting.ActionRow("Trust", "Roadmap", "2026-02-20")]
    )
    assert made.round_label == "R2"
    assert [path for path, _ in made.trends] == ["Lab", "Lab / Ops", "Lab / Research"]
    for _, panels in made.trends:
        for panel in panels:
            assert all(r.round_label in ("R1", "R2") for r in panel.rows)
    assert {r.unit_id for r in made.heatmap.rows} == {1, 2, 3}
    assert made.actions[0].text == "Roadmap"
    assert "k = 5" in made.verdict and "passed" in made.verdict
    text = all_text(made)
    for hidden in HIDDEN_PATHS:
        assert hidden not in text


def test_report_of_unknown_round() -> None:
    with pytest.raises(KeyError):
        reporting.report([release(1)], 9)


def test_audit_verdict_wording() -> None:
    manifest = release(1)
    assert reporting.audit_verdict(manifest).startswith(
        "Every figure describes at least k = 5 respondents"
    )
    failed = dataclasses.replace(manifest, audit=dataclasses.replace(manifest.audit, ok=False))
    assert "did not pass" in reporting.audit_verdict(failed)


# --- coded and absent cells (issue 11) ---------------------------------------------------------


def test_uniform_cells_are_coded_on_every_view() -> None:
    r1 = release(1, values={4: spread(4, 8), 5: spread(4, 7)})
    r2 = release(2, values={4: [5] * 8, 5: spread(4, 7)})  # everyone in Alpha strongly agrees
    rows = reporting.trend_rows([r1, r2], 4, "morale")
    assert rows[1].mean is None and rows[1].ci_low is None and rows[1].ci_high is None
    assert rows[1].coded_index == "≥ 90" and rows[1].coded == UNIFORM_TEXT
    head = reporting.headline([r1, r2], 4, "morale", "Morale")
    assert head is not None and head.value_text == "≥ 90" and head.change is None
    assert UNIFORM_TEXT in head.sentence and "100" not in head.sentence.replace("out of 100", "")
    point = reporting.trend_point("R2", rows[1])
    assert point.value is None and point.note == "≥ 90"
    data = reporting.heatmap(r2)
    alpha = next(r for r in data.rows if r.label.endswith("Alpha"))
    assert all(c is not None and c.value is None and c.value_text for c in alpha.cells)
    assert UNIFORM_TEXT in data.description
    assert "≥ 90" in {n for row in data.chart_input().notes for n in row}
    assert "100" not in all_text(data.chart_input().values)


def test_a_unit_missing_from_a_round_is_absent_not_hidden() -> None:
    r1 = release(1, values={4: spread(4, 8), 5: spread(4, 7)})
    r2 = release(2, values={4: spread(4, 8), 5: spread(4, 7)})
    stored = serialise(r1)
    stored["units"] = [u for u in stored["units"] if u["id"] != 4]  # Alpha created later
    earlier = parse(stored)
    rows = reporting.trend_rows([earlier, r2], 4, "morale")
    assert rows[0].absent and rows[0].status_text == ABSENT_TEXT
    assert reporting.trend_point("R1", rows[0]).note == ABSENT_TEXT
    head = reporting.headline([earlier, r2], 4, "morale", "Morale")
    assert head is not None and f"no comparison with R1: {ABSENT_TEXT}" in head.sentence
    assert HIDDEN_TEXT not in head.sentence
    hidden = reporting.trend_rows([r1, r2], 7, "morale")  # Small: hidden, not absent
    assert not hidden[0].absent and hidden[0].status_text == HIDDEN_TEXT


# --- numbers HR trusts (issue 13) ------------------------------------------------------------


def test_heatmap_colour_scale_is_the_same_in_every_round() -> None:
    calm = release(1, values={4: spread(3, 8), 5: spread(3, 7)})
    stormy = release(2, values={4: spread(5, 8), 5: spread(1, 7)})
    spans = {reporting.heatmap(m).span for m in (calm, stormy)}
    spans |= {reporting.heatmap(m).chart_input().span for m in (calm, stormy)}
    assert spans == {reporting.HEATMAP_SPAN}
    legend = reporting.heatmap(calm).chart_input().legend
    assert "same scale in every round" in legend and "+15" in legend


def test_bands_read_in_their_natural_order() -> None:
    assert reporting.in_band_order(["3y+", "unstated", "<1y", "1-3y", "zz"]) == [
        "<1y",
        "1-3y",
        "3y+",
        "unstated",
        "zz",
    ]


def test_a_round_that_did_not_ask_a_theme_says_so(three_rounds: list[Manifest]) -> None:
    rows = reporting.trend_rows(three_rounds, 1, "trust")  # trust was asked in R2 only
    assert [r.asked for r in rows] == [False, True, False]
    assert rows[0].status_text == reporting.NOT_ASKED_TEXT and rows[0].mean is None
    assert rows[1].status_text == ""


@pytest.mark.parametrize(
    ("count", "text"), [(0, "0 comments"), (1, "1 comment"), (2, "2 comments")]
)
def test_plurals(count: int, text: str) -> None:
    assert reporting.plural(count, "comment") == text


def test_favourable_coding_is_explained_in_one_place() -> None:
    assert "≥ 90 %" in reporting.FAVOURABLE_CODING and "≤ 10 %" in reporting.FAVOURABLE_CODING
