"""Importing the organisation tree and roster from a CSV file, and reading them back.

An import is all or nothing: :func:`apply` re-reads the file, refuses it if any line has a
problem, and otherwise flushes every change in the caller's transaction, which the caller
commits once. Rounds already opened keep the snapshot they took; only later rounds see a change.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain.csvlines import LineError
from ..domain.roster import (
    Path,
    RosterParse,
    band_spellings,
    format_path,
    parse_roster,
    person_row,
)
from ..domain.roster_plan import PersonState, RosterPlan, all_errors, plan, plan_person
from ..models import OrgUnit, Person

PAGE_SIZE = 100
SMALL_CHANGE = 100  # people changed by a plan that are read one by one
FORM_LINE = 0  # the "line" of a person edited in the browser (errors name the field instead)


class RosterError(Exception):
    """Raised when a roster file cannot be applied; ``errors`` lists its problems by line."""

    def __init__(self, message: str, errors: tuple[LineError, ...] = ()) -> None:
        super().__init__(message)
        self.errors = errors


@dataclass(frozen=True)
class UnitNode:
    """A unit of the tree with its active headcount: its own members and its whole subtree."""

    id: int
    name: str
    path: str
    direct: int
    total: int
    children: tuple[UnitNode, ...]


@dataclass(frozen=True)
class RosterEntry:
    """One person as the roster page lists them."""

    email: str
    name: str
    unit: str
    band: str
    active: bool
    id: int = 0


@dataclass(frozen=True)
class RosterPage:
    """One page of the roster, with what is needed to link to the others."""

    entries: tuple[RosterEntry, ...]
    total: int
    page: int
    pages: int


def _paths(units: Iterable[OrgUnit]) -> dict[int, Path]:
    """Return each unit's path from the root as a tuple of names."""
    by_id = {u.id: u for u in units}
    paths: dict[int, Path] = {}

    def path(unit_id: int) -> Path:
        if unit_id not in paths:
            unit = by_id[unit_id]
            above = () if unit.parent_id is None else path(unit.parent_id)
            paths[unit_id] = (*above, unit.name)
        return paths[unit_id]

    for unit_id in by_id:
        path(unit_id)
    return paths


def current_state(session: Session) -> tuple[dict[Path, int], dict[str, PersonState]]:
    """Return the existing tree (unit id by path) and roster (state by lower-cased email)."""
    by_id = _paths(session.scalars(select(OrgUnit)))
    rows = session.execute(
        select(Person.email, Person.unit_id, Person.tenure_band, Person.name, Person.active)
    )
    people = {
        email.lower(): PersonState(by_id[unit_id], band, name, active)
        for email, unit_id, band, name, active in rows
    }
    return {path: unit_id for unit_id, path in by_id.items()}, people


def preview(session: Session, text: str) -> tuple[RosterParse, RosterPlan]:
    """Return what importing ``text`` would change, and its problems; change nothing."""
    parsed = parse_roster(text)
    units, people = current_state(session)
    return parsed, plan(units, people, parsed.rows)


def apply(
    session: Session, text: str, expected: str | None = None, *, leaving_confirmed: bool = True
) -> RosterPlan:
    """Apply the roster in ``text`` whole, flushing only; the caller commits once.

    :param expected: the fingerprint of the plan that was previewed; if the database changed
        since, so that the plan differs, nothing is applied.
    :param leaving_confirmed: whether the person applying confirmed that more than
        ``LEAVING_CONFIRM_SHARE`` of the roster leaves, if it does. The browser asks for it;
        the command line's dry run and explicit ``--apply`` are that confirmation.
    :raises RosterError: if any line has a problem, the plan is not the previewed one, or
        someone else changed the roster at the same moment. The caller must roll back.
    """
    parsed, planned = preview(session, text)
    errors = all_errors(parsed, planned)
    if errors:
        count = f"{len(errors)} problem{'s' if len(errors) != 1 else ''}"
        raise RosterError(f"The file has {count}; nothing was changed.", errors)
    if expected is not None and planned.fingerprint != expected:
        raise RosterError(
            "The roster changed since the preview; nothing was changed. Check the new preview."
        )
    if planned.leaving_needs_confirmation and not leaving_confirmed:
        raise RosterError(f"Nothing was changed: {planned.leaving_warning}")
    units, _ = current_state(session)
    _apply_plan(session, planned, units)
    return planned


def _apply_plan(session: Session, planned: RosterPlan, units: dict[Path, int]) -> None:
    """Flush every change of a checked plan; ``units`` gains the units it creates."""
    for path in planned.units_to_create:
        unit = OrgUnit(name=path[-1], parent_id=units[path[:-1]] if len(path) > 1 else None)
        session.add(unit)
        session.flush()  # its children need its id
        units[path] = unit.id
    session.add_all(
        Person(email=row.email, name=row.name, unit_id=units[row.unit_path], tenure_band=row.band)
        for row in planned.to_add
    )
    changed = {
        *(m.email for m in planned.to_move),
        *(c.email for c in planned.to_change_band),
        *(c.email for c in planned.to_rename),
        *planned.to_reactivate,
        *planned.to_deactivate,
    }
    few = select(Person).where(func.lower(Person.email).in_(changed))
    # A whole import may change most people: read them all rather than send a huge IN list.
    query = few if len(changed) <= SMALL_CHANGE else select(Person)
    people = {p.email.lower(): p for p in session.scalars(query)} if changed else {}
    for move in planned.to_move:
        people[move.email].unit_id = units[move.after]
    for change in planned.to_change_band:
        people[change.email].tenure_band = change.after
    for change in planned.to_rename:
        people[change.email].name = change.after
    for email in planned.to_reactivate:
        people[email].active = True
    for email in planned.to_deactivate:
        people[email].active = False
    try:
        session.flush()
    except IntegrityError as exc:
        raise RosterError(
            "Someone else changed the roster at the same moment; nothing was changed. Try again."
        ) from exc


def find_person(session: Session, person_id: int) -> RosterEntry | None:
    """Return one person as the roster lists them, or None."""
    person = session.get(Person, person_id)
    if person is None:
        return None
    paths = _paths(session.scalars(select(OrgUnit)))
    return RosterEntry(
        person.email,
        person.name,
        format_path(paths[person.unit_id]),
        person.tenure_band,
        person.active,
        person.id,
    )


def save_person(
    session: Session, email: str, unit: str, tenure: str, name: str, *, new: bool
) -> RosterPlan:
    """Add one person, or change one person's unit, band or name; flush only.

    The line passes the same validation as an import line (:func:`person_row`) and the same
    tree rules (:func:`plan_person`). Editing someone who left keeps them off the roster;
    :func:`set_active` brings them back. Rounds already opened keep their snapshot.

    :raises RosterError: with the problems, each naming its field; nothing is changed.
    """
    errors: list[LineError] = []
    row = person_row(FORM_LINE, email, unit, tenure, name, band_spellings(), errors)
    if row is None:
        raise RosterError("Nothing was changed; fix the fields marked.", tuple(errors))
    units, people = current_state(session)
    now = people.get(row.email)
    if new and now is not None:
        message = f"{row.email} is already on the roster; change them from the roster list."
        raise RosterError(message, (LineError(FORM_LINE, "email", message),))
    if not new and now is None:
        raise RosterError(f"{row.email} is not on the roster.")
    planned = plan_person(units, people, row)
    if planned.errors:
        raise RosterError("Nothing was changed; fix the fields marked.", planned.errors)
    if now is not None and not now.active:
        planned = dataclasses.replace(planned, to_reactivate=())
    _apply_plan(session, planned, units)
    return planned


def set_active(session: Session, person_id: int, active: bool) -> RosterPlan:
    """Take one person off the roster (kept for past rounds) or bring them back; flush only."""
    person = session.get(Person, person_id)
    if person is None:
        raise RosterError("That person is not on the roster.")
    email = person.email.lower()
    if person.active == active:
        state = "on the roster" if active else "off the roster already"
        raise RosterError(f"{person.email} is {state}; nothing was changed.")
    planned = RosterPlan(
        to_reactivate=(email,) if active else (), to_deactivate=() if active else (email,)
    )
    _apply_plan(session, planned, {})
    return planned


def tree(session: Session) -> tuple[UnitNode, ...]:
    """Return the organisation tree from its roots, with active headcounts."""
    units = list(session.scalars(select(OrgUnit).order_by(OrgUnit.name, OrgUnit.id)))
    paths = _paths(units)
    counts = session.execute(
        select(Person.unit_id, func.count()).where(Person.active).group_by(Person.unit_id)
    )
    direct: Counter[int] = Counter()
    for unit_id, count in counts:
        direct[unit_id] = count
    children: dict[int | None, list[OrgUnit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)

    def node(unit: OrgUnit) -> UnitNode:
        below = tuple(node(child) for child in children.get(unit.id, ()))
        own = direct[unit.id]
        return UnitNode(
            unit.id,
            unit.name,
            format_path(paths[unit.id]),
            own,
            own + sum(c.total for c in below),
            below,
        )

    return tuple(node(root) for root in children.get(None, ()))


def roster_page(
    session: Session, search: str = "", page: int = 1, per_page: int = PAGE_SIZE
) -> RosterPage:
    """Return one page of the roster, ordered by email, filtered by an email substring."""
    where = func.lower(Person.email).contains(search.strip().lower(), autoescape=True)
    total = session.scalar(select(func.count()).select_from(Person).where(where)) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    people = session.scalars(
        select(Person)
        .where(where)
        .order_by(Person.email)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    paths = _paths(session.scalars(select(OrgUnit)))
    entries = tuple(
        RosterEntry(p.email, p.name, format_path(paths[p.unit_id]), p.tenure_band, p.active, p.id)
        for p in people
    )
    return RosterPage(entries, total, page, pages)
