"""The employee pages' words: complete in every language, and bank translations with fallback."""

from __future__ import annotations

import pytest

from survey.domain import i18n
from survey.domain.questions import (
    LIKERT_LABELS,
    BankError,
    bank_to_dict,
    load_bank,
    parse_bank,
)

KEYS = sorted(i18n.MESSAGES[i18n.DEFAULT])


def test_supported_languages_have_messages_and_names() -> None:
    assert i18n.DEFAULT in i18n.SUPPORTED and len(i18n.SUPPORTED) >= 2
    assert set(i18n.MESSAGES) == set(i18n.SUPPORTED) == set(i18n.NAMES)


@pytest.mark.parametrize("lang", i18n.SUPPORTED)
def test_every_key_in_every_language(lang: str) -> None:
    assert sorted(i18n.MESSAGES[lang]) == KEYS


@pytest.mark.parametrize("lang", i18n.SUPPORTED)
@pytest.mark.parametrize("key", KEYS)
def test_same_parameters_and_no_empty_message(lang: str, key: str) -> None:
    message = i18n.MESSAGES[lang][key]
    assert message.strip()
    assert i18n.placeholders(message) == i18n.placeholders(i18n.MESSAGES[i18n.DEFAULT][key])
    params = dict.fromkeys(i18n.placeholders(message), "X")
    assert "{" not in i18n.t(lang, key, **params)


def test_translations_differ_from_english() -> None:
    """A message copied over untranslated is a gap, not a translation."""
    same = [k for k in KEYS if i18n.MESSAGES["de"][k] == i18n.MESSAGES["en"][k]]
    assert same == []


def test_t_fills_parameters_and_refuses_missing_ones() -> None:
    assert i18n.t("de", "progress.answered", done=3, total=10) == "3 von 10 beantwortet"
    assert i18n.t("en", "question.number", number=1, total=10) == "1 of 10"
    with pytest.raises(KeyError):
        i18n.t("en", "question.number", number=1)
    with pytest.raises(KeyError):
        i18n.t("en", "no.such.key")


@pytest.mark.parametrize(
    ("requested", "picked"),
    [("de", "de"), ("en", "en"), ("fr", "en"), ("", "en"), (None, "en"), ("DE", "en")],
)
def test_pick_falls_back_to_english(requested: str | None, picked: str) -> None:
    assert i18n.pick(requested) == picked
    assert i18n.t(requested or "", "submit") == i18n.t(picked, "submit")


def test_english_likert_labels_are_the_banks() -> None:
    assert tuple(i18n.t("en", f"likert.{v}") for v in range(1, 6)) == LIKERT_LABELS


# --- translations in the bank -------------------------------------------------------------------


@pytest.mark.parametrize("lang", i18n.SUPPORTED)
def test_core_bank_is_complete_in_every_supported_language(lang: str) -> None:
    bank = load_bank()
    assert lang in bank.languages
    assert all(item.has_text_in(lang) for item in bank.items)
    assert all(theme.has_label_in(lang) for theme in bank.themes)
    assert bank.has_comment_prompt_in(lang)


def test_texts_fall_back_to_english() -> None:
    bank = load_bank()
    item = bank.item("mor1")
    assert item.text_in("de") == "An den meisten Tagen habe ich Energie für meine Arbeit."
    assert item.text_in("en") == item.text_in("fr") == item.text
    assert not item.has_text_in("fr")
    assert bank.theme("safety").label_in("de") == "Psychologische Sicherheit"
    assert bank.comment_prompt_in("fr") == bank.comment_prompt


def tiny(**extra: object) -> dict[str, object]:
    return {
        "key": "tiny",
        "themes": [{"key": "m", "label": "Morale"}],
        "items": [{"key": "m1", "theme": "m", "text": "Energy?", **extra}],
    }


def test_banks_without_translations_keep_their_json_form() -> None:
    data = tiny()
    out = bank_to_dict(parse_bank(data))
    assert "translations" not in out["items"][0] and "translations" not in out["themes"][0]
    assert "comment_prompt_translations" not in out


@pytest.mark.parametrize(
    ("translations", "message"),
    [
        ({"en": "Energy?"}, "English, which is its own language"),
        ({"deutsch": "Energie?"}, "no language code"),
        ({"de": " "}, "translation of item 'm1' is empty"),
        (["de", "Energie?"], "not a mapping"),
    ],
)
def test_bad_translations_are_refused(translations: object, message: str) -> None:
    with pytest.raises(BankError, match=message):
        parse_bank(tiny(translations=translations))
