"""Tests for scoring: reversal, one person's theme scores, and group statistics."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.domain.questions import Bank, Item, load_bank, parse_bank
from survey.domain.scoring import (
    DETRACTOR_AT,
    FAVOURABLE_AT,
    PROMOTER_AT,
    ScoringError,
    ThemeScore,
    item_value,
    score_person,
    summarise,
    t_quantile,
)

PROPERTY = settings(max_examples=100, deadline=None)

FORWARD = Item("f", "morale", "I have energy.", "likert5", reverse=False, core=True)
REVERSE = Item("r", "morale", "I feel drained.", "likert5", reverse=True, core=False)
NPS = Item("n", "enps", "Recommend?", "nps", reverse=False, core=True)


@pytest.fixture(scope="module")
def bank() -> Bank:
    return load_bank()


def small_bank() -> Bank:
    """Return a bank with one forward and one reverse morale item and an eNPS item."""
    return parse_bank(
        {
            "key": "small",
            "themes": [
                {"key": "morale", "label": "Morale"},
                {"key": "clarity", "label": "Clarity"},
                {"key": "enps", "label": "eNPS"},
            ],
            "items": [
                {"key": "f", "theme": "morale", "text": "Energy."},
                {"key": "r", "theme": "morale", "text": "Drained.", "reverse": True},
                {"key": "c", "theme": "clarity", "text": "Direction."},
                {"key": "n", "theme": "enps", "text": "Recommend?", "scale": "nps"},
            ],
        }
    )


# --- item_value ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "answer", "value"),
    [
        (FORWARD, 1, 1),
        (FORWARD, 3, 3),
        (FORWARD, 5, 5),
        (REVERSE, 1, 5),
        (REVERSE, 2, 4),
        (REVERSE, 3, 3),
        (REVERSE, 4, 2),
        (REVERSE, 5, 1),
        (NPS, 0, 0),
        (NPS, 7, 7),
        (NPS, 10, 10),
    ],
)
def test_item_value(item: Item, answer: int, value: int) -> None:
    assert item_value(item, answer) == value


@pytest.mark.parametrize(
    ("item", "answer"),
    [
        (FORWARD, 0),
        (FORWARD, 6),
        (FORWARD, -1),
        (REVERSE, 0),
        (REVERSE, 6),
        (NPS, -1),
        (NPS, 11),
        (NPS, 100),
    ],
)
def test_item_value_out_of_range(item: Item, answer: int) -> None:
    with pytest.raises(ScoringError, match=f"outside {item.bounds[0]}..{item.bounds[1]}"):
        item_value(item, answer)


def test_scoring_error_is_a_value_error() -> None:
    assert issubclass(ScoringError, ValueError)


# --- score_person -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "r", "index", "favourable"),
    [
        (1, 5, 0.0, False),  # worst on both: 1 and reversed 5 -> 1
        (5, 1, 100.0, True),  # best on both
        (3, 3, 50.0, False),
        (4, 2, 75.0, True),  # mean 4.0 is exactly the favourable threshold
        (4, 3, 62.5, False),  # mean 3.5 is below it
        (5, 5, 50.0, False),  # agreeing with a negative statement cancels out
        (5, 2, 87.5, True),
    ],
)
def test_score_person_likert_theme(f: int, r: int, index: float, favourable: bool) -> None:
    scores = score_person(small_bank(), ("f", "r"), {"f": f, "r": r})
    assert scores == [ThemeScore("morale", index, favourable)]


@pytest.mark.parametrize(
    ("rating", "promoter", "detractor"),
    [
        (0, False, True),
        (DETRACTOR_AT, False, True),
        (DETRACTOR_AT + 1, False, False),
        (PROMOTER_AT - 1, False, False),
        (PROMOTER_AT, True, False),
        (10, True, False),
    ],
)
def test_score_person_enps(rating: int, promoter: bool, detractor: bool) -> None:
    scores = score_person(small_bank(), ("n",), {"n": rating})
    assert scores == [ThemeScore("enps", float(rating), promoter, detractor)]


# Prefer not to say: an item left out is absent; the theme is scored from the items answered.
@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        pytest.param(
            {"f": 5, "c": 4, "n": 9},
            [ThemeScore("morale", 100.0, True), ThemeScore("clarity", 75.0, True)]
            + [ThemeScore("enps", 9.0, True, False)],
            id="one-of-two-items",
        ),
        pytest.param(
            {"r": 5, "c": 2},
            [ThemeScore("morale", 0.0, False), ThemeScore("clarity", 25.0, False)],
            id="reverse-item-alone",
        ),
        pytest.param({"c": 3}, [ThemeScore("clarity", 50.0, False)], id="theme-wholly-skipped"),
        pytest.param(
            {"f": 4, "r": 2, "c": 5},
            [ThemeScore("morale", 75.0, True)] + [ThemeScore("clarity", 100.0, True)],
            id="nothing-skipped",
        ),
        pytest.param({}, [], id="everything-skipped"),
    ],
)
def test_score_person_from_the_items_answered(
    answers: dict[str, int], expected: list[ThemeScore]
) -> None:
    assert score_person(small_bank(), ("f", "r", "c", "n"), answers) == expected


def test_score_person_ignores_items_not_asked() -> None:
    # "r" is answered but not asked this round, so morale rests on "f" alone.
    scores = score_person(small_bank(), ("f",), {"f": 5, "r": 5})
    assert scores == [ThemeScore("morale", 100.0, True)]


def test_score_person_nothing_asked_or_answered() -> None:
    assert score_person(small_bank(), (), {"f": 5}) == []
    assert score_person(small_bank(), ("f", "r"), {}) == []


@pytest.mark.parametrize(
    "answers",
    [{"f": 6, "r": 3}, {"f": 3, "r": 0}, {"n": 11}, {"n": -1}],
)
def test_score_person_out_of_range_raises(answers: dict[str, int]) -> None:
    with pytest.raises(ScoringError):
        score_person(small_bank(), tuple(answers), answers)


def test_score_person_full_bank(bank: Bank) -> None:
    asked = tuple(item.key for item in bank.items)
    answers = {
        item.key: (10 if item.scale == "nps" else (1 if item.reverse else 5)) for item in bank.items
    }
    scores = {s.theme: s for s in score_person(bank, asked, answers)}
    assert set(scores) == {t.key for t in bank.themes}
    for theme, score in scores.items():
        if theme == "enps":
            assert score.value == 10.0 and score.favourable and not score.detractor
        else:
            assert score.value == 100.0 and score.favourable


@PROPERTY
@given(st.data())
def test_score_person_index_in_range(data: st.DataObject) -> None:
    bank = load_bank()
    asked = tuple(
        data.draw(st.lists(st.sampled_from([i.key for i in bank.items]), unique=True, min_size=1))
    )
    answers = {}
    for item in bank.items_for(asked):
        low, high = item.bounds
        answers[item.key] = data.draw(st.integers(low, high))
    for score in score_person(bank, asked, answers):
        if score.theme == "enps":
            assert 0 <= score.value <= 10
        else:
            assert 0 <= score.value <= 100
            assert score.favourable == (score.value >= (FAVOURABLE_AT - 1) / 4 * 100)


# --- summarise ----------------------------------------------------------------------------------


def likert(*values: float) -> list[ThemeScore]:
    return [ThemeScore("morale", v, v >= 75.0) for v in values]


def enps(*ratings: int) -> list[ThemeScore]:
    return [ThemeScore("enps", float(r), r >= PROMOTER_AT, r <= DETRACTOR_AT) for r in ratings]


@pytest.mark.parametrize("scores", [[], iter(())])
def test_summarise_empty_is_none(scores: list[ThemeScore]) -> None:
    assert summarise(scores) is None


@pytest.mark.parametrize(
    "values",
    [
        (50.0,),
        (0.0, 100.0),
        (25.0, 50.0, 75.0),
        (100.0, 100.0, 100.0, 100.0, 100.0),
        (10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0),
        tuple(float(v % 5 * 25) for v in range(40)),
    ],
)
def test_summarise_likert(values: tuple[float, ...]) -> None:
    summary = summarise(likert(*values))
    assert summary is not None
    assert summary.n == len(values)
    assert summary.mean == pytest.approx(statistics.fmean(values))
    expected_sd = statistics.stdev(values) if len(values) > 1 else 0.0
    assert summary.sd == pytest.approx(expected_sd)
    assert summary.favourable_pct == pytest.approx(100 * sum(v >= 75 for v in values) / len(values))
    assert 0.0 <= summary.ci_low <= summary.mean <= summary.ci_high <= 100.0


def test_summarise_single_score_has_widest_interval() -> None:
    summary = summarise(likert(40.0))
    assert summary is not None
    assert (summary.ci_low, summary.ci_high) == (0.0, 100.0)
    assert summary.sd == 0.0


def test_summarise_interval_uses_t_quantile() -> None:
    values = (20.0, 40.0, 60.0, 80.0)
    summary = summarise(likert(*values))
    assert summary is not None
    half = t_quantile(3) * statistics.stdev(values) / math.sqrt(4)
    assert summary.ci_low == pytest.approx(50.0 - half)
    assert summary.ci_high == pytest.approx(50.0 + half)


def test_summarise_interval_narrows_with_n() -> None:
    pattern = (25.0, 50.0, 75.0, 100.0)
    widths = []
    for repeats in (2, 3, 5, 10, 25, 100):
        summary = summarise(likert(*(pattern * repeats)))
        assert summary is not None
        assert summary.ci_low <= summary.mean <= summary.ci_high
        widths.append(summary.ci_high - summary.ci_low)
    assert widths == sorted(widths, reverse=True)
    assert len(set(widths)) == len(widths)


@pytest.mark.parametrize(
    ("ratings", "nps", "promoters_pct"),
    [
        ((10, 9, 0), 100 * (2 - 1) / 3, 100 * 2 / 3),
        ((10, 10, 10), 100.0, 100.0),
        ((0, 3, 6), -100.0, 0.0),
        ((7, 8, 7, 8), 0.0, 0.0),
        ((9, 7, 6, 10, 2), 100 * (2 - 2) / 5, 40.0),
        ((9, 8, 8, 8), 25.0, 25.0),
    ],
)
def test_summarise_enps(ratings: tuple[int, ...], nps: float, promoters_pct: float) -> None:
    summary = summarise(enps(*ratings))
    assert summary is not None
    assert summary.n == len(ratings)
    assert summary.mean == pytest.approx(nps)
    assert summary.favourable_pct == pytest.approx(promoters_pct)
    assert -100.0 <= summary.ci_low <= summary.mean <= summary.ci_high <= 100.0


@PROPERTY
@given(st.lists(st.integers(0, 10), min_size=1, max_size=60))
def test_summarise_enps_is_promoters_minus_detractors(ratings: list[int]) -> None:
    summary = summarise(enps(*ratings))
    assert summary is not None
    promoters = sum(r >= PROMOTER_AT for r in ratings)
    detractors = sum(r <= DETRACTOR_AT for r in ratings)
    assert summary.mean == pytest.approx(100 * (promoters - detractors) / len(ratings))
    assert summary.ci_low <= summary.mean + 1e-9
    assert summary.mean - 1e-9 <= summary.ci_high


@PROPERTY
@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=60))
def test_summarise_interval_contains_mean(values: list[float]) -> None:
    summary = summarise(likert(*values))
    assert summary is not None
    assert summary.n == len(values)
    assert 0.0 <= summary.ci_low <= summary.mean + 1e-9
    assert summary.mean - 1e-9 <= summary.ci_high <= 100.0


@pytest.mark.parametrize(
    ("df", "quantile"),
    [(0, math.inf), (1, 12.706), (4, 2.776), (30, 2.042), (31, 1.96), (1000, 1.96)],
)
def test_t_quantile(df: int, quantile: float) -> None:
    assert t_quantile(df) == quantile
