"""Page bodies kept with the reader's cut (survey/web/kept_views.py): never another reader's.

A body is rendered once per cut and key, so it must read nothing that belongs to one request
or one reader (the reader's email, a CSRF token, flashed messages live in base.html, around
it), and everything else it shows must be in its key: a new action, a renamed programme or a
new binding shows at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from jinja2 import meta, nodes

from survey import db
from survey.clock import utcnow
from survey.models import Program, Role, Round, User
from survey.services import accounts, actions
from tests.web.world import PASSWORD, World, build_world, logged_in, world_database

BODIES = (
    "dashboard/_overview_body.html",
    "dashboard/_trends_body.html",
    "dashboard/_event_fields.html",
    "dashboard/_heatmap_body.html",
    "reports/_index_body.html",
)
# What a kept body must never read: the request, the session, the reader, per-request tokens.
PER_REQUEST = {"g", "request", "session", "csrf_token", "get_flashed_messages", "current_user"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("kept")
    yield from build_world(world_database(request, tmp), tmp)


def _reads(env: object, name: str, seen: set[str]) -> set[str]:
    """Return every name ``name`` and the templates it imports or includes load (a superset of
    what they read from outside: blocks and macros included, unlike ``meta``'s own check)."""
    if name in seen:
        return set()
    seen.add(name)
    source = env.loader.get_source(env, name)[0]  # type: ignore[attr-defined]
    tree = env.parse(source)  # type: ignore[attr-defined]
    found = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    for other in meta.find_referenced_templates(tree):
        if other is not None:
            found |= _reads(env, other, seen)
    return found


@pytest.mark.parametrize("template", BODIES)
def test_a_kept_body_reads_nothing_of_the_request(world: World, template: str) -> None:
    assert _reads(world.app.jinja_env, template, set()) & PER_REQUEST == set()


def test_a_kept_fragment_reads_nothing_of_the_request_but_its_token(world: World) -> None:
    # The trends page's timeline is kept split around the CSRF token each request puts back.
    reads = _reads(world.app.jinja_env, "dashboard/_trends_events.html", set())
    assert "csrf_token" in reads and reads & (PER_REQUEST - {"csrf_token"}) == set()


def test_the_check_can_fail(world: World) -> None:
    # base.html reads the reader and a CSRF token: the same check finds them there.
    assert {"g", "csrf_token"} <= _reads(world.app.jinja_env, "base.html", set())


def test_readers_sharing_a_cut_each_see_only_themselves(world: World) -> None:
    with db.session_scope(world.app) as session:
        accounts.create_user(session, "hr2@example.org", "hr", PASSWORD)
        session.commit()
    other = world.app.test_client()
    assert (
        other.post("/login", data={"email": "hr2@example.org", "password": PASSWORD}).status_code
        == 302
    )
    hr = logged_in(world, "hr")
    for path in ("/dashboard", "/dashboard/trends", "/dashboard/heatmap", "/reports"):
        mine, theirs = hr.get(path), other.get(path)
        assert mine.status_code == theirs.status_code == 200
        assert mine.headers["Cache-Control"] == "no-store"
        assert world.emails["hr"] in mine.text and "hr2@example.org" not in mine.text
        assert "hr2@example.org" in theirs.text and world.emails["hr"] not in theirs.text
        tokens = [
            set(re.findall(r'name="csrf_token" value="([^"]+)"', r.text)) for r in (mine, theirs)
        ]
        assert not tokens[0] & tokens[1]


def test_a_new_action_and_a_new_name_show_at_once(world: World) -> None:
    hr = logged_in(world, "hr")
    assert "Board Q&amp;A every month" not in hr.get("/dashboard").text
    with db.session_scope(world.app) as session:
        program = session.get(Program, world.program_id)
        assert program is not None
        released = session.query(Round).filter_by(program_id=program.id).order_by(Round.number)
        actions.add_action(
            session,
            program,
            released.first(),
            world.theme,
            "Board Q&A every month",
            utcnow().date(),
        )
        session.commit()
    assert "Board Q&amp;A every month" in hr.get("/dashboard").text
    before = {path: hr.get(path).text for path in ("/dashboard", "/dashboard/trends", "/reports")}
    with db.session_scope(world.app) as session:
        program = session.get(Program, world.program_id)
        assert program is not None
        name, program.name = program.name, "Renamed pulse"
        session.commit()
    try:
        for path, page in before.items():
            assert "Renamed pulse" not in page
            assert "Renamed pulse" in hr.get(path).text
    finally:
        with db.session_scope(world.app) as session:
            program = session.get(Program, world.program_id)
            assert program is not None
            program.name = name
            session.commit()


def test_the_kept_timeline_carries_each_request_s_token_and_shows_events_at_once(
    world: World,
) -> None:
    hr = logged_in(world, "hr")
    token = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
    label = "Re-org of the kept timeline"
    first = hr.get("/dashboard/trends").text
    assert label not in first
    with hr.session_transaction() as cookie:
        cookie.pop("csrf_token", None)  # a new CSRF secret: the next page's token is new
    added = hr.post(
        f"/dashboard/{world.program_id}/events", data={"on": "2026-01-05", "label": label}
    )
    assert added.status_code == 302
    page = hr.get("/dashboard/trends").text
    assert label in page
    # The layout's logout form, every event's remove form and the add form: this request's.
    found = token.findall(page)
    assert len(found) == page.count('method="post"') >= 3 and len(set(found)) == 1
    assert not set(token.findall(first)) & set(found)
    remove = re.search(r'action="([^"]*/events/\d+/delete)"(?:(?!</form>).)*' + label, page, re.S)
    assert remove is not None
    assert hr.post(remove.group(1), data={}).status_code == 302
    assert f"Removed “{label}”" in hr.get("/dashboard/trends").text  # shown once, then gone
    assert label not in hr.get("/dashboard/trends").text


def test_the_kept_layout_follows_the_reader_and_shows_messages(world: World) -> None:
    """The base layout around a kept body is kept per reader: a changed role changes the menu
    at once, a message waiting to be shown once is shown (and then gone), and every page
    carries the logout form's token of its own request."""
    hr = logged_in(world, "hr")
    first = hr.get("/dashboard").text
    assert "Org &amp; roster" not in first and world.emails["hr"] in first
    with db.session_scope(world.app) as session:
        user = session.query(User).filter_by(email=world.emails["hr"]).one()
        user.role = Role.ADMIN
        session.commit()
    try:
        assert "Org &amp; roster" in hr.get("/dashboard").text
    finally:
        with db.session_scope(world.app) as session:
            user = session.query(User).filter_by(email=world.emails["hr"]).one()
            user.role = Role.HR
            session.commit()
    assert "Org &amp; roster" not in hr.get("/dashboard").text
    with hr.session_transaction() as cookie:
        cookie["_flashes"] = [("info", "Shown once, around a kept body.")]
    flashed = hr.get("/dashboard").text
    assert "Shown once, around a kept body." in flashed
    assert "Shown once" not in hr.get("/dashboard").text
    with hr.session_transaction() as cookie:
        cookie.pop("csrf_token", None)  # a new CSRF secret: the next page's token is new
    token = re.compile(r'name="csrf_token" value="([^"]+)"')
    before = token.findall(first)
    after = token.findall(hr.get("/dashboard").text)
    assert len(before) == len(after) == 1 and before != after
    assert first.count("<main") == 1 and "Overview" in first
