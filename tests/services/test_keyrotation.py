"""`candor key rotate` re-wraps every small key row, never an answer, and finishes after being
killed (SIGKILL) at any step; afterwards every round opens and the CSV export is unchanged."""

from __future__ import annotations

import base64
import os
import signal
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from survey import create_app, db
from survey.domain import crypto
from survey.models import BallotKey, Comment, InboxEntry, Response, Round, Setting
from survey.services import keyrotation, keys, rounds
from tests.conftest import OpenRound, login
from tests.services.ballots import cli_env, open_next_round, run_candor, step, submit


@dataclass
class Instance:
    """A released round (for the CSV export) and an open one (every kind of wrapped key)."""

    config: dict[str, Any]
    program_id: int
    released: int
    open_id: int
    open_tokens: list[str]


@pytest.fixture
def instance(app: Flask, config: dict[str, Any], open_round: OpenRound) -> Instance:
    for i, token in enumerate(open_round.tokens.values()):
        submit(app, open_round.round_id, token, "Good week." if i % 3 == 0 else "")
    step(app, open_round.round_id, "close")
    step(app, open_round.round_id, "release")
    with db.session_scope(app) as session:
        program_id = rounds.get_round(session, open_round.round_id).program_id
    open_id, tokens = open_next_round(app, program_id)
    for token in tokens[:8]:
        submit(app, open_id, token)
    return Instance(config, program_id, open_round.round_id, open_id, tokens[8:])


def _key(path: str) -> bytes:
    with open(path, "rb") as handle:
        return base64.b64decode(handle.read().strip())


def _sealed(app: Flask) -> list[bytes]:
    with db.session_scope(app) as session:
        return sorted(
            [*session.scalars(select(Response.sealed)), *session.scalars(select(Comment.sealed))]
            + list(session.scalars(select(InboxEntry.sealed)))
        )


def _csv(app: Flask, program_id: int) -> bytes:
    client = app.test_client()
    login(client, "leader")
    response = client.get(f"/export/{program_id}.csv")
    assert response.status_code == 200
    body: bytes = response.data
    return body


def _canary_opens_with(app: Flask, key: bytes) -> bool:
    with db.session_scope(app) as session:
        canary = session.get(Setting, keys.CANARY_SETTING)
        assert canary is not None
        return crypto.check_canary(canary.value, key)


@pytest.mark.parametrize("crash_at", [None, *keyrotation.STEPS])
def test_rotation_finishes_after_a_kill_at_any_step(
    app: Flask, instance: Instance, crash_at: str | None
) -> None:
    path = app.config["KEY_FILE"]
    old = _key(path)
    csv_before, sealed_before = _csv(app, instance.program_id), _sealed(app)
    with db.session_scope(app) as session:
        wrapped = len(list(keyrotation.wrapped_rows(session)))
        assert session.scalars(
            select(BallotKey).where(BallotKey.wrapped_private_key.is_not(None))
        ).first(), "ballot signing keys are among the rows rotated"
    env = cli_env(instance.config)

    if crash_at is not None:
        killed = run_candor({**env, keyrotation.CRASH_ENV: crash_at}, "key", "rotate")
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        swapped = crash_at == "swapped"
        assert os.path.exists(path + keyrotation.NEW_SUFFIX) is not swapped
        assert (_key(path) == old) is not swapped, "the old key stays until verified"
        assert _canary_opens_with(app, old) is (crash_at in ("new-key-written", "rows-rewrapped"))
        check = run_candor(env, "check")
        if crash_at in ("committed", "verified"):  # rows under the new key, file still old
            assert check.returncode != 0
            assert "run `candor key rotate` to finish it" in check.stderr
        else:  # rows still under the key in the key file, or the swap already done
            assert check.returncode == 0, check.stderr

    done = run_candor(env, "key", "rotate")
    assert done.returncode == 0, done.stderr
    assert ("Finished the interrupted rotation" in done.stdout) is (
        crash_at is not None and crash_at != "swapped"
    )
    new = _key(path)
    assert new != old and len(new) == crypto.KEY_BYTES
    key_files = [n for n in os.listdir(os.path.dirname(path)) if n.startswith("candor.key")]
    assert key_files == ["candor.key"], "no new, temporary or old key file is left"
    assert os.stat(path).st_mode & 0o777 == 0o600
    check = run_candor(env, "check")
    assert check.returncode == 0, check.stderr
    assert "1 unreleased round(s)" in check.stdout

    rotated = create_app(instance.config)  # the web app starts with the new key
    try:
        assert rotated.extensions["candor.kek"] == new
        with db.session_scope(rotated) as session:
            assert len(list(keyrotation.wrapped_rows(session))) == wrapped
            assert keyrotation.unopenable(session, new) == []
            assert len(keyrotation.unopenable(session, old)) == wrapped, "the old key opens nothing"
            rnd = rounds.get_round(session, instance.open_id)
            assert rounds.invitation_links(session, rnd, new, "http://candor.test")
        assert _sealed(rotated) == sealed_before, "rotation never touches an answer"
        assert _csv(rotated, instance.program_id) == csv_before
        for token in instance.open_tokens[:2]:
            submit(rotated, instance.open_id, token)
        step(rotated, instance.open_id, "close")
        message = step(rotated, instance.open_id, "release")  # the open round still opens
        assert "released" in message
        with db.session_scope(rotated) as session:
            assert session.get(Round, instance.open_id) is not None
    finally:
        rotated.extensions["candor.engine"].dispose()


def test_rotation_refuses_a_key_that_does_not_belong(app: Flask, instance: Instance) -> None:
    path = app.config["KEY_FILE"]
    with open(path, "wb") as handle:
        handle.write(base64.b64encode(os.urandom(crypto.KEY_BYTES)) + b"\n")
    refused = run_candor(cli_env(instance.config), "key", "rotate")
    assert refused.returncode != 0 and "does not belong" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not os.path.exists(path + keyrotation.NEW_SUFFIX)


def test_rewrap_leaves_nothing_changed_when_a_row_opens_with_neither_key(
    app: Flask, instance: Instance
) -> None:
    old, new = app.extensions["candor.kek"], os.urandom(crypto.KEY_BYTES)
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, instance.open_id)
        rnd.wrapped_token_secret = crypto.wrap(b"x", os.urandom(crypto.KEY_BYTES), b"other")
        session.commit()
    with db.session_scope(app) as session:
        with pytest.raises(keyrotation.RotationError, match="open with neither"):
            keyrotation.rewrap(session, old, new)
        session.rollback()
    assert _canary_opens_with(app, old)
