"""Access tests generated from ``app.url_map`` and the policy table (survey.domain.access).

Every route must have a decision in the table, and every role must get what the table says:
a page or a redirect where it is allowed (never a 404 standing in for "allowed"), 403 where a
staff role is not, and the login page for a visitor without a session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from survey.domain import access
from survey.models import Role
from tests.web.world import World, build_world, logged_in, world_database

ROLES: dict[str, Role | None] = {
    "anon": None,
    "admin": Role.ADMIN,
    "hr": Role.HR,
    "leader": Role.LEADER,
    "manager_alpha": Role.MANAGER,
}
# Answers that show the request got past authorisation to its view. An empty POST may be
# refused by the view as incomplete (400): that is the view speaking, not the policy.
GRANTED = {"GET": {200, 302, 303}, "POST": {200, 302, 303, 400}}
# Routes that answer everyone alike without what only a real visit carries: single sign-on
# exists only with a provider configured, and a check-in without a valid link gets the
# survey's one answer for unknown links. Each must still never be a 403 or the login page.
SAME_FOR_EVERYONE = {"sso.start": 404, "sso.callback": 404, "employee.check_in": 404}
# A manager's sample unit is their own (the scope, not the policy, refuses other units).
OWN_UNIT = {"manager_alpha": "Alpha"}
# Routes that end the client's session: log in again after each.
ENDS_SESSION = {"auth.logout", "auth.logout_everywhere"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("access")
    yield from build_world(world_database(request, tmp), tmp)


def sample_values(world: World, rule: Rule, role: str) -> dict[str, Any]:
    """Return argument values that name real things, so an allowed role gets a real answer."""
    survey = rule.endpoint.startswith("employee.")
    values: dict[str, Any] = {
        "program_id": world.program_id,
        "round_id": world.open_round if survey else world.released_round,
        "number": 1,
        "unit_id": world.units[OWN_UNIT.get(role, "Lab")],
        "theme": world.theme,
        "fmt": "svg",
        "key": "core-v1",
        "key_id": world.ballot_key,
        "token": world.open_token if survey else world.spare_link,
        "event_id": world.event_id,
        "action_id": 1,
        "user_id": world.spare_id,
        "person_id": 1,
        "change": "return",
        "kind": "reminder",
        "filename": "candor.css",
        # a released round cannot be closed again: refused, with a redirect
        "action": "logout" if rule.endpoint == "accounts.change" else "close",
    }
    return {name: values[name] for name in rule.arguments}


def test_every_route_has_a_decision(world: World) -> None:
    endpoints = {rule.endpoint for rule in world.app.url_map.iter_rules()}
    undecided = sorted(e for e in endpoints if access.audience(e) is None)
    assert not undecided, f"add these endpoints to survey.domain.access.POLICY: {undecided}"
    assert not set(access.POLICY) - endpoints, "the policy names endpoints that do not exist"


def test_every_role_gets_what_the_table_says(world: World) -> None:
    clients = {role: logged_in(world, role) for role in ROLES}
    wrong: list[str] = []
    rules = sorted(world.app.url_map.iter_rules(), key=lambda r: (r.endpoint, r.rule))
    checked = 0
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for role, role_value in ROLES.items():
                url = _build(world, rule, role)
                response = clients[role].open(url, method=method, data={})
                checked += 1
                verdict = _judge(rule.endpoint, method, role_value, response)
                if verdict:
                    wrong.append(f"{role} {method} {url}: {verdict}")
                if rule.endpoint in ENDS_SESSION and role != "anon":
                    clients[role] = logged_in(world, role)
    assert not wrong, "\n".join(wrong)
    assert checked > 5 * len(rules)  # every rule, every role (and both methods where two)


def _build(world: World, rule: Rule, role: str) -> str:
    adapter = world.app.url_map.bind("candor.test")
    return str(adapter.build(rule.endpoint, sample_values(world, rule, role)))


def _judge(endpoint: str, method: str, role: Role | None, response: Any) -> str:
    """Return what is wrong with ``response``, or the empty string."""
    status = response.status_code
    location = response.headers.get("Location", "")
    to_login = status in (302, 303) and location.startswith("/login")
    if endpoint in SAME_FOR_EVERYONE:
        expected = SAME_FOR_EVERYONE[endpoint]
        return "" if status == expected else f"{status}, expected {expected} for everyone"
    if access.may_open(role, endpoint):
        if endpoint == "auth.login" or not to_login:
            return "" if status in GRANTED[method] else f"{status}, expected access"
        return "sent to the login page, expected access"
    if role is None:
        return "" if to_login else f"{status}, expected the login page"
    return "" if status == 403 else f"{status}, expected 403"


def test_a_refused_role_sees_nothing_of_the_page(world: World) -> None:
    client: FlaskClient = logged_in(world, "leader")
    response = client.get("/admin/accounts/")
    assert response.status_code == 403
    assert b"spare@example.org" not in response.data
