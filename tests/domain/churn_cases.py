"""One organisation over several rounds, the same people answering the same way each round, as
release inputs, for the tests of what releases across rounds may reveal."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from survey.domain.questions import load_bank
from survey.domain.release import EarlierRelease, OpenedAnswer, ReleaseInput, atom_id

BANK = load_bank()
ASKED = tuple(i.key for i in BANK.items)
BAND = "3y+"
K = 5
# Org 1 -> department 2 (team 3 below it) and department 4.
PARENTS: dict[int, int | None] = {1: None, 2: 1, 3: 2, 4: 1}
TEAM = list(range(1, 8))  # seven people in team 3
DEPT = list(range(8, 21))  # thirteen placed directly in department 2
OTHER = list(range(21, 41))  # twenty in department 4


def answers_of(person: int) -> dict[str, int]:
    """Everyone, the joiner too, answers the same every round.

    (A joiner at the very top or bottom of every scale is the stated residual: rounding can
    bound such an answer, see domain/churn.py; this joiner answers inside the scale.)
    """
    rng = random.Random(person)
    return {i.key: rng.randint(*i.bounds) for i in BANK.items}


def placed_round(
    number: int,
    parents: Mapping[int, int | None],
    k: int,
    placed: Sequence[tuple[int, int, str]],
    earlier: Sequence[EarlierRelease],
) -> ReleaseInput:
    """Return round ``number``'s release input over the unit tree ``parents``: a snapshot with
    members, and everyone in ``placed`` (person, unit, band; in answer order) answering."""

    def path(uid: int) -> str:
        parent = parents[uid]
        return f"U{uid}" if parent is None else f"{path(parent)}/U{uid}"

    members: dict[str, list[int]] = {}
    eligible: dict[str, int] = {}
    for person, unit, band in placed:
        members.setdefault(atom_id(unit, band), []).append(person)
        eligible[str(unit)] = eligible.get(str(unit), 0) + 1
    snapshot = {
        "units": {
            str(u): {"parent": p, "name": f"U{u}", "path": path(u)} for u, p in parents.items()
        },
        "eligible": eligible,
        "eligible_atoms": {atom: len(people) for atom, people in members.items()},
        "people": sorted(person for person, _, _ in placed),
        "members": {atom: sorted(people) for atom, people in members.items()},
    }
    return ReleaseInput(
        round_id=number,
        round_number=number,
        program="P",
        opens_on="2026-01-01",
        closed_on="2026-01-06",
        k=k,
        comment_k=10,
        bank=BANK,
        asked=ASKED,
        snapshot=snapshot,
        answers=[OpenedAnswer(unit, band, answers_of(person)) for person, unit, band in placed],
        earlier=earlier,
    )


def round_input(
    number: int, placed: Mapping[int, Sequence[int]], earlier: Sequence[EarlierRelease]
) -> ReleaseInput:
    """Return round ``number`` of the organisation above, with ``placed`` people per unit."""
    people = [(person, u, BAND) for u, persons in placed.items() for person in persons]
    return placed_round(number, PARENTS, K, people, earlier)


R1 = {1: [], 2: DEPT, 3: TEAM, 4: OTHER}
