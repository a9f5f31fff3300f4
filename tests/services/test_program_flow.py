"""From an empty instance to results on the dashboard, only through commands and pages.

An admin imports the organisation from CSV, adds a fortnightly programme, and ``candor tick``
runs a whole round: invitations and reminders delivered to a real SMTP server on loopback,
close and release; the employees answer through the links in their email.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Flask

from survey import create_app, db
from survey.models import Release
from tests import smtp as loopback
from tests.conftest import answers_for, login
from tests.helpers import stored_answers
from tests.smtp import Server

smtp, start_server = loopback.smtp, loopback.start_server  # fixtures
DAY = dt.date(2026, 3, 2)
ROSTER = "email,unit,tenure,name\n" + "".join(
    f"person{i}@example.org,Lab/{team},{band},Person {i}\n"
    for i, (team, band) in enumerate(
        [("Research/Alpha", "3y+")] * 9 + [("Research/Beta", "1-3y")] * 7 + [("Ops", "<1y")] * 6
    )
)
LINK = re.compile(r"https?://candor\.test/s/(\d+)#(\d+\.[A-Za-z0-9_-]+)")  # code in the fragment


def cli(app: Flask, *args: str) -> Any:
    result = app.test_cli_runner().invoke(args=["candor", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_fortnightly_round_end_to_end(config: dict, smtp: Server, tmp_path: Any) -> None:
    app = create_app(
        {
            **config,
            "MAIL_BACKEND": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": smtp.port,
            "SMTP_STARTTLS": False,
            "MAIL_FROM": "Candor <candor@example.org>",
        }
    )
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    assert "error" not in cli(app, "roster", "import", str(roster)).output.lower()
    cli(app, "roster", "import", str(roster), "--apply")
    cli(app, "program", "add", "Pulse", "--cadence", "fortnightly", "--first-open", DAY.isoformat())

    out = cli(app, "tick", "--today", DAY.isoformat()).output
    assert "opened Pulse R1: 22 invited" in out
    invitations = [m for m in smtp.messages if "your survey link" in str(m.message["Subject"])]
    assert sorted(r for m in invitations for r in m.rcpt) == sorted(
        f"person{i}@example.org" for i in range(22)
    )
    links = {}
    for received in invitations:
        body = received.message.get_body(preferencelist=("plain",)).get_content()
        round_id, token = LINK.search(body).groups()
        links[received.rcpt[0]] = (int(round_id), token)

    client = app.test_client()
    round_id = next(iter(links.values()))[0]
    form = answers_for(app, round_id)
    for email, (rid, token) in list(links.items())[:20]:
        assert client.get(f"/s/{rid}").status_code == 200  # a browser never sends the fragment
        assert client.post(f"/s/{rid}", data={**form, "token": token}).status_code == 303

    cli(app, "tick", "--today", (DAY + dt.timedelta(days=1)).isoformat())
    assert not [m for m in smtp.messages if str(m.message["Subject"]).startswith("Reminder")]
    cli(app, "tick", "--today", (DAY + dt.timedelta(days=2)).isoformat())
    reminders = [m for m in smtp.messages if str(m.message["Subject"]).startswith("Reminder")]
    assert len({r for m in reminders for r in m.rcpt}) == 22  # everyone, answered or not
    cli(app, "tick", "--today", (DAY + dt.timedelta(days=3)).isoformat())
    assert len([m for m in smtp.messages if str(m.message["Subject"]).startswith("Reminder")]) == 22

    out = cli(app, "tick", "--today", (DAY + dt.timedelta(days=5)).isoformat()).output
    assert "closed Pulse R1" in out and "released" in out
    with db.session_scope(app) as session:
        # Counted once by the release, then shredded with it (the default retention).
        assert stored_answers(session) == 0
        release = session.query(Release).one()
        assert sum(release.atom_counts.values()) == 20

    login(client, "hr")
    page = client.get("/dashboard")
    assert page.status_code == 200 and b"Morale" in page.data
    app.extensions["candor.engine"].dispose()
