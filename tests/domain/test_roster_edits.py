"""One person at a time: the same validator as an import line, and the mass-leaving rule."""

from __future__ import annotations

import csv
import io

import pytest

from survey.domain.csvlines import LineError
from survey.domain.roster import band_spellings, parse_roster, person_row
from survey.domain.roster_plan import PersonState, RosterPlan, plan_person

UNITS = {("Lab",): 1, ("Lab", "Ops"): 2, ("Lab", "Research"): 3}
PEOPLE = {
    "a@example.org": PersonState(("Lab", "Ops"), "3y+", "A", True),
    "b@example.org": PersonState(("Lab", "Ops"), "3y+", "B", True),
    "gone@example.org": PersonState(("Lab", "Ops"), "<1y", "Gone", False),
}


@pytest.mark.parametrize(
    ("email", "unit", "tenure", "name"),
    [
        ("not-an-email", "Lab/Ops", "", ""),
        ("", "Lab/Ops", "", ""),
        ("x@example.org", "", "", ""),
        ("x@example.org", "Lab//Ops", "", ""),
        ("x@example.org", "Lab/Ops/Lab", "", ""),
        ("x@example.org", "Lab/" + "u" * 121, "", ""),
        ("x@example.org", "Lab/Ops", "ancient", ""),
        ("x@example.org", "Lab/Ops", "", "n" * 201),
        ("x@example.org", "Lab/Ops", "", "tab\there"),
        ("x@exa\nmple.org", "Lab/Ops", "", ""),
        (" X@Example.org ", " Lab / Ops ", "3Y+", " Name "),  # valid, normalised alike
    ],
)
def test_a_person_is_checked_exactly_as_an_import_line(
    email: str, unit: str, tenure: str, name: str
) -> None:
    out = io.StringIO()
    csv.writer(out).writerows([["email", "unit", "tenure", "name"], [email, unit, tenure, name]])
    parsed = parse_roster(out.getvalue())
    errors: list[LineError] = []
    row = person_row(2, email, unit, tenure, name, band_spellings(), errors)
    assert tuple(sorted(errors)) == parsed.errors
    assert (row,) == parsed.rows if row is not None else parsed.rows == ()


def test_one_person_changes_nobody_else() -> None:
    errors: list[LineError] = []
    row = person_row(0, "a@example.org", "Lab/Research/New", "1-3y", "", band_spellings(), errors)
    assert row is not None and not errors
    planned = plan_person(UNITS, PEOPLE, row)
    assert planned.to_deactivate == ()
    assert planned.units_to_create == (("Lab", "Research", "New"),)
    assert [m.email for m in planned.to_move] == ["a@example.org"]
    assert [c.after for c in planned.to_change_band] == ["1-3y"]
    assert planned.to_rename == ()  # an empty name keeps the stored one


def test_one_person_follows_the_tree_rules() -> None:
    errors: list[LineError] = []
    row = person_row(0, "new@example.org", "Lab/ops/X", "", "", band_spellings(), errors)
    assert row is not None
    planned = plan_person(UNITS, PEOPLE, row)
    assert planned.to_add == (row,)
    assert [e.column for e in planned.errors] == ["unit"]
    assert "only in letter case" in planned.errors[0].message


@pytest.mark.parametrize(
    ("active", "leaving", "confirm"),
    [
        (145, 144, True),  # a two-line file by mistake
        (100, 10, False),  # a tenth is an ordinary quarter
        (100, 11, True),
        (9, 1, True),
        (10, 1, False),
        (0, 0, False),
    ],
)
def test_more_than_a_tenth_leaving_needs_confirming(
    active: int, leaving: int, confirm: bool
) -> None:
    planned = RosterPlan(
        to_deactivate=tuple(f"p{n}@example.org" for n in range(leaving)), active_before=active
    )
    assert planned.leaving_needs_confirmation is confirm
    assert bool(planned.leaving_warning) is confirm
    if confirm:
        assert (
            f"{leaving} " in planned.leaving_warning
            and f"of {active} active" in planned.leaving_warning
        )
