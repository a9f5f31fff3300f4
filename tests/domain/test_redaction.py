"""Tests for masking identifiers in comments before anyone reads them."""

from __future__ import annotations

import pytest

from survey.domain.redaction import mask, name_pattern

ROSTER = ["Alice Johnson", "Bob O'Neil", "Anne-Marie Dupont", "Al Li", "Zoë Østergaard"]
NAMES = name_pattern(ROSTER)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe@example.org please", "write to [email] please"),
        ("a+b@sub.example.co.uk", "[email]"),
        ("(first_last@corp-mail.com)", "([email])"),
        ("two: x@y.io, z@w.org.", "two: [email], [email]."),
    ],
)
def test_emails(text: str, expected: str) -> None:
    assert mask(text, None) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call +44 20 7946 0958 now", "call [number] now"),
        ("call 555-123-4567.", "call [number]."),
        ("555.123.4567", "[number]"),
        ("+1 (555) 123 4567", "[number]"),
        ("07700900123", "[number]"),
    ],
)
def test_phone_numbers(text: str, expected: str) -> None:
    assert mask(text, None) == expected


@pytest.mark.parametrize(
    "text", ["ext (020) 7946-0958", "tel:+44-20-7946-0958", "mobile 0044 7700 900 123"]
)
def test_phone_numbers_leave_no_digits(text: str) -> None:
    masked = mask(text, None)
    assert "[number]" in masked
    assert not any(ch.isdigit() for ch in masked)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://intranet.example.org/people/alice?id=7 for it", "see [link] for it"),
        ("http://10.0.0.1:8080/x", "[link]"),
        ("HTTPS is a protocol", "HTTPS is a protocol"),
    ],
)
def test_urls(text: str, expected: str) -> None:
    assert mask(text, None) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Alice Johnson ignores us", "[name] ignores us"),
        ("Johnson ignores us", "[name] ignores us"),
        ("ask Alice.", "ask [name]."),
        ("Johnson's team", "[name]'s team"),
        ("Bob O'Neil said no", "[name] said no"),
        ("O'Neil said no", "[name] said no"),
        ("Anne-Marie Dupont", "[name]"),
        ("Dupont and Marie", "[name] and [name]"),
        ("Zoë Østergaard", "[name]"),
        ("Østergaard", "[name]"),
        ("Al Li is kind", "[name] is kind"),
    ],
)
def test_roster_names(text: str, expected: str) -> None:
    assert mask(text, NAMES) == expected


def test_names_in_any_case_are_masked() -> None:
    """Lower-case or shouted names are still names: masking errs towards hiding."""
    pattern = name_pattern(["Bob Smith"])
    assert mask("ask bob, or SMITH", pattern) == "ask [name], or [name]"


@pytest.mark.parametrize(
    "text",
    [
        "The annual review was fine.",
        "Alicein Wonderland",  # a name inside a longer word is not that name
        "Johnsons and Dupontel are not on the roster",
        "Al said hi; Li too",  # parts shorter than three letters are not masked alone
        "I bobbed along",
        "Our Q3 target is 40% higher than in 2024.",
        "Version 1.2.3 shipped",
        "Room 42, floor 3",
        "",
    ],
)
def test_not_over_masked(text: str) -> None:
    assert mask(text, NAMES) == text


@pytest.mark.parametrize(
    "names",
    [
        ["J. (QA) Smith*"],
        ["Ma[r]k Tw+ain"],
        ["a|b c.d"],
        ["Ann^ Lee$"],
        ["O'Brien\\Backslash"],
        ["(?P<x>evil)"],
    ],
)
def test_regex_special_characters_in_names(names: list[str]) -> None:
    pattern = name_pattern(names)
    assert pattern is not None
    assert mask(names[0], pattern) == "[name]"
    assert mask("nothing to see here abc", pattern) == "nothing to see here abc"


def test_empty_roster() -> None:
    assert name_pattern([]) is None
    assert name_pattern(["", "   "]) is None
    assert mask("Alice Johnson", name_pattern([])) == "Alice Johnson"


def test_mixed() -> None:
    text = "Alice (alice@example.org, +44 20 7946 0958) posted https://x.example/y"
    assert mask(text, NAMES) == "[name] ([email], [number]) posted [link]"


def test_mask_is_idempotent() -> None:
    text = "Alice Johnson: alice@example.org, 555-123-4567, https://x.example"
    once = mask(text, NAMES)
    assert mask(once, NAMES) == once
