"""Which role an ID token's claim maps to (no provider or database needed)."""

from __future__ import annotations

from typing import Any

import pytest

from survey.models import Role
from survey.services import sso

MAP = {"candor-admins": "admin", "candor-hr": "hr", "leads": "leader", "managers": "manager"}


def settings(claim: str = "groups") -> sso.Settings:
    return sso.Settings(
        issuer="https://id.example.org",
        client_id="candor",
        client_secret="s",
        scopes="openid",
        role_claim=claim,
        role_map=MAP,
        provider_name="SSO",
        timeout=1.0,
    )


@pytest.mark.parametrize(
    ("claim", "claims", "role"),
    [
        ("groups", {"groups": ["staff", "candor-hr"]}, Role.HR),
        ("groups", {"groups": "leads"}, Role.LEADER),
        # several mapped values: the strongest role wins, whatever their order
        ("groups", {"groups": ["managers", "candor-admins", "candor-hr"]}, Role.ADMIN),
        ("groups", {"groups": ["staff"]}, None),
        ("groups", {"groups": []}, None),
        ("groups", {}, None),
        ("groups", {"groups": {"candor-admins": True}}, None),  # not a string or a list
        ("groups", {"groups": [["candor-admins"]]}, None),
        ("realm_access.roles", {"realm_access": {"roles": ["managers"]}}, Role.MANAGER),
        ("realm_access.roles", {"realm_access": ["candor-admins"]}, None),
        ("realm_access.roles", {"roles": ["candor-admins"]}, None),
    ],
)
def test_mapped_role(claim: str, claims: dict[str, Any], role: Role | None) -> None:
    assert sso.mapped_role(settings(claim), claims) is role


def test_the_precedence_names_every_role() -> None:
    assert set(sso.ROLE_PRECEDENCE) == set(Role)
