"""Programmes: create and change them; changes reach only rounds not yet opened."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain import cadence, disclosure, noise, rotation
from ..domain.cadence import DEFAULT_WINDOW_DAYS
from ..domain.custody import MAX_CUSTODIANS as MAX_QUORUM
from ..domain.questions import BankError
from ..domain.rotation import DEFAULT_ROTATION_EVERY
from ..models import Cadence, Custody, Program
from . import banks
from .retention import MAX_RETENTION_DAYS

MAX_ROTATION = 12
MAX_NAME = 120


class ProgramError(ValueError):
    """A setting is not acceptable; ``field`` names it so a form can show the message there."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ProgramSettings:
    """Everything an admin sets on a programme."""

    name: str
    bank: str = "core-v1"
    k: int = disclosure.DEFAULT_K
    comment_k: int = disclosure.DEFAULT_COMMENT_K
    cadence: str = Cadence.MANUAL.value
    window_days: int = DEFAULT_WINDOW_DAYS
    rotation_every: int = DEFAULT_ROTATION_EVERY
    first_open_on: dt.date | None = None
    strict_links: bool = False
    unlinkable_required: bool = False
    active: bool = True
    # Custody of round opening keys and retention of sealed answers (services/custody.py,
    # services/retention.py).
    custodians: bool = False
    custody_quorum: int = 2
    retention_days: int = 0
    # Differential privacy: the budget per release, None for off (domain/noise.py).
    dp_epsilon: float | None = None


@dataclass(frozen=True)
class ProgramChoice:
    """A programme as the results pages' chooser shows it."""

    id: int
    name: str


# Read by every results page, so built once: plain rows, no ORM objects.
_CHOICES = select(Program.id, Program.name).order_by(Program.id)


def choices(session: Session) -> list[ProgramChoice]:
    """Return every programme's id and name, in the order they were set up."""
    return [ProgramChoice(*row) for row in session.connection().execute(_CHOICES)]


def schedule_preview(session: Session, bank_key: str, every: int, rounds: int = 6) -> list[str]:
    """Return, for the next ``rounds`` round numbers, the theme labels each would ask."""
    bank = banks.get_bank(session, bank_key)
    plan = rotation.schedule(bank, every)
    labels = {t.key: t.label for t in bank.themes}
    return [", ".join(labels[t] for t in plan.themes_for(n)) for n in range(1, rounds + 1)]


def validate(session: Session, settings: ProgramSettings, program_id: int | None) -> None:
    """Raise :class:`ProgramError` for the first setting that cannot work."""
    name = settings.name.strip()
    if not name or len(name) > MAX_NAME:
        raise ProgramError("name", f"Give the programme a name of 1 to {MAX_NAME} characters.")
    clash = session.scalar(
        select(func.count())
        .select_from(Program)
        .where(Program.name == name, Program.id != (program_id or 0))
    )
    if clash:
        raise ProgramError("name", f"There is already a programme called {name!r}.")
    if settings.k < disclosure.MIN_K:
        raise ProgramError(
            "k", f"k must be at least {disclosure.MIN_K}: smaller groups are never safe to show."
        )
    if settings.comment_k < settings.k:
        raise ProgramError("comment_k", "The comment threshold cannot be lower than k.")
    try:
        kind = Cadence(settings.cadence)
    except ValueError:
        raise ProgramError("cadence", "Choose manual, weekly, fortnightly or monthly.") from None
    if kind is not Cadence.MANUAL:
        longest = cadence.max_window(kind.value)
        if not cadence.MIN_WINDOW_DAYS <= settings.window_days <= longest:
            raise ProgramError(
                "window_days", f"A {kind.value} round can stay open 1 to {longest} days."
            )
        if settings.first_open_on is None:
            raise ProgramError("first_open_on", "Say when the first round opens.")
    if not 1 <= settings.custody_quorum <= MAX_QUORUM:
        raise ProgramError(
            "custody_quorum", f"The custodians' quorum is 1 to {MAX_QUORUM} of them."
        )
    if not 0 <= settings.retention_days <= MAX_RETENTION_DAYS:
        raise ProgramError(
            "retention_days",
            f"Keep sealed answers 0 (shred at release) to {MAX_RETENTION_DAYS} days.",
        )
    try:
        noise.check_epsilon(settings.dp_epsilon)
    except noise.NoiseError as exc:
        raise ProgramError(
            "dp_epsilon", f"The privacy budget {exc}; leave it empty for off."
        ) from None
    if not 1 <= settings.rotation_every <= MAX_ROTATION:
        raise ProgramError("rotation_every", f"Rotate over 1 to {MAX_ROTATION} rounds.")
    try:
        rotation.schedule(banks.get_bank(session, settings.bank), settings.rotation_every)
    except BankError as exc:
        raise ProgramError("bank", str(exc)) from None
    except rotation.RotationError as exc:
        raise ProgramError(
            "rotation_every", f"This bank cannot be asked that way: {exc}."
        ) from None


def save_program(session: Session, program: Program | None, settings: ProgramSettings) -> Program:
    """Create or update a programme after validating it; the caller commits.

    Rounds copy k, thresholds and questions when they open, so a change here never touches
    a round that is open, closed or released.
    """
    validate(session, settings, program.id if program else None)
    target = program or Program()
    target.name = settings.name.strip()
    target.bank = settings.bank
    target.k = settings.k
    target.comment_k = settings.comment_k
    target.cadence = Cadence(settings.cadence)
    target.window_days = settings.window_days
    target.rotation_every = settings.rotation_every
    target.first_open_on = settings.first_open_on
    target.strict_links = settings.strict_links
    target.unlinkable_required = settings.unlinkable_required
    target.active = settings.active
    target.custody = Custody.CUSTODIANS if settings.custodians else Custody.INSTANCE
    target.custody_quorum = settings.custody_quorum
    target.retention_days = settings.retention_days
    target.dp_epsilon = settings.dp_epsilon
    if program is None:
        session.add(target)
    session.flush()
    return target
