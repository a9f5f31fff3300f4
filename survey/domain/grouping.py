"""Storage groups: the coarsest labels an answer is stored under.

Invariant: every (unit, band) label that an invitation, response or comment row carries is
shared by at least ``k`` eligible people (unless the whole organisation has fewer), so the
database alone never says "this person answered", and nobody holding the key can read one
person's answers by the label on the row. A unit whose own members are fewer than ``k`` takes
in the smallest group stored below it, or, with none below, moves up into its parent; within a
unit, bands with fewer than ``k`` people are merged into ``MIXED_BAND``. Labels only ever
coarsen: a person is always stored in their unit or above it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping

MIXED_BAND = "mixed"

Label = tuple[int, str]


def storage_labels(
    parents: Mapping[int, int | None], people: Mapping[int, Label], k: int
) -> dict[int, Label]:
    """Return person id -> the (unit, band) label their invitation and answers are stored under.

    :param people: person id -> (their unit, their band).
    """
    unit_of = {pid: unit for pid, (unit, _band) in people.items()}
    above: dict[int, set[int]] = {}
    for unit in parents:
        chain, node = set(), parents[unit]
        while node is not None:
            chain.add(node)
            node = parents[node]
        above[unit] = chain
    # 1. Deepest units first, make each unit's own group reach k: first by taking in the
    #    smallest group stored below it (the unit's subtree totals stay exact; that group's
    #    own unit loses its figures), else by moving the group up to the parent.
    for unit in sorted(parents, key=lambda u: (-len(above[u]), u)):
        while True:
            members = [pid for pid, u in unit_of.items() if u == unit]
            if not 0 < len(members) < k:
                break
            below = Counter(u for u in unit_of.values() if unit in above[u])
            if below:
                smallest = min(below, key=lambda u: (below[u], u))
                for pid, u in list(unit_of.items()):
                    if u == smallest:
                        unit_of[pid] = unit
                continue
            parent = parents[unit]
            if parent is None:
                break  # the whole organisation has fewer than k people
            for pid in members:
                unit_of[pid] = parent
            break
    # 3. Within each stored unit, merge bands below k into MIXED_BAND (and, if the mixed
    #    group is itself below k, the next smallest band into it).
    labels: dict[int, Label] = {}
    by_unit: dict[int, list[int]] = defaultdict(list)
    for pid, unit in unit_of.items():
        by_unit[unit].append(pid)
    for unit, members in by_unit.items():
        band_of = {pid: people[pid][1] for pid in members}
        while True:
            band_sizes = Counter(band_of.values())
            small = [b for b, n in band_sizes.items() if n < k and b != MIXED_BAND]
            mixed = band_sizes.get(MIXED_BAND, 0)
            if small:
                target = min(small, key=lambda b: (band_sizes[b], b))
            elif 0 < mixed < k and len(band_sizes) > 1:
                others = [b for b in band_sizes if b != MIXED_BAND]
                target = min(others, key=lambda b: (band_sizes[b], b))
            else:
                break
            for pid in members:
                if band_of[pid] == target:
                    band_of[pid] = MIXED_BAND
        for pid in members:
            labels[pid] = (unit, band_of[pid])
    return labels
