"""What a reader can pick from released manifests: units, themes, rounds, and one cell.

Invariant: a figure is only ever read through :func:`cell`, which returns nothing for a unit
the manifest hides or a theme it did not publish, so no page can show a hidden number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..manifest import Manifest, ThemeCell, UnitRow


@dataclass(frozen=True)
class UnitChoice:
    """A unit that can be picked on the dashboard."""

    id: int
    path: str
    depth: int


def cell(unit: UnitRow | None, theme: str) -> ThemeCell | None:
    """Return a unit's published cell for ``theme``, or None if the unit or the cell is hidden."""
    if unit is None or not unit.shown:
        return None
    return unit.themes.get(theme)


def asked(manifest: Manifest, theme: str) -> bool:
    """Return whether a round asked about ``theme`` (rotating themes skip some rounds)."""
    return manifest.asked(theme)


def measured(manifests: Sequence[Manifest], theme: str) -> list[Manifest]:
    """Return the rounds that asked about ``theme``, oldest first."""
    return [m for m in manifests if m.asked(theme)]


def unit_choices(manifests: Sequence[Manifest]) -> list[UnitChoice]:
    """Return units shown in at least one release, with the newest path each had."""
    latest: dict[int, UnitChoice] = {}
    for manifest in manifests:
        for unit in manifest.units:
            if unit.shown:
                latest[unit.id] = UnitChoice(unit.id, unit.path, unit.depth)
    return sorted(latest.values(), key=lambda u: u.path)


def round_units(manifest: Manifest) -> list[UnitChoice]:
    """Return the units one release shows, in path order."""
    return sorted(
        (UnitChoice(u.id, u.path, u.depth) for u in manifest.units if u.shown),
        key=lambda u: u.path,
    )


def themes_of(manifests: Sequence[Manifest]) -> list[tuple[str, str]]:
    """Return (key, label) of every theme reported in any release, in question-bank order.

    Rounds list their themes in bank order but rotating themes skip rounds, so a theme first
    seen later is placed before the next theme of its round that is already known.
    """
    order: list[str] = []
    labels: dict[str, str] = {}
    for manifest in manifests:
        keys = [t.key for t in manifest.themes]
        for position, theme in enumerate(manifest.themes):
            labels.setdefault(theme.key, theme.label)
            if theme.key in order:
                continue
            later = next((k for k in keys[position + 1 :] if k in order), None)
            order.insert(order.index(later) if later else len(order), theme.key)
    return [(key, labels[key]) for key in order]


def root_unit(manifests: Sequence[Manifest]) -> int | None:
    """Return the organisation's unit id in the newest release."""
    if not manifests:
        return None
    return next((u.id for u in manifests[-1].units if u.parent is None), None)


def manifest_by_number(manifests: Sequence[Manifest], number: int) -> int | None:
    """Return the index in ``manifests`` of the round numbered ``number``, or None."""
    return next((i for i, m in enumerate(manifests) if m.round.number == number), None)


def subtree(manifest: Manifest, unit_id: int) -> set[int]:
    """Return the ids of ``unit_id`` and every unit below it in one release's tree."""
    children: dict[int | None, list[int]] = {}
    for unit in manifest.units:
        children.setdefault(unit.parent, []).append(unit.id)
    found, stack = set(), [unit_id]
    while stack:
        node = stack.pop()
        if node not in found:
            found.add(node)
            stack.extend(children.get(node, []))
    return found
