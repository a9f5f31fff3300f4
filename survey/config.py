"""Configuration: documented defaults, and a check that refuses unsafe production settings.

Order (later wins): the defaults below, ``instance/config.py``, ``CANDOR_*`` environment
variables, then the ``test_config`` passed to :func:`survey.create_app`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"  # noqa: S105 - refused in production
MIN_SECRET_KEY_LENGTH = 32

DEFAULTS: dict[str, Any] = {
    # "production" refuses the development secret key; "development" allows it.
    "CANDOR_ENV": "production",
    "SECRET_KEY": DEV_SECRET_KEY,
    # Empty means SQLite at instance/candor.db.
    "DATABASE_URL": "",
    # Empty means instance/candor.key.
    "KEY_FILE": "",
    # Base of the links put in invitations.
    "PUBLIC_URL": "http://127.0.0.1:5000",
    # Staff login: failures before a lock, and the lock's length in minutes.
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCK_MINUTES": 15,
    "STAFF_SESSION_HOURS": 8,
    # Where rendered charts are cached (empty means instance/cache).
    "CHART_CACHE_DIR": "",
    "WTF_CSRF_TIME_LIMIT": None,
    "MAX_CONTENT_LENGTH": 256 * 1024,
    # Email: "file" writes each message to MAIL_OUTBOX_DIR (empty means instance/outbox);
    # "smtp" sends through SMTP_HOST, upgrading with STARTTLS unless SMTP_STARTTLS is off.
    "MAIL_BACKEND": "file",
    "MAIL_OUTBOX_DIR": "",
    "MAIL_FROM": "",
    "SMTP_HOST": "",
    "SMTP_PORT": 587,
    "SMTP_STARTTLS": True,
    "SMTP_USERNAME": "",
    "SMTP_PASSWORD": "",
    "SMTP_TIMEOUT": 30.0,
}
# Settings that may come from the environment, and how to read them.
ENV_TYPES: dict[str, type] = {
    "CANDOR_ENV": str,
    "SECRET_KEY": str,
    "DATABASE_URL": str,
    "KEY_FILE": str,
    "PUBLIC_URL": str,
    "LOGIN_MAX_FAILURES": int,
    "LOGIN_LOCK_MINUTES": int,
    "STAFF_SESSION_HOURS": int,
    "CHART_CACHE_DIR": str,
    "MAIL_BACKEND": str,
    "MAIL_OUTBOX_DIR": str,
    "MAIL_FROM": str,
    "SMTP_HOST": str,
    "SMTP_PORT": int,
    "SMTP_STARTTLS": bool,
    "SMTP_USERNAME": str,
    "SMTP_PASSWORD": str,
    "SMTP_TIMEOUT": float,
}
# How a boolean setting may be spelled in the environment.
BOOLEAN_WORDS = dict.fromkeys(("1", "true", "yes", "on"), True) | dict.fromkeys(
    ("0", "false", "no", "off"), False
)


class ConfigError(RuntimeError):
    """Raised when the configuration is unsafe or inconsistent; the message says what to fix."""


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Return the settings given as ``CANDOR_<NAME>`` environment variables."""
    found: dict[str, Any] = {}
    for name, kind in ENV_TYPES.items():
        var = name if name.startswith("CANDOR_") else f"CANDOR_{name}"
        if var in environ:
            try:
                if kind is bool:  # bool("false") is True, so booleans are read by word
                    found[name] = BOOLEAN_WORDS[environ[var].strip().lower()]
                else:
                    found[name] = kind(environ[var])
            except (KeyError, ValueError) as exc:
                raise ConfigError(f"{var} must be a {kind.__name__}, got {environ[var]!r}") from exc
    return found


def finish(config: dict[str, Any], instance_path: str) -> None:
    """Fill in the paths that default to the instance folder and derived cookie settings."""
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = "sqlite:///" + os.path.join(instance_path, "candor.db")
    if not config["KEY_FILE"]:
        config["KEY_FILE"] = os.path.join(instance_path, "candor.key")
    if not config["CHART_CACHE_DIR"]:
        config["CHART_CACHE_DIR"] = os.path.join(instance_path, "cache")
    if not config["MAIL_OUTBOX_DIR"]:
        config["MAIL_OUTBOX_DIR"] = os.path.join(instance_path, "outbox")
    secure = urlsplit(config["PUBLIC_URL"]).scheme == "https"
    if secure:  # Flask's own default is False, so this must be an assignment
        config["SESSION_COOKIE_SECURE"] = True
    config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="candor_session",
    )


def validate(config: Mapping[str, Any], require_secret: bool = True) -> None:
    """Raise :class:`ConfigError` if the configuration is unsafe to run with."""
    if config["CANDOR_ENV"] not in ("production", "development"):
        raise ConfigError("CANDOR_ENV must be 'production' or 'development'.")
    if require_secret and config["CANDOR_ENV"] == "production" and not config.get("TESTING"):
        key = str(config["SECRET_KEY"])
        if key == DEV_SECRET_KEY or len(key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                "SECRET_KEY is the development default or shorter than "
                f"{MIN_SECRET_KEY_LENGTH} characters; run `candor init` or set CANDOR_SECRET_KEY."
            )
    parts = urlsplit(str(config["PUBLIC_URL"]))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"PUBLIC_URL must be an http(s) URL, got {config['PUBLIC_URL']!r}.")
