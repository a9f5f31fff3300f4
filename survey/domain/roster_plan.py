"""Planning what importing a roster would change in the organisation tree and the roster.

Invariant: a plan either carries errors, and nothing of it may be applied, or it says every
change applying it makes. Paths identify units (``Lab/Research/Language``); units are created,
never renamed, moved or deleted (:mod:`survey.domain.roster_tree` checks the paths). People are
matched by lower-cased email; people active now but absent from the file are deactivated, never
deleted, so rounds already opened keep their snapshot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .csvlines import LineError
from .roster import RosterParse, RosterRow
from .roster_tree import Path, tree_problems

# An import that would take more than this share of the active roster off it is confirmed
# explicitly: a short file by mistake would otherwise empty the next round.
LEAVING_CONFIRM_SHARE = 0.1


@dataclass(frozen=True)
class PersonState:
    """What the database holds about one person now."""

    unit_path: Path
    band: str
    name: str
    active: bool


@dataclass(frozen=True)
class Move:
    """A person moving from one unit to another."""

    email: str
    before: Path
    after: Path


@dataclass(frozen=True)
class Change:
    """A person's tenure band or name changing."""

    email: str
    before: str
    after: str


@dataclass(frozen=True)
class RosterPlan:
    """What applying a parsed roster would change, and why it cannot, if it cannot.

    ``units_to_create`` is ordered so that every parent comes before its children.
    """

    units_to_create: tuple[Path, ...] = ()
    to_add: tuple[RosterRow, ...] = ()
    to_move: tuple[Move, ...] = ()
    to_change_band: tuple[Change, ...] = ()
    to_rename: tuple[Change, ...] = ()
    to_reactivate: tuple[str, ...] = ()
    to_deactivate: tuple[str, ...] = ()
    unchanged: int = 0
    errors: tuple[LineError, ...] = ()
    active_before: int = 0  # people active on the roster before the plan

    @property
    def ok(self) -> bool:
        """Return whether the plan may be applied."""
        return not self.errors

    @property
    def leaving_needs_confirmation(self) -> bool:
        """Return whether more than ``LEAVING_CONFIRM_SHARE`` of the active roster would leave."""
        return len(self.to_deactivate) > LEAVING_CONFIRM_SHARE * self.active_before

    @property
    def leaving_warning(self) -> str:
        """Return the warning an import that empties much of the roster shows, or ''."""
        if not self.leaving_needs_confirmation:
            return ""
        leaving = len(self.to_deactivate)
        return (
            f"{_count(leaving, 'person', 'people')} of {self.active_before} active "
            f"({leaving / max(self.active_before, 1):.0%}) would leave the roster and not be "
            "invited again. If the file is only part of the roster, do not apply it: a roster "
            "file lists everyone."
        )

    @property
    def changes_anything(self) -> bool:
        """Return whether applying the plan would change the database."""
        return any(
            (
                self.units_to_create,
                self.to_add,
                self.to_move,
                self.to_change_band,
                self.to_rename,
                self.to_reactivate,
                self.to_deactivate,
            )
        )

    @property
    def summary(self) -> str:
        """Return one plain sentence saying what applying the plan would do."""
        if not self.changes_anything:
            return f"Nothing to change: all {self.unchanged} people are already as listed."
        parts = [
            _count(len(self.units_to_create), "new unit"),
            _count(len(self.to_add), "new person", "new people"),
            _count(len(self.to_move), "person moving unit", "people moving unit"),
            _count(len(self.to_change_band), "tenure band change"),
            _count(len(self.to_rename), "name change"),
            _count(len(self.to_reactivate), "person returning", "people returning"),
            _count(len(self.to_deactivate), "person leaving", "people leaving"),
        ]
        return f"{'; '.join(parts)}; {self.unchanged} unchanged."

    @property
    def fingerprint(self) -> str:
        """Return a digest of the plan, so an apply can check it does what was previewed."""
        digest = hashlib.sha256()
        for part in (
            self.units_to_create,
            tuple((r.email, r.name, r.unit_path, r.band) for r in self.to_add),
            self.to_move,
            self.to_change_band,
            self.to_rename,
            self.to_reactivate,
            self.to_deactivate,
            self.unchanged,
        ):
            digest.update(repr(part).encode())
        return digest.hexdigest()


def _count(n: int, singular: str, plural: str | None = None) -> str:
    """Return ``n`` with the noun it counts: ``1 new unit``, ``3 people leaving``."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def plan(
    existing_units: Mapping[Path, int],
    existing_people: Mapping[str, PersonState],
    rows: Iterable[RosterRow],
) -> RosterPlan:
    """Return what importing ``rows`` would change in the existing tree and roster.

    :param existing_units: unit id by path from the root, for every unit now in the tree.
    :param existing_people: the state of every person now on the roster, by lower-cased email.
    :param rows: the valid rows of a parsed roster file.
    """
    rows = tuple(rows)
    errors = _tree_errors(existing_units, rows)
    wanted: set[Path] = {row.unit_path[: i + 1] for row in rows for i in range(len(row.unit_path))}
    create = tuple(sorted(wanted - set(existing_units), key=lambda p: (len(p), p)))
    add: list[RosterRow] = []
    move: list[Move] = []
    band: list[Change] = []
    rename: list[Change] = []
    reactivate: list[str] = []
    unchanged = 0
    for row in rows:
        now = existing_people.get(row.email)
        if now is None:
            add.append(row)
            continue
        changed = False
        if not now.active:
            reactivate.append(row.email)
            changed = True
        if now.unit_path != row.unit_path:
            move.append(Move(row.email, now.unit_path, row.unit_path))
            changed = True
        if now.band != row.band:
            band.append(Change(row.email, now.band, row.band))
            changed = True
        if row.name and now.name != row.name:  # an empty name keeps the stored one
            rename.append(Change(row.email, now.name, row.name))
            changed = True
        if not changed:
            unchanged += 1
    listed = {row.email for row in rows}
    deactivate = sorted(
        email for email, now in existing_people.items() if now.active and email not in listed
    )
    return RosterPlan(
        units_to_create=create,
        to_add=tuple(add),
        to_move=tuple(move),
        to_change_band=tuple(band),
        to_rename=tuple(rename),
        to_reactivate=tuple(reactivate),
        to_deactivate=tuple(deactivate),
        unchanged=unchanged,
        errors=tuple(sorted(set(errors))),
        active_before=sum(1 for now in existing_people.values() if now.active),
    )


def plan_person(
    existing_units: Mapping[Path, int], existing_people: Mapping[str, PersonState], row: RosterRow
) -> RosterPlan:
    """Return what adding or changing one person (and nobody else) would change.

    The same rules as an import of the whole roster apply to the person's line; nobody else
    leaves.
    """
    now = existing_people.get(row.email)
    return plan(existing_units, {} if now is None else {row.email: now}, (row,))


def _tree_errors(existing: Mapping[Path, int], rows: tuple[RosterRow, ...]) -> list[LineError]:
    """Return the problems of the file's paths against the existing tree (see roster_tree)."""
    problems = tree_problems(existing, ((row.unit_path, row.line) for row in rows))
    return [LineError(line, "unit", message) for line, message in problems]


def all_errors(parsed: RosterParse, planned: RosterPlan) -> tuple[LineError, ...]:
    """Return every problem of a file, parse and plan together, in line order."""
    return tuple(sorted(set(parsed.errors) | set(planned.errors)))
