"""The whole path through the web: answer, close, release, dashboard, CSV."""

from __future__ import annotations

import csv
import io

from flask import Flask
from flask.testing import FlaskClient

from survey import db
from survey.domain.disclosure import HIDDEN_TEXT
from tests.conftest import OpenRound, answers_for, login
from tests.helpers import close_and_release, stored_answers


def test_employee_to_csv(app: Flask, client: FlaskClient, open_round: OpenRound) -> None:
    for i, token in enumerate(open_round.tokens.values()):
        # Morale answers spread over the scale (a cell where everyone agrees is coded, not
        # shown); one item only, as morale's second item is reverse-scored.
        form = {**answers_for(app, open_round.round_id, value=3), "q_mor1": str(1 + i % 5)}
        page = client.get(f"/s/{open_round.round_id}/{token}")
        assert page.status_code == 200
        assert b"at least 5 people" in page.data
        data = {**form, "token": token, "comment": f"Comment number {i} from p{i}@example.org"}
        response = client.post(f"/s/{open_round.round_id}", data=data)
        assert response.status_code == 303
        assert client.get(response.headers["Location"]).status_code == 200
    manifest = close_and_release(app, open_round.round_id)
    shown = {u["path"]: u for u in manifest["units"] if u["shown"]}
    assert "Lab/Ops/Small" not in shown
    assert all(u["n"] >= 5 for u in shown.values())

    login(client, "hr")
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert b"Morale" in page.data
    assert b"[email]" in page.data  # comments are masked
    chart = client.get(f"/charts/trend/1/{open_round.units['Lab']}/morale.png")
    assert chart.status_code == 200 and chart.data.startswith(b"\x89PNG")
    assert chart.headers["Cache-Control"] == "no-store"

    export = client.get("/export/1.csv")
    assert export.status_code == 200
    assert export.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(export.data.decode())))
    assert rows and set(rows[0]) == {
        "round",
        "closed_on",
        "unit_path",
        "tenure",
        "theme",
        "n",
        "mean",
        "favourable_pct",
        "ci_low",
        "ci_high",
        "participation_pct",
        "status",
    }
    assert "Morale" in {r["theme"] for r in rows} and "morale" not in {r["theme"] for r in rows}
    assert 'filename="pulse-R1-results.csv"' in export.headers["Content-Disposition"]
    small = [r for r in rows if r["unit_path"] == "Lab/Ops/Small"]
    assert small and all(
        r["status"] == HIDDEN_TEXT and r["n"] == "" and r["mean"] == "" for r in small
    )
    lab = [
        r for r in rows if r["unit_path"] == "Lab" and r["theme"] == "Morale" and not r["tenure"]
    ]
    assert lab[0]["status"] == "shown" and int(lab[0]["n"]) == len(open_round.tokens)


def test_get_never_consumes(app: Flask, client: FlaskClient, open_round: OpenRound) -> None:
    token = next(iter(open_round.tokens.values()))
    for _ in range(3):
        assert client.get(f"/s/{open_round.round_id}/{token}").status_code == 200
        assert client.head(f"/s/{open_round.round_id}/{token}").status_code == 200
    with db.session_scope(app) as session:
        assert stored_answers(session) == 0
    data = {**answers_for(app, open_round.round_id), "token": token}
    assert client.post(f"/s/{open_round.round_id}", data=data).status_code == 303
    again = client.post(f"/s/{open_round.round_id}", data=data)
    assert again.status_code == 400
    with db.session_scope(app) as session:
        assert stored_answers(session) == 1
