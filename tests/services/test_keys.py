"""The instance key fails closed: missing, exposed, malformed or wrong keys stop the app."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from typing import Any

import pytest

from survey import create_app, db
from survey.services import keys
from tests.conftest import make_config


@pytest.fixture
def instance(config: dict[str, Any]) -> dict[str, Any]:
    return config


def key_path(cfg: dict[str, Any]) -> str:
    return os.path.join(cfg["INSTANCE_PATH"], "candor.key")


def test_good_key_starts(instance: dict[str, Any]) -> None:
    app = create_app(instance)
    assert len(app.extensions["candor.kek"]) == 32


def test_missing_key_refuses(instance: dict[str, Any]) -> None:
    os.remove(key_path(instance))
    with pytest.raises(keys.InstanceKeyError, match="missing"):
        create_app(instance)
    assert not os.path.exists(key_path(instance)), "a key must never be created implicitly"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_readable_key_refuses(instance: dict[str, Any], mode: int) -> None:
    os.chmod(key_path(instance), mode)
    with pytest.raises(keys.InstanceKeyError, match="chmod 600"):
        create_app(instance)


def test_wrong_key_refuses(instance: dict[str, Any]) -> None:
    with open(key_path(instance), "wb") as handle:
        handle.write(base64.b64encode(os.urandom(32)))
    with pytest.raises(keys.InstanceKeyError, match="does not belong"):
        create_app(instance)


@pytest.mark.parametrize("content", [b"", b"not base64 at all!!", base64.b64encode(b"short")])
def test_malformed_key_refuses(instance: dict[str, Any], content: bytes) -> None:
    with open(key_path(instance), "wb") as handle:
        handle.write(content)
    with pytest.raises(keys.InstanceKeyError, match="not a Candor key"):
        create_app(instance)


def test_create_refuses_to_overwrite(instance: dict[str, Any]) -> None:
    app = create_app(instance)
    before = open(key_path(instance), "rb").read()
    with (
        db.session_scope(app) as session,
        pytest.raises(keys.InstanceKeyError, match="already exists"),
    ):
        keys.create_instance_key(session, key_path(instance))
    os.remove(key_path(instance))
    with db.session_scope(app) as session, pytest.raises(keys.InstanceKeyError, match="canary"):
        keys.create_instance_key(session, key_path(instance))
    assert not os.path.exists(key_path(instance)) or open(key_path(instance), "rb").read() != before


def test_key_file_mode(instance: dict[str, Any]) -> None:
    assert os.stat(key_path(instance)).st_mode & 0o777 == 0o600


def test_production_refuses_default_secret(tmp_path: Any) -> None:
    from survey.config import DEV_SECRET_KEY, ConfigError

    cfg = make_config(tmp_path, "sqlite://", SECRET_KEY=DEV_SECRET_KEY)
    # Everything else as production accepts it, so the refusal is about the key.
    cfg.update(
        CANDOR_ENV="production",
        TESTING=False,
        WTF_CSRF_ENABLED=True,
        PUBLIC_URL="https://candor.test",
    )
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(cfg)


def _run(
    args: list[str], env: dict[str, str], cwd: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120
    )


def test_cli_and_wsgi_exit_with_one_sentence(tmp_path: Any) -> None:
    """`candor check` and importing app.py fail with a plain message and non-zero exit."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "CANDOR_INSTANCE_PATH": str(tmp_path / "inst")}
    candor = os.path.join(os.path.dirname(sys.executable), "candor")
    init = _run([candor, "init", "--password-stdin"], env, root, "a long enough password\n")
    assert init.returncode == 0, init.stderr
    again = _run([candor, "init", "--password-stdin"], env, root, "a long enough password\n")
    assert again.returncode != 0 and "will not overwrite" in again.stderr
    assert _run([candor, "check"], env, root).returncode == 0
    os.chmod(tmp_path / "inst" / "candor.key", 0o644)
    check = _run([candor, "check"], env, root)
    assert check.returncode == 1 and "chmod 600" in check.stderr and "Traceback" not in check.stderr
    os.remove(tmp_path / "inst" / "candor.key")
    check = _run([candor, "check"], env, root)
    assert check.returncode == 1 and "missing" in check.stderr
    assert not (tmp_path / "inst" / "candor.key").exists()
    wsgi = _run([sys.executable, "-c", "import app"], env, root)
    assert wsgi.returncode != 0 and "InstanceKeyError" in wsgi.stderr and "missing" in wsgi.stderr
