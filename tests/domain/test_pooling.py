"""Tests for pooling: every respondent scored once, exactly as scoring them afresh would."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.domain import scoring
from survey.domain.pooling import Pool
from survey.domain.questions import Bank, load_bank

PROPERTY = settings(max_examples=60, deadline=None)
BANK = load_bank()
ASKED = tuple(item.key for item in BANK.items)
BANDS = ("<1y", "1-3y", "3y+")


@dataclass(frozen=True)
class Answer:
    unit_id: int
    band: str
    answers: dict[str, Any]


def _answer(draw: Any, skip: bool) -> Answer:
    answers: dict[str, Any] = {}
    for item in BANK.items:
        if skip and draw(st.integers(0, 5)) == 0:
            continue  # skipped (prefer not to say): absent from the sealed ballot
        low, high = item.bounds
        answers[item.key] = draw(st.integers(low, high))
    return Answer(draw(st.integers(1, 4)), draw(st.sampled_from(BANDS)), answers)


@st.composite
def answer_sets(draw: Any) -> list[Answer]:
    skip = draw(st.booleans())  # without skips, whole Likert scales take the per-sum path
    return [_answer(draw, skip) for _ in range(draw(st.integers(1, 40)))]


def _afresh(bank: Bank, answers: list[Answer]) -> dict[str, list[scoring.ThemeScore | None]]:
    by_theme: dict[str, list[scoring.ThemeScore | None]] = {t.key: [] for t in bank.themes}
    for answer in answers:
        scored = {s.theme: s for s in scoring.score_person(bank, ASKED, answer.answers)}
        for theme, column in by_theme.items():
            column.append(scored.get(theme))
    return by_theme


@PROPERTY
@given(answer_sets())
def test_scores_rows_and_tallies_are_those_of_scoring_afresh(answers: list[Answer]) -> None:
    pool = Pool.of(BANK, ASKED, answers)
    for theme, expected in _afresh(BANK, answers).items():
        assert pool.scores[theme] == expected, theme
    for theme, rows in pool.rows.items():
        items = [item for item in BANK.items if item.theme == theme]
        for answer, row in zip(answers, rows, strict=True):
            if all(item.key in answer.answers for item in items):
                assert row == tuple(scoring.item_value(i, answer.answers[i.key]) for i in items)
            else:
                assert row is None
    for atom in {(a.unit_id, a.band) for a in answers}:
        there = [a for a in answers if (a.unit_id, a.band) == atom]
        for item in BANK.items:
            low, high = item.bounds
            counted = Counter(a.answers[item.key] for a in there if item.key in a.answers)
            tallied = [counted[value] for value in range(low, high + 1)]
            assert list(pool.tallies([atom])[item.key]) == tallied, (atom, item.key)


@pytest.mark.parametrize("odd", [0, 6, "3", True])
def test_an_answer_off_its_scale_fares_as_it_does_scored_afresh(odd: Any) -> None:
    """Refused with the same error (0, 6, "3"), or scored the same (True, which is 1: the
    ballot's parser refuses it before this, as it refuses the others)."""
    likert = next(item for item in BANK.items if item.scale == "likert5")
    answers = [
        Answer(1, "<1y", {item.key: item.bounds[0] for item in BANK.items}) for _ in range(3)
    ]
    answers[1].answers[likert.key] = odd
    try:
        expected: Any = _afresh(BANK, answers)
    except (scoring.ScoringError, TypeError) as refused:
        with pytest.raises(type(refused)) as pooled:
            Pool.of(BANK, ASKED, answers)
        assert str(pooled.value) == str(refused)
        return
    assert odd is True
    assert dict(Pool.of(BANK, ASKED, answers).scores) == expected
