"""One organisation over several rounds, the same people answering the same way each round, as
release inputs, for the tests of what releases across rounds may reveal."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from survey.domain.questions import load_bank
from survey.domain.release import EarlierRelease, OpenedAnswer, ReleaseInput

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


def round_input(
    number: int, placed: Mapping[int, Sequence[int]], earlier: Sequence[EarlierRelease]
) -> ReleaseInput:
    def path(uid: int) -> str:
        parent = PARENTS[uid]
        return f"U{uid}" if parent is None else f"{path(parent)}/U{uid}"

    snapshot = {
        "units": {
            str(u): {"parent": p, "name": f"U{u}", "path": path(u)} for u, p in PARENTS.items()
        },
        "eligible": {str(u): len(people) for u, people in placed.items() if people},
        "eligible_atoms": {f"{u}|{BAND}": len(people) for u, people in placed.items() if people},
        "people": sorted(p for people in placed.values() for p in people),
        "members": {f"{u}|{BAND}": sorted(people) for u, people in placed.items() if people},
    }
    answers = [
        OpenedAnswer(u, BAND, answers_of(person))
        for u, people in placed.items()
        for person in people
    ]
    return ReleaseInput(
        round_id=number,
        round_number=number,
        program="P",
        opens_on="2026-01-01",
        closed_on="2026-01-06",
        k=K,
        comment_k=10,
        bank=BANK,
        asked=ASKED,
        snapshot=snapshot,
        answers=answers,
        earlier=earlier,
    )


R1 = {1: [], 2: DEPT, 3: TEAM, 4: OTHER}
