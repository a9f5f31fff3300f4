"""Configuration: documented defaults, and a check that refuses unsafe production settings.

Order (later wins): the defaults below, ``instance/config.py``, ``CANDOR_*`` environment
variables (and the conventional ``DATABASE_URL``, which ``CANDOR_DATABASE_URL`` overrides), then the
``test_config`` passed to :func:`survey.create_app`.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"  # noqa: S105 - refused in production
MIN_SECRET_KEY_LENGTH = 32
# The session cookie's name; over https it gets the ``__Host-`` prefix, which browsers accept
# only from a secure origin, with Path=/ and no Domain, so no sibling host can plant or read it.
SESSION_COOKIE = "candor_session"
SECURE_COOKIE_PREFIX = "__Host-"
# Host names a development instance also answers to, besides PUBLIC_URL's.
DEVELOPMENT_HOSTS = ("localhost", "127.0.0.1")
# Environment variables read under their ecosystem-wide name too; the CANDOR_ one wins.
CONVENTIONAL_ENV = ("DATABASE_URL",)

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
    # Host names the app answers to; any other Host header gets a 400. None means PUBLIC_URL's
    # host (in development also localhost and 127.0.0.1). Flask enforces it.
    "TRUSTED_HOSTS": None,
    # Staff login: failures before a lock, and the lock's length in minutes.
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCK_MINUTES": 15,
    "STAFF_SESSION_HOURS": 8,
    # Argon2id cost of staff password hashes; production refuses less than OWASP's minimum.
    "ARGON2_TIME_COST": 2,
    "ARGON2_MEMORY_KIB": 19 * 1024,
    # A staff session also ends after this many minutes without a request.
    "STAFF_IDLE_MINUTES": 30,
    # Where rendered charts are cached (empty means instance/cache).
    "CHART_CACHE_DIR": "",
    "WTF_CSRF_TIME_LIMIT": None,
    "MAX_CONTENT_LENGTH": 256 * 1024,
    # Email: "smtp" sends through SMTP_HOST, upgrading with STARTTLS unless SMTP_STARTTLS is
    # off; "file" writes each message to MAIL_OUTBOX_DIR (empty means instance/outbox), which
    # production refuses. Empty means "file" in development and, in production, no mail at
    # all: the app starts, and sending says what to set.
    "MAIL_BACKEND": "",
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
    "TRUSTED_HOSTS": list,
    "LOGIN_MAX_FAILURES": int,
    "LOGIN_LOCK_MINUTES": int,
    "STAFF_SESSION_HOURS": int,
    "STAFF_IDLE_MINUTES": int,
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
    """Return the settings given as ``CANDOR_<NAME>`` environment variables.

    A setting in :data:`CONVENTIONAL_ENV` is also read from its plain name (``DATABASE_URL``),
    which the ``CANDOR_`` variable overrides.
    """
    found: dict[str, Any] = {}
    for name, kind in ENV_TYPES.items():
        var = name if name.startswith("CANDOR_") else f"CANDOR_{name}"
        if var not in environ and name in CONVENTIONAL_ENV and name in environ:
            var = name
        if var in environ:
            try:
                if kind is bool:  # bool("false") is True, so booleans are read by word
                    found[name] = BOOLEAN_WORDS[environ[var].strip().lower()]
                elif kind is list:  # comma-separated
                    found[name] = [part.strip() for part in environ[var].split(",") if part.strip()]
                else:
                    found[name] = kind(environ[var])
            except (KeyError, ValueError) as exc:
                raise ConfigError(f"{var} must be a {kind.__name__}, got {environ[var]!r}") from exc
    return found


def display_url(url: str) -> str:
    """Return a database URL fit to print or log: the password, if any, is masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(a DATABASE_URL that cannot be read)"


def is_loopback(host: str) -> bool:
    """Return whether ``host`` names this machine (``localhost`` or a loopback address)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    if not config["MAIL_BACKEND"] and config["CANDOR_ENV"] == "development":
        config["MAIL_BACKEND"] = "file"
    public = urlsplit(config["PUBLIC_URL"])
    secure = public.scheme == "https"
    if secure:  # Flask's own default is False, so this must be an assignment
        config["SESSION_COOKIE_SECURE"] = True
        config["SESSION_COOKIE_PATH"] = "/"  # the __Host- prefix requires Path=/
    config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME=(SECURE_COOKIE_PREFIX if secure else "") + SESSION_COOKIE,
    )
    if config.get("TRUSTED_HOSTS") is None:
        hosts = [public.hostname] if public.hostname else []
        if config["CANDOR_ENV"] == "development":
            hosts += [host for host in DEVELOPMENT_HOSTS if host not in hosts]
        config["TRUSTED_HOSTS"] = hosts


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
    if str(config["DATABASE_URL"]).startswith("postgresql") and not importlib.util.find_spec(
        "psycopg"
    ):
        raise ConfigError(
            "DATABASE_URL names PostgreSQL but its driver is not installed: "
            "pip install 'candor[postgresql]'."
        )
    if config["CANDOR_ENV"] == "production":
        refuse_unsafe_production(config)


def refuse_unsafe_production(config: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` for a setting that must never face the network."""
    for flag in ("DEBUG", "TESTING"):
        if config.get(flag):
            raise ConfigError(
                f"{flag} is on, which production refuses: turn it off, or set "
                "CANDOR_ENV=development on a machine nobody else can reach."
            )
    if not config.get("WTF_CSRF_ENABLED", True):
        raise ConfigError("WTF_CSRF_ENABLED is off, which production refuses: remove it.")
    if config["ARGON2_TIME_COST"] < 2 or config["ARGON2_MEMORY_KIB"] < 19 * 1024:
        raise ConfigError(
            "ARGON2_TIME_COST/ARGON2_MEMORY_KIB are below OWASP's minimum (2 and 19456), "
            "which production refuses: remove them."
        )
    if config["MAIL_BACKEND"] == "file":
        raise ConfigError(
            "MAIL_BACKEND is 'file', which production refuses: the file outbox keeps live "
            "survey links on disk; use SMTP in production, or CANDOR_ENV=development for a trial."
        )
    public = urlsplit(str(config["PUBLIC_URL"]))
    if public.scheme == "http" and not is_loopback(public.hostname or ""):
        raise ConfigError(
            f"PUBLIC_URL {config['PUBLIC_URL']!r} is plain http on a host other than this "
            "machine, which production refuses: serve it over https and give an https:// URL."
        )
    if not config.get("TRUSTED_HOSTS"):
        raise ConfigError(
            "TRUSTED_HOSTS is empty, so any Host header would be served, which production "
            "refuses: list the host names this instance answers to (CANDOR_TRUSTED_HOSTS)."
        )
