"""A small instance with one released round, one open round and a staff member of every role,
built once per module and database for the access and scope tests.

The organisation is ``tests/conftest.py``'s ORG_SHAPE: "Small" (2 people) is hidden, and so is
"Gamma" (else Small could be worked out from Ops − Gamma); Alpha, Beta, Research and Ops are
published. Managers: one of Alpha (published) and one of Gamma (hidden: Ops stands in).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from survey import create_app, db
from survey.services import accounts, ballotkeys, events, rounds, submission
from tests.conftest import (
    PASSWORD,
    STAFF,
    add_organisation,
    empty_database,
    initialise,
    make_config,
)

MANAGERS = {"manager_alpha": "m-alpha@example.org", "manager_gamma": "m-gamma@example.org"}
SPARE = "spare@example.org"  # an account the admin page may change without harm
OPENS = dt.date(2026, 10, 5)


@dataclass
class World:
    """The built instance and the ids its URLs need."""

    app: Flask
    program_id: int
    units: dict[str, int]
    released_round: int
    open_round: int
    open_token: str
    ballot_key: int
    event_id: int
    spare_id: int
    spare_link: str
    theme: str
    emails: dict[str, str]


def world_database(request: pytest.FixtureRequest, tmp: Path) -> str:
    """Return an empty migrated database of the kind ``request.param`` names."""
    return empty_database(request, tmp)


def build_world(url: str, tmp: Path) -> Iterator[World]:
    """Build the instance; yield it; dispose of its engine."""
    config = make_config(tmp / "instance", url)
    initialise(config)
    app = create_app(config)
    kek = app.extensions["candor.kek"]
    with db.session_scope(app) as session:
        units, program = add_organisation(session)
        session.commit()
        released = rounds.create_round(session, program)
        rounds.open_round(session, released, kek, OPENS)
        session.commit()
        survey = submission.survey_for(session, released.id)
        links = rounds.invitation_links(session, released, kek, "http://candor.test")
        for i, link in enumerate(links):
            value = 2 + i % 3
            answers = {
                item.key: (value * 2 if item.scale == "nps" else value) for item in survey.items
            }
            submission.submit(session, survey, link.code, answers, f"note {i}", kek)
        session.commit()
        rounds.close_round(session, released, OPENS + dt.timedelta(days=5))
        release = rounds.release_round(session, released, kek, OPENS + dt.timedelta(days=6))
        session.commit()
        theme = str(release.manifest["themes"][0]["key"])
        current = rounds.create_round(session, program)
        rounds.open_round(session, current, kek, OPENS + dt.timedelta(days=14))
        session.commit()
        open_links = rounds.invitation_links(session, current, kek, "http://candor.test")
        key_id = ballotkeys.public_keys(session, current.id)[0].key_id
        event = events.add_event(session, program.id, OPENS, "Re-org", OPENS)
        for email, unit in zip(MANAGERS.values(), ("Alpha", "Gamma"), strict=True):
            accounts.create_user(session, email, "manager", PASSWORD)
            accounts.set_units(session, accounts.find_user(session, email), [units[unit]])
        spare = accounts.invite_user(session, SPARE, "hr", dt.datetime(2026, 12, 1), 24 * 365)
        session.commit()
        world = World(
            app=app,
            program_id=program.id,
            units=units,
            released_round=released.id,
            open_round=current.id,
            open_token=open_links[0].url.rsplit("#", 1)[1],
            ballot_key=int(key_id),
            event_id=event.id,
            spare_id=spare.user.id,
            spare_link=spare.token,
            theme=theme,
            emails={**STAFF, **MANAGERS},
        )
    yield world
    app.extensions["candor.engine"].dispose()


def logged_in(world: World, role: str) -> FlaskClient:
    """Return a test client logged in as ``role`` (``anon``: not logged in)."""
    client = world.app.test_client()
    if role != "anon":
        response = client.post("/login", data={"email": world.emails[role], "password": PASSWORD})
        assert response.status_code == 302, (role, response.status_code)
    return client
