"""The question bank: what Candor asks, in which theme, and how each answer is scored.

Invariant: every item belongs to exactly one theme, has a fixed scale and a direction; an item
marked ``reverse`` is scored so that a higher index always means a healthier workplace. The bank
is data, loaded from JSON shipped with the package; nothing here talks to a database or the web.
English is the bank's own language; item texts, theme labels and the comment prompt may carry
translations (language code -> text), and anything untranslated falls back to English. A bank
without translations has exactly the JSON form it had before translations existed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

LIKERT_MIN = 1
LIKERT_MAX = 5
NPS_MIN = 0
NPS_MAX = 10
DEFAULT_BANK = "core-v1"
SOURCE_LANGUAGE = "en"  # the language of ``text``, ``label`` and ``comment_prompt``
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")  # ISO 639-1 or 639-2, lower case
# The value a form or ballot sends for "prefer not to say" (never a number on any scale).
PREFER_NOT_TO_SAY = "skip"
# What one question takes to read and answer, for the survey's "about N minutes".
SECONDS_PER_ITEM = 15

Translations = tuple[tuple[str, str], ...]  # (language, text), sorted by language

LIKERT_LABELS = (
    "Strongly disagree",
    "Disagree",
    "Neither agree nor disagree",
    "Agree",
    "Strongly agree",
)


class BankError(ValueError):
    """Raised when a question bank is malformed."""


def _translated(text: str, translations: Translations, lang: str) -> str:
    """Return the translation of ``text`` into ``lang``, or ``text`` itself."""
    for code, translated in translations:
        if code == lang:
            return translated
    return text


def _has(translations: Translations, lang: str) -> bool:
    return lang == SOURCE_LANGUAGE or any(code == lang for code, _ in translations)


@dataclass(frozen=True)
class Theme:
    """A construct Candor reports on, such as morale or psychological safety."""

    key: str
    label: str
    description: str
    translations: Translations = ()  # of the label

    def label_in(self, lang: str) -> str:
        """Return the label in ``lang``, in English if it has no translation."""
        return _translated(self.label, self.translations, lang)

    def has_label_in(self, lang: str) -> bool:
        """Return whether the label exists in ``lang`` (English always does)."""
        return _has(self.translations, lang)


@dataclass(frozen=True)
class Item:
    """One question as shown to an employee.

    :param scale: ``"likert5"`` (1..5 agreement) or ``"nps"`` (0..10 likelihood).
    :param reverse: the statement is negative, so agreement lowers the theme's index.
    :param core: asked every round (the others may rotate).
    :param translations: the text in other languages.
    :param prefer_not_to_say: the item offers "prefer not to say" (see the module docstring).
    """

    key: str
    theme: str
    text: str
    scale: str
    reverse: bool
    core: bool
    translations: Translations = ()
    prefer_not_to_say: bool = False

    def text_in(self, lang: str) -> str:
        """Return the text in ``lang``, in English if it has no translation."""
        return _translated(self.text, self.translations, lang)

    def has_text_in(self, lang: str) -> bool:
        """Return whether the text exists in ``lang`` (English always does)."""
        return _has(self.translations, lang)

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
    comment_prompt_translations: Translations = ()

    @property
    def languages(self) -> tuple[str, ...]:
        """Return English and every language any text of the bank is translated into."""
        found = {code for code, _ in self.comment_prompt_translations}
        for theme in self.themes:
            found.update(code for code, _ in theme.translations)
        for item in self.items:
            found.update(code for code, _ in item.translations)
        found.discard(SOURCE_LANGUAGE)
        return (SOURCE_LANGUAGE, *sorted(found))

    def comment_prompt_in(self, lang: str) -> str:
        """Return the comment prompt in ``lang``, in English if it has no translation."""
        return _translated(self.comment_prompt, self.comment_prompt_translations, lang)

    def has_comment_prompt_in(self, lang: str) -> bool:
        """Return whether the comment prompt exists in ``lang`` (English always does)."""
        return _has(self.comment_prompt_translations, lang)

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


def estimated_minutes(items: tuple[Item, ...]) -> int:
    """Return how many whole minutes answering ``items`` takes, at least one."""
    return max(1, math.ceil(len(items) * SECONDS_PER_ITEM / 60))


def parse_translations(raw: object, where: str) -> Translations:
    """Return the ``translations`` mapping of a bank entry as sorted pairs, checking it."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise BankError(f"the translations of {where} are not a mapping of language to text")
    pairs = []
    for code, text in raw.items():
        if not isinstance(code, str) or not LANGUAGE_CODE.match(code):
            raise BankError(f"{where} has a translation into {code!r}, which is no language code")
        if code == SOURCE_LANGUAGE:
            raise BankError(f"{where} translates into English, which is its own language")
        if not isinstance(text, str) or not text.strip():
            raise BankError(f"the {code!r} translation of {where} is empty")
        pairs.append((code, text))
    return tuple(sorted(pairs))


def translations_to_dict(translations: Translations) -> dict[str, str]:
    """Return translation pairs as the mapping stored in JSON."""
    return dict(translations)


def parse_bank(data: dict[str, object]) -> Bank:
    """Build a :class:`Bank` from its JSON form, checking it is consistent."""
    try:
        themes = tuple(
            Theme(
                str(t["key"]),
                str(t["label"]),
                str(t.get("description", "")),
                parse_translations(t.get("translations"), f"theme {t['key']!r}"),
            )
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
                translations=parse_translations(i.get("translations"), f"item {i['key']!r}"),
                prefer_not_to_say=bool(i.get("prefer_not_to_say", False)),
            )
            for i in data["items"]  # type: ignore[attr-defined]
        )
        bank = Bank(
            str(data["key"]),
            themes,
            items,
            str(data.get("comment_prompt", "")),
            parse_translations(data.get("comment_prompt_translations"), "the comment prompt"),
        )
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


def _item_entry(item: Item) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "key": item.key,
        "theme": item.theme,
        "text": item.text,
        "scale": item.scale,
        "reverse": item.reverse,
        "core": item.core,
    }
    if item.prefer_not_to_say:  # only marked items carry the key: older banks keep their form
        entry["prefer_not_to_say"] = True
    return _with_translations(entry, item.translations)


def _with_translations(entry: dict[str, Any], translations: Translations) -> dict[str, Any]:
    # Only translated entries carry the key, so untranslated banks keep their old JSON form.
    if translations:
        entry["translations"] = translations_to_dict(translations)
    return entry


def bank_to_dict(bank: Bank) -> dict[str, Any]:
    """Return the JSON form of a bank, the inverse of :func:`parse_bank`."""
    data: dict[str, Any] = {
        "key": bank.key,
        "comment_prompt": bank.comment_prompt,
        "themes": [
            _with_translations(
                {"key": t.key, "label": t.label, "description": t.description}, t.translations
            )
            for t in bank.themes
        ],
        "items": [_item_entry(i) for i in bank.items],
    }
    if bank.comment_prompt_translations:
        data["comment_prompt_translations"] = translations_to_dict(bank.comment_prompt_translations)
    return data


def shipped_bank_keys() -> tuple[str, ...]:
    """Return the keys of the banks shipped with Candor, sorted."""
    folder = resources.files("survey.domain.banks")
    return tuple(
        sorted(
            entry.name.removesuffix(".json")
            for entry in folder.iterdir()
            if entry.name.endswith(".json")
        )
    )


def load_bank(key: str = DEFAULT_BANK) -> Bank:
    """Return the bank shipped with Candor under ``key``."""
    if not key.replace("-", "").isalnum():
        raise BankError(f"unknown question bank {key!r}")
    try:
        text = resources.files("survey.domain.banks").joinpath(f"{key}.json").read_text("utf-8")
    except FileNotFoundError as exc:
        raise BankError(f"unknown question bank {key!r}") from exc
    return parse_bank(json.loads(text))
