"""Roster in the browser: one person at a time, big files, and a loud warning on mass leaving."""

from __future__ import annotations

import html

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from survey import create_app, db
from survey.models import AuditEvent, Person, Round
from survey.services import rounds
from tests.conftest import OpenRound, Org, login
from tests.helpers import assert_entry
from tests.web.roster_forms import everything, hidden, upload


def person_id(app: Flask, email: str) -> int:
    with db.session_scope(app) as session:
        return session.scalars(select(Person.id).where(Person.email == email)).one()


def state(app: Flask, email: str) -> tuple[str, str, str, bool]:
    with db.session_scope(app) as session:
        person = session.scalars(select(Person).where(Person.email == email)).one()
        return person.unit.name, person.tenure_band, person.name, person.active


def test_only_admins_edit(client: FlaskClient, app: Flask, organisation: Org) -> None:
    pid = person_id(app, "p1@example.org")
    routes = [
        ("POST", "/admin/org/people"),
        ("GET", f"/admin/org/people/{pid}"),
        ("POST", f"/admin/org/people/{pid}"),
        ("POST", f"/admin/org/people/{pid}/leave"),
        ("POST", f"/admin/org/people/{pid}/return"),
    ]
    for role in ("anon", "leader", "hr"):
        assert_entry(client, role, routes, allowed=("admin",))


BAD_PEOPLE = [
    ({"email": "not-an-email"}, "email", "is not a valid email address"),
    ({"email": "p1@example.org"}, "email", "already on the roster"),
    ({"unit": ""}, "unit", "The unit is empty."),
    ({"unit": "Lab//Ops"}, "unit", "has an empty part"),
    ({"unit": "Elsewhere/Ops"}, "unit", "The organisation is called"),
    ({"unit": "Lab/research/New"}, "unit", "only in letter case"),
    ({"unit": "Lab/Ops/Lab"}, "unit", "a unit cannot contain itself"),
    ({"name": "Tab\there"}, "name", "control character"),
    ({"tenure": "ancient"}, "tenure", "Not a valid choice"),
]


def test_add_uses_the_import_validation(client: FlaskClient, app: Flask, organisation: Org) -> None:
    login(client, "admin")
    before = everything(app)
    data = {"email": "new@example.org", "name": "New", "unit": "Lab/Ops", "tenure": "<1y"}
    for fields, field, message in BAD_PEOPLE:
        sent = {**data, **fields}
        response = client.post("/admin/org/people", data=sent)
        page = response.data.decode()
        assert response.status_code == 400, fields
        assert message in page, fields
        assert f'id="{field}-error"' in page  # on the field it concerns
        assert 'id="add-person" open' in page  # nothing typed is lost
        assert f'value="{html.escape(sent["email"])}"' in page
    assert everything(app) == before


def test_add_move_band_leave_and_return(client: FlaskClient, app: Flask, organisation: Org) -> None:
    login(client, "admin")
    data = {
        "email": " New@Example.org ",
        "name": "New Person",
        "unit": "Lab/Ops/Delta",
        "tenure": "<1y",
    }
    response = client.post("/admin/org/people", data=data, follow_redirects=True)
    assert "new@example.org added" in response.data.decode()
    assert state(app, "new@example.org") == ("Delta", "<1y", "New Person", True)

    pid = person_id(app, "p1@example.org")
    page = client.get(f"/admin/org/people/{pid}").data.decode()
    assert 'value="Lab/Research/Alpha"' in page and "on the roster" in page
    response = client.post(
        f"/admin/org/people/{pid}",
        data={"unit": "Lab/Ops/Gamma", "tenure": "1-3y", "name": ""},
        follow_redirects=True,
    )
    assert "1 person moving unit; 1 tenure band change" in response.data.decode()
    assert state(app, "p1@example.org") == ("Gamma", "1-3y", "Person Number1", True)
    bad = client.post(f"/admin/org/people/{pid}", data={"unit": "Lab/ops/Gamma", "tenure": "1-3y"})
    assert bad.status_code == 400 and "only in letter case" in bad.data.decode()

    assert client.post(f"/admin/org/people/{pid}/leave").status_code == 302
    assert state(app, "p1@example.org")[3] is False
    # Changing someone who left keeps them off the roster...
    client.post(f"/admin/org/people/{pid}", data={"unit": "Lab/Ops/Small", "tenure": "1-3y"})
    assert state(app, "p1@example.org") == ("Small", "1-3y", "Person Number1", False)
    again = client.post(f"/admin/org/people/{pid}/leave", follow_redirects=True)
    assert "off the roster already" in again.data.decode()
    # ...until they are brought back.
    client.post(f"/admin/org/people/{pid}/return")
    assert state(app, "p1@example.org")[3] is True
    missing = client.get("/admin/org/people/99999", follow_redirects=True)
    assert "not on the roster" in missing.data.decode()
    with db.session_scope(app) as session:  # who changed the roster, in the audit trail
        trail = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert [a for a in trail if a.startswith("roster_")] == [
        "roster_person_add",
        "roster_person_change",
        "roster_person_leave",
        "roster_person_change",
        "roster_person_return",
    ]


def test_edits_during_an_open_round_leave_its_snapshot_alone(
    client: FlaskClient, app: Flask, open_round: OpenRound
) -> None:
    with db.session_scope(app) as session:
        rnd = session.get(Round, open_round.round_id)
        assert rnd is not None
        before = rnd.snapshot
        links = rounds.invitation_links(session, rnd, app.extensions["candor.kek"], "http://x")
    login(client, "admin")
    moved, gone = person_id(app, "p1@example.org"), person_id(app, "p2@example.org")
    client.post(f"/admin/org/people/{moved}", data={"unit": "Lab/Ops/Small", "tenure": "<1y"})
    client.post(f"/admin/org/people/{gone}/leave")
    client.post(
        "/admin/org/people", data={"email": "z@example.org", "unit": "Lab/Ops/Small", "tenure": ""}
    )
    with db.session_scope(app) as session:
        rnd = session.get(Round, open_round.round_id)
        assert rnd is not None
        # The open round's groups, counts, labels and links are the ones it opened with.
        assert rnd.snapshot == before
        after = rounds.invitation_links(session, rnd, app.extensions["candor.kek"], "http://x")
        assert after == links


def test_a_short_file_warns_loudly_and_needs_confirming(
    client: FlaskClient, app: Flask, organisation: Org
) -> None:
    login(client, "admin")
    short = "email,unit\np1@example.org,Lab/Research/Alpha\n"
    page = client.post("/admin/org/preview", data=upload(short)).data.decode()
    assert "22 people leaving" in page
    assert "22 people of 23 active (96%) would leave the roster" in page
    assert 'name="confirm_leaving"' in page and 'role="alert"' in page
    fields = {"csv_text": hidden(page, "csv_text"), "fingerprint": hidden(page, "fingerprint")}
    before = everything(app)
    refused = client.post("/admin/org/apply", data=fields).data.decode()
    assert "Nothing was changed: 22 people of 23 active" in refused
    assert everything(app) == before
    done = client.post("/admin/org/apply", data={**fields, "confirm_leaving": "y"})
    assert done.status_code == 302 and everything(app) != before

    # One leaver in 23 is ordinary: no warning, one click.
    lines = [f"p{n}@example.org,Lab/Research/Alpha" for n in range(1, 23)]
    with db.session_scope(app) as session:
        for person in session.scalars(select(Person)):
            person.active = True
        session.commit()
    page = client.post("/admin/org/preview", data=upload("email,unit\n" + "\n".join(lines))).data
    assert b"1 person leaving" in page and b"confirm_leaving" not in page


def test_a_roster_of_20000_people_previews_and_comes_back_whole(
    client: FlaskClient, app: Flask, organisation: Org
) -> None:
    login(client, "admin")
    lines = [
        f"person{n:05d}@example.org,Lab/Dept {n % 20}/Team {n % 400},3y+,Person {n}"
        for n in range(20_000)
    ]
    text = "email,unit,tenure,name\n" + "\n".join(lines) + "\n"
    assert len(text.encode()) > 1_000_000
    response = client.post("/admin/org/preview", data=upload(text))
    page = response.data.decode()
    assert response.status_code == 200, page[:500]
    assert "20000 new people" in page and "23 people leaving" in page
    carried = hidden(page, "csv_text")
    assert carried == text
    # The apply form carries the whole file back within the route's limit (a stale
    # fingerprint keeps this cheap: the file is parsed again, and nothing is written).
    before = everything(app)
    fields = {"csv_text": carried, "fingerprint": "0" * 64, "confirm_leaving": "y"}
    response = client.post("/admin/org/apply", data=fields, content_type="multipart/form-data")
    assert "The roster changed since the preview" in response.data.decode()
    assert everything(app) == before


def test_too_large_for_the_browser_names_the_limit_and_the_command(
    client: FlaskClient, config: dict[str, object], organisation: Org
) -> None:
    login(client, "admin")
    response = client.post("/admin/org/preview", data=upload("x" * (5 * 1024 * 1024)))
    page = response.data.decode()
    assert response.status_code == 413
    assert "larger than 4 MB" in page and "candor roster import" in page
    assert "too large for the browser" in page and "p1@example.org" not in page
    # Other routes keep the application's limit.
    big = client.post("/admin/org/people", data={"name": "x" * (1024 * 1024)})
    assert big.status_code == 413
    # With CSRF on, the form is read before anyone is authorised: the page shows no roster.
    guarded = create_app({**config, "WTF_CSRF_ENABLED": True})
    anonymous = guarded.test_client()
    response = anonymous.post("/admin/org/preview", data=upload("x" * (5 * 1024 * 1024)))
    assert response.status_code == 413 and b"@example.org" not in response.data
    guarded.extensions["candor.engine"].dispose()
