"""Differential privacy as a programme setting: the admin form, and what /privacy says."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from survey import db
from survey.models import Program
from tests.conftest import login
from tests.web.program_form import GOOD


def test_admin_turns_dp_on_and_privacy_page_says_so(app: Flask, client: FlaskClient) -> None:
    login(client, "admin")
    assert client.post("/admin/programs/new", data={**GOOD, "dp_epsilon": "1.5"}).status_code == 302
    with db.session_scope(app) as session:
        program = session.query(Program).filter_by(name=GOOD["name"]).one()
        assert program.dp_epsilon == 1.5
        pid = program.id
    assert 'value="1.5"' in client.get(f"/admin/programs/{pid}").data.decode()
    page = client.get("/privacy").data.decode()
    assert "Differential privacy for its next rounds: on, \u03b5 = 1.5 per release" in page
    assert "The number of respondents of a rounded group is exact" in page  # the residual
    assert "everyone answers the same every round" in page


def test_dp_stays_off_unless_asked_and_bad_budgets_are_refused(
    app: Flask, client: FlaskClient
) -> None:
    login(client, "admin")
    response = client.post("/admin/programs/new", data={**GOOD, "dp_epsilon": "0"})
    assert response.status_code == 400 and "leave it empty for off" in response.data.decode()
    assert client.post("/admin/programs/new", data=GOOD).status_code == 302
    with db.session_scope(app) as session:
        assert session.query(Program).one().dp_epsilon is None
    assert "Differential privacy for its next rounds: off." in client.get("/privacy").data.decode()
