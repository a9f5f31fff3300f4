"""The organisation tree and roster as a round sees them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import grouping
from ..models import OrgUnit, Person

UNSTATED_BAND = "unstated"


class UnitLike(Protocol):
    """What a unit's path is made of: a unit, or a row of its id, name and parent."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def parent_id(self) -> int | None: ...


def unit_paths(units: Sequence[UnitLike]) -> dict[int, str]:
    """Return each unit's path from the root, such as ``Example AI Lab/Research/Language``."""
    by_id = {u.id: u for u in units}
    paths: dict[int, str] = {}

    def path(unit_id: int) -> str:
        if unit_id not in paths:
            unit = by_id[unit_id]
            parent = unit.parent_id
            paths[unit_id] = unit.name if parent is None else f"{path(parent)}/{unit.name}"
        return paths[unit_id]

    for unit in units:
        path(unit.id)
    return paths


def add_unit(session: Session, name: str, parent: OrgUnit | None) -> OrgUnit:
    """Add a unit under ``parent`` (None for the root); the caller commits."""
    unit = OrgUnit(name=name, parent_id=parent.id if parent else None)
    session.add(unit)
    session.flush()
    return unit


def take_snapshot(
    session: Session, k: int
) -> tuple[dict[str, Any], list[Person], dict[int, tuple[int, str]]]:
    """Return the org tree, eligible counts, eligible people and their storage labels.

    The snapshot is stored in the round when it opens, so later re-orgs never re-cut it.
    Eligible counts are per storage label (see :mod:`survey.domain.grouping`): per stored unit
    and per stored unit × band, direct members only, so they match what responses can carry.
    """
    units = list(session.scalars(select(OrgUnit).order_by(OrgUnit.id)))
    paths = unit_paths(units)
    people = list(session.scalars(select(Person).where(Person.active).order_by(Person.id)))
    parents = {u.id: u.parent_id for u in units}
    labels = grouping.storage_labels(parents, {p.id: (p.unit_id, p.tenure_band) for p in people}, k)
    per_unit = Counter(unit for unit, _band in labels.values())
    per_atom = Counter(f"{unit}|{band}" for unit, band in labels.values())
    members: dict[str, list[int]] = {}
    for pid, (unit, band) in sorted(labels.items()):
        members.setdefault(f"{unit}|{band}", []).append(pid)
    snapshot = {
        "units": {
            str(u.id): {"parent": u.parent_id, "name": u.name, "path": paths[u.id]} for u in units
        },
        "eligible": {str(unit): count for unit, count in per_unit.items()},
        "eligible_atoms": dict(per_atom),
        "people": [p.id for p in people],
        # Who was eligible under each storage label (never who answered): a later release
        # compares membership sets across rounds with it (domain/churn.py); never published.
        "members": dict(sorted(members.items())),
    }
    return snapshot, people, labels


def parents_of(snapshot: dict[str, Any]) -> dict[int, int | None]:
    """Return unit id -> parent id from a round snapshot."""
    return {int(uid): info["parent"] for uid, info in snapshot["units"].items()}
