"""No URL parameter makes any surface show more than the release manifest."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from survey import db
from survey.domain.disclosure import HIDDEN_TEXT, UNIFORM_TEXT
from survey.domain.scope import LEADERSHIP_MAX_DEPTH
from survey.models import Release
from tests.conftest import OpenRound, answers_for, login
from tests.helpers import close_and_release


@pytest.fixture
def released(app: Flask, client: FlaskClient, open_round: OpenRound) -> dict:
    form = answers_for(app, open_round.round_id)
    for token in open_round.tokens.values():
        assert (
            client.post(f"/s/{open_round.round_id}", data={**form, "token": token}).status_code
            == 303
        )
    return close_and_release(app, open_round.round_id)


TAMPERING = [
    "",
    "?k=1",
    "?k=0",
    "?min_n=1",
    "?unit={small}",
    "?unit={small}&unit={lab}",
    "?round=1",
    "?format=json",
    "?program=1&k=2",
    "?show_hidden=1",
]


@pytest.mark.parametrize("query", TAMPERING)
def test_hidden_unit_stays_hidden(
    app: Flask, client: FlaskClient, released: dict, open_round: OpenRound, query: str
) -> None:
    small = open_round.units["Small"]
    q = query.format(small=small, lab=open_round.units["Lab"])
    login(client, "hr")
    dashboard = client.get("/dashboard" + q)
    if f"unit={small}" in q.split("&")[0]:
        assert dashboard.status_code == 404
    else:
        assert dashboard.status_code == 200
        assert b"Lab/Ops/Small" not in dashboard.data
    assert client.get(f"/charts/trend/1/{small}/morale.png" + q).status_code == 404
    export = client.get("/export/1.csv" + q)
    rows = list(csv.DictReader(io.StringIO(export.data.decode())))
    for row in rows:
        if row["unit_path"] == "Lab/Ops/Small":
            assert row["status"] == HIDDEN_TEXT and not any(
                row[c] for c in ("n", "mean", "favourable_pct", "ci_low", "ci_high")
            )
    assert client.get("/reports" + q).status_code == 200


def test_surfaces_match_manifest(app: Flask, client: FlaskClient, released: dict) -> None:
    """Every shown unit's CSV figures are exactly the manifest's, and nothing else is shown;
    a leader's CSV holds the same figures for the organisation and departments only."""
    login(client, "leader")
    led = list(csv.DictReader(io.StringIO(client.get("/export/1.csv").data.decode())))
    assert led and all(r["unit_path"].count("/") <= LEADERSHIP_MAX_DEPTH for r in led)
    client.post("/logout")
    login(client, "hr")
    rows = list(csv.DictReader(io.StringIO(client.get("/export/1.csv").data.decode())))
    assert [r for r in rows if r["unit_path"].count("/") <= LEADERSHIP_MAX_DEPTH] == led
    with db.session_scope(app) as session:
        manifest = session.query(Release).one().manifest
    labels = {t["key"]: t["label"] for t in manifest["themes"]}  # the CSV names themes
    cells = {
        (u["path"], labels[t]): c
        for u in manifest["units"]
        if u["shown"]
        for t, c in u["themes"].items()
    }
    rows = [r for r in rows if not r["tenure"] and r["theme"] != "Participation"]
    expected = {key: c["mean"] for key, c in cells.items() if c["mean"] is not None}
    shown = {(r["unit_path"], r["theme"]): float(r["mean"]) for r in rows if r["status"] == "shown"}
    assert shown == pytest.approx(expected, abs=0.05)
    # Cells where everyone answered alike carry their coded index, never a number or interval.
    coded = {key: c["mean_text"] for key, c in cells.items() if c["mean"] is None}
    assert {
        (r["unit_path"], r["theme"]): r["mean"] for r in rows if r["status"] == UNIFORM_TEXT
    } == coded
    assert all(not r["ci_low"] and not r["ci_high"] for r in rows if r["status"] != "shown")
    assert {r["unit_path"] for r in rows if r["status"] == HIDDEN_TEXT} == {
        u["path"] for u in manifest["units"] if not u["shown"]
    }


def test_nothing_while_open(app: Flask, client: FlaskClient, open_round: OpenRound) -> None:
    """While a round is open no figure of it exists anywhere."""
    form = answers_for(app, open_round.round_id)
    for token in list(open_round.tokens.values())[:10]:
        client.post(f"/s/{open_round.round_id}", data={**form, "token": token})
    login(client, "admin")
    page = client.get("/dashboard")
    assert b"No round of Pulse has been released yet" in page.data
    rows = client.get("/export/1.csv").data.decode().strip().splitlines()
    assert len(rows) == 1  # the header only


def test_transparency_page_per_release(
    client: FlaskClient, released: dict, open_round: OpenRound
) -> None:
    """Anyone can read which groups a release published, without any number of a hidden one."""
    index = client.get("/privacy").data.decode()
    assert f"/privacy/rounds/{open_round.round_id}" in index
    page = client.get(f"/privacy/rounds/{open_round.round_id}").data.decode()
    assert "Lab/Ops/Small" in page and HIDDEN_TEXT in page
    # One neutral reason: none that would tell a hidden group's size class.
    for reason in ("fewer than", "subtraction", "membership changed", "too few"):
        assert reason not in page
    assert 'id="rules"' in index
    assert "passed" in page and "at least <strong>5</strong>" in page
    assert client.get("/privacy/rounds/999").status_code == 404


def test_the_privacy_page_counts_each_releases_groups(
    client: FlaskClient, released: dict, open_round: OpenRound
) -> None:
    """The privacy page's row of a release gives its published and hidden groups, as counted
    from its manifest, and what became of its sealed answers."""
    units = released["units"]
    shown = sum(1 for unit in units if unit["shown"])
    index = client.get("/privacy").data.decode()
    row = index[index.index(f'href="/privacy/rounds/{open_round.round_id}"') :]
    row = row[: row.index("</tr>")]
    assert f"<td>{shown}</td><td>{len(units) - shown}</td>" in row
    assert 0 < shown < len(units)
    assert "Destroyed on" in row and "passed" in row


def test_hidden_wordings_are_defined_once() -> None:
    """The macro file holds the disclosure module's wordings; no other template writes its own."""
    from pathlib import Path

    from survey.domain.disclosure import ABSENT_TEXT

    root = Path(__file__).resolve().parents[2] / "templates"
    macros = (root / "_macros.html").read_text()
    assert f">{HIDDEN_TEXT}<" in macros and f">{ABSENT_TEXT}<" in macros
    for path in root.rglob("*.html"):
        text = path.read_text()
        for stale in ("too few to show", "fewer than k respondents", "by subtraction"):
            assert stale not in text, (path, stale)
        if path.name != "_macros.html":
            assert HIDDEN_TEXT not in text and ABSENT_TEXT not in text, path
