"""“You said, we did”: what leadership did after a released round, shown to employees later.

Invariants: an action answers a released round of its own programme and names a theme of the
bank that round froze; employees see only actions on released rounds numbered before the
round they are answering. Actions are written by staff and say nothing about any respondent.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.questions import Theme
from ..models import Action, Program, Round, RoundStatus
from . import banks

MAX_ACTION_CHARS = 1000
SHOWN_TO_EMPLOYEES = 5  # the most recent actions on the survey and thanks pages


class ActionError(ValueError):
    """The action cannot be recorded or removed; the message says why."""


@dataclass(frozen=True)
class ShownAction:
    """An action as pages show it: the round it answers, its theme and what was done."""

    id: int
    round_label: str
    theme: Theme
    text: str
    recorded_on: dt.date


@dataclass(frozen=True)
class RoundActions:
    """A released round, the themes its bank offers and the actions recorded for it."""

    round: Round
    themes: tuple[Theme, ...]
    actions: tuple[ShownAction, ...]


def clean_text(text: str) -> str:
    """Return ``text`` without control characters (line breaks kept) and outer spaces."""
    return "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C").strip()


def add_action(
    session: Session, program: Program, rnd: Round, theme: str, text: str, today: dt.date
) -> Action:
    """Record what was done about ``theme`` after the released round ``rnd``; caller commits."""
    if rnd.program_id != program.id:
        raise ActionError(f"{rnd.label} is not a round of {program.name}.")
    if rnd.status is not RoundStatus.RELEASED:
        raise ActionError(
            f"{rnd.label} is {rnd.status.value}; actions answer a released round's results."
        )
    bank = banks.frozen_bank(rnd)
    if theme not in {t.key for t in bank.themes}:
        raise ActionError(f"{theme!r} is not a theme of the questions {rnd.label} asked.")
    cleaned = clean_text(text.replace("\r\n", "\n"))
    if not cleaned:
        raise ActionError("Describe what was done.")
    if len(cleaned) > MAX_ACTION_CHARS:
        raise ActionError(f"Keep the description under {MAX_ACTION_CHARS} characters.")
    action = Action(
        program_id=program.id, round_id=rnd.id, theme=theme, text=cleaned, recorded_on=today
    )
    session.add(action)
    session.flush()
    return action


def delete_action(session: Session, action_id: int) -> Action:
    """Remove an action (it is no longer shown to anyone); return it. The caller commits."""
    action = session.get(Action, action_id)
    if action is None:
        raise ActionError("That action does not exist (any more).")
    session.delete(action)
    session.flush()
    return action


def _shown(rows: list[tuple[Action, Round]]) -> list[ShownAction]:
    """Return actions with their theme from the bank their round froze."""
    themes: dict[int, dict[str, Theme]] = {}
    shown = []
    for action, rnd in rows:
        if rnd.id not in themes:
            themes[rnd.id] = {t.key: t for t in banks.frozen_bank(rnd).themes}
        theme = themes[rnd.id].get(action.theme, Theme(action.theme, action.theme, ""))
        shown.append(ShownAction(action.id, rnd.label, theme, action.text, action.recorded_on))
    return shown


def actions_for_next_rounds(
    session: Session, program_id: int, before_round_number: int, limit: int = SHOWN_TO_EMPLOYEES
) -> list[ShownAction]:
    """Return the latest actions on released rounds of a programme before a round number."""
    rows = session.execute(
        select(Action, Round)
        .join(Round, Action.round_id == Round.id)
        .where(
            Action.program_id == program_id,
            Round.program_id == program_id,
            Round.number < before_round_number,
            Round.status == RoundStatus.RELEASED,
        )
        .order_by(Round.number.desc(), Action.recorded_on.desc(), Action.id.desc())
        .limit(limit)
    ).all()
    return _shown([(action, rnd) for action, rnd in rows])


def released_rounds(session: Session) -> list[RoundActions]:
    """Return every released round, newest first per programme, with its recorded actions."""
    released = list(
        session.scalars(
            select(Round)
            .where(Round.status == RoundStatus.RELEASED)
            .order_by(Round.program_id, Round.number.desc())
        )
    )
    rows = session.execute(
        select(Action, Round)
        .join(Round, Action.round_id == Round.id)
        .where(Round.status == RoundStatus.RELEASED)
        .order_by(Action.recorded_on.desc(), Action.id.desc())
    ).all()
    by_round: dict[int, list[ShownAction]] = {}
    for shown, (_, rnd) in zip(_shown([(a, r) for a, r in rows]), rows, strict=True):
        by_round.setdefault(rnd.id, []).append(shown)
    return [
        RoundActions(rnd, banks.frozen_bank(rnd).themes, tuple(by_round.get(rnd.id, ())))
        for rnd in released
    ]


@dataclass(frozen=True)
class ActionView:
    """One recorded action ("you said, we did") as reports read it."""

    theme: str
    text: str
    recorded_on: dt.date


def round_actions(session: Session, program_id: int, round_id: int) -> list[ActionView]:
    """Return the actions recorded after one round of a programme, oldest first (read only)."""
    rows = session.scalars(
        select(Action)
        .where(Action.program_id == program_id, Action.round_id == round_id)
        .order_by(Action.recorded_on, Action.id)
    )
    return [ActionView(a.theme, a.text, a.recorded_on) for a in rows]
