"""A round's admin page: truthful link counts, sending from the browser, progress as JSON."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from survey import db
from survey.domain.mail import MailKind
from survey.models import AuditEvent, Program, Round
from survey.services import locks, mailjobs, rounds
from survey.web import sending
from tests.conftest import OpenRound, Org, login


def join_senders(app: Flask) -> None:
    """Wait for every sending thread this app started (they send to the file outbox)."""
    threads: list[threading.Thread] = app.extensions.get(sending.THREADS, [])
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()


def invited_count(app: Flask, round_id: int) -> int:
    with db.session_scope(app) as session:
        rnd = session.get(Round, round_id)
        assert rnd is not None and rnd.snapshot is not None
        return len(rnd.snapshot["people"])


def outbox(app: Flask) -> list[Path]:
    return sorted(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"))


def text(response: object) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))  # type: ignore[attr-defined]


def test_opening_a_round_says_no_email_was_sent_and_leads_to_sending(
    app: Flask, client: FlaskClient, organisation: Org
) -> None:
    login(client, "admin")
    with db.session_scope(app) as session:
        program = session.get(Program, organisation.program_id)
        assert program is not None
        rnd = rounds.create_round(session, program)
        session.commit()
        round_id = rnd.id
    page = text(client.get(f"/admin/rounds/{round_id}"))
    assert "No links yet" in page and "Send the invitations now" not in page
    response = client.post(f"/admin/rounds/{round_id}/open")
    assert response.headers["Location"].endswith(f"/admin/rounds/{round_id}")
    page = text(client.get(response.headers["Location"]))
    n = invited_count(app, round_id)
    assert f"{rnd.label} is open: {n} personal links made; no email is sent yet." in page
    assert f"{n} personal links exist, one per invited person." in page
    assert page.count("None sent.") == 2 and "No invitations sent yet." in page
    assert outbox(app) == []


def test_sending_invitations_and_the_reminder_from_the_page(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    login(client, "admin")
    rid = open_round.round_id
    n = invited_count(app, rid)
    response = client.post(f"/admin/rounds/{rid}/mail/invitation")
    assert response.status_code == 303
    join_senders(app)
    status = client.get(f"/admin/rounds/{rid}/mail.json").get_json()
    invitations = status["kinds"]["invitation"]
    assert (invitations["total"], invitations["sent"], invitations["waiting"]) == (n, n, 0)
    assert invitations["done"] and not invitations["can_send"] and not status["polling"]
    assert status["kinds"]["reminder"]["total"] == 0
    assert status["kinds"]["reminder"]["can_send"]
    assert len(outbox(app)) == n
    page = text(client.get(f"/admin/rounds/{rid}"))
    assert f"{n} of {n} sent, 0 failed (to retry), 0 given up, 0 waiting." in page
    assert "All invitations are out." in page
    assert '<meta http-equiv="refresh"' not in page  # nothing running: no refresh

    again = client.post(f"/admin/rounds/{rid}/mail/invitation", follow_redirects=True)
    assert "Nothing started: All invitations are out." in text(again)
    join_senders(app)
    assert len(outbox(app)) == n  # a second click sends nobody a second email

    client.post(f"/admin/rounds/{rid}/mail/reminder")
    join_senders(app)
    assert len(outbox(app)) == 2 * n
    status = client.get(f"/admin/rounds/{rid}/mail.json").get_json()
    assert status["kinds"]["reminder"]["sent"] == n
    with db.session_scope(app) as session:
        recorded = {e.action for e in session.query(AuditEvent)}
    assert {"mail_invitation", "mail_reminder"} <= recorded


def test_a_run_on_another_server_is_followed_not_repeated(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    login(client, "admin")
    rid = open_round.round_id
    engine = app.extensions["candor.engine"]
    name = mailjobs.sending_lock_name(rid, MailKind.INVITATION)
    with locks.exclusive(engine, name, fallback_dir=app.instance_path) as held:
        assert held  # as if another app server were sending
        status = client.get(f"/admin/rounds/{rid}/mail.json").get_json()
        assert status["polling"] and status["kinds"]["invitation"]["running"]
        assert not status["kinds"]["invitation"]["can_send"]
        page = client.get(f"/admin/rounds/{rid}").get_data(as_text=True)
        assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page
        assert 'data-polling="true"' in page and "Sending the invitations now." in page
        response = client.post(f"/admin/rounds/{rid}/mail/invitation", follow_redirects=True)
        assert "Nothing started: Sending the invitations now." in text(response)
    join_senders(app)
    assert outbox(app) == []


def test_a_closed_round_sends_nothing(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    login(client, "admin")
    rid = open_round.round_id
    client.post(f"/admin/rounds/{rid}/close")
    page = text(client.get(f"/admin/rounds/{rid}"))
    assert "The round is closed: its links no longer work." in page
    assert "Send the invitations now" not in page
    response = client.post(f"/admin/rounds/{rid}/mail/invitation", follow_redirects=True)
    assert "Nothing started: R1 is closed" in text(response)
    assert app.extensions.get(sending.THREADS, []) == [] and outbox(app) == []


def test_sending_says_what_to_set_when_no_mail_is_set_up(
    app: Flask, client: FlaskClient, open_round: OpenRound
) -> None:
    login(client, "admin")
    app.config["MAIL_BACKEND"] = ""
    response = client.post(
        f"/admin/rounds/{open_round.round_id}/mail/invitation", follow_redirects=True
    )
    assert "Nothing started: No mail is set up" in text(response)
    assert app.extensions.get(sending.THREADS, []) == []


def test_unknown_round_or_kind(client: FlaskClient, open_round: OpenRound) -> None:
    login(client, "admin")
    assert client.get("/admin/rounds/999").status_code == 404
    assert client.get("/admin/rounds/999/mail.json").status_code == 404
    assert client.post(f"/admin/rounds/{open_round.round_id}/mail/postcard").status_code == 404


@pytest.mark.parametrize("role", ["hr", "leader"])
def test_only_admins_send(client: FlaskClient, open_round: OpenRound, role: str) -> None:
    login(client, role)
    rid = open_round.round_id
    assert client.get(f"/admin/rounds/{rid}").status_code == 403
    assert client.get(f"/admin/rounds/{rid}/mail.json").status_code == 403
    assert client.post(f"/admin/rounds/{rid}/mail/invitation").status_code == 403
