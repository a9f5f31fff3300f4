"""One scope for every surface: leaders and managers see the same units on pages, charts, CSV.

The world (tests/web/world.py) has one released round where Alpha, Beta, Research and Ops are
published and Gamma and Small are hidden.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest

from survey.domain.scope import BROADER_TEAM_TEXT
from tests.web.world import World, build_world, logged_in, world_database


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("scope")
    yield from build_world(world_database(request, tmp), tmp)


def csv_units(world: World, role: str) -> set[str]:
    response = logged_in(world, role).get(f"/export/{world.program_id}.csv")
    assert response.status_code == 200
    return {row["unit_path"] for row in csv.DictReader(io.StringIO(response.data.decode()))}


def picker(world: World, role: str) -> set[int]:
    html = logged_in(world, role).get("/reports").data.decode()
    select = re.search(r'<select id="unit".*?</select>', html, re.S)
    return {int(v) for v in re.findall(r'value="(\d+)"', select.group() if select else "")}


def chart(world: World, role: str, unit: str) -> int:
    url = f"/charts/trend/{world.program_id}/{world.units[unit]}/{world.theme}.svg"
    return logged_in(world, role).get(url).status_code


@pytest.mark.parametrize(
    ("role", "units"),
    [
        ("admin", {"Lab", "Lab/Research", "Lab/Ops"}),  # the reports page is the leadership view
        ("leader", {"Lab", "Lab/Research", "Lab/Ops"}),
        ("manager_alpha", {"Lab/Research/Alpha"}),
        ("manager_gamma", {"Lab/Ops"}),  # own team hidden: the broader team
    ],
)
def test_reports_page_lists_the_readers_units(world: World, role: str, units: set[str]) -> None:
    paths = {"Lab": "Lab", "Lab/Research": "Research", "Lab/Ops": "Ops"}
    paths |= {"Lab/Research/Alpha": "Alpha"}
    assert picker(world, role) == {world.units[paths[u]] for u in units}


def test_csv_export_follows_the_scope(world: World) -> None:
    everything = csv_units(world, "hr")
    assert {"Lab/Research/Alpha", "Lab/Ops/Small"} <= everything
    assert csv_units(world, "leader") == {"Lab", "Lab/Research", "Lab/Ops"}
    assert csv_units(world, "manager_alpha") == {"Lab/Research/Alpha"}
    # Gamma's rows say hidden (no numbers); Ops stands in for it.
    assert csv_units(world, "manager_gamma") == {"Lab/Ops", "Lab/Ops/Gamma"}
    gamma = logged_in(world, "manager_gamma").get(f"/export/{world.program_id}.csv")
    for row in csv.DictReader(io.StringIO(gamma.data.decode())):
        if row["unit_path"] == "Lab/Ops/Gamma":
            assert row["mean"] == "" and row["n"] == ""


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        ("leader", ["Lab", "Research", "Ops"], ["Alpha", "Beta"]),
        ("manager_alpha", ["Alpha"], ["Lab", "Research", "Beta", "Ops"]),
        ("manager_gamma", ["Ops"], ["Lab", "Research", "Alpha"]),
    ],
)
def test_chart_urls_answer_only_inside_the_scope(
    world: World, role: str, allowed: list[str], refused: list[str]
) -> None:
    assert [chart(world, role, u) for u in allowed] == [200] * len(allowed)
    assert [chart(world, role, u) for u in refused] == [404] * len(refused)


def test_broader_team_is_labelled(world: World) -> None:
    html = logged_in(world, "manager_gamma").get("/reports").data.decode()
    assert f"Ops ({BROADER_TEAM_TEXT})" in html
    assert "nearest published team" in html
    assert "Alpha" not in html and "Research" not in html
    # A manager of a published team sees no broader-team label.
    assert BROADER_TEAM_TEXT not in logged_in(world, "manager_alpha").get("/reports").data.decode()


def test_managers_get_no_organisation_figures(world: World) -> None:
    client = logged_in(world, "manager_alpha")
    html = client.get("/reports").data.decode()
    assert "Dotted line" not in html  # no organisation reference line
    assert "Printable reports" not in html
    assert client.get(f"/reports/{world.program_id}/1.pdf").status_code == 403
    assert client.get("/dashboard").status_code == 403


def test_a_manager_without_units_sees_nothing(world: World) -> None:
    from survey import db
    from survey.services import accounts

    with db.session_scope(world.app) as session:
        accounts.create_user(session, "m-none@example.org", "manager", "a long enough password")
        session.commit()
    client = world.app.test_client()
    password = "a long enough password"
    assert (
        client.post(
            "/login", data={"email": "m-none@example.org", "password": password}
        ).status_code
        == 302
    )
    assert client.get("/reports").status_code == 200
    body = client.get(f"/export/{world.program_id}.csv").data.decode()
    assert body.strip().count("\n") == 0  # the header only


def test_a_kept_cut_follows_a_managers_bindings(world: World) -> None:
    """Cuts are kept per process, keyed by role and bindings: a new binding shows at once."""
    from survey import db
    from survey.models import ManagerUnit
    from survey.services import accounts

    password = "a long enough password"
    with db.session_scope(world.app) as session:
        user = accounts.create_user(session, "m-moves@example.org", "manager", password)
        session.flush()
        session.add(ManagerUnit(user_id=user.id, unit_id=world.units["Alpha"]))
        session.commit()
        user_id = user.id
    client = world.app.test_client()
    login = {"email": "m-moves@example.org", "password": password}
    assert client.post("/login", data=login).status_code == 302
    alpha, research = world.units["Alpha"], world.units["Research"]
    url = f"/charts/trend/{world.program_id}/{{}}/{world.theme}.svg"
    assert client.get(url.format(alpha)).status_code == 200
    assert client.get(url.format(research)).status_code == 404
    with db.session_scope(world.app) as session:
        session.add(ManagerUnit(user_id=user_id, unit_id=research))
        session.commit()
    assert client.get(url.format(research)).status_code == 200  # not the cut kept before
    with db.session_scope(world.app) as session:
        for row in session.query(ManagerUnit).filter_by(user_id=user_id, unit_id=research):
            session.delete(row)
        session.commit()
    assert client.get(url.format(research)).status_code == 404  # nor the wider one
    # The same bindings as manager_alpha's give that same cut, which shows no more either.
    assert chart(world, "manager_alpha", "Research") == 404
