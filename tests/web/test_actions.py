"""“You said, we did”: HR records actions on released rounds; employees see them next round."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from survey import create_app, db
from survey.models import Action, Program
from survey.services import actions, rounds
from tests.conftest import OpenRound, login


@dataclass
class TwoRounds:
    """Round 1 released, round 2 open, round 3 a draft."""

    released: int
    open: int
    draft: int
    program_id: int


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
        return TwoRounds(first.id, second.id, third.id, first.program_id)


def record(client: FlaskClient, round_id: int, theme: str, text: str) -> int:
    prefix = f"r{round_id}-"
    response = client.post(
        f"/actions/rounds/{round_id}", data={prefix + "theme": theme, prefix + "text": text}
    )
    return response.status_code


def stored(app: Flask) -> list[tuple[int, str, str]]:
    with db.session_scope(app) as session:
        return [
            (a.round_id, a.theme, a.text)
            for a in session.scalars(select(Action).order_by(Action.id))
        ]


ROUTES = [
    ("GET", "/actions/"),
    ("POST", "/actions/rounds/{released}"),
    ("POST", "/actions/1/delete"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("role", ["anon", "leader", "hr", "admin"])
def test_only_hr_and_admins_may_enter(
    client: FlaskClient, two_rounds: TwoRounds, method: str, path: str, role: str
) -> None:
    if role != "anon":
        login(client, role)
    response = client.open(path.format(released=two_rounds.released), method=method)
    if role == "anon":
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    elif role == "leader":
        assert response.status_code == 403
    else:
        assert response.status_code in (200, 302, 400)


def test_nav_link_for_hr_and_admin_only(client: FlaskClient, two_rounds: TwoRounds) -> None:
    login(client, "leader")
    assert b'href="/actions/"' not in client.get("/reports").data
    client.post("/logout")
    login(client, "hr")
    assert b'href="/actions/"' in client.get("/reports").data


def test_hr_records_for_a_released_round_only(
    app: Flask, client: FlaskClient, two_rounds: TwoRounds
) -> None:
    login(client, "hr")
    page = client.get("/actions/").data.decode()
    assert "R1" in page and f'id="round-{two_rounds.released}"' in page
    assert f"/actions/rounds/{two_rounds.open}" not in page  # only released rounds get a form
    assert record(client, two_rounds.released, "trust", "Monthly open Q&A with the board.") == 302
    assert stored(app) == [(two_rounds.released, "trust", "Monthly open Q&A with the board.")]
    for other in (two_rounds.open, two_rounds.draft, 999):
        response = client.post(
            f"/actions/rounds/{other}", data={f"r{other}-theme": "trust", f"r{other}-text": "x"}
        )
        assert response.status_code == 302
    assert len(stored(app)) == 1
    page = client.get("/actions/").data.decode()
    assert "Monthly open Q&amp;A with the board." in page


@pytest.mark.parametrize(
    ("theme", "text", "message"),
    [
        ("nonsense", "Did something.", "Not a valid choice"),
        ("", "Did something.", "Choose a theme."),
        ("trust", "   ", "Describe what was done."),
        ("trust", "x" * 1001, "Keep it under 1000 characters."),
    ],
)
def test_bad_input_is_refused_and_kept(
    app: Flask, client: FlaskClient, two_rounds: TwoRounds, theme: str, text: str, message: str
) -> None:
    login(client, "hr")
    prefix = f"r{two_rounds.released}-"
    response = client.post(
        f"/actions/rounds/{two_rounds.released}",
        data={prefix + "theme": theme, prefix + "text": text},
    )
    assert response.status_code == 400
    assert message in response.data.decode()
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
        other = Program(name="Other")
        session.add(other)
        session.flush()
        with pytest.raises(actions.ActionError, match="not a round of Other"):
            actions.add_action(session, other, released, "trust", "Wrong programme.", today)
        action = actions.add_action(session, program, released, "trust", " Kept\r\n ", today)
        assert action.text == "Kept"


def test_employees_see_actions_on_the_next_rounds_pages(
    app: Flask, client: FlaskClient, two_rounds: TwoRounds
) -> None:
    login(client, "hr")
    assert record(client, two_rounds.released, "trust", "Monthly open Q&A with the board.") == 302
    assert record(client, two_rounds.released, "security", "No cuts this year.") == 302
    client.post("/logout")

    page = client.get(f"/s/{two_rounds.open}").data.decode()
    assert "You said, we did" in page
    assert "After R1 · <span>Trust in leadership</span>" in page
    assert "Monthly open Q&amp;A with the board." in page and "No cuts this year." in page
    # Below the questions, so the first question is on a phone's first screen.
    assert page.index("You said, we did") > page.index('id="survey-form"')
    german = client.get(f"/s/{two_rounds.open}?lang=de").data.decode()
    assert "Ihr Feedback, unsere Maßnahmen" in german
    assert "Nach R1 · <span>Vertrauen in die Leitung</span>" in german

    thanks = client.get(f"/s/{two_rounds.open}/done").data.decode()
    assert "You said, we did" in thanks and "No cuts this year." in thanks

    # The released round's own pages (and unknown rounds) show nothing about it.
    assert "You said, we did" not in client.get(f"/s/{two_rounds.released}/done").data.decode()
    assert client.get("/s/999/done").status_code == 200


def test_action_text_is_escaped(app: Flask, client: FlaskClient, two_rounds: TwoRounds) -> None:
    login(client, "hr")
    attack = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    assert record(client, two_rounds.released, "morale", attack) == 302
    for page in (
        client.get("/actions/").data.decode(),
        client.get(f"/s/{two_rounds.open}").data.decode(),
        client.get(f"/s/{two_rounds.open}/done").data.decode(),
    ):
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_delete(app: Flask, client: FlaskClient, two_rounds: TwoRounds) -> None:
    login(client, "hr")
    record(client, two_rounds.released, "trust", "To be removed.")
    with db.session_scope(app) as session:
        action_id = session.scalars(select(Action.id)).one()
    assert client.post(f"/actions/{action_id}/delete").status_code == 302
    assert stored(app) == []
    assert "To be removed." not in client.get(f"/s/{two_rounds.open}").data.decode()
    response = client.post(f"/actions/{action_id}/delete", follow_redirects=True)
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


def test_csrf_is_enforced(config: dict, two_rounds: TwoRounds) -> None:
    app = create_app({**config, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    client.post(
        "/login",
        data={
            "email": "hr@example.org",
            "password": "correct horse battery staple",
            "csrf_token": token.group(1),
        },
    )
    prefix = f"r{two_rounds.released}-"
    data = {prefix + "theme": "trust", prefix + "text": "Without a token."}
    assert client.post(f"/actions/rounds/{two_rounds.released}", data=data).status_code == 400
    page = client.get("/actions/").data.decode()
    csrf = re.search(rf'name="{prefix}csrf_token" type="hidden" value="([^"]+)"', page)
    assert csrf is not None
    data[prefix + "csrf_token"] = csrf.group(1)
    assert client.post(f"/actions/rounds/{two_rounds.released}", data=data).status_code == 302
    app.extensions["candor.engine"].dispose()
    assert stored(app) == [(two_rounds.released, "trust", "Without a token.")]
