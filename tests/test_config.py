"""Configuration by convention, and the production refusals, one by one."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from survey import config, create_app
from tests.conftest import SECRET, make_config
from tests.helpers import SAFE_PRODUCTION


def _production(tmp_path: Path, **spoil: Any) -> dict[str, Any]:
    return {**make_config(tmp_path / "inst", "sqlite://"), **SAFE_PRODUCTION, **spoil}


def _dispose(app: Flask) -> None:
    app.extensions["candor.engine"].dispose()


def test_safe_production_settings_start(tmp_path: Path) -> None:
    app = create_app(_production(tmp_path), check_key=False)
    assert app.config["TRUSTED_HOSTS"] == ["candor.example.org"]
    _dispose(app)


@pytest.mark.parametrize(
    ("spoil", "refusal"),
    [
        ({"DEBUG": True}, "DEBUG is on"),
        ({"TESTING": True}, "TESTING is on"),
        ({"WTF_CSRF_ENABLED": False}, "WTF_CSRF_ENABLED is off"),
        ({"PUBLIC_URL": "http://candor.example.org"}, "plain http"),
        ({"PUBLIC_URL": "http://10.0.0.7:8000"}, "plain http"),
        ({"TRUSTED_HOSTS": []}, "TRUSTED_HOSTS is empty"),
        ({"CUSTODIAN_SCRYPT_N": 2**16}, "CUSTODIAN_SCRYPT_N is below OWASP"),
    ],
)
def test_production_refuses(tmp_path: Path, spoil: dict[str, Any], refusal: str) -> None:
    # check_key=False is how the `candor` command builds the app: the refusals hold there too.
    for check_key in (False, True):
        with pytest.raises(config.ConfigError, match=refusal) as caught:
            create_app(_production(tmp_path, **spoil), check_key=check_key)
        message = str(caught.value)
        assert message.count(". ") == 0 and message.endswith("."), message  # one sentence


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:5000", "http://localhost:8000", "http://[::1]:5000"]
)
def test_production_allows_plain_http_on_loopback(tmp_path: Path, url: str) -> None:
    _dispose(create_app(_production(tmp_path, PUBLIC_URL=url), check_key=False))


def test_development_allows_the_test_settings(tmp_path: Path) -> None:
    cfg = make_config(tmp_path / "inst", "sqlite://")
    assert cfg["CANDOR_ENV"] == "development" and cfg["TESTING"] and not cfg["WTF_CSRF_ENABLED"]
    app = create_app(cfg, check_key=False)
    assert app.config["TRUSTED_HOSTS"] == ["candor.test", "localhost", "127.0.0.1"]
    _dispose(app)


def test_refusal_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    env = _clean_env(
        CANDOR_INSTANCE_PATH=str(tmp_path / "inst"),
        CANDOR_PUBLIC_URL="http://candor.example.org",
    )
    candor = os.path.join(os.path.dirname(sys.executable), "candor")
    result = subprocess.run(
        [candor, "check"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "plain http" in result.stderr
    assert not (tmp_path / "inst").exists()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"DATABASE_URL": "postgresql://a@db/x"}, "postgresql://a@db/x"),
        ({"CANDOR_DATABASE_URL": "sqlite:///c.db"}, "sqlite:///c.db"),
        (
            {"DATABASE_URL": "postgresql://a@db/x", "CANDOR_DATABASE_URL": "sqlite:///c.db"},
            "sqlite:///c.db",
        ),
        ({}, None),
    ],
)
def test_database_url_from_the_environment(environ: dict[str, str], expected: str | None) -> None:
    assert config.from_environment(environ).get("DATABASE_URL") == expected


def test_plain_database_url_overrides_the_instance_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = tmp_path / "inst"
    instance.mkdir()
    (instance / "config.py").write_text(f"DATABASE_URL = 'sqlite:///{tmp_path}/file.db'\n")
    monkeypatch.delenv("CANDOR_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/env.db")
    cfg = make_config(instance, "unused")
    del cfg["DATABASE_URL"]
    app = create_app(cfg, check_key=False)
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path}/env.db"
    _dispose(app)


def test_trusted_hosts_from_the_environment() -> None:
    found = config.from_environment({"CANDOR_TRUSTED_HOSTS": "a.example, .b.example,"})
    assert found["TRUSTED_HOSTS"] == ["a.example", ".b.example"]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://candor:s3cret@db.internal:5432/candor",
            "postgresql://candor:***@db.internal:5432/candor",
        ),
        ("postgresql://candor@db.internal/candor", "postgresql://candor@db.internal/candor"),
        ("sqlite:////srv/candor/instance/candor.db", "sqlite:////srv/candor/instance/candor.db"),
        ("not a url", "(a DATABASE_URL that cannot be read)"),
    ],
)
def test_database_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert config.display_url(url) == shown


def test_postgresql_without_its_driver_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(config.ConfigError, match=r"candor\[postgresql\]"):
        config.validate({**make_config(tmp_path, "postgresql://x@db/candor"), "KEY_FILE": ""})


def test_init_and_check_name_the_instance_and_database(tmp_path: Path, database_url: str) -> None:
    cfg = make_config(tmp_path / "inst", database_url)
    app = create_app(cfg, check_key=False)
    runner = app.test_cli_runner()
    init = runner.invoke(args=["candor", "init", "--password-stdin"], input="a long password!\n")
    assert init.exit_code == 0, init.output
    shown = config.display_url(database_url)
    assert f"Instance folder: {tmp_path / 'inst'}" in init.output and shown in init.output
    check = runner.invoke(args=["candor", "check"])
    assert check.exit_code == 0, check.output
    assert str(tmp_path / "inst") in check.output and shown in check.output
    _dispose(app)


def test_start_up_log_names_the_database_without_password(
    config_env: tuple[dict[str, str], str],
) -> None:
    env, password = config_env
    result = _served(env, "import survey.wsgi")
    shown = config.display_url(env["CANDOR_DATABASE_URL"])
    assert f"database {shown}" in result.stderr and env["CANDOR_INSTANCE_PATH"] in result.stderr
    assert not password or password not in result.stderr


def test_the_served_app_is_frozen_out_of_the_garbage_collector(
    config_env: tuple[dict[str, str], str],
) -> None:
    """What the worker loaded is in the permanent generation, so no full collection walks it
    mid-request; objects made afterwards are still collected."""
    env, _ = config_env
    probe = (
        "import gc, survey.wsgi\n"
        "frozen = gc.get_freeze_count()\n"
        "class Cycle: pass\n"
        "a = Cycle(); a.me = a; del a\n"
        "print(frozen, gc.collect())"
    )
    frozen, collected = (int(part) for part in _served(env, probe).stdout.split())
    assert frozen > 10_000 and collected >= 1


def _served(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (which imports the served app) in a fresh interpreter; it must succeed."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=env["CANDOR_INSTANCE_PATH"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def config_env(config: dict[str, Any]) -> tuple[dict[str, str], str]:
    """Return the environment of the initialised instance ``config``, in production, and the
    database password it carries (PostgreSQL here trusts loopback, so any password works)."""
    url = make_url(config["DATABASE_URL"])
    password = ""
    if url.get_backend_name() == "postgresql":
        password = "not-shown-anywhere"
        url = url.set(password=password)
    env = _clean_env(
        CANDOR_INSTANCE_PATH=config["INSTANCE_PATH"],
        CANDOR_DATABASE_URL=url.render_as_string(hide_password=False),
        CANDOR_SECRET_KEY=SECRET,
    )
    return env, password


def _clean_env(**settings: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CANDOR_", "FLASK_")) and k != "DATABASE_URL"
    }
    return {**env, **settings}
