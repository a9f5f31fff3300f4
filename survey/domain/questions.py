"""The question bank: what Candor asks, in which theme, and how each answer is scored.

Invariant: every item belongs to exactly one theme, has a fixed scale and a direction; an item
marked ``reverse`` is scored so that a higher index always means a healthier workplace. The bank
is data, loaded from JSON shipped with the package; nothing here talks to a database or the web.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

LIKERT_MIN = 1
LIKERT_MAX = 5
NPS_MIN = 0
NPS_MAX = 10
DEFAULT_BANK = "core-v1"

LIKERT_LABELS = (
    "Strongly disagree",
    "Disagree",
    "Neither agree nor disagree",
    "Agree",
    "Strongly agree",
)


class BankError(ValueError):
    """Raised when a question bank is malformed."""


@dataclass(frozen=True)
class Theme:
    """A construct Candor reports on, such as morale or psychological safety."""

    key: str
    label: str
    description: str


@dataclass(frozen=True)
class Item:
    """One question as shown to an employee.

    :param scale: ``"likert5"`` (1..5 agreement) or ``"nps"`` (0..10 likelihood).
    :param reverse: the statement is negative, so agreement lowers the theme's index.
    :param core: asked every round (the others may rotate).
    """

    key: str
    theme: str
    text: str
    scale: str
    reverse: bool
    core: bool

    @property
    def bounds(self) -> tuple[int, int]:
        """Return the smallest and largest valid answer."""
        return (NPS_MIN, NPS_MAX) if self.scale == "nps" else (LIKERT_MIN, LIKERT_MAX)


@dataclass(frozen=True)
class Bank:
    """A named, ordered set of themes and items plus the optional free-text prompt."""

    key: str
    themes: tuple[Theme, ...]
    items: tuple[Item, ...]
    comment_prompt: str

    def theme(self, key: str) -> Theme:
        """Return the theme called ``key``."""
        for theme in self.themes:
            if theme.key == key:
                return theme
        raise KeyError(key)

    def item(self, key: str) -> Item:
        """Return the item called ``key``."""
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(key)

    def items_for(self, keys: tuple[str, ...]) -> tuple[Item, ...]:
        """Return the items named in ``keys``, in bank order."""
        wanted = set(keys)
        return tuple(item for item in self.items if item.key in wanted)


def parse_bank(data: dict[str, object]) -> Bank:
    """Build a :class:`Bank` from its JSON form, checking it is consistent."""
    try:
        themes = tuple(
            Theme(str(t["key"]), str(t["label"]), str(t.get("description", "")))
            for t in data["themes"]  # type: ignore[attr-defined]
        )
        items = tuple(
            Item(
                key=str(i["key"]),
                theme=str(i["theme"]),
                text=str(i["text"]),
                scale=str(i.get("scale", "likert5")),
                reverse=bool(i.get("reverse", False)),
                core=bool(i.get("core", False)),
            )
            for i in data["items"]  # type: ignore[attr-defined]
        )
        bank = Bank(str(data["key"]), themes, items, str(data.get("comment_prompt", "")))
    except (KeyError, TypeError) as exc:
        raise BankError(f"question bank is missing a field: {exc}") from exc
    theme_keys = {t.key for t in themes}
    seen: set[str] = set()
    for item in items:
        if item.theme not in theme_keys:
            raise BankError(f"item {item.key!r} names unknown theme {item.theme!r}")
        if item.scale not in ("likert5", "nps"):
            raise BankError(f"item {item.key!r} has unknown scale {item.scale!r}")
        if item.key in seen:
            raise BankError(f"item {item.key!r} appears twice")
        seen.add(item.key)
    for theme in themes:
        if not any(item.theme == theme.key for item in items):
            raise BankError(f"theme {theme.key!r} has no items")
    return bank


def bank_to_dict(bank: Bank) -> dict[str, Any]:
    """Return the JSON form of a bank, the inverse of :func:`parse_bank`."""
    return {
        "key": bank.key,
        "comment_prompt": bank.comment_prompt,
        "themes": [
            {"key": t.key, "label": t.label, "description": t.description} for t in bank.themes
        ],
        "items": [
            {
                "key": i.key,
                "theme": i.theme,
                "text": i.text,
                "scale": i.scale,
                "reverse": i.reverse,
                "core": i.core,
            }
            for i in bank.items
        ],
    }


def load_bank(key: str = DEFAULT_BANK) -> Bank:
    """Return the bank shipped with Candor under ``key``."""
    if not key.replace("-", "").isalnum():
        raise BankError(f"unknown question bank {key!r}")
    try:
        text = resources.files("survey.domain.banks").joinpath(f"{key}.json").read_text("utf-8")
    except FileNotFoundError as exc:
        raise BankError(f"unknown question bank {key!r}") from exc
    return parse_bank(json.loads(text))
