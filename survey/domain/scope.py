"""Which units of one release a staff member may see: the scope rules.

Invariants:
- A reader sees a subset of the same manifest everyone else reads: scope only removes units
  (with their attribute cells and comment groups), never adds a figure, so a unit the release
  hides stays hidden, and nothing here can publish a cell the disclosure control did not.
- Admins and HR see every unit; leaders the organisation and its departments (depth at most
  :data:`LEADERSHIP_MAX_DEPTH`); managers the subtree of each unit they are bound to, in that
  round's own tree (a later re-org never re-cuts an old round). Where a manager's own unit is
  hidden in a round, they see its nearest published ancestor instead, marked *broader*.
- A role without a rule here sees nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace

from .access import Role
from .manifest import Manifest

# Leaders read the organisation (depth 0) and its departments (depth 1).
LEADERSHIP_MAX_DEPTH = 1
BROADER_TEAM_TEXT = "broader team"


@dataclass(frozen=True)
class UnitNode:
    """A unit of one release's tree, as far as scope needs it."""

    id: int
    parent: int | None
    depth: int
    shown: bool


@dataclass(frozen=True)
class RoundScope:
    """The units of one release a reader may see, and which of them stand in as broader team."""

    units: frozenset[int]
    broader: frozenset[int] = frozenset()
    organisation: bool = False  # the root is among ``units``

    def allows(self, unit_id: int) -> bool:
        """Return whether the reader may see ``unit_id`` in this release."""
        return unit_id in self.units


def round_scope(role: Role, nodes: Iterable[UnitNode], bound: Collection[int]) -> RoundScope:
    """Return what a reader with ``role`` (bound to ``bound`` if a manager) sees of one release."""
    tree = {node.id: node for node in nodes}
    root = next((n.id for n in tree.values() if n.parent is None), None)
    if role in (Role.ADMIN, Role.HR):
        units = frozenset(tree)
        broader: frozenset[int] = frozenset()
    elif role is Role.LEADER:
        units = frozenset(n.id for n in tree.values() if n.depth <= LEADERSHIP_MAX_DEPTH)
        broader = frozenset()
    elif role is Role.MANAGER:
        units, broader = _manager_units(tree, bound)
    else:
        units, broader = frozenset(), frozenset()
    return RoundScope(units, broader, root is not None and root in units)


def report_depth(role: Role) -> int | None:
    """Return the deepest level the reports page lists for ``role`` (None: all it may see).

    The reports page is the leadership view for everyone but managers, whose page is their
    own units.
    """
    return None if role is Role.MANAGER else LEADERSHIP_MAX_DEPTH


def _manager_units(
    tree: Mapping[int, UnitNode], bound: Collection[int]
) -> tuple[frozenset[int], frozenset[int]]:
    children: dict[int | None, list[int]] = {}
    for node in tree.values():
        children.setdefault(node.parent, []).append(node.id)
    own: set[int] = set()
    stand_ins: set[int] = set()
    for unit in bound:
        if unit not in tree:  # not part of the organisation in this round
            continue
        stack = [unit]
        while stack:
            below = stack.pop()
            if below not in own:
                own.add(below)
                stack.extend(children.get(below, []))
        if not tree[unit].shown:
            ancestor = tree[unit].parent
            while ancestor is not None and not tree[ancestor].shown:
                ancestor = tree[ancestor].parent
            if ancestor is not None:
                stand_ins.add(ancestor)
    broader = frozenset(stand_ins - own)
    return frozenset(own) | broader, broader


def nodes_of(manifest: Manifest) -> list[UnitNode]:
    """Return the tree of one release manifest."""
    return [UnitNode(u.id, u.parent, u.depth, u.shown) for u in manifest.units]


def restrict(manifest: Manifest, scope: RoundScope) -> Manifest:
    """Return ``manifest`` with only the units ``scope`` allows (and their cells and comments).

    Organisation-wide participation is kept only for a reader who sees the organisation.
    """
    allowed = scope.units
    return replace(
        manifest,
        units=tuple(u for u in manifest.units if u.id in allowed),
        attributes=replace(
            manifest.attributes,
            cells=tuple(c for c in manifest.attributes.cells if c.unit in allowed),
        ),
        comments=tuple(g for g in manifest.comments if g.unit in allowed),
        participation=manifest.participation
        if scope.organisation
        else replace(manifest.participation, org_pct_rounded=None),
    )
