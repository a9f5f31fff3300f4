"""Question rotation and cadence dates."""

from __future__ import annotations

import datetime as dt

import pytest

from survey.domain import cadence
from survey.domain.questions import Bank, Item, Theme, load_bank
from survey.domain.rotation import MAX_ITEMS, RotationError, items_for_round, schedule


@pytest.mark.parametrize("every", [3, 4, 6])
def test_every_theme_measured_within_every_rounds(every: int) -> None:
    bank = load_bank()
    plan = schedule(bank, every)
    for start in range(1, 8):
        seen = set()
        for number in range(start, start + every):
            asked = items_for_round(bank, number, every)
            assert len(asked) <= MAX_ITEMS
            seen |= {bank.item(k).theme for k in asked}
        assert seen == {t.key for t in bank.themes}
    assert {"morale", "clarity", "enps"} <= set(plan.core)


def test_core_bank_needs_three_rounds() -> None:
    with pytest.raises(RotationError, match="rotate over more rounds"):
        schedule(load_bank(), 2)


def test_schedule_is_deterministic_and_whole_themes() -> None:
    bank = load_bank()
    assert schedule(bank, 3) == schedule(bank, 3)
    for number in range(1, 7):
        asked = set(items_for_round(bank, number, 3))
        for theme in {bank.item(k).theme for k in asked}:
            assert {i.key for i in bank.items if i.theme == theme} <= asked


def _bank(sizes: dict[str, int], core: set[str]) -> Bank:
    themes = tuple(Theme(t, t.title(), "") for t in sizes)
    items = tuple(
        Item(f"{t}{i}", t, f"{t} {i}", "likert5", False, t in core)
        for t, n in sizes.items()
        for i in range(n)
    )
    return Bank("test", themes, items, "")


@pytest.mark.parametrize(
    ("sizes", "core", "every", "message"),
    [
        ({"a": 11}, {"a"}, 2, "core themes alone"),
        ({"a": 4, "b": 7}, {"a"}, 3, "only 6 fit"),
        ({"a": 4, "b": 6, "c": 6, "d": 6}, {"a"}, 2, "rotate over more rounds"),
        ({"a": 4, "b": 6, "c": 6}, {"a"}, 1, "every theme every round"),
        ({"a": 4}, {"a"}, 0, "at least 1"),
    ],
)
def test_unschedulable_banks_explain_why(
    sizes: dict[str, int], core: set[str], every: int, message: str
) -> None:
    with pytest.raises(RotationError, match=message):
        schedule(_bank(sizes, core), every)


def test_no_rotation_asks_everything_when_it_fits() -> None:
    bank = _bank({"a": 3, "b": 3, "c": 3}, {"a"})
    assert len(items_for_round(bank, 5, 1)) == 9


@pytest.mark.parametrize(
    ("day", "kind", "expected"),
    [
        (dt.date(2026, 1, 1), "weekly", dt.date(2026, 1, 8)),
        (dt.date(2026, 1, 1), "fortnightly", dt.date(2026, 1, 15)),
        (dt.date(2026, 1, 31), "monthly", dt.date(2026, 2, 28)),
        (dt.date(2026, 12, 15), "monthly", dt.date(2027, 1, 15)),
    ],
)
def test_add_period(day: dt.date, kind: str, expected: dt.date) -> None:
    assert cadence.add_period(day, kind) == expected


def test_next_open_and_window() -> None:
    first = dt.date(2026, 3, 2)
    assert cadence.next_open(first, None, "fortnightly") == first
    assert cadence.next_open(first, dt.date(2026, 3, 4), "fortnightly") == dt.date(2026, 3, 18)
    assert cadence.closes_on(first, 5) == dt.date(2026, 3, 7)
    assert cadence.reminder_on(first, 5) == dt.date(2026, 3, 4)
    assert cadence.reminder_on(first, 1) == dt.date(2026, 3, 3)
    assert cadence.max_window("weekly") == 6
    with pytest.raises(ValueError, match="unknown cadence"):
        cadence.add_period(first, "daily")
