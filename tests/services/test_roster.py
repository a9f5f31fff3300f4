"""Roster import against a real database: all or nothing, and never re-cutting an open round."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey import db
from survey.models import Invitation, OrgUnit, Person, Round
from survey.services import org, rounds
from survey.services import roster as service
from tests.conftest import ORG_SHAPE, OpenRound, Org

FIRST = """email,unit,tenure,name
ada@example.org,Acme/Research/Language,<1y,Ada
bob@example.org,Acme/Research/Language,3y+,Bob
cy@example.org,Acme/Research/Vision,1-3y,
dee@example.org,Acme/Ops,,Dee
"""

# Ada moves, Bob changes band, Cy is renamed, Dee leaves, Eve arrives in a new unit.
SECOND = """email,unit,tenure,name
ada@example.org,Acme/Ops/Infra,<1y,Ada
bob@example.org,Acme/Research/Language,1-3y,Bob
cy@example.org,Acme/Research/Vision,1-3y,Cy
eve@example.org,Acme/Research/Robots,,Eve
"""


def state(session: Session) -> tuple[dict[str, tuple[str, str, str, bool]], set[str]]:
    """Return every person (unit path, band, name, active) by email, and every unit path."""
    paths = org.unit_paths(list(session.scalars(select(OrgUnit))))
    people = {
        p.email: (paths[p.unit_id], p.tenure_band, p.name, p.active)
        for p in session.scalars(select(Person))
    }
    return people, set(paths.values())


def import_file(app: Flask, text: str) -> service.RosterPlan:
    with db.session_scope(app) as session:
        planned = service.apply(session, text)
        session.commit()
        return planned


def test_good_file_creates_units_and_people(app: Flask) -> None:
    planned = import_file(app, FIRST)
    assert len(planned.units_to_create) == 5 and len(planned.to_add) == 4
    with db.session_scope(app) as session:
        people, units = state(session)
    assert units == {
        "Acme",
        "Acme/Research",
        "Acme/Research/Language",
        "Acme/Research/Vision",
        "Acme/Ops",
    }
    assert people["ada@example.org"] == ("Acme/Research/Language", "<1y", "Ada", True)
    assert people["dee@example.org"] == ("Acme/Ops", "unstated", "Dee", True)


def test_second_import_moves_changes_and_deactivates(app: Flask) -> None:
    import_file(app, FIRST)
    with db.session_scope(app) as session:
        dee_id = session.scalar(select(Person.id).where(Person.email == "dee@example.org"))
    planned = import_file(app, SECOND)
    assert planned.units_to_create == (("Acme", "Ops", "Infra"), ("Acme", "Research", "Robots"))
    assert planned.to_deactivate == ("dee@example.org",)
    with db.session_scope(app) as session:
        people, units = state(session)
        dee = session.get(Person, dee_id)
    assert people["ada@example.org"] == ("Acme/Ops/Infra", "<1y", "Ada", True)
    assert people["bob@example.org"] == ("Acme/Research/Language", "1-3y", "Bob", True)
    assert people["cy@example.org"] == ("Acme/Research/Vision", "1-3y", "Cy", True)
    assert people["eve@example.org"] == ("Acme/Research/Robots", "unstated", "Eve", True)
    # Deactivated, never deleted: the same row, kept for rounds that already invited Dee.
    assert dee is not None and dee.active is False
    assert "Acme/Ops" in units  # units are never removed
    # Importing the first file again brings Dee back and Eve leaves.
    planned = import_file(app, FIRST)
    assert planned.to_reactivate == ("dee@example.org",)
    assert planned.to_deactivate == ("eve@example.org",)


def test_importing_the_same_file_twice_changes_nothing(app: Flask) -> None:
    import_file(app, FIRST)
    with db.session_scope(app) as session:
        _, planned = service.preview(session, FIRST)
    assert planned.ok and not planned.changes_anything and planned.unchanged == 4


@pytest.mark.parametrize(
    "bad_line",
    [
        "not-an-email,Acme/Ops",
        "zed@example.org,Acme/Ops,10y",
        "ada@example.org,Acme/Ops",  # duplicate person
        "zed@example.org,Acme//Ops",
        "zed@example.org,Elsewhere/Ops",
        "zed@example.org,Acme/Language/Research",  # Research already contains Language: cycle
    ],
)
def test_one_bad_line_changes_nothing(app: Flask, bad_line: str) -> None:
    import_file(app, FIRST)
    with db.session_scope(app) as session:
        before = state(session)
    text = SECOND + bad_line + "\n"
    with db.session_scope(app) as session:
        with pytest.raises(service.RosterError) as caught:
            service.apply(session, text)
        session.rollback()
    assert "nothing was changed" in str(caught.value)
    assert 6 in {e.line for e in caught.value.errors}
    with db.session_scope(app) as session:
        assert state(session) == before


def test_preview_changes_nothing(app: Flask) -> None:
    import_file(app, FIRST)
    with db.session_scope(app) as session:
        before = state(session)
        parsed, planned = service.preview(session, SECOND)
        session.commit()  # even a commit after a preview has nothing to write
    assert parsed.ok and planned.ok and planned.changes_anything
    with db.session_scope(app) as session:
        assert state(session) == before


def test_apply_refuses_a_plan_other_than_the_previewed_one(app: Flask) -> None:
    with db.session_scope(app) as session:
        _, previewed = service.preview(session, FIRST)
    import_file(app, SECOND)  # someone else imports in between
    with db.session_scope(app) as session:
        before = state(session)
        with pytest.raises(service.RosterError, match="changed since the preview"):
            service.apply(session, FIRST, previewed.fingerprint)
        session.rollback()
        assert state(session) == before


def test_apply_only_flushes(app: Flask) -> None:
    with db.session_scope(app) as session:
        service.apply(session, FIRST)
        session.rollback()  # the caller decides: rolling back leaves nothing
    with db.session_scope(app) as session:
        assert state(session) == ({}, set())


def roster_of(organisation: Org, move: bool = True) -> str:
    """Return the conftest organisation as a roster file, with some people moved or left out."""
    lines = ["email,unit,tenure"]
    n = 0
    for dept, teams in ORG_SHAPE.items():
        for team, size in teams.items():
            for _ in range(size):
                n += 1
                band = "<1y" if n % 3 == 0 else "3y+"
                unit = f"Lab/{dept}/{team}"
                if move and n <= 4:
                    unit = "Lab/Ops/New team"
                if move and n in (5, 6):
                    continue  # they leave
                lines.append(f"p{n}@example.org,{unit},{band}")
    return "\n".join(lines) + "\n"


def test_an_import_does_not_touch_an_open_round(app: Flask, open_round: OpenRound) -> None:
    kek = app.extensions["candor.kek"]

    def frozen() -> tuple[object, list[tuple[int, str]], list[str]]:
        with db.session_scope(app) as session:
            rnd = session.get(Round, open_round.round_id)
            assert rnd is not None
            invitations = session.execute(
                select(Invitation.unit_id, Invitation.band)
                .where(Invitation.round_id == rnd.id)
                .order_by(Invitation.unit_id, Invitation.band)
            )
            links = rounds.invitation_links(session, rnd, kek, "http://candor.test")
            return rnd.snapshot, [tuple(i) for i in invitations], sorted(x.email for x in links)

    before = frozen()
    planned = import_file(app, roster_of(Org(open_round.units, 0)))
    assert len(planned.to_move) == 4 and len(planned.to_deactivate) == 2
    assert frozen() == before
    # The next snapshot, taken when a later round opens, sees the new roster.
    with db.session_scope(app) as session:
        snapshot, people, _labels = org.take_snapshot(session, 5)
    assert len(people) == sum(sum(t.values()) for t in ORG_SHAPE.values()) - 2
    assert "Lab/Ops/New team" in {u["path"] for u in snapshot["units"].values()}


def test_the_fixture_roster_round_trips(app: Flask, organisation: Org) -> None:
    with db.session_scope(app) as session:
        _, planned = service.preview(session, roster_of(organisation, move=False))
    # Names are not in the file, so they are kept: nothing changes.
    assert planned.ok and not planned.changes_anything


def test_tree_counts_active_people_directly_and_in_total(app: Flask) -> None:
    import_file(app, SECOND)
    import_file(app, FIRST)  # Eve leaves: Robots stays, empty
    with db.session_scope(app) as session:
        (root,) = service.tree(session)
    assert (root.name, root.direct, root.total) == ("Acme", 0, 4)
    children = {c.name: c for c in root.children}
    assert (children["Ops"].direct, children["Ops"].total) == (1, 1)
    research = {c.name: (c.direct, c.total) for c in children["Research"].children}
    assert research == {"Language": (2, 2), "Robots": (0, 0), "Vision": (1, 1)}
    assert children["Research"].total == 3
    assert children["Research"].path == "Acme/Research"


def test_roster_pages_and_search(app: Flask) -> None:
    text = "email,unit\n" + "".join(f"p{n:03}@example.org,Acme\n" for n in range(250))
    text += "Odd_One%@Example.org,Acme\n"
    import_file(app, text)
    with db.session_scope(app) as session:
        first = service.roster_page(session)
        last = service.roster_page(session, page=99)
        found = service.roster_page(session, "P24")
        literal = service.roster_page(session, "_one%")
        none = service.roster_page(session, "nobody")
    assert (first.total, first.pages, len(first.entries)) == (251, 3, 100)
    assert first.entries[0].email == "odd_one%@example.org"
    assert (last.page, len(last.entries)) == (3, 51)
    assert [e.email for e in found.entries] == [f"p24{n}@example.org" for n in range(10)]
    assert [e.email for e in literal.entries] == ["odd_one%@example.org"]  # no SQL wildcards
    assert (none.total, none.pages, none.entries) == (0, 1, ())


def test_cli_dry_run_then_apply(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("\ufeff" + FIRST, encoding="utf-8")
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["candor", "roster", "import", str(path)])
    assert dry.exit_code == 0, dry.output
    assert "Dry run: 5 new units; 4 new people" in dry.output
    with db.session_scope(app) as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0
    applied = runner.invoke(args=["candor", "roster", "import", str(path), "--apply"])
    assert applied.exit_code == 0, applied.output
    assert "Imported: 5 new units; 4 new people" in applied.output
    with db.session_scope(app) as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 4


def test_cli_reports_errors_and_exits_non_zero(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(FIRST + "bad,Acme\nada@example.org,Acme\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["candor", "roster", "import", str(path), "--apply"])
    assert result.exit_code == 1
    assert "line 6 (email): 'bad' is not a valid email address." in result.output
    assert "line 7 (email): ada@example.org appears on lines 2 and 7" in result.output
    assert "3 problem(s); nothing was changed" in result.output
    with db.session_scope(app) as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0


def test_cli_refuses_a_file_that_is_not_utf8(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes(b"email,unit\nz\xe9@example.org,Acme\n")
    result = app.test_cli_runner().invoke(args=["candor", "roster", "import", str(path)])
    assert result.exit_code == 1 and "as UTF-8 text" in result.output
