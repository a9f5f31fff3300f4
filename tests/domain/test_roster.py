"""Reading a roster CSV and planning its import, without an app or a database."""

from __future__ import annotations

import pytest

from survey.domain.csvlines import LineError
from survey.domain.roster import MAX_ROWS, RosterRow, parse_roster
from survey.domain.roster_plan import Change, Move, PersonState, all_errors, plan

HEADER = "email,unit,tenure,name\n"


def test_good_file_is_normalised() -> None:
    text = (
        "\ufeffEmail , Unit,TENURE,name\r\n"
        "Ada@Example.ORG, Lab / Research/Language ,<1y,Ada Lovelace\r\n"
        '\r\nbob@example.org,Lab/Ops,,"Bob, Jr."\r\n'
        "cy@example.org,Lab/Ops,3Y+\r\n"
    )
    parsed = parse_roster(text)
    assert parsed.ok
    assert parsed.rows == (
        RosterRow(2, "ada@example.org", "Ada Lovelace", ("Lab", "Research", "Language"), "<1y"),
        RosterRow(4, "bob@example.org", "Bob, Jr.", ("Lab", "Ops"), "unstated"),
        RosterRow(5, "cy@example.org", "", ("Lab", "Ops"), "3y+"),
    )


def test_optional_columns_may_be_left_out_and_reordered() -> None:
    parsed = parse_roster("unit,email\nLab/A,a@example.org\n")
    assert parsed.rows == (RosterRow(2, "a@example.org", "", ("Lab", "A"), "unstated"),)


def test_known_bands_can_be_chosen() -> None:
    parsed = parse_roster(HEADER + "a@example.org,Lab,senior\n", known_bands=("junior", "senior"))
    assert parsed.ok and parsed.rows[0].band == "senior"


# (file after the header, expected (line, column, words in the message))
LINE_ERRORS = [
    ("not-an-email,Lab\n", (2, "email", "not a valid email")),
    ("a@b,Lab\n", (2, "email", "not a valid email")),
    ("a..b@example.org,Lab\n", (2, "email", "not a valid email")),
    ("a@example.org b@example.org,Lab\n", (2, "email", "not a valid email")),
    (f"{'a' * 250}@example.org,Lab\n", (2, "email", "not a valid email")),
    (",Lab\n", (2, "email", "email is empty")),
    ("a@example.org,\n", (2, "unit", "unit is empty")),
    ("a@example.org,Lab//Team\n", (2, "unit", "empty part")),
    ("a@example.org,/Lab\n", (2, "unit", "empty part")),
    ("a@example.org,Lab/Team/\n", (2, "unit", "empty part")),
    (f"a@example.org,Lab/{'x' * 121}\n", (2, "unit", "longer than 120")),
    ("a@example.org,Lab/A/B/A\n", (2, "unit", "cycle in the tree")),
    ("a@example.org,Lab,5y\n", (2, "tenure", "Unknown tenure band '5y'")),
    (f"a@example.org,Lab,,{'n' * 201}\n", (2, "name", "longer than 200")),
    ("a@example.org,Lab,,Smith, Ann\n", (2, "", "5 values but the header has 4")),
    ("a@example.org,Lab\nb@example.org,Other\n", (3, "unit", "same organisation")),
    ('a@example.org,Lab,,"Ann\n', (2, "", "not valid CSV")),
    ("a@example.org,Lab,,Ann\x00\n", (2, "name", "control character")),
    ('a@example.org,"Lab/A\nB"\n', (2, "unit", "line break")),
]


@pytest.mark.parametrize(("body", "expected"), LINE_ERRORS)
def test_each_bad_line_is_reported(body: str, expected: tuple[int, str, str]) -> None:
    parsed = parse_roster(HEADER + body)
    line, column, words = expected
    assert not parsed.ok
    assert any(
        e.line == line and e.column == column and words in e.message for e in parsed.errors
    ), parsed.errors


def test_duplicate_email_is_reported_on_both_lines() -> None:
    text = HEADER + "a@example.org,Lab\nb@example.org,Lab\nA@EXAMPLE.org,Lab/X\n"
    parsed = parse_roster(text)
    assert [(e.line, e.column) for e in parsed.errors] == [(2, "email"), (4, "email")]
    assert all("lines 2 and 4" in e.message for e in parsed.errors)
    assert [r.email for r in parsed.rows] == ["b@example.org"]


def test_every_bad_line_is_reported_not_only_the_first() -> None:
    text = HEADER + "bad,Lab\nok@example.org,Lab\nalso-bad,Lab,??\n"
    parsed = parse_roster(text)
    assert sorted({e.line for e in parsed.errors}) == [2, 4]
    assert len(parsed.errors) == 3


def test_line_numbers_count_physical_lines() -> None:
    # A quoted value spanning two lines is reported where it starts, and counted as two lines.
    text = HEADER + 'a@example.org,Lab,,"Two\nlines"\nbad,Lab\n'
    assert [(e.line, e.column) for e in parse_roster(text).errors] == [(2, "name"), (4, "email")]


# (whole file, expected column of the error on line 1, words in the message)
HEADER_ERRORS = [
    ("", "", "empty"),
    ("\ufeff", "", "empty"),
    ("email\na@example.org\n", "", "missing: unit"),
    ("mail,unit\na@example.org,Lab\n", "mail", "Unknown column"),
    ("email;unit\na@example.org;Lab\n", "", "separated by commas"),
    ("email,unit,email\na@example.org,Lab,a@example.org\n", "email", "appears twice"),
    ("email,unit,\na@example.org,Lab,\n", "(empty, column 3)", "Unknown column"),
    (HEADER, "", "lists nobody"),
]


@pytest.mark.parametrize(("text", "column", "words"), HEADER_ERRORS)
def test_header_problems(text: str, column: str, words: str) -> None:
    parsed = parse_roster(text)
    assert parsed.rows == ()
    assert any(e.line == 1 and e.column == column and words in e.message for e in parsed.errors)


def test_more_than_max_rows_is_refused() -> None:
    body = "".join(f"p{n}@example.org,Lab\n" for n in range(MAX_ROWS + 1))
    parsed = parse_roster(HEADER + body)
    assert [(e.line, e.column) for e in parsed.errors] == [(MAX_ROWS + 2, "")]
    assert "more than 50,000" in parsed.errors[0].message


def test_max_rows_exactly_is_accepted() -> None:
    body = "".join(f"p{n}@example.org,Lab\n" for n in range(MAX_ROWS))
    assert parse_roster(HEADER + body).ok


# --- planning ------------------------------------------------------------------------------

UNITS = {
    ("Lab",): 1,
    ("Lab", "Research"): 2,
    ("Lab", "Research", "Language"): 3,
    ("Lab", "Ops"): 4,
}
PEOPLE = {
    "stay@example.org": PersonState(("Lab", "Ops"), "3y+", "Stay", True),
    "move@example.org": PersonState(("Lab", "Ops"), "<1y", "Move", True),
    "leave@example.org": PersonState(("Lab", "Research"), "<1y", "", True),
    "gone@example.org": PersonState(("Lab", "Research"), "<1y", "", False),
    "back@example.org": PersonState(("Lab", "Research"), "<1y", "", False),
}


def rows(body: str) -> tuple[RosterRow, ...]:
    parsed = parse_roster(HEADER + body)
    assert parsed.ok, parsed.errors
    return parsed.rows


def test_plan_lists_every_kind_of_change() -> None:
    planned = plan(
        UNITS,
        PEOPLE,
        rows(
            "stay@example.org,Lab/Ops,3y+,\n"  # empty name keeps the stored one
            "move@example.org,Lab/Research/Vision/Robots,1-3y,Moved\n"
            "back@example.org,Lab/Research,<1y\n"
            "new@example.org,Lab/Ops,,New\n"
        ),
    )
    assert planned.ok
    assert planned.units_to_create == (
        ("Lab", "Research", "Vision"),
        ("Lab", "Research", "Vision", "Robots"),
    )
    assert [r.email for r in planned.to_add] == ["new@example.org"]
    assert planned.to_move == (
        Move("move@example.org", ("Lab", "Ops"), ("Lab", "Research", "Vision", "Robots")),
    )
    assert planned.to_change_band == (Change("move@example.org", "<1y", "1-3y"),)
    assert planned.to_rename == (Change("move@example.org", "Move", "Moved"),)
    assert planned.to_reactivate == ("back@example.org",)
    assert planned.to_deactivate == ("leave@example.org",)  # gone@ is inactive already
    assert planned.unchanged == 1
    assert planned.summary == (
        "2 new units; 1 new person; 1 person moving unit; 1 tenure band change; "
        "1 name change; 1 person returning; 1 person leaving; 1 unchanged."
    )


def test_plan_of_the_same_roster_changes_nothing() -> None:
    planned = plan(UNITS, PEOPLE, rows("stay@example.org,Lab/Ops,3y+,Stay\n"))
    assert planned.to_deactivate == ("leave@example.org", "move@example.org")
    again = plan(
        UNITS,
        {"stay@example.org": PEOPLE["stay@example.org"]},
        rows("stay@example.org,Lab/Ops,3y+,Stay\n"),
    )
    assert not again.changes_anything
    assert again.summary.startswith("Nothing to change")


def test_plan_on_an_empty_database_creates_the_whole_tree() -> None:
    planned = plan({}, {}, rows("a@example.org,Lab/B/C\nb@example.org,Lab/A\n"))
    assert planned.units_to_create == (("Lab",), ("Lab", "A"), ("Lab", "B"), ("Lab", "B", "C"))
    assert len(planned.to_add) == 2


def test_fingerprint_follows_the_plan() -> None:
    first = plan(UNITS, PEOPLE, rows("stay@example.org,Lab/Ops,3y+\n"))
    same = plan(UNITS, PEOPLE, rows("stay@example.org,Lab/Ops,3y+\n"))
    other = plan(UNITS, PEOPLE, rows("stay@example.org,Lab/Ops,<1y\n"))
    assert first.fingerprint == same.fingerprint != other.fingerprint


# (file after the header, expected line, words in the message) against UNITS
TREE_ERRORS = [
    # Research already contains Language: putting Research under Language is a cycle.
    ("a@example.org,Lab/Language/Research\n", 2, "cycle in the tree"),
    ("a@example.org,Lab/Ops/Language/Research/Team\n", 2, "cycle in the tree"),
    ("a@example.org,Other/Research\n", 2, "organisation is called 'Lab'"),
    ("a@example.org,Lab/research\n", 2, "only in letter case"),
    ("a@example.org,Lab/Ops/X\nb@example.org,Lab/Ops/x\n", 2, "only in letter case"),
]


@pytest.mark.parametrize(("body", "line", "words"), TREE_ERRORS)
def test_plan_refuses_paths_that_conflict_with_the_tree(body: str, line: int, words: str) -> None:
    planned = plan(UNITS, PEOPLE, rows(body))
    assert not planned.ok
    assert any(e.line == line and e.column == "unit" and words in e.message for e in planned.errors)


def test_a_tree_error_is_reported_once_per_path() -> None:
    body = "".join(f"p{n}@example.org,Lab/Language/Research\n" for n in range(3))
    errors = plan(UNITS, {}, rows(body)).errors
    assert len(errors) == 1 and "2 more lines" in errors[0].message


@pytest.mark.parametrize(
    "body",
    [
        "a@example.org,Lab/Research/Language/Team\n",  # deeper under existing units
        "a@example.org,Lab/Ops/Research\n",  # a second unit named Research, not a cycle
        "a@example.org,Lab/Ops/Language\n",
    ],
)
def test_legitimate_paths_are_not_cycles(body: str) -> None:
    assert plan(UNITS, PEOPLE, rows(body)).ok


def test_all_errors_merges_parse_and_plan_in_line_order() -> None:
    parsed = parse_roster(HEADER + "a@example.org,Lab/research\nbad,Lab\n")
    planned = plan(UNITS, {}, parsed.rows)
    assert all_errors(parsed, planned) == (
        LineError(2, "unit", planned.errors[0].message),
        LineError(3, "email", "'bad' is not a valid email address."),
    )
