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

from .domain.custody import SCRYPT_N

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
    # Staff login throttling (survey/services/throttle.py), shared by every worker and host:
    # failures in a window at full speed, per account and per client address; after that each
    # failure doubles the wait before the next attempt, up to LOGIN_MAX_DELAY_SECONDS. A
    # client is refused outright after LOGIN_CLIENT_MAX_FAILURES until its window ends; an
    # account never is, so the right password works after at most the longest wait.
    "LOGIN_ACCOUNT_FREE_FAILURES": 5,
    "LOGIN_CLIENT_FREE_FAILURES": 10,
    "LOGIN_CLIENT_MAX_FAILURES": 20,
    "LOGIN_MAX_DELAY_SECONDS": 30,
    "LOGIN_WINDOW_MINUTES": 15,
    # Proxies in front of the app whose X-Forwarded-For is trusted for the client address
    # (0: none, the connection's address is the client). Behind one reverse proxy, set 1.
    "TRUSTED_PROXIES": 0,
    # How long a staff set-password link (invitation or reset) works.
    "ACCOUNT_LINK_HOURS": 72,
    "STAFF_SESSION_HOURS": 8,
    # Argon2id cost of staff password hashes; production refuses less than OWASP's minimum.
    "ARGON2_TIME_COST": 2,
    "ARGON2_MEMORY_KIB": 19 * 1024,
    # scrypt cost (N; r=8, p=1) of custodian passphrases; production refuses less than OWASP's.
    "CUSTODIAN_SCRYPT_N": SCRYPT_N,
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
    # --- single sign-on (OpenID Connect; survey/services/sso.py) ---
    # The provider's issuer URL; empty turns single sign-on off.
    "OIDC_ISSUER": "",
    "OIDC_CLIENT_ID": "",
    # The client secret, or a file holding it (not both); the file is read at start.
    "OIDC_CLIENT_SECRET": "",
    "OIDC_CLIENT_SECRET_FILE": "",
    "OIDC_SCOPES": "openid email profile",
    # The ID-token claim whose value(s) give the role (a dotted path reaches into objects,
    # e.g. "realm_access.roles"), and which values mean which role: a dict, or in the
    # environment "candor-admins=admin,candor-hr=hr".
    "OIDC_ROLE_CLAIM": "groups",
    "OIDC_ROLE_MAP": {},
    # What the login page calls the provider ("Log in with ...").
    "OIDC_PROVIDER_NAME": "single sign-on",
    # Seconds to wait for the provider before saying it cannot be reached.
    "OIDC_TIMEOUT": 10.0,
    # Password login off, except for the one admin account named by BREAK_GLASS_ADMIN.
    "SSO_ONLY": False,
    "BREAK_GLASS_ADMIN": "",
}
# Settings that may come from the environment, and how to read them.
ENV_TYPES: dict[str, type] = {
    "CANDOR_ENV": str,
    "SECRET_KEY": str,
    "DATABASE_URL": str,
    "KEY_FILE": str,
    "PUBLIC_URL": str,
    "TRUSTED_HOSTS": list,
    "LOGIN_ACCOUNT_FREE_FAILURES": int,
    "LOGIN_CLIENT_FREE_FAILURES": int,
    "LOGIN_CLIENT_MAX_FAILURES": int,
    "LOGIN_MAX_DELAY_SECONDS": int,
    "LOGIN_WINDOW_MINUTES": int,
    "TRUSTED_PROXIES": int,
    "ACCOUNT_LINK_HOURS": int,
    "STAFF_SESSION_HOURS": int,
    "STAFF_IDLE_MINUTES": int,
    "CUSTODIAN_SCRYPT_N": int,
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
    "OIDC_ISSUER": str,
    "OIDC_CLIENT_ID": str,
    "OIDC_CLIENT_SECRET": str,
    "OIDC_CLIENT_SECRET_FILE": str,
    "OIDC_SCOPES": str,
    "OIDC_ROLE_CLAIM": str,
    "OIDC_ROLE_MAP": str,  # parsed by finish_sso
    "OIDC_PROVIDER_NAME": str,
    "OIDC_TIMEOUT": float,
    "SSO_ONLY": bool,
    "BREAK_GLASS_ADMIN": str,
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
    finish_sso(config)


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
    check_sso(config)
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
    if config["CUSTODIAN_SCRYPT_N"] < SCRYPT_N:
        raise ConfigError(
            f"CUSTODIAN_SCRYPT_N is below OWASP's scrypt minimum ({SCRYPT_N}), which "
            "production refuses: remove it."
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


# --- single sign-on ---
def finish_sso(config: dict[str, Any]) -> None:
    """Read the OIDC client secret file and parse the role map into ``{value: role}``."""
    path = str(config["OIDC_CLIENT_SECRET_FILE"])
    if path:
        if config["OIDC_CLIENT_SECRET"]:
            raise ConfigError("Set OIDC_CLIENT_SECRET or OIDC_CLIENT_SECRET_FILE, not both.")
        try:
            with open(path, encoding="utf-8") as file:
                config["OIDC_CLIENT_SECRET"] = file.read().strip()
        except OSError as exc:
            raise ConfigError(f"OIDC_CLIENT_SECRET_FILE {path!r} cannot be read: {exc}") from exc
    config["OIDC_ROLE_MAP"] = parse_role_map(config["OIDC_ROLE_MAP"])
    config["BREAK_GLASS_ADMIN"] = str(config["BREAK_GLASS_ADMIN"]).strip().lower()


def parse_role_map(value: object) -> dict[str, str]:
    """Return an OIDC role map given as a dict or as ``"value=role,value=role"``."""
    from .models import Role

    if isinstance(value, str):
        pairs = [part.rpartition("=") for part in value.split(",") if part.strip()]
        if any(not sep or not claim.strip() for claim, sep, _ in pairs):
            raise ConfigError(f"OIDC_ROLE_MAP must read 'value=role,value=role', got {value!r}.")
        value = {claim.strip(): role.strip() for claim, _, role in pairs}
    if not isinstance(value, dict):
        raise ConfigError("OIDC_ROLE_MAP must be a dict of claim value to role.")
    roles = {role.value for role in Role}
    for claim, role in value.items():
        if role not in roles:
            raise ConfigError(
                f"OIDC_ROLE_MAP maps {claim!r} to {role!r}; roles are {', '.join(sorted(roles))}."
            )
    return {str(claim): str(role) for claim, role in value.items()}


def check_sso(config: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` for single sign-on settings that cannot work or are unsafe."""
    issuer = str(config["OIDC_ISSUER"])
    if config["SSO_ONLY"] and not issuer:
        raise ConfigError("SSO_ONLY is on but OIDC_ISSUER is empty: nobody could log in.")
    if config["SSO_ONLY"] and not config["BREAK_GLASS_ADMIN"]:
        raise ConfigError(
            "SSO_ONLY needs BREAK_GLASS_ADMIN (the one admin email that keeps password login), "
            "or an outage of the provider would lock every administrator out."
        )
    if not issuer:
        return
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"OIDC_ISSUER must be an http(s) URL, got {issuer!r}.")
    for key in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_ROLE_CLAIM", "OIDC_ROLE_MAP"):
        if not config[key]:
            raise ConfigError(f"OIDC_ISSUER is set but {key} is empty.")
    if "openid" not in str(config["OIDC_SCOPES"]).split():
        raise ConfigError("OIDC_SCOPES must include 'openid'.")
    production = config["CANDOR_ENV"] == "production"
    if production and parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"OIDC_ISSUER {issuer!r} is plain http on a host other than this machine, which "
            "production refuses: tokens and the client secret would cross the network in clear."
        )
