"""The organisation and roster pages: admin only, preview changes nothing, apply is whole."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from survey import create_app, db
from survey.models import Person
from tests.conftest import STAFF, Org, login
from tests.helpers import assert_entry
from tests.web.roster_forms import everything, hidden, upload

GOOD = (
    "email,unit,tenure,name\n"
    "p1@example.org,Lab/Research/Alpha,3y+\n"
    "new@example.org,Lab/Research/Gamma Ray,<1y,New Person\n"
)
BAD = GOOD + "not-an-email,Lab/Ops\np1@example.org,Lab/Ops\n"


ROUTES = [
    ("GET", "/admin/org/"),
    ("POST", "/admin/org/preview"),
    ("POST", "/admin/org/apply"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("role", ["anon", "leader", "hr", "admin"])
def test_only_admins_may_enter(
    client: FlaskClient, organisation: Org, method: str, path: str, role: str
) -> None:
    assert_entry(client, role, [(method, path)], allowed=("admin",))


def test_page_shows_tree_roster_and_the_rule(client: FlaskClient, organisation: Org) -> None:
    login(client, "admin")
    response = client.get("/admin/org/")
    page = response.data.decode()
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert (
        "Changes apply to rounds opened from now on; open and past rounds keep their snapshot"
        in (page)
    )
    assert "Lab — 0 directly, 23 in total" in page
    assert "Research — 0 directly, 15 in total" in page
    assert "Small — 2 directly, 2 in total" in page
    assert "23 people" in page and "p10@example.org" in page and "Lab/Ops/Small" in page
    assert 'enctype="multipart/form-data"' in page
    assert 'href="/admin/org/"' in page  # the navigation link
    # The CSP forbids inline code: scripts come from files only.
    assert all(" src=" in tag for tag in re.findall(r"<script[^>]*>", page))
    assert "style=" not in page


def test_nav_link_is_for_admins_only(client: FlaskClient, organisation: Org) -> None:
    login(client, "hr")
    assert "Org &amp; roster" not in client.get("/reports").data.decode()


def test_roster_search_and_pages(client: FlaskClient, app: Flask) -> None:
    login(client, "admin")
    text = "email,unit\n" + "".join(f"p{n:03}@example.org,Lab\n" for n in range(150))
    page = client.post("/admin/org/preview", data=upload(text)).data.decode()
    client.post(
        "/admin/org/apply",
        data={"csv_text": hidden(page, "csv_text"), "fingerprint": hidden(page, "fingerprint")},
    )
    first = client.get("/admin/org/").data.decode()
    assert "150 people, page 1 of 2" in first and "p099@" in first and "p100@" not in first
    assert 'href="/admin/org/?page=2"' in first
    second = client.get("/admin/org/?page=2").data.decode()
    assert "p100@" in second and "p099@" not in second and "Previous page" in second
    found = client.get("/admin/org/?q=P12").data.decode()
    assert "10 people whose email contains “P12”" in found
    assert client.get("/admin/org/?page=x&q=nobody").status_code == 200


def test_preview_shows_the_plan_and_changes_nothing(
    client: FlaskClient, app: Flask, organisation: Org
) -> None:
    login(client, "admin")
    before = everything(app)
    response = client.post("/admin/org/preview", data=upload(GOOD))
    page = response.data.decode()
    assert response.status_code == 200
    assert "1 new unit; 1 new person; 0 people moving unit; 0 tenure band changes" in page
    assert "22 people leaving" in page
    assert "Lab/Research/Gamma Ray" in page and "new@example.org (New Person)" in page
    assert "Apply this import" in page
    assert "Changes apply to rounds opened from now on" in page
    assert hidden(page, "csv_text") == GOOD
    assert everything(app) == before


def test_preview_lists_every_problem_by_line_without_an_apply_button(
    client: FlaskClient, app: Flask, organisation: Org
) -> None:
    login(client, "admin")
    before = everything(app)
    page = client.post("/admin/org/preview", data=upload(BAD)).data.decode()
    assert "has 3 problems" in page and "Nothing was changed" in page
    assert re.search(r"<th scope=\"row\">4</th><td>email</td><td>&#39;not-an-email&#39;", page)
    assert re.search(r"<th scope=\"row\">2</th><td>email</td><td>p1@example.org appears", page)
    assert re.search(r"<th scope=\"row\">5</th><td>email</td><td>p1@example.org appears", page)
    assert "Apply this import" not in page and "csv_text" not in page
    assert everything(app) == before


def test_preview_escapes_what_the_file_says(client: FlaskClient, organisation: Org) -> None:
    login(client, "admin")
    text = "email,unit,name\n<b>@x,Lab/<i>x</i>,<script>alert(1)</script>\n"
    page = client.post("/admin/org/preview", data=upload(text)).data.decode()
    assert "<script>alert" not in page and "<i>x</i>" not in page
    clean = "email,unit,name\nz@example.org,Lab/Ops,<script>alert(1)</script>\n"
    page = client.post("/admin/org/preview", data=upload(clean)).data.decode()
    assert "<script>alert" not in page and "&lt;script&gt;" in page


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "Choose a CSV file"),
        (b"email,unit\nz\xe9@example.org,Lab\n", "not UTF-8"),
        ("email,unit\n" + "x" * (4 * 1024 * 1024 + 1024), "larger than 4 MB"),
    ],
)
def test_unusable_uploads_are_refused(
    client: FlaskClient, organisation: Org, content: str | bytes | None, words: str
) -> None:
    login(client, "admin")
    response = client.post("/admin/org/preview", data={} if content is None else upload(content))
    assert response.status_code == 400
    assert words in response.data.decode()


def test_apply_imports_the_previewed_file(
    client: FlaskClient, app: Flask, organisation: Org
) -> None:
    login(client, "admin")
    page = client.post("/admin/org/preview", data=upload(GOOD)).data.decode()
    response = client.post(
        "/admin/org/apply",
        data={
            "csv_text": hidden(page, "csv_text"),
            "fingerprint": hidden(page, "fingerprint"),
            "confirm_leaving": "y",  # 21 of 22 leave
        },
        follow_redirects=True,
    )
    done = response.data.decode()
    assert response.request.path == "/admin/org/"
    assert "Roster imported: 1 new unit; 1 new person" in done
    assert "Gamma Ray — 1 directly, 1 in total" in done
    with db.session_scope(app) as session:
        active = set(session.scalars(select(Person.email).where(Person.active)))
    assert active == {"p1@example.org", "new@example.org"}


def test_apply_revalidates_and_changes_nothing_on_error(
    client: FlaskClient, app: Flask, organisation: Org
) -> None:
    login(client, "admin")
    before = everything(app)
    response = client.post("/admin/org/apply", data={"csv_text": BAD, "fingerprint": "x" * 64})
    page = response.data.decode()
    assert response.status_code == 200
    assert "The file has 3 problems; nothing was changed." in page
    assert "Apply this import" not in page
    assert everything(app) == before


def test_apply_refuses_when_the_roster_changed_since_the_preview(
    client: FlaskClient, app: Flask, organisation: Org
) -> None:
    login(client, "admin")
    page = client.post("/admin/org/preview", data=upload(GOOD)).data.decode()
    with db.session_scope(app) as session:
        session.add(Person(email="late@example.org", unit_id=organisation.units["Alpha"]))
        session.commit()
    before = everything(app)
    response = client.post(
        "/admin/org/apply",
        data={"csv_text": hidden(page, "csv_text"), "fingerprint": hidden(page, "fingerprint")},
    )
    page = response.data.decode()
    assert "The roster changed since the preview" in page
    assert "23 people leaving" in page  # the new preview counts late@ too
    assert everything(app) == before


def test_apply_with_an_incomplete_form_changes_nothing(
    client: FlaskClient, app: Flask, organisation: Org
) -> None:
    login(client, "admin")
    before = everything(app)
    response = client.post("/admin/org/apply", data={"csv_text": GOOD}, follow_redirects=True)
    assert "Nothing changed: the import form was incomplete" in response.data.decode()
    assert everything(app) == before


def test_csrf_is_enforced(config: dict[str, object], organisation: Org) -> None:
    app = create_app({**config, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    login_page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page)
    assert token is not None
    client.post(
        "/login",
        data={
            "email": STAFF["admin"],
            "password": "correct horse battery staple",
            "csrf_token": token.group(1),
        },
    )
    before = everything(app)
    assert client.post("/admin/org/preview", data=upload(GOOD)).status_code == 400
    page = client.get("/admin/org/").data.decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    preview = client.post("/admin/org/preview", data={**upload(GOOD), "csrf_token": token.group(1)})
    assert preview.status_code == 200
    form = preview.data.decode()
    fields = {
        "csv_text": hidden(form, "csv_text"),
        "fingerprint": hidden(form, "fingerprint"),
        "confirm_leaving": "y",
    }
    assert client.post("/admin/org/apply", data=fields).status_code == 400
    assert everything(app) == before
    applied = client.post(
        "/admin/org/apply", data={**fields, "csrf_token": hidden(form, "csrf_token")}
    )
    assert applied.status_code == 302
    assert everything(app) != before
    app.extensions["candor.engine"].dispose()
