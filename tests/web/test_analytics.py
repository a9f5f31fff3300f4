"""The analytics pages through the web: overview, trends with events, heatmap, answer
distributions, comments, leadership reports and the printable PDF.

Three rounds are released through the real path (invitation, sealing, close, release) for the
organisation in ``tests/conftest.py``, where the teams "Small" (2 people) and "Gamma" (hidden so
Small cannot be worked out by subtraction) never appear with a number anywhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from survey import create_app, db
from survey.domain import reporting
from survey.domain.disclosure import HIDDEN_TEXT
from survey.domain.manifest import parse, serialise
from survey.models import Action, Program, TimelineEvent
from survey.services.manifests import released_manifests
from tests.conftest import PASSWORD, STAFF, Org, login
from tests.helpers import closed_on, release_rounds

HIDDEN_TEAMS = ("Small", "Gamma")
PAGES = (
    "/dashboard",
    "/dashboard/trends",
    "/dashboard/heatmap",
    "/dashboard/distributions",
    "/dashboard/comments",
)


@pytest.fixture
def released(app: Flask, organisation: Org) -> list[dict[str, Any]]:
    return release_rounds(app, organisation.program_id, 3)


def visible_text(html: str) -> str:
    """Return the page's text without tags or attribute values."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def rows_naming(html: str, name: str) -> list[str]:
    """Return the visible text of every table row that names ``name``."""
    return [visible_text(r) for r in re.findall(r"<tr>.*?</tr>", html, re.S) if name in r]


def assert_never_with_numbers(html: str, name: str) -> None:
    """A hidden unit may be listed as hidden, but no figure may sit beside its name."""
    for row in rows_naming(html, name):
        assert HIDDEN_TEXT in row, row
        assert "too few" not in row and "fewer than" not in row, row
        assert not re.search(r"\d", row), row
    for block in re.findall(r"<(?:p|li|h\d|figcaption)\b.*?</(?:p|li|h\d|figcaption)>", html, re.S):
        for sentence in visible_text(block).split(". "):
            if name in sentence:
                assert not re.search(r"\d", re.sub(r"\bR\d+\b", "", sentence)), sentence


# --- access ----------------------------------------------------------------------------------

ROUTES = [
    ("GET", "/dashboard", {"admin", "hr"}),
    ("GET", "/dashboard/trends", {"admin", "hr"}),
    ("GET", "/dashboard/heatmap", {"admin", "hr"}),
    ("GET", "/dashboard/distributions", {"admin", "hr"}),
    ("GET", "/dashboard/comments", {"admin", "hr"}),
    ("GET", "/charts/heatmap/{program}/1/{lab}.png", {"admin", "hr"}),
    ("POST", "/dashboard/{program}/events", {"admin", "hr"}),
    ("POST", "/dashboard/{program}/events/1/delete", {"admin", "hr"}),
    ("GET", "/reports", {"admin", "hr", "leader"}),
    ("GET", "/reports/{program}/1.pdf", {"admin", "hr", "leader"}),
    ("GET", "/export/{program}.csv", {"admin", "hr", "leader"}),
]


@pytest.mark.parametrize("role", ["anon", "leader", "hr", "admin"])
def test_who_may_open_what(app: Flask, client: FlaskClient, organisation: Org, role: str) -> None:
    if role != "anon":
        login(client, role)
    for method, path, allowed in ROUTES:
        url = path.format(program=organisation.program_id, lab=organisation.units["Lab"])
        response = client.open(url, method=method)
        if role == "anon":
            assert response.status_code == 302 and "/login" in response.headers["Location"]
        elif role in allowed:
            # Nothing is released yet: pages say so, charts and reports of round 1 are 404.
            assert response.status_code in (200, 302, 404), (url, response.status_code)
        else:
            assert response.status_code == 403, (role, url)


def test_pages_before_any_release(client: FlaskClient, organisation: Org) -> None:
    login(client, "hr")
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200
        assert b"No round of Pulse has been released yet" in response.data


# --- overview --------------------------------------------------------------------------------


def test_overview_headlines_changes_and_participation(
    client: FlaskClient, released: list[dict[str, Any]], organisation: Org
) -> None:
    login(client, "hr")
    page = client.get("/dashboard")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.data.decode()
    text = visible_text(html)
    assert "Overview: Lab" in text
    latest = released[-1]
    assert f"About {latest['participation']['org_pct_rounded']} % of the people invited" in text
    for theme in reporting.themes_of([parse(m) for m in released]):
        assert theme[1] in text
    assert "when it was last asked" in text  # rotating themes say which round asked them
    assert "Largest changes" in text and "Lab/Research" in text
    assert "clear change" in text  # Research fell from agree to disagree in R3
    assert "[email]" in text  # comments, masked
    for team in HIDDEN_TEAMS:
        assert team not in html
    research = client.get(f"/dashboard?unit={organisation.units['Research']}")
    assert "Overview: Lab/Research" in visible_text(research.data.decode())


@pytest.mark.parametrize(
    "query",
    ["?unit={small}", "?unit={gamma}", "?unit=99999", "?program=99999", "?unit={small}&unit={lab}"],
)
def test_overview_refuses_hidden_or_unknown_units(
    client: FlaskClient, released: list[dict[str, Any]], organisation: Org, query: str
) -> None:
    login(client, "admin")
    url = "/dashboard" + query.format(
        small=organisation.units["Small"],
        gamma=organisation.units["Gamma"],
        lab=organisation.units["Lab"],
    )
    assert client.get(url).status_code == 404


# --- trends and events -----------------------------------------------------------------------


def test_trends_show_every_theme_with_table_and_text_alternative(
    client: FlaskClient, released: list[dict[str, Any]], organisation: Org
) -> None:
    login(client, "hr")
    html = client.get(f"/dashboard/trends?unit={organisation.units['Research']}").data.decode()
    text = visible_text(html)
    assert "Trends: Lab/Research" in text
    for _key, label in reporting.themes_of([parse(m) for m in released]):
        assert f"{label} by round" in text
        assert f"{label} — Lab/Research:" in text  # describe_trend's text alternative
    assert "Dotted line: Lab in R3" in text  # the organisation as reference
    for team in HIDDEN_TEAMS:
        assert team not in html
    assert client.get(f"/dashboard/trends?unit={organisation.units['Small']}").status_code == 404


def test_events_are_added_placed_drawn_and_removed(
    app: Flask, client: FlaskClient, released: list[dict[str, Any]], organisation: Org
) -> None:
    login(client, "hr")
    program, lab = organisation.program_id, organisation.units["Lab"]
    cache = Path(app.config["CHART_CACHE_DIR"])
    chart = f"/charts/trend/{program}/{lab}/morale.png"
    before = client.get(chart).data
    files = set(cache.iterdir())

    on = closed_on(2) - dt.timedelta(days=3)  # between R1 and R2 closing: drawn at R2
    added = client.post(
        f"/dashboard/{program}/events",
        data={"on": on.isoformat(), "label": "Re-org of $Research$", "unit": str(lab)},
    )
    assert added.status_code == 302 and added.headers["Location"].endswith("#events")
    html = client.get(added.headers["Location"]).data.decode()
    assert "Added “Re-org of $Research$”" in html
    row = rows_naming(html, "Re-org of $Research$")[0]
    assert on.isoformat() in row and "R2" in row
    assert "Marked events: Re-org of $Research$ (R2" in visible_text(html)  # describe_trend

    after = client.get(chart)
    assert after.status_code == 200 and after.headers["Cache-Control"] == "no-store"
    assert after.data != before  # the key includes the events: drawn anew, not served stale
    assert len(set(cache.iterdir()) - files) >= 1

    with db.session_scope(app) as session:
        event_id = session.scalar(select(TimelineEvent.id))
    removed = client.post(f"/dashboard/{program}/events/{event_id}/delete", data={"unit": lab})
    assert removed.status_code == 302
    assert "Removed “Re-org of $Research$”" in client.get(removed.headers["Location"]).data.decode()
    assert client.get(chart).data == before  # back to the chart without events, from cache


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"on": "2026-10-01", "label": "x" * 81}, "Nothing added"),
        ({"on": "2026-10-01", "label": "   "}, "Nothing added"),
        ({"on": "not a date", "label": "Re-org"}, "Nothing added"),
        ({"on": "1999-01-01", "label": "Too early"}, "the date must lie between"),
    ],
)
def test_bad_events_are_refused(
    app: Flask, client: FlaskClient, organisation: Org, form: dict[str, str], message: str
) -> None:
    login(client, "hr")
    response = client.post(f"/dashboard/{organisation.program_id}/events", data=form)
    assert response.status_code == 302
    assert message in client.get(response.headers["Location"]).data.decode()
    with db.session_scope(app) as session:
        assert session.scalar(select(TimelineEvent.id)) is None


def test_events_of_another_programme_or_unknown_cannot_be_removed(
    client: FlaskClient, organisation: Org
) -> None:
    login(client, "hr")
    response = client.post(f"/dashboard/{organisation.program_id}/events/424242/delete")
    assert "Nothing removed" in client.get(response.headers["Location"]).data.decode()
    unknown = client.post("/dashboard/999/events", data={"on": "2026-10-01", "label": "x"})
    assert "no programme 999" in client.get(unknown.headers["Location"]).data.decode()


def test_event_forms_need_the_csrf_token(tmp_path: Path, config: dict[str, Any]) -> None:
    app = create_app({**config, "WTF_CSRF_ENABLED": True})
    try:
        with db.session_scope(app) as session:
            session.add(Program(name="Pulse"))
            session.commit()
        client = app.test_client()
        page = client.get("/login")
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data)
        assert token is not None
        client.post(
            "/login",
            data={
                "email": STAFF["hr"],
                "password": PASSWORD,
                "csrf_token": token.group(1).decode(),
            },
        )
        refused = client.post("/dashboard/1/events", data={"on": "2026-10-01", "label": "Re-org"})
        assert refused.status_code == 400  # CSRFProtect refuses before the view runs
        with db.session_scope(app) as session:
            assert session.scalar(select(TimelineEvent.id)) is None
        trends = client.get("/dashboard/trends").data.decode()
        csrf = re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', trends)
        assert csrf is not None
        ok = client.post(
            "/dashboard/1/events",
            data={"on": "2026-10-01", "label": "Re-org", "csrf_token": csrf.group(1)},
        )
        assert "Added “Re-org”" in client.get(ok.headers["Location"]).data.decode()
    finally:
        app.extensions["candor.engine"].dispose()


# --- heatmap ---------------------------------------------------------------------------------


def test_heatmap_table_chart_and_hidden_cells(
    app: Flask,
    client: FlaskClient,
    released: list[dict[str, Any]],
    organisation: Org,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    login(client, "hr")
    html = client.get("/dashboard/heatmap").data.decode()
    text = visible_text(html)
    assert "Heatmap: R3" in text and "Difference from Lab, R3" in text
    assert f"cells are {HIDDEN_TEXT}" in text  # text alternative
    for team in HIDDEN_TEAMS:
        assert_never_with_numbers(html, team)
        assert rows_naming(html, team), f"{team} is listed as hidden"
    first = client.get("/dashboard/heatmap?round=1").data.decode()
    assert "Heatmap: R1" in visible_text(first)

    drawn: list[Any] = []
    from survey.services import drawing

    real = drawing.apart  # the PNG is drawn by the drawing process: see what it is sent
    monkeypatch.setattr(
        drawing, "apart", lambda draw, data, keep: drawn.append(data) or real(draw, data, keep)
    )
    png = client.get(f"/charts/heatmap/{organisation.program_id}/3/{organisation.units['Lab']}.png")
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    assert png.headers["Cache-Control"] == "no-store"
    (data,) = drawn
    for team in HIDDEN_TEAMS:
        row = next(i for i, label in enumerate(data.rows) if label.endswith(team))
        assert data.values[row] == (None,) * len(data.columns)
    # The page shows the SVG, drawn without matplotlib, with the same hidden rows.
    assert f"/charts/heatmap/{organisation.program_id}/3/{organisation.units['Lab']}.svg" in html
    svg = client.get(f"/charts/heatmap/{organisation.program_id}/3/{organisation.units['Lab']}.svg")
    assert svg.status_code == 200 and b"<svg" in svg.data
    assert svg.headers["Cache-Control"] == "no-store"
    policy = svg.headers["Content-Security-Policy"]  # opened directly, it may style itself
    assert "style-src 'unsafe-inline'" in policy and "script" not in policy
    drawn_texts = visible_text(svg.data.decode())
    for team in HIDDEN_TEAMS:
        assert team in drawn_texts
    assert svg.data.count(b"url(#candor-hidden)") == sum(row.count(None) for row in data.values)
    again = client.get(
        f"/charts/heatmap/{organisation.program_id}/3/{organisation.units['Lab']}.png"
    )
    assert again.data == png.data and len(drawn) == 1  # png drawn once, then from disk


@pytest.mark.parametrize(
    "url",
    [
        "/dashboard/heatmap?round=99",
        "/dashboard/heatmap?unit={small}",
        "/dashboard/heatmap?program=99",
        "/charts/heatmap/{program}/99/{lab}.png",
        "/charts/heatmap/{program}/3/{small}.png",
        "/charts/heatmap/{program}/3/{gamma}.svg",
        "/charts/heatmap/{program}/3/{lab}.gif",
        "/charts/heatmap/99/3/{lab}.png",
        "/dashboard/distributions?round=99",
        "/dashboard/distributions?unit={small}",
        "/dashboard/distributions?unit={gamma}&round=3",
        "/dashboard/comments?round=99",
        "/dashboard/trends?unit=99999",
        "/reports/{program}/99.pdf",
        "/reports/99/1.pdf",
    ],
)
def test_tampered_urls_are_not_found(
    client: FlaskClient, released: list[dict[str, Any]], organisation: Org, url: str
) -> None:
    login(client, "admin")
    units = organisation.units
    target = url.format(
        program=organisation.program_id,
        lab=units["Lab"],
        small=units["Small"],
        gamma=units["Gamma"],
    )
    assert client.get(target).status_code == 404


# --- distributions ---------------------------------------------------------------------------


def test_distributions_and_scale_quality(
    client: FlaskClient, released: list[dict[str, Any]], organisation: Org
) -> None:
    login(client, "hr")
    latest = released[-1]
    detailed = [u for u in latest["units"] if "distributions" in u]
    coarse = [u for u in latest["units"] if u["shown"] and "distributions" not in u]
    assert detailed and coarse
    html = client.get(f"/dashboard/distributions?unit={detailed[0]['id']}").data.decode()
    text = visible_text(html)
    assert "How people answered" in text and "Scale quality" in text
    assert "Strongly disagree" in text and "% agree or strongly agree" in text
    assert "Cronbach" in text and "too low to interpret" in text  # identical answers: alpha None
    assert 'class="dist-bar"' in html and 'aria-hidden="true"' in html
    assert "style=" not in html
    small_group = client.get(f"/dashboard/distributions?unit={coarse[0]['id']}").data.decode()
    assert "published only for groups" in visible_text(small_group)
    assert "How people answered" not in visible_text(small_group)
    for team in HIDDEN_TEAMS:
        assert team not in html


# --- comments --------------------------------------------------------------------------------


def test_comments_by_group_and_searchable(
    client: FlaskClient, released: list[dict[str, Any]]
) -> None:
    login(client, "hr")
    latest = released[-1]
    groups = latest["comments"]
    total = sum(g["count"] for g in groups)
    html = client.get("/dashboard/comments").data.decode()
    text = visible_text(html)
    assert f"{total} comments in {len(groups)}" in text
    for group in groups:
        assert group["label"] in text
    searched = visible_text(client.get("/dashboard/comments?q=NOTE+1").data.decode())
    matching = sum(1 for g in groups for t in g["texts"] if "note 1" in t.lower())
    assert f"{matching} of {total} comments contain “NOTE 1”" in searched
    nothing = visible_text(client.get("/dashboard/comments?q=zebra").data.decode())
    assert f"0 of {total} comments contain “zebra”" in nothing
    long = client.get("/dashboard/comments?q=" + "a" * 5000)
    assert long.status_code == 200 and "a" * 101 not in long.data.decode()
    older = visible_text(client.get("/dashboard/comments?round=1").data.decode())
    assert "R1 note" in older and "R3 note" not in older
    for team in HIDDEN_TEAMS:
        assert team not in html


# --- leadership reports and the PDF ----------------------------------------------------------


def test_reports_for_leaders(
    client: FlaskClient, released: list[dict[str, Any]], organisation: Org
) -> None:
    login(client, "leader")
    html = client.get("/reports").data.decode()
    text = visible_text(html)
    assert "Trends: Lab" in text and "Printable reports" in text
    for number in (1, 2, 3):
        assert f"/reports/{organisation.program_id}/{number}.pdf" in html
    options = re.findall(r"<option value=\"(\d+)\"", html)
    assert {int(o) for o in options} == {organisation.units[n] for n in ("Lab", "Research", "Ops")}
    team = client.get(f"/reports?unit={organisation.units['Alpha']}").data.decode()
    assert "<h2>Trends: Lab</h2>" in team  # a team is not a leadership unit: the organisation
    for team_name in HIDDEN_TEAMS:
        assert team_name not in html


def test_pdf_download(
    app: Flask,
    client: FlaskClient,
    released: list[dict[str, Any]],
    organisation: Org,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from survey.services import drawing

    with db.session_scope(app) as session:
        session.add(
            Action(
                program_id=organisation.program_id,
                round_id=released[-1]["round"]["id"],
                theme="morale",
                text="Fewer meetings on Fridays",
                recorded_on=dt.date(2026, 10, 30),
            )
        )
        session.add(
            TimelineEvent(program_id=organisation.program_id, on=closed_on(2), label="Re-org")
        )
        session.commit()
    seen: list[reporting.Report] = []
    real = drawing.apart  # the PDF is drawn by the drawing process: see what it is sent

    def apart(draw: Any, subject: Any, keep: Any) -> bytes:
        seen.append(subject)
        return real(draw, subject, keep)

    monkeypatch.setattr(drawing, "apart", apart)
    login(client, "leader")
    url = f"/reports/{organisation.program_id}/3.pdf"
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF-")
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="candor-{organisation.program_id}-R3.pdf"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert b"CreationDate" not in response.data
    (report,) = seen
    assert report.round_label == "R3"
    assert [a.text for a in report.actions] == ["Fewer meetings on Fridays"]
    assert report.actions[0].theme_label == "Morale"
    assert any(p.events == ((1, "Re-org"),) for _, ps in report.trends for p in ps)
    dumped = json.dumps(dataclasses.asdict(report), ensure_ascii=False)
    for team in HIDDEN_TEAMS:
        assert team not in dumped
    assert client.get(url).data == response.data and len(seen) == 1  # from the disk cache
    earlier = client.get(f"/reports/{organisation.program_id}/1.pdf")
    assert earlier.status_code == 200 and len(seen) == 2
    assert all(r.round_label == "R1" for _, ps in seen[1].trends for p in ps for r in p.rows)


# --- speed: warm pages never import matplotlib -----------------------------------------------

PROBE = textwrap.dedent(
    """
    import json, sys
    from survey import create_app
    config, email, password, urls, *imports = json.loads(sys.argv[1])
    for name in imports:  # a control: the probe does see matplotlib once it is imported
        __import__(name)
    app = create_app(config)
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302
    statuses = {url: client.get(url).status_code for url in urls}
    app.extensions["candor.engine"].dispose()
    print(json.dumps({"statuses": statuses, "matplotlib": "matplotlib" in sys.modules}))
    """
)


def test_warm_pages_do_not_import_matplotlib(
    app: Flask,
    client: FlaskClient,
    config: dict[str, Any],
    released: list[dict[str, Any]],
    organisation: Org,
) -> None:
    program, lab = organisation.program_id, organisation.units["Lab"]
    themes = [key for key, _ in reporting.themes_of([parse(m) for m in released])]
    urls = [
        *PAGES,
        "/reports",
        *(f"/charts/trend/{program}/{lab}/{theme}.png" for theme in themes),
        f"/charts/heatmap/{program}/3/{lab}.png",
        f"/reports/{program}/3.pdf",
        f"/export/{program}.csv",
    ]
    login(client, "hr")
    for url in urls:  # warm the cache: every chart, text alternative and the PDF
        assert client.get(url).status_code == 200, url

    def probe(wanted: list[str], *imports: str) -> dict[str, Any]:
        argv = json.dumps([config, STAFF["hr"], PASSWORD, wanted, *imports])
        env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-c", PROBE, argv],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            timeout=120,
            check=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    warm = probe(urls)
    assert set(warm["statuses"].values()) == {200}, warm
    assert warm["matplotlib"] is False
    # Never drawn before: the SVG heatmap needs no matplotlib, and the PNG heatmap, trend
    # charts and the PDF are drawn by the drawing process, so the worker never imports it.
    cold = probe(
        [
            f"/charts/heatmap/{program}/1/{lab}.svg",
            f"/charts/heatmap/{program}/1/{lab}.png",
            f"/charts/trend/{program}/{lab}/{themes[0]}.svg",
            f"/reports/{program}/1.pdf",
        ]
    )
    assert set(cold["statuses"].values()) == {200}, cold
    assert cold["matplotlib"] is False
    assert probe([], "survey.domain.charts")["matplotlib"] is True


def test_manifests_are_parsed_once_and_shared(
    app: Flask, released: list[dict[str, Any]], organisation: Org
) -> None:

    with db.session_scope(app) as session:
        first = released_manifests(session, organisation.program_id)
        again = released_manifests(session, organisation.program_id)
        assert [m.round.number for m in first] == [1, 2, 3]
        assert all(a is b for a, b in zip(first, again, strict=True))  # no second JSON decode
        assert [serialise(m) for m in first] == released  # exactly the stored manifests
        assert released_manifests(session, 999) == []
