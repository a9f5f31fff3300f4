"""Setting up and opening an instance: its local config, schema, instance key and first admin.

Both the operating commands and the demo use these, so neither imports the other. Nothing
here ever makes a key except ``initialise``, and that refuses to overwrite one.
"""

from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING

from .. import config as config_module
from .. import db
from . import accounts, keys

if TYPE_CHECKING:  # the app is only passed through: services import no Flask
    from flask import Flask


class InstanceError(Exception):
    """The instance cannot be set up or opened; the message says what to do."""


def write_local_config(app: Flask) -> None:
    """Create instance/config.py with a random SECRET_KEY, unless it already exists."""
    path = os.path.join(app.instance_path, "config.py")
    if os.path.exists(path):
        return
    os.makedirs(app.instance_path, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(
            "# Local settings for this Candor instance; never commit this file.\n"
            f"SECRET_KEY = {secret!r}\n"
        )
    app.config["SECRET_KEY"] = secret


def initialise(app: Flask, admin_email: str, password: str | None) -> str:
    """Create config, schema, instance key and first admin; return the admin's password."""
    try:  # refuse bad input before anything is created, so a retry starts from scratch
        accounts.normalise_email(admin_email)
        if password is not None and len(password) < accounts.MIN_PASSWORD_LENGTH:
            raise accounts.AccountError(
                f"passwords need at least {accounts.MIN_PASSWORD_LENGTH} characters."
            )
    except accounts.AccountError as exc:
        raise InstanceError(str(exc)) from exc
    write_local_config(app)
    os.chmod(app.instance_path, 0o700)  # keys, config and the database are the operator's only
    engine = app.extensions["candor.engine"]
    db.upgrade(engine)
    if engine.url.get_backend_name() == "sqlite" and engine.url.database:
        os.chmod(engine.url.database, 0o600)
    password = password or secrets.token_urlsafe(12)
    with db.session_scope(app) as session:
        try:
            app.extensions["candor.kek"] = keys.create_instance_key(session, app.config["KEY_FILE"])
            accounts.create_user(session, admin_email, "admin", password)
        except (keys.InstanceKeyError, accounts.AccountError) as exc:
            raise InstanceError(str(exc)) from exc
        session.commit()
    return password


def require_key(app: Flask) -> bytes:
    """Return the instance key, checking config, schema and canary first (fail closed)."""
    kek: bytes | None = app.extensions.get("candor.kek")
    if kek is not None:
        return kek
    try:
        config_module.validate(app.config)
        if not db.schema_is_current(app.extensions["candor.engine"]):
            raise InstanceError(
                "The database schema is missing or old: run `candor init` (new instance) "
                "or `candor migrate` (existing one)."
            )
        kek = keys.check_instance_key(app.extensions["candor.engine"], app.config["KEY_FILE"])
    except (keys.InstanceKeyError, config_module.ConfigError) as exc:
        raise InstanceError(str(exc) + _rotation_hint(app)) from exc
    app.extensions["candor.kek"] = kek
    return kek


def _rotation_hint(app: Flask) -> str:
    from . import keyrotation

    if app.config.get("KEY_FILE") and keyrotation.in_progress(app.config["KEY_FILE"]):
        return " A key rotation was interrupted: run `candor key rotate` to finish it."
    return ""
