"""Property tests: every release of a random organisation with random attribute spreads is
safe, checked by an oracle that shares no code with the audit (plain Gaussian elimination).
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from survey.domain.manifest import to_json
from survey.domain.questions import load_bank
from survey.domain.release import (
    OpenedAnswer,
    ReleaseInput,
    atom_id,
    build_manifest,
    expand_cell,
    subtrees_of,
    verify,
)
from tests.domain.oracle import rank

BANK = load_bank()
BANDS = ("<1y", "1-3y", "3y+", "unstated")


def derivable_small_groups(
    cells: list[frozenset[str]], counts: Counter[str], k: int
) -> list[set[str]]:
    """Return every set of atoms totalling 1..k-1 whose indicator is in the cells' row space."""
    atoms = sorted(a for a, n in counts.items() if n > 0)
    matrix = [[Fraction(1 if a in cell else 0) for a in atoms] for cell in cells]
    base = rank(matrix)
    small = [a for a in atoms if counts[a] < k]
    found = []
    for size in range(1, k):
        for group in itertools.combinations(small, size):
            if sum(counts[a] for a in group) >= k:
                continue
            row = [Fraction(1 if a in group else 0) for a in atoms]
            if rank([*matrix, row]) == base:
                found.append(set(group))
    return found


@st.composite
def organisations(draw: st.DrawFn) -> ReleaseInput:
    size = draw(st.integers(2, 8))
    parents: dict[int, int | None] = {1: None}
    for uid in range(2, size + 1):
        parents[uid] = draw(st.integers(1, uid - 1))
    skew = draw(st.lists(st.integers(0, 5), min_size=4, max_size=4))
    rng = random.Random(draw(st.integers(0, 10_000)))
    answers = []
    for uid in parents:
        for _ in range(draw(st.integers(0, 9))):
            band = rng.choices(BANDS, weights=[w + 0.1 for w in skew])[0]
            answers.append(
                OpenedAnswer(uid, band, {i.key: rng.randint(*i.bounds) for i in BANK.items})
            )

    def path(uid: int) -> str:
        parent = parents[uid]
        return f"U{uid}" if parent is None else f"{path(parent)}/U{uid}"

    snapshot = {
        "units": {
            str(u): {"parent": p, "name": f"U{u}", "path": path(u)} for u, p in parents.items()
        },
        "eligible": {str(u): 9 for u in parents},
        "eligible_atoms": {atom_id(u, b): 1 for u in parents for b in BANDS},
        "people": [],
    }
    return ReleaseInput(
        round_id=1,
        round_number=1,
        program="P",
        opens_on="2026-01-01",
        closed_on="2026-01-06",
        k=draw(st.integers(3, 5)),
        comment_k=10,
        bank=BANK,
        asked=tuple(i.key for i in BANK.items),
        snapshot=snapshot,
        answers=answers,
    )


@settings(max_examples=60, deadline=None)
@given(organisations())
def test_every_release_passes_an_independent_oracle(data: ReleaseInput) -> None:
    manifest = build_manifest(data)
    counts = Counter(atom_id(a.unit_id, a.band) for a in data.answers)
    subtree = subtrees_of(data.snapshot)
    bands = manifest.attributes.bands
    cells = [expand_cell(to_json(d), subtree, bands) for d in manifest.audit.published]
    assert derivable_small_groups(cells, counts, data.k) == []
    assert verify(manifest, data.snapshot, counts).ok
    published_attrs = [c for c in manifest.attributes.cells if c.shown]
    assert all(c.n is not None and c.n >= data.k for c in published_attrs)


def test_oracle_catches_the_classic_subtraction() -> None:
    """The oracle itself: parent minus child exposes the rest."""
    counts = Counter({"a": 6, "b": 2})
    assert derivable_small_groups([frozenset({"a", "b"}), frozenset({"a"})], counts, 5) == [{"b"}]
