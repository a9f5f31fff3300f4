"""A round's unit tree as a release sees it, computed once from the round's snapshot.

Invariant: every structural question a release asks -- a unit's parent, subtree, depth and
path, the root, the attribute bands, which answers lie within a unit, and which atoms a
published cell sums -- is answered from this one object, built once per release.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .disclosure import check_tree


class Placed(Protocol):
    """An answer as far as the tree is concerned: the unit and band it is stored under."""

    @property
    def unit_id(self) -> int: ...

    @property
    def band(self) -> str: ...


class TreeError(ValueError):
    """Raised for a snapshot whose units do not form one rooted tree."""


def atom_id(unit_id: int, band: str) -> str:
    """Return the name of the finest cell: one unit crossed with one attribute band."""
    return f"{unit_id}|{band}"


@dataclass(frozen=True)
class Tree:
    """The snapshot's units and the answers placed in them."""

    units: Mapping[str, Mapping[str, Any]]
    parents: dict[int, int | None]
    subtree: dict[int, set[int]]
    depth: dict[int, int]
    root: int
    bands: tuple[str, ...]
    within: dict[int, list[int]]  # unit -> indexes of the answers in it or below it

    @classmethod
    def of(cls, snapshot: Mapping[str, Any], answers: Sequence[Placed] = ()) -> Tree:
        """Return the tree of a round snapshot, with ``answers`` placed in it."""
        units = snapshot["units"]
        parents = {int(uid): info["parent"] for uid, info in units.items()}
        check_tree(parents)  # before any walk up the tree, which a cycle would never end
        roots = [u for u, p in parents.items() if p is None]
        if len(roots) != 1:
            raise TreeError("the round's snapshot must have exactly one root unit")
        subtree = subtrees(parents)
        depth = dict.fromkeys(parents, 0)
        for unit, members in subtree.items():
            for member in members - {unit}:
                depth[member] += 1
        bands = sorted(
            {key.split("|", 1)[1] for key in snapshot.get("eligible_atoms", {})}
            | {a.band for a in answers}
        )
        within: dict[int, list[int]] = {u: [] for u in parents}
        for index, answer in enumerate(answers):
            node: int | None = answer.unit_id
            while node is not None:
                within[node].append(index)
                node = parents[node]
        return cls(units, parents, subtree, depth, roots[0], tuple(bands), within)

    def path(self, unit: int) -> str:
        """Return a unit's path from the root."""
        return str(self.units[str(unit)]["path"])

    def cell(self, definition: Mapping[str, Any]) -> frozenset[str]:
        """Return the atoms a published cell sums (see :func:`expand_cell`)."""
        return expand_cell(definition, self.subtree, self.bands)


def expand_cell(
    definition: Mapping[str, Any], subtree: Mapping[int, set[int]], bands: Sequence[str]
) -> frozenset[str]:
    """Return the atoms a published cell sums, from its structural definition.

    A ``unit`` cell covers every band of every unit in the subtree; an ``attribute`` cell one
    band of them. Definitions never say which atoms actually have respondents.
    """
    members = subtree[int(definition["unit"])]
    wanted = [definition["band"]] if definition["kind"] == "attribute" else list(bands)
    return frozenset(atom_id(u, b) for u in members for b in wanted)


def subtrees(parents: Mapping[int, int | None]) -> dict[int, set[int]]:
    """Return unit id -> ids of the unit and all its descendants."""
    members: dict[int, set[int]] = {u: {u} for u in parents}
    for unit in parents:
        node = parents[unit]
        while node is not None:
            members[node].add(unit)
            node = parents[node]
    return members
