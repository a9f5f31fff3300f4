"""Storage labels: every label stored with an answer is shared by at least k invited people."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.domain.grouping import MIXED_BAND, storage_labels

BANDS = ("<1y", "1-3y", "3y+", "unstated")


def ancestors(parents: dict[int, int | None], unit: int) -> list[int]:
    out = [unit]
    while parents[out[-1]] is not None:
        out.append(parents[out[-1]])  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize(
    ("people", "expected"),
    [
        # a team of 2 is stored under its department
        (
            dict.fromkeys(range(2), (3, "3y+")) | dict.fromkeys(range(2, 8), (2, "3y+")),
            {(2, "3y+"): 8},
        ),
        # a lone department head takes in the team below: the department's totals stay exact
        (
            {0: (2, "3y+")}
            | dict.fromkeys(range(1, 7), (3, "3y+"))
            | dict.fromkeys(range(7, 12), (1, "3y+")),
            {(1, "3y+"): 5, (2, "3y+"): 7},
        ),
        # a small root group with nothing below it stays: the whole organisation is below k
        ({0: (1, "3y+"), 1: (1, "<1y")}, {(1, MIXED_BAND): 2}),
        # a band of two inside a big team is mixed, and so is the next band to reach k
        (
            dict.fromkeys(range(2), (3, "<1y"))
            | dict.fromkeys(range(2, 12), (3, "3y+"))
            | dict.fromkeys(range(12, 15), (3, "1-3y")),
            {(3, MIXED_BAND): 5, (3, "3y+"): 10},
        ),
    ],
)
def test_examples(people: dict[int, tuple[int, str]], expected: dict[tuple[int, str], int]) -> None:
    parents = {1: None, 2: 1, 3: 2}
    labels = storage_labels(parents, people, 5)
    assert dict(Counter(labels.values())) == expected


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 9), st.integers(0, 10_000), st.integers(3, 6))
def test_every_label_has_k_people_and_only_coarsens(units: int, seed: int, k: int) -> None:
    rng = random.Random(seed)
    parents: dict[int, int | None] = {1: None}
    for uid in range(2, units + 1):
        parents[uid] = rng.randint(1, uid - 1)
    people = {pid: (rng.randint(1, units), rng.choice(BANDS)) for pid in range(rng.randint(0, 60))}
    labels = storage_labels(parents, people, k)
    assert set(labels) == set(people)
    sizes = Counter(labels.values())
    if len(people) >= k:
        assert all(n >= k for n in sizes.values()), sizes
    for pid, (unit, band) in labels.items():
        assert unit in ancestors(parents, people[pid][0])
        assert band in (people[pid][1], MIXED_BAND)
