"""Bank files: the CSV form of a question bank, its round trip, and every problem it reports."""

from __future__ import annotations

import csv
import io

import pytest

from survey.domain.bankcheck import bank_warnings, min_rotation
from survey.domain.bankfile import BankFileError, bank_to_csv, parse_bank_csv
from survey.domain.questions import Bank, BankError, bank_to_dict, load_bank, parse_bank

HEADER = "theme,theme_label,theme_description,item,text,scale,reverse,core,text_de,theme_label_de"
GOOD = "\n".join(
    [
        "# key: acme-v1",
        "# comment_prompt: Anything else? (optional, no names)",
        "# comment_prompt_de: Sonst noch etwas?",
        HEADER,
        "morale,Morale,How people feel.,m1,I have energy.,likert5,no,yes,"
        "Ich habe Energie.,Stimmung",
        "morale,,,m2,I feel drained.,,yes,,Ich bin ausgelaugt.,",
        "enps,Employee NPS,,n1,Recommend?,nps,no,yes,Empfehlen?,",
    ]
)


def lines_of(text: str) -> list[str]:
    return text.split("\n")


def replace_line(number: int, line: str) -> str:
    """Return GOOD with line ``number`` (1-based) replaced."""
    lines = lines_of(GOOD)
    lines[number - 1] = line
    return "\n".join(lines)


def problems(text: str, key: str | None = None) -> list[tuple[int, str, str]]:
    with pytest.raises(BankFileError) as caught:
        parse_bank_csv(text, key)
    return [(e.line, e.column, e.message) for e in caught.value.errors]


# --- reading a good file ------------------------------------------------------------------------


def test_good_file() -> None:
    bank = parse_bank_csv(GOOD)
    assert bank.key == "acme-v1"
    assert bank.comment_prompt == "Anything else? (optional, no names)"
    assert bank.comment_prompt_in("de") == "Sonst noch etwas?"
    assert [t.key for t in bank.themes] == ["morale", "enps"]
    morale = bank.theme("morale")
    assert (morale.label, morale.description, morale.label_in("de")) == (
        "Morale",
        "How people feel.",
        "Stimmung",
    )
    assert bank.theme("enps").label_in("de") == "Employee NPS"  # untranslated: English
    m1, m2, n1 = bank.items
    assert (m1.scale, m1.reverse, m1.core) == ("likert5", False, True)
    assert (m2.scale, m2.reverse, m2.core) == ("likert5", True, False)  # empty cells: defaults
    assert (n1.scale, n1.text_in("de")) == ("nps", "Empfehlen?")
    assert bank.languages == ("en", "de")


def test_key_given_on_import_overrides_the_file() -> None:
    assert parse_bank_csv(GOOD, "other-v2").key == "other-v2"
    assert parse_bank_csv(GOOD, "  ").key == "acme-v1"


def test_spreadsheet_habits_are_fine() -> None:
    """A byte-order mark, CRLF line ends, padded comment lines, unquoted commas in a comment."""
    text = "\ufeff" + "\r\n".join(
        [
            "# key: acme-v1,,,,,,,,,",
            "# comment_prompt: Anything else, briefly?,,,,,,,,",
            "# A note for whoever edits this file: it is ignored.",
            HEADER + ",,",
            "morale,Morale,,m1,I have energy.,LIKERT5,No,YES,,,",
            "",
            "morale,Morale,,m2,I feel drained.,likert5,TRUE,false,,",
        ]
    )
    bank = parse_bank_csv(text)
    assert bank.comment_prompt == "Anything else, briefly?"
    assert [(i.reverse, i.core) for i in bank.items] == [(False, True), (True, False)]
    assert bank.languages == ("en",)


def test_columns_may_come_in_any_order_and_optional_ones_may_be_missing() -> None:
    bank = parse_bank_csv("# key: tiny\ntext,item,theme_label,theme\nHello?,h1,Hello,greet\n")
    assert bank.items[0].text == "Hello?" and bank.items[0].scale == "likert5"
    assert bank.comment_prompt == ""


# --- the round trip -----------------------------------------------------------------------------


def test_core_bank_round_trips() -> None:
    bank = load_bank()
    text = bank_to_csv(bank)
    assert parse_bank_csv(text) == bank
    assert bank_to_csv(parse_bank_csv(text)) == text
    assert parse_bank(bank_to_dict(parse_bank_csv(text))) == bank


def test_file_bank_round_trips() -> None:
    bank = parse_bank_csv(GOOD)
    assert parse_bank_csv(bank_to_csv(bank)) == bank


def test_export_lists_every_column_and_every_language() -> None:
    rows = list(csv.reader(io.StringIO(bank_to_csv(load_bank()))))
    assert rows[0] == ["# key: core-v1"]
    header = next(row for row in rows if not row[0].startswith("#"))
    # The shipped bank marks items "prefer not to say", so it has that optional column.
    assert header == HEADER.replace(",core,", ",core,prefer_not_to_say,").split(",")
    assert len(rows) == 3 + 1 + len(load_bank().items)  # settings, header, items


def test_formula_cells_are_neutralised_and_read_back() -> None:
    text = GOOD.replace("I have energy.", "=HYPERLINK(1)").replace("Ich habe Energie.", "+49 x")
    bank = parse_bank_csv(text)
    exported = bank_to_csv(bank)
    cells = [cell for row in csv.reader(io.StringIO(exported)) for cell in row]
    assert "'=HYPERLINK(1)" in cells and "'+49 x" in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert parse_bank_csv(exported) == bank
    assert bank.items[0].text == "=HYPERLINK(1)"


# --- problems, each reported with its line and column --------------------------------------------

ITEM = "morale,Morale,,m3,Text.,likert5,no,no,,"
BROKEN = [
    pytest.param(
        replace_line(6, "morale,,,m2,I feel drained.,likert7,yes,,,"),
        (6, "scale", "Unknown scale 'likert7'"),
        id="unknown-scale",
    ),
    pytest.param(
        replace_line(6, "morale,,,m2,I feel drained.,,maybe,,,"),
        (6, "reverse", "reverse is 'maybe'; write yes or no"),
        id="bad-yes-no",
    ),
    pytest.param(
        replace_line(6, "morale,,,m2,I feel drained.,,,sometimes,,"),
        (6, "core", "core is 'sometimes'"),
        id="bad-core",
    ),
    pytest.param(
        replace_line(6, "morale,,,m1,I feel drained.,,,,,"),
        (6, "item", "The item 'm1' appears on lines 5 and 6"),
        id="duplicate-item",
    ),
    pytest.param(
        replace_line(6, "morale,,,m2,,,,,,"), (6, "text", "The text is empty"), id="missing-text"
    ),
    pytest.param(
        replace_line(6, "morale,,,,I feel drained.,,,,,"),
        (6, "item", "The item key is empty"),
        id="missing-item-key",
    ),
    pytest.param(
        replace_line(6, ",,,m2,I feel drained.,,,,,"),
        (6, "theme", "The theme key is empty"),
        id="missing-theme",
    ),
    pytest.param(
        replace_line(6, "morale,,,2nd,I feel drained.,,,,,"),
        (6, "item", "must start with a letter"),
        id="bad-item-key",
    ),
    pytest.param(
        replace_line(6, "morale,Mood,,m2,I feel drained.,,yes,,,"),
        (6, "theme_label", "has theme_label 'Morale' on line 5 but 'Mood' here"),
        id="theme-label-inconsistent",
    ),
    pytest.param(
        replace_line(6, "morale,,Other words.,m2,I feel drained.,,yes,,,"),
        (6, "theme_description", "has theme_description 'How people feel.' on line 5"),
        id="theme-description-inconsistent",
    ),
    pytest.param(
        replace_line(6, "morale,,,m2,I feel drained.,,yes,,,Laune"),
        (6, "theme_label_de", "has theme_label_de 'Stimmung' on line 5 but 'Laune' here"),
        id="translated-label-inconsistent",
    ),
    pytest.param(
        replace_line(7, "enps,Employee NPS,,n1,Recommend?,nps,yes,yes,,"),
        (7, "reverse", "An nps item cannot be reverse-scored"),
        id="nps-reverse",
    ),
    pytest.param(
        replace_line(7, "enps,,,n1,Recommend?,nps,no,yes,,"),
        (7, "theme_label", "The theme 'enps' has no label"),
        id="theme-without-label",
    ),
    pytest.param(
        replace_line(4, HEADER + ",colour"),
        (1, "colour", "Unknown column 'colour'"),
        id="unknown-column",
    ),
    pytest.param(
        replace_line(4, HEADER.replace("text,", "question,")),
        (1, "question", "Unknown column 'question'"),
        id="renamed-column",
    ),
    pytest.param(
        replace_line(4, HEADER.replace("theme,", "", 1)),
        (1, "", "missing: theme"),
        id="missing-column",
    ),
    pytest.param(
        replace_line(4, HEADER.replace("text_de", "text_en")),
        (1, "text_en", "is not needed: text is the English text"),
        id="english-translation-column",
    ),
    pytest.param(
        replace_line(4, HEADER.replace("text_de", "text_deutsch")),
        (1, "text_deutsch", "'deutsch' in column 'text_deutsch' is not a language code"),
        id="bad-language-code",
    ),
    pytest.param(
        replace_line(4, HEADER.replace("theme_label_de", "text_de")),
        (1, "text_de", "The column 'text_de' appears twice"),
        id="duplicate-column",
    ),
    pytest.param(
        replace_line(1, "# key: Acme V1"), (1, "key", "The bank key 'Acme V1'"), id="bad-key"
    ),
    pytest.param(replace_line(1, "# no key here"), (1, "key", "The bank has no key"), id="no-key"),
    pytest.param(
        replace_line(3, "# comment_prompt: Again"),
        (3, "comment_prompt", "The setting 'comment_prompt' is given twice"),
        id="duplicate-setting",
    ),
    pytest.param(
        replace_line(3, "# comment_prompt_en: Again"),
        (3, "comment_prompt_en", "names no other language"),
        id="english-prompt-translation",
    ),
    pytest.param(
        replace_line(6, 'morale,,,m2,"Line one\nline two",,yes,,,'),
        (6, "text", "line break or control character"),
        id="line-break-in-text",
    ),
    pytest.param(
        replace_line(6, 'morale,,,m2,"unclosed,,yes,,,'),
        (6, "", "not valid CSV"),
        id="bad-quoting",
    ),
    pytest.param(
        replace_line(6, "morale,,,m2,I feel drained, often.,,yes,,,,x"),
        (6, "", "put double quotes around any value that contains a comma"),
        id="unquoted-comma",
    ),
    pytest.param(
        replace_line(6, "morale,,,m2," + "x" * 301 + ",,yes,,,"),
        (6, "text", "longer than 300 characters"),
        id="text-too-long",
    ),
    pytest.param("\n".join(lines_of(GOOD)[:4]), (1, "", "The file lists no items"), id="no-items"),
    pytest.param("# key: x\n\n", (1, "", "no header line"), id="empty"),
]


@pytest.mark.parametrize(("text", "expected"), BROKEN)
def test_problems_are_reported_by_line(text: str, expected: tuple[int, str, str]) -> None:
    found = problems(text)
    line, column, fragment = expected
    assert any((line, column) == (at, col) and fragment in m for at, col, m in found), found


def test_every_problem_is_reported_at_once() -> None:
    text = "\n".join(
        [
            "# key: many",
            HEADER,
            "morale,Morale,,m1,,likert7,maybe,yes,,",
            "morale,Mood,,m1,Text.,,,,,",
            "enps,NPS,,n1,Recommend?,nps,yes,,,",
        ]
    )
    found = problems(text)
    columns = {(line, column) for line, column, _ in found}
    assert {
        (3, "text"),
        (3, "scale"),
        (3, "reverse"),
        (3, "item"),
        (4, "item"),
        (5, "reverse"),
    } <= columns
    with pytest.raises(BankFileError) as caught:
        parse_bank_csv(text)
    assert str(caught.value).startswith("line 3: ") and "more" in str(caught.value)


def test_bank_file_error_is_a_bank_error() -> None:
    assert issubclass(BankFileError, BankError) and issubclass(BankFileError, ValueError)


# --- scheduling ---------------------------------------------------------------------------------


def bank_file(themes: dict[str, int], core: set[str]) -> str:
    """Return a file with ``themes`` (name -> item count); themes in ``core`` are core."""
    rows = ["# key: sized", HEADER]
    for theme, count in themes.items():
        for i in range(count):
            flag = "yes" if theme in core else "no"
            rows.append(f"{theme},{theme.title()},,{theme}{i},Item {i}?,,,{flag},,")
    return "\n".join(rows)


def test_bank_no_rotation_can_ask_is_refused() -> None:
    found = problems(bank_file({"big": 11}, core={"big"}))
    assert found and "No rotation can ask this bank" in found[0][2]
    assert "at most 10" in found[0][2]


def test_bank_that_needs_a_longer_rotation_is_a_warning() -> None:
    bank = parse_bank_csv(bank_file({"core": 5, "a": 5, "b": 5, "c": 5, "d": 4}, core={"core"}))
    assert min_rotation(bank) == 4
    warnings = bank_warnings(bank)
    assert any("over 3 rounds" in w and "at least 4 rounds" in w for w in warnings), warnings


@pytest.mark.parametrize(
    ("themes", "core", "expected"),
    [
        ({"a": 4, "b": 4}, set(), 1),
        ({"a": 6, "b": 6}, set(), 2),
        ({"a": 6, "b": 6}, {"a"}, None),  # b's 6 never fit beside a's 6 core items
    ],
)
def test_min_rotation(themes: dict[str, int], core: set[str], expected: int | None) -> None:
    rows = bank_file(themes, core)
    if expected is None:
        assert "No rotation can ask" in problems(rows)[0][2]
    else:
        assert min_rotation(parse_bank_csv(rows)) == expected


def test_core_bank_needs_three_rounds_and_has_no_warnings() -> None:
    bank = load_bank()
    assert min_rotation(bank) == 3
    assert bank_warnings(bank) == ()


# --- translations -------------------------------------------------------------------------------


def test_translation_gaps_are_warnings() -> None:
    text = replace_line(7, "enps,Employee NPS,,n1,Recommend?,nps,no,yes,,")
    warnings = bank_warnings(parse_bank_csv(text))
    assert warnings == (
        "Deutsch (de): no translation for 1 of 3 item texts and 1 of 2 theme labels; English "
        "is shown instead.",
    )


def test_unsupported_language_is_a_warning() -> None:
    text = "# key: fr-only\ntheme,theme_label,item,text,text_fr\nm,Moral,m1,Energy?,Énergie ?\n"
    bank = parse_bank_csv(text)
    assert bank.item("m1").text_in("fr") == "Énergie ?"
    (warning,) = bank_warnings(bank)
    assert "fr" in warning and "not offered" in warning


def test_translations_survive_the_json_form() -> None:
    bank = parse_bank_csv(GOOD)
    data = bank_to_dict(bank)
    assert data["comment_prompt_translations"] == {"de": "Sonst noch etwas?"}
    assert data["themes"][0]["translations"] == {"de": "Stimmung"}
    assert "translations" not in data["themes"][1]  # untranslated entries stay as they were
    assert parse_bank(data) == bank


def test_bank_type() -> None:
    assert isinstance(parse_bank_csv(GOOD), Bank)


# --- "prefer not to say": an optional column --------------------------------------------------


def with_prefer_column(m1: str) -> str:
    """Return GOOD with a prefer_not_to_say column: ``m1`` for item m1, empty and no after."""
    text = GOOD.replace(",core,", ",core,prefer_not_to_say,")
    text = text.replace("likert5,no,yes,", f"likert5,no,yes,{m1},")
    return text.replace(",,yes,,Ich", ",,yes,,,Ich").replace("nps,no,yes,", "nps,no,yes,no,")


def test_prefer_not_to_say_column_reads_and_round_trips() -> None:
    bank = parse_bank_csv(with_prefer_column("yes"))
    assert [i.key for i in bank.items if i.prefer_not_to_say] == ["m1"]
    assert parse_bank_csv(bank_to_csv(bank)) == bank
    assert parse_bank(bank_to_dict(bank)) == bank


@pytest.mark.parametrize(
    ("bank", "column"),
    [
        pytest.param(parse_bank_csv(GOOD), False, id="no-item-marked"),
        pytest.param(load_bank(), True, id="shipped-bank"),
    ],
)
def test_prefer_not_to_say_column_written_only_when_used(bank: Bank, column: bool) -> None:
    header = next(r for r in csv.reader(io.StringIO(bank_to_csv(bank))) if not r[0].startswith("#"))
    assert ("prefer_not_to_say" in header) is column
    assert parse_bank_csv(bank_to_csv(bank)) == bank


def test_prefer_not_to_say_takes_yes_or_no() -> None:
    # (Line 5 is then refused whole, so line 6 also misses the theme label given there.)
    assert problems(with_prefer_column("maybe"))[0] == (
        (5, "prefer_not_to_say", "prefer_not_to_say is 'maybe'; write yes or no (empty means no).")
    )
