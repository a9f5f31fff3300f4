"""The instance key: created once by an explicit command, checked at every start.

Invariant: Candor never creates a key implicitly. A missing key file, one readable by other
users, one that is malformed, or one that does not open the canary written at initialisation
stops the app with :class:`InstanceKeyError`, whose message is one plain sentence.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session

from ..domain import crypto
from ..models import Response, Setting

CANARY_SETTING = "key_canary"


class InstanceKeyError(RuntimeError):
    """Raised when the instance key cannot be trusted; the message says what to do."""


def read_key_file(path: str) -> bytes:
    """Return the key stored at ``path`` after checking its permissions and format."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InstanceKeyError(
            f"The instance key {path} is missing: restore it from your backup "
            "(Candor never creates a key on its own; a new instance is set up with `candor init`)."
        ) from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InstanceKeyError(
            f"The instance key {path} is accessible to other users "
            f"(mode {stat.S_IMODE(info.st_mode):o}); run `chmod 600 {path}` and start again."
        )
    with open(path, "rb") as handle:
        text = handle.read().strip()
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error:
        key = b""
    if len(key) != crypto.KEY_BYTES:
        raise InstanceKeyError(f"The instance key {path} is not a Candor key (expected 32 bytes).")
    return key


def check_instance_key(engine: Engine, path: str) -> bytes:
    """Return the instance key after proving it opens this database's canary."""
    key = read_key_file(path)
    with Session(engine) as session:
        if not inspect(session.connection()).has_table(Setting.__tablename__):
            raise InstanceKeyError(
                "The database has no Candor schema yet: run `candor init` first."
            )
        canary = session.get(Setting, CANARY_SETTING)
    if canary is None:
        raise InstanceKeyError(
            "The database has no key canary: it was not set up with `candor init`."
        )
    if not crypto.check_canary(canary.value, key):
        raise InstanceKeyError(
            f"The instance key {path} does not belong to this database "
            "(it cannot open the canary written at initialisation): restore the right key file."
        )
    return key


def create_instance_key(session: Session, path: str) -> bytes:
    """Write a new key file (mode 0600) and its canary; refuse if either already exists.

    The caller commits. If the commit fails the key file is left behind and the next attempt
    refuses to overwrite it, which is the safe direction.
    """
    if os.path.exists(path):
        raise InstanceKeyError(
            f"The instance key {path} already exists; Candor will not overwrite it."
        )
    if session.get(Setting, CANARY_SETTING) is not None:
        raise InstanceKeyError(
            "This database already has a key canary: restore its key file instead."
        )
    if session.scalar(select(func.count()).select_from(Response)):
        raise InstanceKeyError(
            "This database already holds sealed answers; a new key cannot open them."
        )
    key = os.urandom(crypto.KEY_BYTES)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.b64encode(key) + b"\n")
    session.add(Setting(key=CANARY_SETTING, value=crypto.make_canary(key)))
    session.flush()
    return key
