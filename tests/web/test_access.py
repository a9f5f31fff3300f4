"""Every role against every route: who may see what."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import OpenRound, login

# (method, path, allowed roles). "anon" means not logged in.
ROUTES = [
    ("GET", "/dashboard", {"admin", "hr"}),
    ("GET", "/charts/trend/1/{lab}/morale.png", {"admin", "hr", "leader"}),
    ("GET", "/reports", {"admin", "hr", "leader"}),
    ("GET", "/export/1.csv", {"admin", "hr", "leader"}),
    ("GET", "/admin/", {"admin"}),
    ("POST", "/admin/programs/1/rounds", {"admin"}),
    ("POST", "/admin/rounds/{round}/close", {"admin"}),
]
ROLES = ["anon", "leader", "hr", "admin"]


@pytest.mark.parametrize(("method", "path", "allowed"), ROUTES)
@pytest.mark.parametrize("role", ROLES)
def test_role_route_matrix(
    app: Flask,
    client: FlaskClient,
    open_round: OpenRound,
    method: str,
    path: str,
    allowed: set[str],
    role: str,
) -> None:
    if role != "anon":
        login(client, role)
    url = path.format(lab=open_round.units["Lab"], round=open_round.round_id)
    response = client.open(url, method=method)
    if role == "anon":
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    elif role in allowed:
        # Charts of a round not yet released do not exist: 404 is access granted, nothing to show.
        assert response.status_code in (200, 302, 404), (role, url, response.status_code)
        assert response.status_code != 403
    else:
        assert response.status_code == 403, (role, url)


@pytest.mark.parametrize("path", ["/", "/privacy", "/login"])
def test_public_pages(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 200
