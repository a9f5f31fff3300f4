"""Public pages. Who may open every other route is tested from ``app.url_map`` and the policy
table in tests/web/test_access_policy.py (which replaced the hand-written role matrix here)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient


@pytest.mark.parametrize("path", ["/", "/privacy", "/login"])
def test_public_pages(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 200
