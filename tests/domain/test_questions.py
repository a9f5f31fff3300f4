"""Tests for the question bank: the shipped bank's shape, and every way a bank can be malformed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from survey.domain.questions import (
    DEFAULT_BANK,
    LIKERT_MAX,
    LIKERT_MIN,
    NPS_MAX,
    NPS_MIN,
    SECONDS_PER_ITEM,
    Bank,
    BankError,
    bank_to_dict,
    estimated_minutes,
    load_bank,
    parse_bank,
)


@pytest.fixture(scope="module")
def bank() -> Bank:
    return load_bank()


def minimal() -> dict[str, Any]:
    """Return a small valid bank in its JSON form."""
    return {
        "key": "tiny",
        "comment_prompt": "Anything else?",
        "themes": [
            {"key": "morale", "label": "Morale", "description": "How people feel."},
            {"key": "enps", "label": "Employee NPS"},
        ],
        "items": [
            {"key": "m1", "theme": "morale", "text": "I have energy.", "core": True},
            {"key": "m2", "theme": "morale", "text": "I feel drained.", "reverse": True},
            {"key": "n1", "theme": "enps", "text": "Recommend?", "scale": "nps"},
        ],
    }


# --- the shipped bank ---------------------------------------------------------------------------


def test_default_bank_loads(bank: Bank) -> None:
    assert bank.key == DEFAULT_BANK
    assert bank.themes and bank.items
    assert bank.comment_prompt


def test_every_theme_has_items(bank: Bank) -> None:
    for theme in bank.themes:
        assert any(item.theme == theme.key for item in bank.items), theme.key


def test_every_item_names_a_known_theme_and_scale(bank: Bank) -> None:
    theme_keys = {t.key for t in bank.themes}
    for item in bank.items:
        assert item.theme in theme_keys
        assert item.scale in ("likert5", "nps")
        assert item.text.strip()


def test_item_keys_are_unique(bank: Bank) -> None:
    keys = [item.key for item in bank.items]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("theme", ["safety", "security", "morale"])
def test_reverse_items_exist(bank: Bank, theme: str) -> None:
    assert any(item.reverse for item in bank.items if item.theme == theme)


def test_nps_items_are_never_reverse(bank: Bank) -> None:
    for item in bank.items:
        if item.scale == "nps":
            assert not item.reverse, item.key


@pytest.mark.parametrize(
    ("scale", "bounds"),
    [("likert5", (LIKERT_MIN, LIKERT_MAX)), ("nps", (NPS_MIN, NPS_MAX))],
)
def test_item_bounds_follow_scale(bank: Bank, scale: str, bounds: tuple[int, int]) -> None:
    items = [item for item in bank.items if item.scale == scale]
    assert items
    for item in items:
        assert item.bounds == bounds


def test_some_items_are_core(bank: Bank) -> None:
    assert any(item.core for item in bank.items)


def test_lookups(bank: Bank) -> None:
    first = bank.items[0]
    assert bank.item(first.key) is first
    assert bank.theme(first.theme).key == first.theme
    with pytest.raises(KeyError):
        bank.item("nope")
    with pytest.raises(KeyError):
        bank.theme("nope")


def test_items_for_keeps_bank_order_and_ignores_unknown(bank: Bank) -> None:
    keys = tuple(item.key for item in bank.items)
    wanted = (keys[-1], keys[0], "unknown")
    assert bank.items_for(wanted) == (bank.items[0], bank.items[-1])


# --- parse_bank ---------------------------------------------------------------------------------


def test_parse_minimal_bank() -> None:
    bank = parse_bank(minimal())
    assert bank.key == "tiny"
    assert [t.key for t in bank.themes] == ["morale", "enps"]
    assert bank.theme("enps").description == ""
    m1, m2, n1 = bank.items
    assert (m1.scale, m1.reverse, m1.core) == ("likert5", False, True)
    assert (m2.scale, m2.reverse, m2.core) == ("likert5", True, False)
    assert n1.scale == "nps"


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        target: Any = data
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


def _drop(path: tuple[Any, ...]) -> Any:
    def change(data: dict[str, Any]) -> None:
        target: Any = data
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return change


def _append_item(item: dict[str, Any]) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["items"].append(item)

    return change


def _append_theme(theme: dict[str, Any]) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["themes"].append(theme)

    return change


BROKEN = [
    pytest.param(
        _set(("items", 0, "theme"), "moral"), r"unknown theme 'moral'", id="unknown-theme"
    ),
    pytest.param(
        _append_item({"key": "m1", "theme": "morale", "text": "Again"}),
        r"'m1' appears twice",
        id="duplicate-key",
    ),
    pytest.param(
        _set(("items", 0, "scale"), "likert7"), r"unknown scale 'likert7'", id="bad-scale"
    ),
    pytest.param(_set(("items", 2, "scale"), ""), r"unknown scale ''", id="empty-scale"),
    pytest.param(_drop(("items", 0, "text")), r"missing a field: 'text'", id="item-text"),
    pytest.param(_drop(("items", 0, "theme")), r"missing a field: 'theme'", id="item-theme"),
    pytest.param(_drop(("items", 0, "key")), r"missing a field: 'key'", id="item-key"),
    pytest.param(_drop(("themes", 0, "label")), r"missing a field: 'label'", id="theme-label"),
    pytest.param(_drop(("themes",)), r"missing a field: 'themes'", id="no-themes"),
    pytest.param(_drop(("items",)), r"missing a field: 'items'", id="no-items"),
    pytest.param(_drop(("key",)), r"missing a field: 'key'", id="no-bank-key"),
    pytest.param(_set(("items",), None), r"missing a field", id="items-not-a-list"),
    pytest.param(
        _append_theme({"key": "empty", "label": "Empty"}),
        r"theme 'empty' has no items",
        id="theme-without-items",
    ),
]


@pytest.mark.parametrize(("change", "message"), BROKEN)
def test_parse_bank_rejects(change: Any, message: str) -> None:
    data = copy.deepcopy(minimal())
    change(data)
    with pytest.raises(BankError, match=message):
        parse_bank(data)


def test_bank_error_is_a_value_error() -> None:
    assert issubclass(BankError, ValueError)


# --- load_bank ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../core-v1",
        "..",
        "banks/core-v1",
        "/etc/passwd",
        "core-v1.json",
        "core_v1",
        "core v1",
        "",
        "-",
        "..\\core-v1",
        "core-v1\x00",
        "~",
    ],
)
def test_load_bank_rejects_path_like_names(name: str) -> None:
    with pytest.raises(BankError, match="unknown question bank"):
        load_bank(name)


@pytest.mark.parametrize("name", ["core-v2", "nope", "CORE-V1x"])
def test_load_bank_rejects_unknown_names(name: str) -> None:
    with pytest.raises(BankError, match="unknown question bank"):
        load_bank(name)


def test_load_bank_is_deterministic() -> None:
    assert load_bank(DEFAULT_BANK) == load_bank()


# --- "prefer not to say" and the estimated time -------------------------------------------------


def test_shipped_bank_offers_prefer_not_to_say_on_the_sensitive_themes(bank: Bank) -> None:
    marked = {item.theme for item in bank.items if item.prefer_not_to_say}
    assert marked == {"safety", "security", "trust"}
    assert all(i.prefer_not_to_say for i in bank.items if i.theme in marked)


@pytest.mark.parametrize("marked", [True, False])
def test_prefer_not_to_say_round_trips_and_only_marked_items_carry_it(marked: bool) -> None:
    entry: dict[str, Any] = {"key": "a", "theme": "t", "text": "A."}
    if marked:
        entry["prefer_not_to_say"] = True
    bank = parse_bank({"key": "b", "themes": [{"key": "t", "label": "T"}], "items": [entry]})
    assert bank.item("a").prefer_not_to_say is marked
    assert ("prefer_not_to_say" in bank_to_dict(bank)["items"][0]) is marked
    assert parse_bank(bank_to_dict(bank)) == bank


@pytest.mark.parametrize(
    ("count", "minutes"),
    [(0, 1), (1, 1), (4, 1), (5, 2), (10, 3), (12, 3), (13, 4), (40, 10)],
)
def test_estimated_minutes(bank: Bank, count: int, minutes: int) -> None:
    items = (bank.items * 3)[:count]
    assert estimated_minutes(items) == minutes
    assert minutes * 60 >= count * SECONDS_PER_ITEM
