"""The demo: an "Example AI Lab" with a year of fortnightly pulses that tell a story.

Every answer goes through the real path — invitation, sealing, consumption, close, release
with disclosure control — so the demo dashboard shows exactly what a real instance would.
The story: a healthy start, a layoff wave (R4), a re-org with unclear goals (R6), a new,
richly paid unit joining (R8), and a partial recovery after leadership acts (R10-R12).
"""

from __future__ import annotations

import datetime as dt
import os
import random
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import db
from .demo_comments import PHASES, CommentWriter, samples
from .domain import cadence
from .domain.questions import Item, load_bank
from .models import ActionStatus, Cadence, OrgUnit, Person, Program, Round, RoundStatus, User
from .services import accounts, actions, events, instance, org, rounds, submission

DEMO_PROGRAM = "Example AI Lab pulse"
RELEASED_ROUNDS = 12
CADENCE_DAYS = 14
WINDOW_DAYS = cadence.DEFAULT_WINDOW_DAYS
BANDS = ("<1y", "1-3y", "3y+", "unstated")
STAFF = (("admin@example.org", "admin"), ("hr@example.org", "hr"), ("lead@example.org", "leader"))
# Department -> team -> headcount. Some teams are deliberately below k = 5.
ORG = {
    "Research": {"Pretraining": 30, "Alignment": 18, "Interpretability": 9, "Evals": 4},
    "Engineering": {"Infrastructure": 28, "Product": 22, "Security": 3},
    "Operations": {"People": 7, "Finance": 5, "Legal": 2},
}
NEW_UNIT = ("Applied", {"Frontier Apps": 20, "Partnerships": 8})  # joins before R8
LAYOFFS = {"Product": 7, "Infrastructure": 4, "Finance": 1}  # leave before R5
# Differential privacy (domain/noise.py) turned on from R12: its noisy figures and budget show.
DP_FROM_ROUND, DP_EPSILON = 12, 4.0
FIRST = [
    "Ada",
    "Bea",
    "Cai",
    "Dev",
    "Eli",
    "Fay",
    "Gus",
    "Hana",
    "Ivo",
    "Jun",
    "Kit",
    "Lena",
    "Milo",
    "Nia",
    "Omar",
    "Pia",
    "Quin",
    "Rosa",
    "Sami",
    "Tove",
    "Uma",
    "Vik",
    "Wren",
    "Yara",
]
LAST = [
    "Okafor",
    "Lindqvist",
    "Tanaka",
    "Moreau",
    "Petrov",
    "Haddad",
    "Nguyen",
    "Silva",
    "Kowalski",
    "Brennan",
    "Achebe",
    "Rossi",
    "Iyer",
    "Novak",
    "Castillo",
    "Berg",
]
# Theme shifts (on the 1..5 scale) per round, telling the story.
BASE = {
    "morale": 3.9,
    "clarity": 3.8,
    "safety": 3.8,
    "security": 3.7,
    "creativity": 3.9,
    "trust": 3.7,
    "cohesion": 3.9,
}
# A few comments per phase for benchmarks; the demo itself writes hundreds of distinct ones
# (survey/demo_comments.py).
COMMENTS = {phase: samples(phase, 40) for phase in PHASES}
COMMENT_SHARE = 0.3  # respondents who write a comment


# What HR annotated on the timeline (round number -> label), and what leadership did after a
# released round ("you said, we did": round number -> action plan).
EVENTS = {4: "Layoffs announced", 6: "Re-org", 8: "Applied unit joins", 10: "Roadmap + Q&A"}


@dataclass(frozen=True)
class DemoAction:
    """An action plan of the demo: theme, text, owner, unit path (None: everyone), status.

    ``updates`` are (days after the release, status, note); the last one sets the status.
    """

    theme: str
    text: str
    owner: str
    unit: tuple[str, ...] | None
    due_days: int
    updates: tuple[tuple[int, ActionStatus, str], ...] = ()


ACTIONS = {
    5: DemoAction(
        "security",
        "Leadership said there are no further cuts planned this year and published "
        "the criteria used in the last round.",
        "lead@example.org",
        None,
        14,
        (
            (3, ActionStatus.IN_PROGRESS, "Criteria drafted with Legal."),
            (10, ActionStatus.DONE, "Criteria published on the intranet; CEO Q&A held."),
        ),
    ),
    7: DemoAction(
        "clarity",
        "Every team now has a one-page goal sheet and a named lead after the re-org.",
        "hr@example.org",
        None,
        21,
        (
            (7, ActionStatus.IN_PROGRESS, "Template agreed; half the teams have one."),
            (20, ActionStatus.DONE, "Every team has its sheet and a named lead."),
        ),
    ),
    9: DemoAction(
        "cohesion",
        "Mixed Applied and Research project pairs started, with shared demos.",
        "hr@example.org",
        ("Applied",),
        42,
        ((5, ActionStatus.IN_PROGRESS, "Eight pairs formed; first shared demo booked."),),
    ),
    11: DemoAction(
        "trust",
        "Monthly all-hands Q&A where questions can be asked anonymously.",
        "lead@example.org",
        None,
        30,
    ),
}


@dataclass(frozen=True)
class DemoResult:
    """What the demo printed: staff passwords and some open-round links."""

    passwords: dict[str, str]
    links: list[rounds.Link]
    open_round: int


def _shift(theme: str, number: int, unit: str, tenure: str) -> float:
    """Return how far a theme sits from its baseline in a round, for one kind of person."""
    s = 0.0
    if number >= 4:  # layoffs announced
        fade = max(0.0, 1 - 0.12 * max(0, number - 9))
        s += {
            "security": -1.3,
            "morale": -0.7,
            "safety": -0.6,
            "trust": -0.7,
            "creativity": -0.5,
        }.get(theme, 0.0) * fade
    if 6 <= number:  # the re-org
        s += {"clarity": -1.2 if number < 10 else -0.5, "trust": -0.3 if number < 10 else 0.0}.get(
            theme, 0.0
        )
    if number >= 8 and theme == "cohesion":  # a richly paid unit joins
        s += -0.3 if unit in NEW_UNIT[1] else (-1.1 if tenure == "3y+" else -0.6)
    if number >= 10:  # leadership acts: roadmap, Q&A, retention promises
        s += {"clarity": 0.5, "trust": 0.5, "morale": 0.3, "safety": 0.2}.get(theme, 0.0)
    if unit in ("Security", "Legal", "Evals"):
        s -= 0.2
    return s


def _phase(number: int) -> str:
    return (
        "calm"
        if number < 4
        else "layoff"
        if number < 6
        else "reorg"
        if number < 8
        else "applied"
        if number < 10
        else "recovery"
    )


def _answers(
    rng: random.Random, bank_items: tuple[Item, ...], number: int, unit: str, tenure: str
) -> dict[str, int]:
    out: dict[str, int] = {}
    mood = rng.gauss(0, 0.35)
    # How this person feels about each theme: items of one theme move together, as real
    # scales do (independent items would make every Cronbach's alpha look uninterpretable).
    leaning = {item.theme: rng.gauss(0, 0.6) for item in bank_items}
    for item in bank_items:
        if item.scale == "nps":
            morale = BASE["morale"] + _shift("morale", number, unit, tenure) + mood
            out[item.key] = max(0, min(10, round((morale - 1) * 2.5 + rng.gauss(0, 1.4))))
            continue
        level = (
            BASE[item.theme]
            + _shift(item.theme, number, unit, tenure)
            + mood
            + leaning[item.theme]
            + rng.gauss(0, 0.45)
        )
        value = max(1, min(5, round(level)))
        out[item.key] = 6 - value if item.reverse else value
    return out


def _build_org(session: Session, rng: random.Random) -> tuple[OrgUnit, dict[str, OrgUnit]]:
    root = org.add_unit(session, "Example AI Lab", None)
    teams: dict[str, OrgUnit] = {}
    for dept, members in ORG.items():
        unit = org.add_unit(session, dept, root)
        for team, size in members.items():
            teams[team] = org.add_unit(session, team, unit)
            _hire(session, rng, teams[team], size, new=False)
    return root, teams


def _hire(session: Session, rng: random.Random, unit: OrgUnit, size: int, new: bool) -> None:
    count = session.query(Person).count()
    for i in range(size):
        n = count + i
        name = f"{FIRST[n % len(FIRST)]} {LAST[(n // len(FIRST) + n) % len(LAST)]}"
        band = "<1y" if new else rng.choices(BANDS, weights=(2, 4, 5, 1))[0]
        email = f"{name.split()[0].lower()}.{name.split()[1].lower()}{n}@example-ai-lab.test"
        session.add(Person(email=email, name=name, unit_id=unit.id, tenure_band=band))
    session.flush()


def build_demo(app: Flask, today: dt.date, seed: int = 7) -> DemoResult:
    """Create the demo organisation, twelve released rounds and one open round."""
    kek: bytes = app.extensions["candor.kek"]
    rng = random.Random(seed)  # noqa: S311 - synthetic demo answers, reproducible on purpose
    bank = load_bank()
    writer = CommentWriter(rng)
    with db.session_scope(app) as session:
        _reset_staff(session)  # the action plans' owners; fresh passwords again at the end
        root, teams = _build_org(session, rng)
        first_open = today - dt.timedelta(days=CADENCE_DAYS * RELEASED_ROUNDS)
        program = Program(
            name=DEMO_PROGRAM,
            bank=bank.key,
            k=5,
            comment_k=10,
            cadence=Cadence.FORTNIGHTLY,
            window_days=WINDOW_DAYS,
            first_open_on=first_open,
        )
        session.add(program)
        session.flush()
        for number in range(1, RELEASED_ROUNDS + 2):
            if number == 5:
                for team, count in LAYOFFS.items():
                    for person in session.scalars(
                        select(Person)
                        .where(Person.unit_id == teams[team].id, Person.active)
                        .order_by(Person.id)
                        .limit(count)
                    ):
                        person.active = False
            if number == 8:
                dept = org.add_unit(session, NEW_UNIT[0], root)
                for team, size in NEW_UNIT[1].items():
                    teams[team] = org.add_unit(session, team, dept)
                    _hire(session, rng, teams[team], size, new=True)
            if number == DP_FROM_ROUND:
                program.dp_epsilon = DP_EPSILON
            rnd = rounds.create_round(session, program)
            opens = first_open + dt.timedelta(days=CADENCE_DAYS * (number - 1))
            rounds.open_round(session, rnd, kek, opens)
            if number > RELEASED_ROUNDS:
                session.commit()
                open_round = rnd.id
                break
            _answer_round(session, rng, writer, rnd, kek, number, teams)
            rounds.close_round(session, rnd, opens + dt.timedelta(days=WINDOW_DAYS))
            released_on = opens + dt.timedelta(days=WINDOW_DAYS + 1)
            rounds.release_round(session, rnd, kek, released_on)
            if number in EVENTS:
                events.add_event(session, program.id, opens, EVENTS[number], today)
            if number in ACTIONS:
                _plan_action(session, program, rnd, root, ACTIONS[number], released_on)
            session.commit()
        passwords = _reset_staff(session)
        links = rounds.invitation_links(
            session, rounds.get_round(session, open_round), kek, app.config["PUBLIC_URL"]
        )
        session.commit()
    return DemoResult(passwords, links, open_round)


def _plan_action(
    session: Session,
    program: Program,
    rnd: Round,
    root: OrgUnit,
    plan: DemoAction,
    released_on: dt.date,
) -> None:
    """Record one of the demo's action plans and its dated updates."""
    owner = session.scalar(select(User.id).where(User.email == plan.owner))
    unit_id = None
    if plan.unit is not None:
        unit_id = session.scalar(
            select(OrgUnit.id).where(OrgUnit.parent_id == root.id, OrgUnit.name == plan.unit[0])
        )
    action = actions.add_action(
        session,
        program,
        rnd,
        plan.theme,
        plan.text,
        released_on,
        unit_id=unit_id,
        owner_id=owner,
        due_on=released_on + dt.timedelta(days=plan.due_days),
        author="hr@example.org",
    )
    for days, status, note in plan.updates:
        day = released_on + dt.timedelta(days=days)
        actions.update_action(session, action.id, day, status, note, plan.owner)


def _answer_round(
    session: Session,
    rng: random.Random,
    writer: CommentWriter,
    rnd: Round,
    kek: bytes,
    number: int,
    teams: dict[str, OrgUnit],
) -> None:
    """Answer a round through the real submission path, as a varying share of people would."""
    unit_names = {u.id: name for name, u in teams.items()}
    survey = submission.survey_for(session, rnd.id)
    people = {p.id: p for p in session.scalars(select(Person))}
    rate = 0.82 if number < 4 else 0.68 if number < 8 else 0.74
    for link in rounds.invitation_links(session, rnd, kek, "http://demo"):
        person = people[link.person_id]
        unit = unit_names.get(person.unit_id, "")
        if rng.random() > rate:
            continue
        answers = _answers(rng, survey.items, number, unit, person.tenure_band)
        comment = (
            writer.write(_phase(number), unit in NEW_UNIT[1], person.tenure_band == "3y+")
            if rng.random() < COMMENT_SHARE
            else ""
        )
        submission.submit(session, survey, link.code, answers, comment, kek)


def _reset_staff(session: Session) -> dict[str, str]:
    """Give the demo staff accounts fresh passwords and return them."""
    passwords = {}
    for email, role in STAFF:
        password = f"demo-{role}-" + os.urandom(4).hex()
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            accounts.create_user(session, email, role, password)
        else:
            accounts.set_password(user, password)
            user.active = True
        passwords[email] = password
    return passwords


class DemoError(Exception):
    """The demo cannot be set up in this instance; the message says where to run it."""


def ready_demo(app: Flask, today: dt.date, say: Callable[[str], None]) -> DemoResult:
    """Set the demo up in a new instance (once), or give its staff fresh passwords again."""
    fresh = not os.path.exists(app.config["KEY_FILE"])
    if fresh:
        say("Setting up a new instance in " + app.instance_path + " ...")
        instance.initialise(app, "admin@example.org", "demo-admin-" + os.urandom(4).hex())
    kek = instance.require_key(app)
    with db.session_scope(app) as session:
        existing = session.scalar(select(Program).where(Program.name == DEMO_PROGRAM))
        if existing is None and (
            session.scalar(select(Program.id).limit(1))
            or session.scalar(select(Person.id).limit(1))
        ):
            raise DemoError(
                "This instance already holds programmes or people that are not the demo; "
                "run the demo in its own folder, e.g. CANDOR_INSTANCE_PATH=/tmp/candor-demo."
            )
        if existing is not None:
            open_round = session.scalar(
                select(Round).where(
                    Round.program_id == existing.id, Round.status == RoundStatus.OPEN
                )
            )
            passwords = _reset_staff(session)
            session.commit()
            links = (
                rounds.invitation_links(session, open_round, kek, app.config["PUBLIC_URL"])
                if open_round
                else []
            )
            return DemoResult(passwords, links, open_round.id if open_round else 0)
    say("Generating 12 rounds of answers through the real sealing and release path ...")
    return build_demo(app, today)
