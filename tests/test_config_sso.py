"""Single sign-on settings: the role map, the secret file, and the refusals one by one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from survey import config, create_app
from tests.conftest import make_config
from tests.helpers import SAFE_PRODUCTION  # the one configuration production accepts

SSO = {
    "OIDC_ISSUER": "https://id.example.org/realms/staff",
    "OIDC_CLIENT_ID": "candor",
    "OIDC_CLIENT_SECRET": "s3cret",
    "OIDC_ROLE_MAP": "candor-admins=admin, candor-hr=hr",
}


def _production(tmp_path: Path, **settings: Any) -> dict[str, Any]:
    return {**make_config(tmp_path / "inst", "sqlite://"), **SAFE_PRODUCTION, **settings}


def _settings(**changes: Any) -> dict[str, Any]:
    settings = {**config.DEFAULTS, **SAFE_PRODUCTION, **SSO, **changes}
    config.finish_sso(settings)
    return settings


def test_the_role_map_reads_from_the_environment_or_a_dict() -> None:
    assert _settings()["OIDC_ROLE_MAP"] == {"candor-admins": "admin", "candor-hr": "hr"}
    assert _settings(OIDC_ROLE_MAP={"g": "leader"})["OIDC_ROLE_MAP"] == {"g": "leader"}
    found = config.from_environment({"CANDOR_OIDC_ROLE_MAP": "a=admin", "CANDOR_SSO_ONLY": "yes"})
    assert found == {"OIDC_ROLE_MAP": "a=admin", "SSO_ONLY": True}


@pytest.mark.parametrize(
    ("value", "refusal"),
    [
        ("candor-admins=root", "roles are"),
        ("candor-admins", "must read 'value=role"),
        ("=admin", "must read 'value=role"),
        (["admin"], "must be a dict"),
    ],
)
def test_a_bad_role_map_is_refused(value: object, refusal: str) -> None:
    with pytest.raises(config.ConfigError, match=refusal):
        _settings(OIDC_ROLE_MAP=value)


def test_the_secret_may_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "oidc-secret"
    secret.write_text("from-a-file\n")
    settings = _settings(OIDC_CLIENT_SECRET="", OIDC_CLIENT_SECRET_FILE=str(secret))
    assert settings["OIDC_CLIENT_SECRET"] == "from-a-file"
    with pytest.raises(config.ConfigError, match="not both"):
        _settings(OIDC_CLIENT_SECRET_FILE=str(secret))
    with pytest.raises(config.ConfigError, match="cannot be read"):
        _settings(OIDC_CLIENT_SECRET="", OIDC_CLIENT_SECRET_FILE=str(tmp_path / "missing"))


@pytest.mark.parametrize(
    ("spoil", "refusal"),
    [
        ({"OIDC_ISSUER": "http://id.example.org"}, "plain http"),
        ({"OIDC_ISSUER": "id.example.org"}, "must be an http"),
        ({"OIDC_CLIENT_ID": ""}, "OIDC_CLIENT_ID is empty"),
        ({"OIDC_CLIENT_SECRET": ""}, "OIDC_CLIENT_SECRET is empty"),
        ({"OIDC_ROLE_MAP": ""}, "OIDC_ROLE_MAP is empty"),
        ({"OIDC_ROLE_CLAIM": ""}, "OIDC_ROLE_CLAIM is empty"),
        ({"OIDC_SCOPES": "email profile"}, "must include 'openid'"),
        ({"SSO_ONLY": True}, "SSO_ONLY needs BREAK_GLASS_ADMIN"),
        ({"SSO_ONLY": True, "OIDC_ISSUER": "", "BREAK_GLASS_ADMIN": "a@x.org"}, "nobody"),
    ],
)
def test_production_refuses_unsafe_sso(tmp_path: Path, spoil: dict[str, Any], refusal: str) -> None:
    with pytest.raises(config.ConfigError, match=refusal):
        create_app(_production(tmp_path, **{**SSO, **spoil}), check_key=False)


def test_safe_sso_settings_start_and_loopback_http_is_allowed(tmp_path: Path) -> None:
    for issuer in (SSO["OIDC_ISSUER"], "http://127.0.0.1:8080"):
        app = create_app(
            _production(
                tmp_path,
                **{**SSO, "OIDC_ISSUER": issuer},
                SSO_ONLY=True,
                BREAK_GLASS_ADMIN=" Root@X.org",
            ),
            check_key=False,
        )
        assert app.config["BREAK_GLASS_ADMIN"] == "root@x.org"
        app.extensions["candor.engine"].dispose()
