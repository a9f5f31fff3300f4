"""A small organisation's release input (snapshot, opened answers) in the stored shapes, and the
manifest built from it, for the tests of the release and of what reads its manifest."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from survey.domain.manifest import parse, serialise
from survey.domain.questions import Bank, load_bank
from survey.domain.release import OpenedAnswer, ReleaseInput
from survey.domain.release import build_manifest as build_typed


def build_manifest(data: ReleaseInput, shuffle: Any = None) -> dict[str, Any]:
    """Return the release's manifest as it is stored: the JSON every surface parses."""
    built = build_typed(data, shuffle)
    stored = serialise(built)
    assert parse(stored) == built  # the one parse/serialise pair round-trips exactly
    return stored


BANK = load_bank()
ASKED = tuple(item.key for item in BANK.items)
K = 5
COMMENT_K = 10

# id: (parent, name). Paths are built from the names.
TREE: dict[int, tuple[int | None, str]] = {
    1: (None, "Lab"),
    2: (1, "Research"),
    3: (1, "Ops"),
    4: (2, "Alpha"),
    5: (2, "Beta"),
    6: (3, "Gamma"),
    7: (3, "Small"),
    8: (3, "Empty"),
}
# Respondents per unit: Small (2) and Empty (0) are below k; Ops (8) minus Gamma (6) leaves 2,
# so Gamma must be hidden too; Research (15) = Alpha (8) + Beta (7).
RESPONDENTS = {4: 8, 5: 7, 6: 6, 7: 2, 8: 0}
ELIGIBLE = {"4": 10, "5": 9, "6": 8, "7": 3, "8": 2}


def snapshot(
    tree: Mapping[int, tuple[int | None, str]], eligible: Mapping[str, int]
) -> dict[str, Any]:
    """Return a round snapshot in the stored JSON shape."""

    def path(uid: int) -> str:
        parent, name = tree[uid]
        return name if parent is None else f"{path(parent)} / {name}"

    return {
        "units": {
            str(uid): {"parent": parent, "name": name, "path": path(uid)}
            for uid, (parent, name) in tree.items()
        },
        "eligible": dict(eligible),
        "eligible_atoms": {},
        "people": [],
    }


def random_answers(rng: random.Random, bank: Bank = BANK) -> dict[str, int]:
    out = {}
    for item in bank.items:
        low, high = item.bounds
        out[item.key] = rng.randint(low, high)
    return out


def opened(respondents: Mapping[int, int], seed: int = 7) -> list[OpenedAnswer]:
    rng = random.Random(seed)
    answers = []
    for uid, count in respondents.items():
        for i in range(count):
            answers.append(OpenedAnswer(uid, "<1y" if i % 3 == 0 else "3y+", random_answers(rng)))
    return answers


def release_input(
    *,
    tree: Mapping[int, tuple[int | None, str]] = TREE,
    respondents: Mapping[int, int] = RESPONDENTS,
    eligible: Mapping[str, int] = ELIGIBLE,
    k: int = K,
    comment_k: int = COMMENT_K,
    comments: Sequence[tuple[int, str]] = (),
    roster_names: Sequence[str] = (),
    churn: Mapping[int, int] | None = None,
) -> ReleaseInput:
    return ReleaseInput(
        round_id=3,
        round_number=2,
        program="Pulse",
        opens_on="2026-11-02",
        closed_on="2026-11-16",
        k=k,
        comment_k=comment_k,
        bank=BANK,
        asked=ASKED,
        snapshot=snapshot(tree, eligible),
        answers=opened(respondents),
        comments=comments,
        roster_names=roster_names,
        churn=dict(churn or {}),
    )


def rows_by_id(manifest: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    return {row["id"]: row for row in manifest["units"]}
