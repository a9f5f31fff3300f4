"""Rounds of one small organisation whose every mean is known, built into manifests by the real
``build_manifest``, for the tests of what reads manifests (reports, the PDF, the schema)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from survey.domain.manifest import Manifest
from survey.domain.questions import load_bank
from survey.domain.release import OpenedAnswer, ReleaseInput, build_manifest
from tests.domain.release_cases import snapshot

BANK = load_bank()
CORE = tuple(i.key for i in BANK.items if i.theme in ("morale", "clarity", "enps"))
SAFETY = tuple(i.key for i in BANK.items if i.theme == "safety")
TRUST = tuple(i.key for i in BANK.items if i.theme == "trust")
# Lab > Research > Alpha (8), Beta (7); Lab > Ops > Gamma (6), Small (2). Ops minus Gamma
# leaves 2, so Gamma is hidden as well as Small; Lab, Research, Ops, Alpha, Beta are shown.
TREE: dict[int, tuple[int | None, str]] = {
    1: (None, "Lab"),
    2: (1, "Research"),
    3: (1, "Ops"),
    4: (2, "Alpha"),
    5: (2, "Beta"),
    6: (3, "Gamma"),
    7: (3, "Small"),
}
SIZES = {4: 8, 5: 7, 6: 6, 7: 2}
ELIGIBLE = {"4": 10, "5": 9, "6": 8, "7": 3}


def answers(value: int, asked: Sequence[str], nps: int = 8) -> dict[str, int]:
    """Return one person's answers: ``value`` on every Likert item (reverse ones flipped)."""
    out = {}
    for item in BANK.items_for(tuple(asked)):
        if item.scale == "nps":
            out[item.key] = nps
        else:
            out[item.key] = 6 - value if item.reverse else value
    return out


def release(
    number: int,
    asked: Sequence[str] = CORE,
    values: Mapping[int, Sequence[int]] | None = None,
    closed_on: str | None = None,
    comments: Sequence[tuple[int, str]] = (),
) -> Manifest:
    """Return the manifest of round ``number``; ``values`` gives each person's answer per unit.

    By default everybody answers 4 ("agree"), index 75.
    """
    people = []
    for unit, size in SIZES.items():
        chosen = (values or {}).get(unit) or [4] * size
        assert len(chosen) == size
        people.extend(
            OpenedAnswer(unit, "3y+", answers(v, asked, nps=8 + (v > 4) - 2 * (v < 4)))
            for v in chosen
        )
    data = ReleaseInput(
        round_id=100 + number,
        round_number=number,
        program="Pulse",
        opens_on=f"2026-0{number}-01",
        closed_on=closed_on or f"2026-0{number}-10",
        k=5,
        comment_k=10,
        bank=BANK,
        asked=tuple(asked),
        snapshot=snapshot(TREE, ELIGIBLE),
        answers=people,
        comments=comments,
    )
    return build_manifest(data, shuffle=lambda texts: None)


def spread(centre: int, size: int) -> list[int]:
    """Return ``size`` answers around ``centre`` (so intervals have a width)."""
    return [max(1, min(5, centre + (i % 3) - 1)) for i in range(size)]
