"""Helpers shared by tests of several layers (import from here, not from other test modules)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from collections.abc import Collection
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey import db
from survey.domain import blindrsa, crypto
from survey.domain.custody import SCRYPT_N
from survey.models import InboxEntry, Invitation, Person, Program, Response, Round
from survey.services import accounts, custody, mixing, rounds, submission
from tests.conftest import login

OPENED_ON = dt.date(2026, 11, 2)  # when open_round_on_bank opens a round
# The block of ballot keys a survey page carries (templates/employee/form.html).
CARRIED_KEYS = re.compile(r'<script type="application/json" id="ballot-keys">(.*?)</script>', re.S)


def stored_answers(session: Session, round_id: int | None = None) -> int:
    """Return how many responses are stored, mixed or still waiting in the ballot inbox."""
    mixed = select(func.count()).select_from(Response)
    waiting = select(func.count()).select_from(InboxEntry).where(InboxEntry.kind == mixing.RESPONSE)
    if round_id is not None:
        mixed = mixed.where(Response.round_id == round_id)
        waiting = waiting.where(InboxEntry.round_id == round_id)
    return int(session.scalar(mixed) or 0) + int(session.scalar(waiting) or 0)


def opened_payloads(app: Flask, round_id: int, *, waiting: bool = True) -> list[dict[str, Any]]:
    """Open every sealed response of the round with the round's key, as the release would:
    those mixed into storage and, unless ``waiting`` is false, those still in the inbox."""
    with db.session_scope(app) as session:
        rnd = session.get(Round, round_id)
        assert rnd is not None
        private = custody.opening_key(session, rnd, app.extensions["candor.kek"])
        sealed = [
            (r.unit_id, r.band, r.sealed)
            for r in session.scalars(select(Response).where(Response.round_id == round_id))
        ]
        if waiting:
            inbox = select(InboxEntry).where(
                InboxEntry.round_id == round_id, InboxEntry.kind == mixing.RESPONSE
            )
            sealed += [(e.unit_id, e.band, e.sealed) for e in session.scalars(inbox)]
        return [
            json.loads(
                crypto.open_sealed(blob, private, crypto.context("response", round_id, unit, band))
            )
            for unit, band, blob in sealed
        ]


def open_round_on_bank(app: Flask, session: Session, program_id: int, bank: str) -> Round:
    """Set the programme's bank to ``bank`` and open its next round with it on 2026-11-02."""
    program = session.get(Program, program_id)
    assert program is not None
    program.bank = bank
    rnd = rounds.create_round(session, program)
    rounds.open_round(session, rnd, app.extensions["candor.kek"], OPENED_ON)
    return rnd


def invitation_unused(session: Session, round_id: int, code: str) -> bool:
    """Return whether the invitation ``code`` names is still stored for this round (reads only).

    The tests' own oracle, written apart from the product's token checks: the invitations table
    keeps only the SHA-256 of each link's token, and a check-in deletes the row.
    """
    digest = hashlib.sha256(code.encode()).digest()
    found = session.scalar(select(Invitation.round_id).where(Invitation.token_hash == digest))
    return found == round_id


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Browser:
    """The browser's part of the two-step ballot (static/ballot.js), over the test client."""

    def __init__(self, client: FlaskClient, round_id: int, code: str) -> None:
        self.client, self.round_id, self.code = client, round_id, code
        self.key_id = submission.key_id_of(code)
        reply = client.get(f"/s/{round_id}/keys/{self.key_id}")
        assert reply.status_code == 200
        fields = reply.get_json()
        self.fingerprint = fields["fingerprint"]
        numbers = blindrsa.rsa.RSAPublicNumbers(
            int.from_bytes(unb64(fields["e"]), "big"), int.from_bytes(unb64(fields["n"]), "big")
        )
        self.public = numbers.public_key()
        self.message = blindrsa.prepare(bytes(32))
        self.blinded, self.inv = blindrsa.blind(self.public, self.message)
        self.signature = b""

    def check_in(self) -> Any:
        reply = self.client.post(
            f"/s/{self.round_id}/checkin", json={"code": self.code, "blinded": b64(self.blinded)}
        )
        if reply.status_code == 200:
            blind_sig = unb64(reply.get_json()["blind_signature"])
            self.signature = blindrsa.finalize(self.public, self.message, blind_sig, self.inv)
        return reply

    def ballot(self, answers: dict[str, int], comment: str = "", **extra: Any) -> Any:
        body = {
            "key_id": self.key_id,
            "message": b64(self.message),
            "signature": b64(self.signature),
            "answers": answers,
            "comment": comment,
            "lang": "en",
            **extra,
        }
        return self.client.post(f"/s/{self.round_id}/ballot", json=body)


def keep_sealed(app: Flask, round_id: int, days: int = 30) -> None:
    """Have the round's programme keep released answers sealed for ``days`` (not shred them at
    release), for tests that look at stored rows after a release."""
    from survey import db
    from survey.models import Round

    with db.session_scope(app) as session:
        rnd = session.get(Round, round_id)
        assert rnd is not None
        rnd.program.retention_days = days
        session.commit()


def assert_entry(
    client: FlaskClient, role: str, routes: Collection[tuple[str, str]], allowed: Collection[str]
) -> None:
    """Assert who may enter ``routes`` (method, path) as ``role``, "anon" for nobody logged in.

    The anonymous are sent to the login page; roles in ``allowed`` get a page, a redirect or a
    form error (400); every other role is refused with 403.
    """
    client.post("/logout")
    if role != "anon":
        login(client, role)
    for method, path in routes:
        response = client.open(path, method=method)
        if role == "anon":
            assert response.status_code == 302 and "/login" in response.headers["Location"], path
        elif role in allowed:
            assert response.status_code in (200, 302, 400), path
        else:
            assert response.status_code == 403, path


def assert_nav_link(client: FlaskClient, href: str, hidden_for: str, shown_for: str) -> None:
    """Assert the navigation links to ``href`` for ``shown_for`` and not for ``hidden_for``."""
    link = f'href="{href}"'.encode()
    login(client, hidden_for)
    assert link not in client.get("/reports").data
    client.post("/logout")
    login(client, shown_for)
    assert link in client.get("/reports").data


def close_and_release(app: Flask, round_id: int) -> dict:
    with db.session_scope(app) as session:
        rnd = rounds.get_round(session, round_id)
        rounds.close_round(session, rnd, dt.date(2026, 11, 7))
        release = rounds.release_round(
            session, rnd, app.extensions["candor.kek"], dt.date(2026, 11, 8)
        )
        session.commit()
        return release.manifest


FIRST_OPEN = dt.date(2026, 9, 7)
CADENCE = dt.timedelta(days=14)


def closed_on(number: int) -> dt.date:
    return FIRST_OPEN + CADENCE * (number - 1) + dt.timedelta(days=5)


def release_rounds(app: Flask, program_id: int, count: int) -> list[dict[str, Any]]:
    """Open, answer (everyone), close and release ``count`` rounds; return their manifests.

    Research answers "agree" in the first rounds and "disagree" in the last, so there is a
    clear change to report; everyone writes a comment mentioning the round.
    """
    kek = app.extensions["candor.kek"]
    manifests = []
    with db.session_scope(app) as session:
        program = session.get(Program, program_id)
        assert program is not None
        units = {
            p.id: p.unit.parent.name if p.unit.parent else ""
            for p in session.scalars(select(Person))
        }
        for number in range(1, count + 1):
            opens = FIRST_OPEN + CADENCE * (number - 1)
            rnd = rounds.create_round(session, program)
            rounds.open_round(session, rnd, kek, opens)
            session.commit()
            survey = submission.survey_for(session, rnd.id)
            links = rounds.invitation_links(session, rnd, kek, "http://candor.test")
            for i, link in enumerate(links):
                low = units[link.person_id] == "Research" and number == count
                # Answers spread over three steps, so no cell is uniform (coded) by accident.
                value = (1 + i % 3) if low else (3 + i % 3)
                answers = {
                    item.key: (
                        min(10, value * 2)
                        if item.scale == "nps"
                        else (6 - value if item.reverse else value)
                    )
                    for item in survey.items
                }
                comment = f"R{number} note {i}: the roadmap needs work, write to p{i}@example.org"
                submission.submit(session, survey, link.code, answers, comment, kek)
            session.commit()
            rounds.close_round(session, rnd, closed_on(number))
            release = rounds.release_round(
                session, rnd, kek, closed_on(number) + dt.timedelta(days=1)
            )
            session.commit()
            manifests.append(release.manifest)
    return manifests


# A configuration production accepts (tests/test_config.py spoils one setting per case).
SAFE_PRODUCTION = {
    "CANDOR_ENV": "production",
    "TESTING": False,
    "DEBUG": False,
    "WTF_CSRF_ENABLED": True,
    "PUBLIC_URL": "https://candor.example.org",
    "ARGON2_TIME_COST": accounts.OWASP_TIME_COST,
    "ARGON2_MEMORY_KIB": accounts.OWASP_MEMORY_KIB,
    "CUSTODIAN_SCRYPT_N": SCRYPT_N,
}


def carried_keys(html: str) -> dict[str, Any] | None:
    """Return the ballot keys a survey page carries, by key id (None: it carries none)."""
    found = CARRIED_KEYS.findall(html)
    assert len(found) <= 1
    keys: dict[str, Any] | None = json.loads(found[0]) if found else None
    return keys
