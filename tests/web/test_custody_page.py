"""The custody page: custodians enter their passphrases in turn; nobody sees another's."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from survey import db
from survey.models import Custody, PendingShare, Program
from survey.services import custody
from tests.conftest import Org, login
from tests.services.ballots import open_next_round, round_status, step, submit

PEOPLE = {"ana@hr": "ana's long passphrase", "ben@wc": "ben's long passphrase"}


def _closed(app: Flask, organisation: Org) -> int:
    with db.session_scope(app) as session:
        program = session.get(Program, organisation.program_id)
        assert program is not None
        program.custody = Custody.CUSTODIANS
        for label, passphrase in PEOPLE.items():
            custody.add_custodian(
                session, program, label[:3].capitalize(), label, passphrase, 2**10
            )
        session.commit()
    round_id, tokens = open_next_round(app, organisation.program_id)
    for token in tokens[:8]:
        submit(app, round_id, token)
    step(app, round_id, "close")
    return round_id


def _pending(app: Flask) -> int:
    with db.session_scope(app) as session:
        return len(session.scalars(select(PendingShare)).all())


def test_custodians_release_in_turn(app: Flask, organisation: Org) -> None:
    round_id = _closed(app, organisation)
    client = app.test_client()
    login(client, "hr")
    url = f"/admin/custody/rounds/{round_id}"
    page = client.get(url)
    assert page.status_code == 200 and "2 of its 2 custodians" in page.text
    wrong = client.post(url, data={"custodian": "ana@hr", "passphrase": PEOPLE["ben@wc"]})
    assert wrong.status_code == 400 and "does not open their share" in wrong.text
    assert _pending(app) == 0
    first = client.post(url, data={"custodian": "ana@hr", "passphrase": PEOPLE["ana@hr"]})
    assert first.status_code == 302 and _pending(app) == 1
    page = client.get(url)
    assert "entered" in page.text and 'value="ana@hr"' not in page.text
    assert PEOPLE["ana@hr"] not in page.text
    done = client.post(url, data={"custodian": "ben@wc", "passphrase": PEOPLE["ben@wc"]})
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/")
    assert round_status(app, round_id) == "released"
    assert _pending(app) == 0, "wiped at release"


def test_abandon_wipes_what_was_entered(app: Flask, organisation: Org) -> None:
    round_id = _closed(app, organisation)
    client = app.test_client()
    login(client, "admin")
    url = f"/admin/custody/rounds/{round_id}"
    client.post(url, data={"custodian": "ben@wc", "passphrase": PEOPLE["ben@wc"]})
    assert _pending(app) == 1
    gone = client.post(f"{url}/abandon", follow_redirects=True)
    assert "1 entered share(s) were wiped" in gone.text
    assert _pending(app) == 0 and round_status(app, round_id) == "closed"


def test_an_instance_mode_round_points_to_the_admin_page(app: Flask, organisation: Org) -> None:
    round_id, _tokens = open_next_round(app, organisation.program_id)
    client = app.test_client()
    login(client, "admin")
    page = client.get(f"/admin/custody/rounds/{round_id}")
    assert page.status_code == 200 and "opened by the instance key" in page.text
    leader = app.test_client()
    login(leader, "leader")
    assert leader.get(f"/admin/custody/rounds/{round_id}").status_code == 403


def test_the_programme_form_sets_custody_and_retention(app: Flask, organisation: Org) -> None:
    client = app.test_client()
    login(client, "admin")
    url = f"/admin/programs/{organisation.program_id}"
    form = {
        "name": "Pulse",
        "bank": "core-v1",
        "k": "5",
        "comment_k": "10",
        "cadence": "manual",
        "window_days": "5",
        "rotation_every": "3",
        "active": "y",
        "custodians": "y",
        "custody_quorum": "2",
        "retention_days": "30",
    }
    assert client.post(url, data=form).status_code == 302
    with db.session_scope(app) as session:
        program = session.get(Program, organisation.program_id)
        assert program is not None
        assert (program.custody, program.custody_quorum, program.retention_days) == (
            Custody.CUSTODIANS,
            2,
            30,
        )
    page = client.get(url)
    assert 'checked id="custodians"' in page.text
    refused = client.post(url, data={**form, "retention_days": "-1"})
    assert refused.status_code == 400 and "shred at release" in refused.text
    refused = client.post(url, data={**form, "custody_quorum": "0"})
    assert refused.status_code == 400 and "quorum is 1 to" in refused.text
    privacy = client.get("/privacy")
    assert "named custodians" in privacy.text and "30 days after release" in privacy.text
