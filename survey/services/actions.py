"""“You said, we did”: action plans answering a released round, shown to employees later.

Invariants: an action answers a released round of its own programme and names a theme of the
bank that round froze; it may be for one unit of the tree (or the whole organisation), is owned
by a staff user and moves between planned, in progress and done through dated updates.
Employees see only actions on released rounds numbered before the round they are answering.
Actions are written by staff and say nothing about any respondent.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, case, delete, func, select
from sqlalchemy.orm import Session

from ..domain.lifecycle import round_label
from ..domain.questions import Bank, Theme
from ..models import Action, ActionStatus, ActionUpdate, OrgUnit, Program, Round, RoundStatus, User
from . import banks
from .org import unit_paths

MAX_ACTION_CHARS = 1000
MAX_UPDATE_CHARS = 1000
SHOWN_TO_EMPLOYEES = 5  # the most recent actions on the survey and thanks pages
SHOWN_ON_PAGE = 200  # actions listed on the staff page at once; filters narrow the rest
WHOLE_ORGANISATION = "Whole organisation"  # an action without a unit
STATUS_LABELS = {
    ActionStatus.PLANNED: "Planned",
    ActionStatus.IN_PROGRESS: "In progress",
    ActionStatus.DONE: "Done",
}


MISSING = "That action does not exist (any more)."


class ActionError(ValueError):
    """The action cannot be recorded, changed or removed; the message says why."""


@dataclass(frozen=True)
class ShownAction:
    """An action as employees see it: the round it answers, its theme, unit and status."""

    id: int
    round_label: str
    theme: Theme
    text: str
    recorded_on: dt.date
    status: ActionStatus = ActionStatus.DONE
    unit: str = ""


@dataclass(frozen=True)
class ShownUpdate:
    """One dated update of an action plan."""

    recorded_on: dt.date
    status: ActionStatus
    note: str
    author: str


@dataclass(frozen=True)
class ActionPlan:
    """An action as the staff page shows it, with its history (oldest update first)."""

    id: int
    program: str
    round_id: int
    round_label: str
    theme: Theme
    text: str
    recorded_on: dt.date
    unit_id: int | None
    unit: str
    owner_id: int | None
    owner: str
    due_on: dt.date | None
    status: ActionStatus
    overdue: bool
    updates: tuple[ShownUpdate, ...] = ()

    @property
    def status_label(self) -> str:
        """Return the status as staff pages write it."""
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class ActionFilter:
    """What the staff page narrows the list to; ``None`` keeps everything."""

    program_id: int | None = None
    status: ActionStatus | None = None
    theme: str | None = None
    unit_id: int | None = None
    owner_id: int | None = None


@dataclass(frozen=True)
class Choices:
    """What the action forms offer: released rounds, themes, units and staff users."""

    rounds: tuple[tuple[int, str], ...]
    programs: tuple[tuple[int, str], ...]
    themes: tuple[tuple[str, str], ...]
    units: tuple[tuple[int, str], ...]
    owners: tuple[tuple[int, str], ...]


def clean_text(text: str) -> str:
    """Return ``text`` without control characters (line breaks kept) and outer spaces."""
    text = text.replace("\r\n", "\n")
    return "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C").strip()


def _check_plan(
    session: Session, rnd: Round, unit_id: int | None, owner_id: int | None, due_on: dt.date | None
) -> None:
    """Refuse a unit or owner that does not exist, or a due date before the round closed."""
    if unit_id is not None and session.get(OrgUnit, unit_id) is None:
        raise ActionError("That unit does not exist; choose one from the list.")
    if owner_id is not None and session.get(User, owner_id) is None:
        raise ActionError("That staff user does not exist; choose one from the list.")
    if due_on is not None and rnd.closes_on is not None and due_on < rnd.closes_on:
        raise ActionError(
            f"The due date {due_on} is before {rnd.label} closed ({rnd.closes_on}); "
            "an action is due after the results it answers."
        )


def add_action(
    session: Session,
    program: Program,
    rnd: Round,
    theme: str,
    text: str,
    today: dt.date,
    *,
    unit_id: int | None = None,
    owner_id: int | None = None,
    due_on: dt.date | None = None,
    status: ActionStatus = ActionStatus.PLANNED,
    author: str = "",
) -> Action:
    """Record an action on ``theme`` after the released round ``rnd``; the caller commits.

    The first update (the status it starts in) is recorded with it, dated ``today``.
    """
    if rnd.program_id != program.id:
        raise ActionError(f"{rnd.label} is not a round of {program.name}.")
    if rnd.status is not RoundStatus.RELEASED:
        raise ActionError(
            f"{rnd.label} is {rnd.status.value}; actions answer a released round's results."
        )
    bank = banks.frozen_bank(rnd)
    if theme not in {t.key for t in bank.themes}:
        raise ActionError(f"{theme!r} is not a theme of the questions {rnd.label} asked.")
    cleaned = clean_text(text)
    if not cleaned:
        raise ActionError("Describe the action.")
    if len(cleaned) > MAX_ACTION_CHARS:
        raise ActionError(f"Keep the description under {MAX_ACTION_CHARS} characters.")
    _check_plan(session, rnd, unit_id, owner_id, due_on)
    action = Action(
        program_id=program.id,
        round_id=rnd.id,
        theme=theme,
        text=cleaned,
        recorded_on=today,
        unit_id=unit_id,
        owner_id=owner_id,
        due_on=due_on,
        status=status,
    )
    session.add(action)
    session.flush()
    session.add(
        ActionUpdate(
            action_id=action.id, recorded_on=today, status=status, note="Recorded.", author=author
        )
    )
    session.flush()
    return action


def _action(session: Session, action_id: int) -> Action:
    action = session.get(Action, action_id)
    if action is None:
        raise ActionError(MISSING)
    return action


def update_action(
    session: Session,
    action_id: int,
    today: dt.date,
    status: ActionStatus,
    note: str,
    author: str = "",
) -> ActionUpdate:
    """Record a dated update, leaving the action in ``status``; the caller commits."""
    action = _action(session, action_id)
    if clean_text(note) == "" and status is action.status:
        raise ActionError("Write what happened, or change the status.")
    cleaned = clean_text(note)
    if len(cleaned) > MAX_UPDATE_CHARS:
        raise ActionError(f"Keep the update under {MAX_UPDATE_CHARS} characters.")
    action.status = status
    update = ActionUpdate(
        action_id=action.id, recorded_on=today, status=status, note=cleaned, author=author
    )
    session.add(update)
    session.flush()
    return update


def edit_plan(
    session: Session,
    action_id: int,
    unit_id: int | None,
    owner_id: int | None,
    due_on: dt.date | None,
) -> Action:
    """Change an action's unit, owner and due date; the caller commits."""
    action = _action(session, action_id)
    rnd = session.get(Round, action.round_id)
    assert rnd is not None  # a foreign key
    _check_plan(session, rnd, unit_id, owner_id, due_on)
    action.unit_id, action.owner_id, action.due_on = unit_id, owner_id, due_on
    session.flush()
    return action


def delete_action(session: Session, action_id: int) -> Action:
    """Remove an action and its updates (no one sees it any more); return it. Caller commits."""
    action = _action(session, action_id)
    session.execute(delete(ActionUpdate).where(ActionUpdate.action_id == action_id))
    session.delete(action)
    session.flush()
    return action


def _themes(rnd: Round) -> dict[str, Theme]:
    return {t.key: t for t in banks.frozen_bank(rnd).themes}


def _theme(rnd: Round, key: str) -> Theme:
    return _theme_in(banks.frozen_bank(rnd), key)


def _theme_in(bank: Bank, key: str) -> Theme:
    """Return the theme ``key`` of ``bank``, or one named by its key if the bank has none."""
    return next((t for t in bank.themes if t.key == key), Theme(key, key, ""))


_UNITS = select(OrgUnit.id, OrgUnit.name, OrgUnit.parent_id)


def _units(session: Session) -> dict[int, str]:
    return unit_paths(session.connection().execute(_UNITS).all())


# The units named and all their ancestors, in one statement built once (every page that shows
# actions names each one's unit; reading every unit for that cost a survey page 10 ms at 2,000
# units, and the staff list read them all twice, once more for its unit choices).
_NAMED = select(OrgUnit.id, OrgUnit.name, OrgUnit.parent_id).where(
    OrgUnit.id.in_(bindparam("ids", expanding=True))
)
_UP = _NAMED.cte("up", recursive=True)
_ANCESTRY = select(
    _UP.union(
        select(OrgUnit.id, OrgUnit.name, OrgUnit.parent_id).join(_UP, OrgUnit.id == _UP.c.parent_id)
    )
)


def _paths_of(session: Session, unit_ids: set[int]) -> dict[int, str]:
    """Return the path of each of ``unit_ids``, reading only them and their ancestors."""
    if not unit_ids:
        return {}
    rows = session.connection().execute(_ANCESTRY, {"ids": sorted(unit_ids)}).all()
    paths = unit_paths(rows)
    return {unit: paths[unit] for unit in unit_ids if unit in paths}


def _last_activity() -> Any:
    """Return, per action, the date of its latest update (or when it was recorded)."""
    latest = (
        select(func.max(ActionUpdate.recorded_on))
        .where(ActionUpdate.action_id == Action.id)
        .scalar_subquery()
    )
    return func.coalesce(latest, Action.recorded_on)


# Built once: this runs on every survey page and thanks page. Plain columns: most pages
# find nothing, and those that do need each round's questions only for its theme names.
_LATEST_SHOWN = (
    select(
        Action.id,
        Action.round_id,
        Round.number,
        Round.public_key,
        Action.theme,
        Action.text,
        Action.recorded_on,
        Action.status,
        Action.unit_id,
    )
    .join(Round, Action.round_id == Round.id)
    .where(
        Action.program_id == bindparam("program_id"),
        Round.program_id == bindparam("program_id"),
        Round.number < bindparam("before"),
        Round.status == RoundStatus.RELEASED,
    )
    # Newest round first, then the latest news: an action just done comes before one merely
    # planned the same day.
    .order_by(Round.number.desc(), _last_activity().desc(), Action.id.desc())
    .limit(bindparam("limit"))
)


def actions_for_next_rounds(
    session: Session, program_id: int, before_round_number: int, limit: int = SHOWN_TO_EMPLOYEES
) -> list[ShownAction]:
    """Return the latest actions on released rounds of a programme before a round number."""
    rows = (
        session.connection()
        .execute(
            _LATEST_SHOWN,
            {"program_id": program_id, "before": before_round_number, "limit": limit},
        )
        .all()
    )
    if not rows:
        return []
    units = _paths_of(session, {row.unit_id for row in rows if row.unit_id is not None})
    return [
        ShownAction(
            row.id,
            round_label(row.number),
            _theme_in(banks.frozen_bank_of(session, row.round_id, row.public_key), row.theme),
            row.text,
            row.recorded_on,
            row.status,
            units.get(row.unit_id, "") if row.unit_id is not None else "",
        )
        for row in rows
    ]


_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])


def _filtered(query: _Query, where: ActionFilter) -> _Query:
    if where.program_id is not None:
        query = query.where(Action.program_id == where.program_id)
    if where.status is not None:
        query = query.where(Action.status == where.status)
    if where.theme:
        query = query.where(Action.theme == where.theme)
    if where.unit_id is not None:
        query = query.where(Action.unit_id == where.unit_id)
    if where.owner_id is not None:
        query = query.where(Action.owner_id == where.owner_id)
    return query


# The staff list's order: open first (in progress, then planned, then done), then by due date
# (none last), the newest first.
_LISTED_ORDER = (
    case(
        (Action.status == ActionStatus.IN_PROGRESS, 0),
        (Action.status == ActionStatus.PLANNED, 1),
        else_=2,
    ),
    Action.due_on.is_(None),
    Action.due_on,
    Action.id.desc(),
)


def list_actions(
    session: Session, where: ActionFilter, today: dt.date, limit: int = SHOWN_ON_PAGE
) -> tuple[list[ActionPlan], int]:
    """Return the actions that pass the filter (open first, then by due date) and their count."""
    query = _filtered(select(Action, Round).join(Round, Action.round_id == Round.id), where)
    total = session.scalar(_filtered(select(func.count()).select_from(Action), where)) or 0
    # Sorted and cut in the database: only the actions shown become objects.
    rows = session.execute(query.order_by(*_LISTED_ORDER).limit(limit)).all()
    units = _paths_of(session, {a.unit_id for a, _ in rows if a.unit_id is not None})
    owners = _owners(session)
    return [_plan(a, r, today, units, owners) for a, r in rows], int(total)


def get_action(session: Session, action_id: int, today: dt.date) -> ActionPlan:
    """Return one action with its dated updates, oldest first."""
    action = _action(session, action_id)
    rnd = session.get(Round, action.round_id)
    assert rnd is not None  # a foreign key
    updates = session.scalars(
        select(ActionUpdate)
        .where(ActionUpdate.action_id == action_id)
        .order_by(ActionUpdate.recorded_on, ActionUpdate.id)
    )
    history = tuple(ShownUpdate(u.recorded_on, u.status, u.note, u.author) for u in updates)
    units = _paths_of(session, {action.unit_id} if action.unit_id is not None else set())
    return _plan(action, rnd, today, units, _owners(session), history)


def _owners(session: Session) -> dict[int, str]:
    rows = session.execute(select(User.id, User.email)).all()
    return {row[0]: row[1] for row in rows}


def _plan(
    action: Action,
    rnd: Round,
    today: dt.date,
    units: dict[int, str],
    owners: dict[int, str],
    updates: tuple[ShownUpdate, ...] = (),
) -> ActionPlan:
    """Return an action as the staff page shows it."""
    return ActionPlan(
        id=action.id,
        program=rnd.program.name,
        round_id=rnd.id,
        round_label=rnd.label,
        theme=_theme(rnd, action.theme),
        text=action.text,
        recorded_on=action.recorded_on,
        unit_id=action.unit_id,
        unit=units.get(action.unit_id, "") if action.unit_id is not None else "",
        owner_id=action.owner_id,
        owner=owners.get(action.owner_id, "") if action.owner_id is not None else "",
        due_on=action.due_on,
        status=action.status,
        overdue=action.status is not ActionStatus.DONE
        and action.due_on is not None
        and action.due_on < today,
        updates=updates,
    )


def choices(session: Session) -> Choices:
    """Return what the forms offer: released rounds newest first, themes, units and staff."""
    released = list(
        session.scalars(
            select(Round)
            .where(Round.status == RoundStatus.RELEASED)
            .order_by(Round.program_id, Round.number.desc())
        )
    )
    themes: dict[str, str] = {}
    for rnd in released:
        for key, theme in _themes(rnd).items():
            themes.setdefault(key, theme.label)
    programs = {rnd.program_id: rnd.program.name for rnd in released}
    units = sorted(_units(session).items(), key=lambda item: item[1])
    owners = sorted(_owners(session).items(), key=lambda item: item[1])
    return Choices(
        rounds=tuple((r.id, f"{r.program.name}: {r.label}") for r in released),
        programs=tuple(sorted(programs.items(), key=lambda item: item[1])),
        themes=tuple(sorted(themes.items(), key=lambda item: item[1])),
        units=tuple(units),
        owners=tuple(owners),
    )


@dataclass(frozen=True)
class ActionView:
    """One recorded action ("you said, we did") as reports read it."""

    theme: str
    text: str
    recorded_on: dt.date


# Read by every overview page, so built once (plain columns: no Action objects are needed).
_ROUND_ACTIONS = (
    select(Action.theme, Action.text, Action.recorded_on)
    .where(Action.program_id == bindparam("program_id"), Action.round_id == bindparam("round_id"))
    .order_by(Action.recorded_on, Action.id)
)


def round_actions(session: Session, program_id: int, round_id: int) -> list[ActionView]:
    """Return the actions recorded after one round of a programme, oldest first (read only)."""
    rows = session.connection().execute(
        _ROUND_ACTIONS, {"program_id": program_id, "round_id": round_id}
    )
    return [ActionView(*row) for row in rows]
