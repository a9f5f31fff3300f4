"""Cronbach's alpha and within-group agreement for multi-item scales."""

from __future__ import annotations

import statistics

import pytest

from survey.domain.scoring import ALPHA_INTERPRETABLE, scale_quality


def manual_alpha(rows: list[list[int]]) -> float:
    items = list(zip(*rows, strict=True))
    k = len(items)
    item_var = sum(statistics.variance(col) for col in items)
    total_var = statistics.variance([sum(r) for r in rows])
    return k / (k - 1) * (1 - item_var / total_var)


@pytest.mark.parametrize(
    "rows",
    [
        [[1, 2, 2], [2, 3, 3], [4, 4, 5], [5, 5, 4], [3, 3, 3]],
        [[5, 1], [4, 2], [2, 2], [1, 5], [3, 3], [4, 4]],
        [[2, 3, 4, 2], [3, 3, 4, 3], [1, 2, 1, 2], [5, 4, 5, 5], [4, 4, 3, 4], [2, 1, 2, 2]],
    ],
)
def test_alpha_matches_the_textbook_formula(rows: list[list[int]]) -> None:
    quality = scale_quality(rows)
    assert quality.alpha == pytest.approx(manual_alpha(rows))
    assert quality.items == len(rows[0])


def test_identical_items_are_perfectly_consistent() -> None:
    quality = scale_quality([[1, 1], [3, 3], [5, 5], [2, 2]])
    assert quality.alpha == pytest.approx(1.0) and quality.interpretable


def test_unrelated_items_are_flagged() -> None:
    quality = scale_quality([[1, 5], [5, 1], [2, 4], [4, 3], [3, 3]])
    assert quality.alpha is not None and quality.alpha < ALPHA_INTERPRETABLE
    assert not quality.interpretable


@pytest.mark.parametrize("rows", [[], [[3, 4]], [[3], [4], [5]]])
def test_too_little_data_gives_none(rows: list[list[int]]) -> None:
    quality = scale_quality(rows)
    assert quality.alpha is None and quality.agreement is None


def test_agreement_full_when_everyone_agrees_and_zero_when_spread() -> None:
    assert scale_quality([[4, 4], [4, 4], [4, 4]]).agreement == pytest.approx(1.0)
    spread = scale_quality([[1, 5], [5, 1], [1, 1], [5, 5], [3, 3]])
    assert spread.agreement == pytest.approx(0.0)
    mid = scale_quality([[3, 4], [4, 4], [4, 5], [3, 3]]).agreement
    assert mid is not None and 0.5 < mid < 1.0
