"""Disclosure control: decide which groups a release may publish.

Invariant (the remainder rule, exact for a tree): every published unit has at least ``k``
respondents, and for every published unit the people left after subtracting its nearest
published descendants number 0 or at least ``k``. So every group anyone can compute by adding
and subtracting published unit counts is a union of such remainders, and none has 1..k-1 people.
Hidden units carry no number at all, so a hidden cell looks the same for 0 and for 1..k-1.

The churn guard adds: a unit that across rounds would let 1..k-1 joiners or leavers be singled
out (see :mod:`.churn`) and that has fewer than ``CHURN_FACTOR * k`` respondents is hidden for
the round; a larger one is published coarsened.

What a release says about a cell is worded here, once: every hidden cell reads
``HIDDEN_TEXT`` whatever the internal reason (so no reason bounds a group's size), a unit
missing from a round's snapshot reads ``ABSENT_TEXT``, and a cell whose respondents all
answered within ``UNIFORM_MAX_STEPS`` of each other publishes no exact mean or interval but
``UNIFORM_TEXT`` with a coded index (see :func:`coded_index`), as extreme shares are coded.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

MIN_K = 3
DEFAULT_K = 5
DEFAULT_COMMENT_K = 10
DISTRIBUTION_MIN_N = 10
CHURN_FACTOR = 3

# Internal reasons, for tests and debugging: never published (a release stores HIDDEN_TEXT).
REASON_SMALL = "fewer than k respondents"
REASON_REMAINDER = "hidden so that a smaller group cannot be computed by subtraction"
REASON_CHURN = "membership changed by fewer than k people since an earlier release"
REASON_ANCESTOR = "the whole organisation has fewer than k respondents"

# The one public wording of every hidden cell, on every surface: it bounds no group's size.
HIDDEN_TEXT = "hidden to protect a small group"
# A unit that is not in a round's snapshot did not exist then; it is not a hidden cell.
ABSENT_TEXT = "not part of the organisation then"
# Homogeneity: a cell whose respondents' answers all lie within this many answer steps of each
# other (a Likert point; an eNPS rating, or one eNPS category) publishes no exact figure.
UNIFORM_MAX_STEPS = 1
UNIFORM_TEXT = "all answers within one step of each other"
# Coded figures (shares, and the index of a uniform cell): at or beyond these shares of the
# scale they read "≥ …" / "≤ …", in between they are rounded to CODED_ROUNDING % of the scale.
CODED_TOP_PCT = 90
CODED_BOTTOM_PCT = 10
CODED_ROUNDING_PCT = 10
MINUS = "\u2212"  # a real minus sign in coded eNPS figures


class DisclosureError(ValueError):
    """Raised for an inconsistent tree or an unsafe threshold."""


@dataclass(frozen=True)
class Visibility:
    """Whether a unit's figures may be published, its subtree respondent count, and why not."""

    shown: bool
    n: int
    reason: str = ""


def check_k(k: int) -> int:
    """Return ``k`` if it is a safe threshold, else raise :class:`DisclosureError`."""
    if k < MIN_K:
        raise DisclosureError(f"k must be at least {MIN_K}, got {k}")
    return k


def subtree_counts(parents: Mapping[int, int | None], direct: Mapping[int, int]) -> dict[int, int]:
    """Return each unit's respondents including all its descendants."""
    check_tree(parents)
    totals = dict.fromkeys(parents, 0)
    for unit, count in direct.items():
        if unit not in parents:
            raise DisclosureError(f"count given for unknown unit {unit}")
        node: int | None = unit
        while node is not None:
            totals[node] += count
            node = parents[node]
    return totals


def check_tree(parents: Mapping[int, int | None]) -> None:
    """Raise :class:`DisclosureError` unless every parent is a known unit and there is no cycle.

    Every unit is checked, not only those with respondents: a cycle elsewhere in the snapshot
    would make any later walk up the tree loop forever.
    """
    acyclic: set[int] = set()
    for unit in parents:
        path: list[int] = []
        node: int | None = unit
        while node is not None and node not in acyclic:
            if node in path:
                raise DisclosureError(f"the unit tree has a cycle through {node}")
            path.append(node)
            parent = parents[node]
            if parent is not None and parent not in parents:
                raise DisclosureError(f"unit {node} has unknown parent {parent}")
            node = parent
        acyclic.update(path)


def decide_units(
    parents: Mapping[int, int | None],
    direct: Mapping[int, int],
    k: int,
    churn: Mapping[int, int] | None = None,
    hidden: Collection[int] = (),
) -> dict[int, Visibility]:
    """Return the visibility of every unit of one round under the remainder rule.

    :param parents: unit id -> parent id (``None`` for the root) for the round's snapshot.
    :param direct: unit id -> respondents placed directly in that unit.
    :param churn: unit id -> absolute change in eligible members since the unit's last release.
    :param hidden: units to hide whatever their size (across rounds, see :mod:`.churn`).
    """
    check_k(k)
    totals = subtree_counts(parents, direct)
    children: dict[int | None, list[int]] = {}
    for unit, parent in parents.items():
        children.setdefault(parent, []).append(unit)
    for siblings in children.values():
        siblings.sort()
    roots = children.get(None, [])

    reason: dict[int, str] = {}
    for unit, n in totals.items():
        change = (churn or {}).get(unit, 0)
        if n < k:
            reason[unit] = REASON_SMALL
        elif (0 < change < k and n < CHURN_FACTOR * k) or unit in hidden:
            reason[unit] = REASON_CHURN
    for root in roots:
        if totals[root] < k:
            for unit in _descendants(root, children):
                reason[unit] = REASON_ANCESTOR
            reason[root] = REASON_SMALL

    def published_below(unit: int) -> list[int]:
        """Return the nearest shown descendants of ``unit``."""
        found: list[int] = []
        stack = list(children.get(unit, []))
        while stack:
            node = stack.pop()
            if node in reason:
                stack.extend(children.get(node, []))
            else:
                found.append(node)
        return found

    def remainder(unit: int) -> int:
        return totals[unit] - sum(totals[d] for d in published_below(unit))

    changed = True
    while changed:
        changed = False
        for unit in sorted(parents):
            if unit in reason:
                continue
            left = remainder(unit)
            if 0 < left < k:
                below = published_below(unit)
                # Hide the shown descendant whose own remainder is smallest but non-zero: its
                # people join this unit's remainder, which then reaches k (its remainder is >= k).
                candidates = sorted(below, key=lambda d: (remainder(d) == 0, remainder(d), d))
                reason[candidates[0] if candidates else unit] = REASON_REMAINDER
                changed = True
    return {
        unit: Visibility(unit not in reason, totals[unit], reason.get(unit, "")) for unit in parents
    }


def _descendants(unit: int, children: Mapping[int | None, list[int]]) -> list[int]:
    out: list[int] = []
    stack = list(children.get(unit, []))
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(children.get(node, []))
    return out


def _coded(pct: float) -> tuple[str, float]:
    """Return ("≥" | "≤" | "about", a share of the scale 0..100) for a coded figure."""
    if pct >= CODED_TOP_PCT:
        return "≥", CODED_TOP_PCT
    if pct <= CODED_BOTTOM_PCT:
        return "≤", CODED_BOTTOM_PCT
    return "about", CODED_ROUNDING_PCT * round(pct / CODED_ROUNDING_PCT)


def published_share(pct: float, exact: bool) -> str:
    """Return a favourable share as published for a cell.

    Exact only for cells in the distribution-safe set (every group derivable from them has
    at least ``DISTRIBUTION_MIN_N`` people); elsewhere coded at the extremes and rounded to
    the nearest 10 %, so subtracting two published shares cannot pin down a small group.
    """
    if exact:
        return f"{pct:.0f} %"
    word, value = _coded(pct)
    return f"{word} {value:.0f} %"


def coded_index(value: float, low: float, high: float) -> str:
    """Return the index of a uniform cell as published: top/bottom-coded, else rounded.

    The same coding as shares, on the theme's own scale: "≥ 90" / "≤ 10" / "about 50" on
    0..100, and "≥ +80" / "≤ −80" / "about +20" for eNPS on −100..100, so neither the exact
    mean of a group that answered alike nor an eNPS of ±100 is ever published.
    """
    word, pct = _coded(100.0 * (value - low) / (high - low))
    coded = low + (high - low) * pct / 100.0
    text = f"{abs(coded):.0f}"
    if low < 0 and text != "0":
        text = ("+" if coded > 0 else MINUS) + text
    return f"{word} {text}"


def is_uniform(spread_steps: float) -> bool:
    """Return whether a cell's answers, ``spread_steps`` answer steps apart at most, are uniform."""
    return spread_steps <= UNIFORM_MAX_STEPS
