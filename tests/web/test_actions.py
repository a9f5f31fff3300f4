"""Action plans: HR records, filters and updates them; employees see them, with their status."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from survey import create_app, db
from survey.models import Action, ActionStatus, ActionUpdate, OrgUnit, Program, User
from survey.services import actions, org, rounds
from tests.conftest import STAFF, OpenRound, login
from tests.helpers import assert_entry, assert_nav_link

DUE = "2026-12-15"


@dataclass
class TwoRounds:
    """Round 1 released, round 2 open, round 3 a draft; the staff users' ids."""

    released: int
    open: int
    draft: int
    program_id: int
    units: dict[str, int]
    hr: int
    admin: int


@pytest.fixture
def two_rounds(app: Flask, open_round: OpenRound) -> TwoRounds:
    kek = app.extensions["candor.kek"]
    with db.session_scope(app) as session:
        first = rounds.get_round(session, open_round.round_id)
        rounds.close_round(session, first, dt.date(2026, 11, 7))
        rounds.release_round(session, first, kek, dt.date(2026, 11, 8))
        second = rounds.create_round(session, first.program)
        rounds.open_round(session, second, kek, dt.date(2026, 11, 16))
        third = rounds.create_round(session, first.program)
        session.commit()
        users = dict(session.execute(select(User.email, User.id)).all())
        return TwoRounds(
            first.id,
            second.id,
            third.id,
            first.program_id,
            open_round.units,
            users[STAFF["hr"]],
            users[STAFF["admin"]],
        )


def record(client: FlaskClient, rounds_: TwoRounds, theme: str, text: str, **extra: str) -> int:
    """Post the new-action form; return the status code."""
    data = {
        "round": str(rounds_.released),
        "theme": theme,
        "text": text,
        "owner": str(rounds_.hr),
        "due_on": DUE,
        "status": "planned",
        "unit": "",
        **extra,
    }
    return client.post("/actions/", data=data).status_code


def stored(app: Flask) -> list[tuple[int, str, str, str]]:
    with db.session_scope(app) as session:
        return [
            (a.round_id, a.theme, a.text, a.status.value)
            for a in session.scalars(select(Action).order_by(Action.id))
        ]


def only_action(app: Flask) -> int:
    with db.session_scope(app) as session:
        return session.scalars(select(Action.id)).one()


ROUTES = [
    ("GET", "/actions/"),
    ("POST", "/actions/"),
    ("GET", "/actions/1"),
    ("POST", "/actions/1/updates"),
    ("POST", "/actions/1/plan"),
    ("POST", "/actions/1/delete"),
]


def test_only_hr_and_admins_may_enter(client: FlaskClient, two_rounds: TwoRounds) -> None:
    for role in ("anon", "leader", "hr"):
        assert_entry(client, role, ROUTES, allowed=("hr", "admin"))


def test_nav_link_for_hr_and_admin_only(client: FlaskClient, two_rounds: TwoRounds) -> None:
    assert_nav_link(client, "/actions/", hidden_for="leader", shown_for="hr")


def test_record_update_filter_and_plan(
    app: Flask, client: FlaskClient, two_rounds: TwoRounds
) -> None:
    login(client, "hr")
    page = client.get("/actions/").data.decode()
    assert "No action recorded yet." in page and "Pulse: R1" in page
    # Only released rounds can be answered.
    round_select = re.search(r'<select id="round".*?</select>', page, re.S)
    assert round_select is not None
    assert re.findall(r'<option value="(\d+)"', round_select.group(0)) == [str(two_rounds.released)]
    for other in (two_rounds.open, two_rounds.draft, 999):
        assert record(client, two_rounds, "trust", "x", round=str(other)) == 400
    assert stored(app) == []

    assert record(client, two_rounds, "trust", "Monthly open Q&A with the board.") == 302
    assert (
        record(
            client,
            two_rounds,
            "cohesion",
            "Hire two more people.",
            unit=str(two_rounds.units["Research"]),
            owner=str(two_rounds.admin),
            status="in_progress",
        )
        == 302
    )
    assert stored(app) == [
        (two_rounds.released, "trust", "Monthly open Q&A with the board.", "planned"),
        (two_rounds.released, "cohesion", "Hire two more people.", "in_progress"),
    ]
    page = client.get("/actions/").data.decode()
    assert "2 actions" in page and "Lab/Research" in page and "admin@example.org" in page
    # Open first: in progress before planned.
    assert page.index("Hire two more people.") < page.index("Monthly open Q&amp;A")

    # Filters narrow the list on the one page.
    by_status = client.get("/actions/?status=planned").data.decode()
    assert "Monthly open Q&amp;A" in by_status and "Hire two more" not in by_status
    by_unit = client.get(f"/actions/?unit={two_rounds.units['Research']}").data.decode()
    assert "Hire two more" in by_unit and "Monthly open" not in by_unit
    by_owner = client.get(f"/actions/?owner={two_rounds.hr}").data.decode()
    assert "Monthly open" in by_owner and "Hire two more" not in by_owner
    assert "No action matches" in client.get("/actions/?theme=creativity").data.decode()
    assert "2 actions" in client.get("/actions/?status=bogus&unit=x").data.decode()

    # A dated update moves the status; the history keeps every step.
    with db.session_scope(app) as session:
        first = session.scalars(select(Action.id).order_by(Action.id)).first()
    assert first is not None
    response = client.post(
        f"/actions/{first}/updates", data={"status": "done", "note": "First Q&A held."}
    )
    assert response.status_code == 302
    detail = client.get(f"/actions/{first}").data.decode()
    assert "First Q&amp;A held." in detail and "Recorded." in detail
    with db.session_scope(app) as session:
        history = session.scalars(
            select(ActionUpdate.status).where(ActionUpdate.action_id == first)
        ).all()
        assert history == [ActionStatus.PLANNED, ActionStatus.DONE]
    # An update that says nothing and changes nothing is refused, and loses nothing.
    response = client.post(f"/actions/{first}/updates", data={"status": "done", "note": " "})
    assert response.status_code == 400 and "Write what happened" in response.data.decode()

    # The plan can change: owner, unit, due date; a due date before the round closed cannot.
    response = client.post(
        f"/actions/{first}/plan",
        data={
            "unit": str(two_rounds.units["Ops"]),
            "owner": str(two_rounds.admin),
            "due_on": "2026-10-01",
        },
    )
    assert response.status_code == 400 and "before R1 closed" in response.data.decode()
    response = client.post(
        f"/actions/{first}/plan",
        data={
            "unit": str(two_rounds.units["Ops"]),
            "owner": str(two_rounds.admin),
            "due_on": "2027-01-31",
        },
    )
    assert response.status_code == 302
    with db.session_scope(app) as session:
        action = session.get(Action, first)
        assert action is not None
        assert (action.unit_id, action.owner_id, action.due_on) == (
            two_rounds.units["Ops"],
            two_rounds.admin,
            dt.date(2027, 1, 31),
        )


BAD_INPUT = [
    ({"theme": "nonsense"}, "Not a valid choice"),
    ({"theme": ""}, "Choose a theme."),
    ({"text": "   "}, "Describe the action."),
    ({"text": "x" * 1001}, "Keep it under 1000 characters."),
    ({"owner": ""}, "Choose an owner."),
    ({"owner": "99999"}, "Not a valid choice"),
    ({"due_on": ""}, "Give a due date."),
    ({"due_on": "2026-11-01"}, "before R1 closed"),
    ({"unit": "99999"}, "Not a valid choice"),
    ({"round": ""}, "Choose a round."),
]


def test_bad_input_is_refused_and_kept(
    app: Flask, client: FlaskClient, two_rounds: TwoRounds
) -> None:
    login(client, "hr")
    for fields, message in BAD_INPUT:
        data = {
            "round": str(two_rounds.released),
            "theme": "trust",
            "text": "Kept text.",
            "owner": str(two_rounds.hr),
            "due_on": DUE,
            "status": "planned",
            "unit": "",
            **fields,
        }
        response = client.post("/actions/", data=data)
        page = response.data.decode()
        assert response.status_code == 400, fields
        assert message in page, fields
        assert 'id="new-action" open' in page  # the form stays open, with what was typed
        if fields.get("text") is None:
            assert "Kept text." in page
    assert stored(app) == []


def test_service_refuses_unreleased_rounds_and_unknown_themes(
    app: Flask, two_rounds: TwoRounds
) -> None:
    with db.session_scope(app) as session:
        program = session.get(Program, two_rounds.program_id)
        assert program is not None
        opened = rounds.get_round(session, two_rounds.open)
        released = rounds.get_round(session, two_rounds.released)
        today = dt.date(2026, 11, 20)
        with pytest.raises(actions.ActionError, match="is open"):
            actions.add_action(session, program, opened, "trust", "Too early.", today)
        with pytest.raises(actions.ActionError, match="not a theme"):
            actions.add_action(session, program, released, "weather", "Sunny.", today)
        with pytest.raises(actions.ActionError, match="Describe"):
            actions.add_action(session, program, released, "trust", "\x00\x07 ", today)
        with pytest.raises(actions.ActionError, match="under 1000"):
            actions.add_action(session, program, released, "trust", "y" * 1001, today)
        with pytest.raises(actions.ActionError, match="unit does not exist"):
            actions.add_action(session, program, released, "trust", "x", today, unit_id=999)
        with pytest.raises(actions.ActionError, match="staff user does not exist"):
            actions.add_action(session, program, released, "trust", "x", today, owner_id=999)
        other = Program(name="Other")
        session.add(other)
        session.flush()
        with pytest.raises(actions.ActionError, match="not a round of Other"):
            actions.add_action(session, other, released, "trust", "Wrong programme.", today)
        action = actions.add_action(session, program, released, "trust", " Kept\r\n ", today)
        assert action.text == "Kept" and action.status is ActionStatus.PLANNED
        with pytest.raises(actions.ActionError, match="does not exist"):
            actions.update_action(session, 999, today, ActionStatus.DONE, "x")
        with pytest.raises(actions.ActionError, match="under 1000"):
            actions.update_action(session, action.id, today, ActionStatus.DONE, "z" * 1001)


def test_employees_see_actions_with_their_status(
    app: Flask, client: FlaskClient, two_rounds: TwoRounds
) -> None:
    login(client, "hr")
    assert record(client, two_rounds, "trust", "Monthly open Q&A with the board.") == 302
    assert (
        record(
            client,
            two_rounds,
            "security",
            "No cuts this year.",
            status="done",
            unit=str(two_rounds.units["Ops"]),
        )
        == 302
    )
    client.post("/logout")

    page = client.get(f"/s/{two_rounds.open}").data.decode()
    assert "You said, we did" in page
    assert "After R1 · <span>Trust in leadership</span>" in page
    assert "Monthly open Q&amp;A with the board." in page and "No cuts this year." in page
    assert re.search(r"Lab/Ops</span>\s*· <span class=\"badge status-done\">Done</span>", page)
    assert '<span class="badge status-planned">Planned</span>' in page
    # Below the questions, so the first question is on a phone's first screen.
    assert page.index("You said, we did") > page.index('id="survey-form"')
    german = client.get(f"/s/{two_rounds.open}?lang=de").data.decode()
    assert "Ihr Feedback, unsere Maßnahmen" in german
    assert "Nach R1 · <span>Vertrauen in die Leitung</span>" in german
    assert "Erledigt" in german and "Geplant" in german

    thanks = client.get(f"/s/{two_rounds.open}/done").data.decode()
    assert (
        "You said, we did" in thanks and "No cuts this year." in thanks and "Done</span>" in thanks
    )
    # The owner, a staff email, is for staff only.
    assert "hr@example.org" not in page and "hr@example.org" not in thanks

    # The released round's own pages (and unknown rounds) show nothing about it.
    assert "You said, we did" not in client.get(f"/s/{two_rounds.released}/done").data.decode()
    assert client.get("/s/999/done").status_code == 200


def test_action_text_is_escaped(app: Flask, client: FlaskClient, two_rounds: TwoRounds) -> None:
    login(client, "hr")
    attack = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    assert record(client, two_rounds, "morale", attack) == 302
    action_id = only_action(app)
    client.post(f"/actions/{action_id}/updates", data={"status": "done", "note": attack})
    for page in (
        client.get("/actions/").data.decode(),
        client.get(f"/actions/{action_id}").data.decode(),
        client.get(f"/s/{two_rounds.open}").data.decode(),
        client.get(f"/s/{two_rounds.open}/done").data.decode(),
    ):
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)" in page


def test_delete(app: Flask, client: FlaskClient, two_rounds: TwoRounds) -> None:
    login(client, "hr")
    record(client, two_rounds, "trust", "To be removed.")
    action_id = only_action(app)
    client.post(f"/actions/{action_id}/updates", data={"status": "in_progress", "note": "Begun."})
    assert client.post(f"/actions/{action_id}/delete").status_code == 302
    assert stored(app) == []
    with db.session_scope(app) as session:
        assert session.scalars(select(ActionUpdate)).all() == []
    assert "To be removed." not in client.get(f"/s/{two_rounds.open}").data.decode()
    for path in (f"/actions/{action_id}/delete", f"/actions/{action_id}/updates"):
        response = client.post(path, data={"status": "done"}, follow_redirects=True)
        assert "does not exist" in response.data.decode()
    response = client.get(f"/actions/{action_id}", follow_redirects=True)
    assert "does not exist" in response.data.decode()


def test_only_earlier_released_rounds_and_the_latest_few(app: Flask, two_rounds: TwoRounds) -> None:
    with db.session_scope(app) as session:
        program = session.get(Program, two_rounds.program_id)
        assert program is not None
        released = rounds.get_round(session, two_rounds.released)
        for day in range(1, 8):
            actions.add_action(
                session, program, released, "morale", f"Action {day}", dt.date(2026, 12, day)
            )
        session.commit()
        shown = actions.actions_for_next_rounds(session, program.id, 2)
        assert [a.text for a in shown] == [f"Action {d}" for d in range(7, 2, -1)]
        assert actions.actions_for_next_rounds(session, program.id, 1) == []  # not before R1
        assert actions.actions_for_next_rounds(session, program.id + 1, 9) == []


def test_employees_see_each_actions_unit_by_its_whole_path(
    app: Flask, client: FlaskClient, two_rounds: TwoRounds
) -> None:
    """The survey page names the unit of each action by its path from the root, the path the
    staff pages give it (it reads only those units and their ancestors to build it)."""
    units = two_rounds.units
    with db.session_scope(app) as session:
        program = session.get(Program, two_rounds.program_id)
        assert program is not None
        released = rounds.get_round(session, two_rounds.released)
        day = dt.date(2026, 12, 1)
        for text, unit in (("Team", "Alpha"), ("Department", "Ops"), ("Everyone", None)):
            unit_id = units[unit] if unit else None
            actions.add_action(session, program, released, "morale", text, day, unit_id=unit_id)
        session.add(OrgUnit(name="Unrelated", parent_id=units["Lab"]))
        session.commit()
        every = org.unit_paths(session.execute(select(OrgUnit)).scalars().all())
        shown = {a.text: a.unit for a in actions.actions_for_next_rounds(session, program.id, 2)}
    assert shown == {
        "Team": every[units["Alpha"]],
        "Department": every[units["Ops"]],
        "Everyone": "",
    }
    assert shown["Team"] == "Lab/Research/Alpha"
    page = client.get(f"/s/{two_rounds.open}").data.decode()
    assert "Lab/Research/Alpha" in page and "Lab/Ops" in page


def test_the_staff_list_is_open_first_then_by_due_date_and_cut_at_the_limit(
    app: Flask, two_rounds: TwoRounds
) -> None:
    """In progress, then planned, then done; within each, the earliest due date first and
    those without one last, then the newest; the count is of every match, not of those shown."""
    day = dt.date(2026, 12, 1)
    added = [
        ("done early", ActionStatus.DONE, day),
        ("planned, no date", ActionStatus.PLANNED, None),
        ("planned late", ActionStatus.PLANNED, day + dt.timedelta(days=9)),
        ("in progress, no date", ActionStatus.IN_PROGRESS, None),
        ("planned early", ActionStatus.PLANNED, day + dt.timedelta(days=1)),
        ("planned, no date either", ActionStatus.PLANNED, None),
        ("in progress late", ActionStatus.IN_PROGRESS, day + dt.timedelta(days=30)),
    ]
    with db.session_scope(app) as session:
        program = session.get(Program, two_rounds.program_id)
        assert program is not None
        released = rounds.get_round(session, two_rounds.released)
        for text, status, due in added:
            actions.add_action(
                session, program, released, "morale", text, day, due_on=due, status=status
            )
        session.commit()
        every, total = actions.list_actions(session, actions.ActionFilter(), day)
        first, cut = actions.list_actions(session, actions.ActionFilter(), day, limit=3)
        planned, count = actions.list_actions(
            session, actions.ActionFilter(status=ActionStatus.PLANNED), day, limit=2
        )
    assert [a.text for a in every] == [
        "in progress late",
        "in progress, no date",
        "planned early",
        "planned late",
        "planned, no date either",
        "planned, no date",
        "done early",
    ]
    assert total == cut == 7 and [a.text for a in first] == [a.text for a in every[:3]]
    assert count == 4 and [a.text for a in planned] == ["planned early", "planned late"]


def test_csrf_is_enforced(config: dict, two_rounds: TwoRounds) -> None:
    app = create_app({**config, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    client.post(
        "/login",
        data={
            "email": STAFF["hr"],
            "password": "correct horse battery staple",
            "csrf_token": token.group(1),
        },
    )
    data = {
        "round": str(two_rounds.released),
        "theme": "trust",
        "text": "Without a token.",
        "owner": str(two_rounds.hr),
        "due_on": DUE,
        "status": "planned",
        "unit": "",
    }
    assert client.post("/actions/", data=data).status_code == 400
    page = client.get("/actions/").data.decode()
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert csrf is not None
    data["csrf_token"] = csrf.group(1)
    assert client.post("/actions/", data=data).status_code == 302
    app.extensions["candor.engine"].dispose()
    assert stored(app) == [(two_rounds.released, "trust", "Without a token.", "planned")]
