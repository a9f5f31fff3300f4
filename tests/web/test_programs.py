"""Admin pages for programmes: validation, rotation schedule, access."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from survey import db
from survey.models import Cadence, Program
from tests.conftest import Org, login
from tests.web.program_form import GOOD


def test_admin_creates_programme_and_sees_schedule(app: Flask, client: FlaskClient) -> None:
    login(client, "admin")
    response = client.post("/admin/programs/new", data=GOOD)
    assert response.status_code == 302
    with db.session_scope(app) as session:
        program = session.query(Program).filter_by(name="Fortnightly pulse").one()
        assert program.cadence is Cadence.FORTNIGHTLY and program.window_days == 5
        pid = program.id
    page = client.get(f"/admin/programs/{pid}").data.decode()
    assert "Rotation schedule" in page and "Psychological safety" in page
    assert "Trust in leadership" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"k": "2"}, "k must be at least 3"),
        ({"comment_k": "4"}, "cannot be lower than k"),
        ({"window_days": "20"}, "can stay open 1 to 13 days"),
        ({"first_open_on": ""}, "Say when the first round opens"),
        ({"rotation_every": "2"}, "rotate over more rounds"),
        ({"name": ""}, "This field is required"),
    ],
)
def test_bad_settings_explained_and_nothing_saved(
    app: Flask, client: FlaskClient, change: dict[str, str], message: str
) -> None:
    login(client, "admin")
    response = client.post("/admin/programs/new", data={**GOOD, **change})
    assert response.status_code == 400
    assert message in response.data.decode()
    assert GOOD["name"] in response.data.decode() or change.get("name") == ""
    with db.session_scope(app) as session:
        assert session.query(Program).count() == 0


def test_editing_keeps_open_rounds_frozen(
    app: Flask, client: FlaskClient, organisation: Org
) -> None:
    login(client, "admin")
    data = {**GOOD, "name": "Pulse", "cadence": "manual", "k": "7", "comment_k": "12"}
    response = client.post(f"/admin/programs/{organisation.program_id}", data=data)
    assert response.status_code == 302
    with db.session_scope(app) as session:
        assert session.get(Program, organisation.program_id).k == 7


@pytest.mark.parametrize("role", ["hr", "leader"])
def test_only_admins(client: FlaskClient, organisation: Org, role: str) -> None:
    login(client, role)
    assert client.get("/admin/programs/new").status_code == 403
    assert client.post("/admin/programs/new", data=GOOD).status_code == 403


def test_unknown_programme_404(client: FlaskClient) -> None:
    login(client, "admin")
    assert client.get("/admin/programs/999").status_code == 404
