"""The question-bank pages: admin only, preview stores nothing, import and export round-trip."""

from __future__ import annotations

import html
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from survey import create_app, db
from survey.domain.bankfile import bank_to_csv, parse_bank_csv
from survey.domain.questions import load_bank, parse_bank
from survey.models import QuestionBankRecord
from tests.bank_csv import BAD, GOOD
from tests.conftest import Org, login
from tests.helpers import assert_entry, assert_nav_link, open_round_on_bank


def upload(text: str | bytes, name: str = "bank.csv", key: str = "") -> dict[str, object]:
    data = text.encode() if isinstance(text, str) else text
    return {"file": (io.BytesIO(data), name), "key": key}


def records(app: Flask) -> dict[str, dict]:
    with db.session_scope(app) as session:
        return {r.key: r.definition for r in session.scalars(select(QuestionBankRecord))}


def hidden(page: str, name: str) -> str:
    match = re.search(rf'id="{name}" name="{name}" type="hidden" value="([^"]*)"', page)
    assert match is not None, f"no hidden {name}"
    return html.unescape(match.group(1))


def preview_and_import(client: FlaskClient, text: str, replace: bool = False) -> tuple[str, int]:
    page = client.post("/admin/banks/preview", data=upload(text)).data.decode()
    data = {"csv_text": hidden(page, "csv_text"), "key": hidden(page, "key")}
    if replace:
        data["replace"] = "y"
    response = client.post("/admin/banks/import", data=data)
    return response.data.decode(), response.status_code


ROUTES = [
    ("GET", "/admin/banks/"),
    ("POST", "/admin/banks/preview"),
    ("POST", "/admin/banks/import"),
    ("GET", "/admin/banks/core-v1.csv"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("role", ["anon", "leader", "hr", "admin"])
def test_only_admins_may_enter(
    client: FlaskClient, organisation: Org, method: str, path: str, role: str
) -> None:
    assert_entry(client, role, [(method, path)], allowed=("admin",))


def test_nav_link_is_for_admins_only(client: FlaskClient, organisation: Org) -> None:
    assert_nav_link(client, "/admin/banks/", hidden_for="hr", shown_for="admin")


def test_list_shows_shipped_and_imported_banks(
    app: Flask, client: FlaskClient, organisation: Org
) -> None:
    login(client, "admin")
    page = client.get("/admin/banks/").data.decode()
    assert "core-v1" in page and "shipped with Candor" in page and "Pulse" in page
    assert "en, de" in page and 'href="/admin/banks/core-v1.csv"' in page
    preview_and_import(client, GOOD)
    page = client.get("/admin/banks/").data.decode()
    assert "acme-v1" in page and "imported" in page


def test_preview_shows_the_bank_and_stores_nothing(
    app: Flask, client: FlaskClient, organisation: Org
) -> None:
    login(client, "admin")
    response = client.post("/admin/banks/preview", data=upload(GOOD))
    assert response.status_code == 200
    page = response.data.decode()
    assert "acme-v1" in page and "3 items" in page and "en, de" in page
    assert "I have energy." in page and "Ich habe Energie." in page
    # A warning, not a refusal:
    assert "no translation for 1 of 3 item texts, 1 of 2 theme labels and the comment" in page
    assert "Import acme-v1" in page
    assert hidden(page, "csv_text") == GOOD
    assert records(app) == {}


def test_preview_lists_every_problem_and_offers_no_import(
    app: Flask, client: FlaskClient, organisation: Org
) -> None:
    login(client, "admin")
    response = client.post("/admin/banks/preview", data=upload(BAD))
    assert response.status_code == 400
    page = response.data.decode()
    assert "has 2 problems" in page
    assert "Unknown scale &#39;likert7&#39;" in page and "reverse is &#39;maybe&#39;" in page
    assert '<th scope="row">5</th>' in page  # by line
    assert 'action="/admin/banks/import"' not in page and 'name="csv_text"' not in page
    assert records(app) == {}


def test_preview_escapes_what_the_file_says(client: FlaskClient, organisation: Org) -> None:
    login(client, "admin")
    page = client.post(
        "/admin/banks/preview", data=upload(GOOD.replace("I have energy.", "<b>bold</b>"))
    ).data.decode()
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page


@pytest.mark.parametrize(
    ("content", "key", "message"),
    [
        (b"\xff\xfe not utf-8", "", "not UTF-8"),
        (None, "", "Choose a CSV file"),
        (GOOD.encode(), "Bad Key", "The key must use only"),
        (b"x" * (200 * 1024 + 1), "", "larger than 200 KB"),
    ],
)
def test_unusable_uploads_are_refused(
    client: FlaskClient, organisation: Org, content: bytes | None, key: str, message: str
) -> None:
    login(client, "admin")
    data = upload(content, key=key) if content is not None else {"key": key}
    response = client.post("/admin/banks/preview", data=data)
    assert response.status_code == 400 and message in response.data.decode()


def test_import_then_export_round_trips(app: Flask, client: FlaskClient, organisation: Org) -> None:
    login(client, "admin")
    page, status = preview_and_import(client, GOOD)
    assert status == 302
    stored = records(app)
    assert set(stored) == {"acme-v1"}
    bank = parse_bank(stored["acme-v1"])
    assert bank == parse_bank_csv(GOOD)
    export = client.get("/admin/banks/acme-v1.csv")
    assert export.status_code == 200
    assert export.headers["Content-Disposition"] == 'attachment; filename="acme-v1.csv"'
    assert export.headers["Content-Type"].startswith("text/csv")
    assert export.headers["Cache-Control"] == "no-store"
    assert parse_bank_csv(export.data.decode()) == bank


def test_key_field_overrides_the_file(app: Flask, client: FlaskClient, organisation: Org) -> None:
    login(client, "admin")
    page = client.post("/admin/banks/preview", data=upload(GOOD, key="mine-v2")).data.decode()
    assert hidden(page, "key") == "mine-v2"
    client.post("/admin/banks/import", data={"csv_text": GOOD, "key": "mine-v2"})
    assert set(records(app)) == {"mine-v2"}


def test_export_of_the_shipped_bank_is_neutralised(client: FlaskClient, organisation: Org) -> None:
    login(client, "admin")
    export = client.get("/admin/banks/core-v1.csv")
    assert export.data.decode() == bank_to_csv(load_bank())
    assert client.get("/admin/banks/nope.csv").status_code == 404
    assert client.get("/admin/banks/..%2Fx.csv").status_code == 404


def test_formula_cells_are_neutralised_on_export(
    app: Flask, client: FlaskClient, organisation: Org
) -> None:
    login(client, "admin")
    preview_and_import(client, GOOD.replace("I have energy.", "=cmd|' /C calc'!A0"))
    text = client.get("/admin/banks/acme-v1.csv").data.decode()
    assert "'=cmd|" in text and ",=cmd" not in text


def test_replacing_an_unused_bank_needs_confirmation(
    app: Flask, client: FlaskClient, organisation: Org
) -> None:
    login(client, "admin")
    preview_and_import(client, GOOD)
    changed = GOOD.replace("I have energy.", "I have plenty of energy.")
    page = client.post("/admin/banks/preview", data=upload(changed)).data.decode()
    assert "exists and no round has used it yet" in page and 'name="replace"' in page
    page, status = preview_and_import(client, changed)
    assert status == 409 and "confirm that it should be replaced" in page
    assert parse_bank(records(app)["acme-v1"]).item("m1").text == "I have energy."
    _, status = preview_and_import(client, changed, replace=True)
    assert status == 302
    assert parse_bank(records(app)["acme-v1"]).item("m1").text == "I have plenty of energy."


def test_a_key_used_by_a_round_is_never_replaced(
    app: Flask, client: FlaskClient, organisation: Org
) -> None:
    login(client, "admin")
    preview_and_import(client, GOOD)
    with db.session_scope(app) as session:
        open_round_on_bank(app, session, organisation.program_id, "acme-v1")
        session.commit()
    changed = GOOD.replace("I have energy.", "I have plenty of energy.")
    page = client.post("/admin/banks/preview", data=upload(changed)).data.decode()
    assert "has been used by 1 round(s)" in page and "rounds keep the copy" in page
    assert 'action="/admin/banks/import"' not in page
    page, status = preview_and_import_forced(client, changed, "acme-v1")
    assert status == 409
    assert parse_bank(records(app)["acme-v1"]).item("m1").text == "I have energy."


def preview_and_import_forced(client: FlaskClient, text: str, key: str) -> tuple[str, int]:
    """Post an import directly, as a tampered or stale form would."""
    response = client.post(
        "/admin/banks/import", data={"csv_text": text, "key": key, "replace": "y"}
    )
    return response.data.decode(), response.status_code


def test_shipped_keys_cannot_be_shadowed(
    app: Flask, client: FlaskClient, organisation: Org
) -> None:
    login(client, "admin")
    page = client.post("/admin/banks/preview", data=upload(GOOD, key="core-v1")).data.decode()
    assert "shipped with Candor and cannot be replaced" in page
    _, status = preview_and_import_forced(client, GOOD, "core-v1")
    assert status == 409 and records(app) == {}


def test_import_revalidates(app: Flask, client: FlaskClient, organisation: Org) -> None:
    login(client, "admin")
    response = client.post("/admin/banks/import", data={"csv_text": BAD, "key": "acme-v1"})
    assert response.status_code == 400 and "Unknown scale" in response.data.decode()
    response = client.post("/admin/banks/import", data={"csv_text": GOOD})
    assert response.status_code == 302 and records(app) == {}


def test_csrf_is_enforced(config: dict, organisation: Org) -> None:
    app = create_app({**config, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    client.post(
        "/login",
        data={
            "email": "admin@example.org",
            "password": "correct horse battery staple",
            "csrf_token": token.group(1),
        },
    )
    response = client.post("/admin/banks/import", data={"csv_text": GOOD, "key": "acme-v1"})
    assert response.status_code == 400
    assert records(app) == {}
    app.extensions["candor.engine"].dispose()
