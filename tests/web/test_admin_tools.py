"""Admin tools: links for a mail merge (once, audited), email settings, the schedule for HR."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from survey import db
from survey.models import AuditEvent
from tests.conftest import OpenRound, login
from tests.helpers import invitation_unused


def test_links_export_once_and_audited(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    login(client, "admin")
    first = client.post(f"/admin/rounds/{open_round.round_id}/links.csv")
    assert first.status_code == 200
    assert first.headers["Content-Disposition"].startswith("attachment")
    assert first.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(first.data.decode())))
    assert {r["email"] for r in rows} == set(open_round.tokens)
    with app.app_context():
        session = db.get_session()
        for row in rows:
            entry = f"http://candor.test/s/{open_round.round_id}"
            assert (row["link"], row["entry_url"]) == (f"{entry}#{row['code']}", entry)
            assert invitation_unused(session, open_round.round_id, row["code"])
    again = client.post(f"/admin/rounds/{open_round.round_id}/links.csv", follow_redirects=True)
    assert b"already exported" in again.data and b"shown only once" in again.data
    with db.session_scope(app) as session:
        events = session.query(AuditEvent).filter_by(action="links_exported").all()
        assert len(events) == 1 and events[0].actor == "admin@example.org"


@pytest.mark.parametrize("role", ["hr", "leader"])
def test_links_export_admin_only(client: FlaskClient, open_round: OpenRound, role: str) -> None:
    login(client, role)
    assert client.post(f"/admin/rounds/{open_round.round_id}/links.csv").status_code == 403


def test_mail_settings_never_show_the_password(app: Flask, client: FlaskClient) -> None:
    app.config["SMTP_PASSWORD"] = "hunter2-secret"
    login(client, "admin")
    page = client.get("/admin/mail")
    assert (
        page.status_code == 200
        and b"hunter2-secret" not in page.data
        and b"MAIL_BACKEND" in page.data
    )
    sent = client.post(
        "/admin/mail", data={"address": "someone@example.org"}, follow_redirects=True
    )
    assert b"Sent a test message" in sent.data
    outbox = app.config["MAIL_OUTBOX_DIR"]
    import os

    assert len(os.listdir(outbox)) == 1


def test_hr_sees_the_rotation_schedule(client: FlaskClient, open_round: OpenRound) -> None:
    login(client, "hr")
    page = client.get("/admin/programs/1/schedule")
    assert page.status_code == 200 and b"Psychological safety" in page.data
    login(client, "leader")
    assert client.get("/admin/programs/1/schedule").status_code == 403


def test_round_actions_are_audited(app: Flask, client: FlaskClient, open_round: OpenRound) -> None:
    login(client, "admin")
    client.post(f"/admin/rounds/{open_round.round_id}/close")
    with db.session_scope(app) as session:
        assert session.query(AuditEvent).filter_by(action="round_close").count() == 1
