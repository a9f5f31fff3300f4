"""Programmes of several rounds with random membership changes, released through the churn-aware
path, and an oracle over person classes that shares no code with the audit or the elimination
(plain Gaussian elimination over ``Fraction``), for the across-rounds property tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from hypothesis import strategies as st

from survey.domain import manifest
from survey.domain.release import (
    EarlierRelease,
    ReleaseInput,
    atom_id,
    build_manifest,
    earlier_release,
    respondents_per_atom,
    verify,
)
from tests.domain.churn_cases import placed_round
from tests.domain.seeded_noise import seeded

BANDS = ("<1y", "1-3y", "3y+")

Place = tuple[int, str]  # (unit, band)


@dataclass(frozen=True)
class Programme:
    """Each round's unit tree, k, and where each person sits in each round (absent: not
    eligible)."""

    trees: Sequence[Mapping[int, int | None]]
    k: int
    rounds: Sequence[Mapping[int, Place]]


@st.composite
def programmes(draw: st.DrawFn) -> Programme:
    """Draw a tree of 2..6 units and 3..4 rounds in which people stay, move unit, change
    band, leave, join, or come back, and a unit may move to another parent (a re-org)."""
    size = draw(st.integers(2, 6))
    parents: dict[int, int | None] = {1: None}
    for uid in range(2, size + 1):
        parents[uid] = draw(st.integers(1, uid - 1))
    units = sorted(parents)
    place = st.tuples(st.sampled_from(units), st.sampled_from(BANDS))
    first = draw(st.lists(place, min_size=4, max_size=16))
    rounds: list[dict[int, Place]] = [dict(enumerate(first, start=1))]
    trees = [parents]
    next_id = len(first) + 1
    for _ in range(draw(st.integers(2, 3))):
        before = rounds[-1]
        now: dict[int, Place] = {}
        for person, (unit, band) in before.items():
            fate = draw(st.sampled_from(["stay"] * 5 + ["move", "band", "leave"]))
            if fate == "stay":
                now[person] = (unit, band)
            elif fate == "move":
                now[person] = (draw(st.sampled_from(units)), band)
            elif fate == "band":
                now[person] = (unit, draw(st.sampled_from(BANDS)))
        gone = sorted({p for r in rounds for p in r} - set(before))
        for _ in range(draw(st.integers(0, 3))):
            back = gone and draw(st.booleans())
            person = gone.pop(draw(st.integers(0, len(gone) - 1))) if back else next_id
            if person == next_id:
                next_id += 1
            now[person] = draw(place)
        rounds.append(now)
        tree = dict(trees[-1])
        if size > 2 and draw(st.booleans()):
            moved = draw(st.integers(3, size))
            tree[moved] = draw(st.integers(1, moved - 1))  # parents keep smaller ids: no cycle
        trees.append(tree)
    return Programme(trees, draw(st.integers(3, 5)), rounds)


def round_input(
    programme: Programme, number: int, earlier: Sequence[EarlierRelease]
) -> ReleaseInput:
    """Return round ``number``'s release input: snapshot with members, everyone answering the
    same every round (the worst case for differencing)."""
    placed = programme.rounds[number - 1]
    people = [(person, unit, band) for person, (unit, band) in sorted(placed.items())]
    return placed_round(number, programme.trees[number - 1], programme.k, people, earlier)


def earlier_of(data: ReleaseInput, built: manifest.Manifest) -> EarlierRelease:
    """Return what the next release is given of this one, as services/rounds.py hands it."""
    return earlier_release(data.snapshot, built, respondents_per_atom(data.answers))


def exact_cells(data: ReleaseInput, built: manifest.Manifest) -> list[frozenset[str]]:
    """Return the atoms of every cell the release published exactly."""
    return [cell for cell, _n in earlier_of(data, built).exact]


def release_all(programme: Programme) -> list[list[frozenset[str]]]:
    """Release every round in turn, each seeing all earlier ones; return each round's exact
    cells (checking each release's own audit on the way)."""
    earlier: list[EarlierRelease] = []
    published = []
    for number in range(1, len(programme.rounds) + 1):
        data = round_input(programme, number, earlier)
        built = build_manifest(data, shuffle=lambda texts: None, sampler=seeded(number))
        counts = {atom: len(people) for atom, people in data.snapshot["members"].items()}
        assert verify(built, data.snapshot, counts).ok
        published.append(exact_cells(data, built))
        earlier.append(earlier_of(data, built))
    return published


# --- the oracle: plain rational Gaussian elimination, nothing from the product ----------------


def person_classes(rounds: Sequence[Mapping[int, Place]]) -> dict[tuple[str | None, ...], int]:
    """Return each membership pattern (atom per round, None: absent) -> how many people."""
    people = sorted({p for r in rounds for p in r})
    classes: dict[tuple[str | None, ...], int] = {}
    for person in people:
        pattern = tuple(
            atom_id(*r[person]) if person in r else None for r in rounds
        )  # fmt: skip
        classes[pattern] = classes.get(pattern, 0) + 1
    return classes


def null_space(rows: list[list[Fraction]], width: int) -> list[list[Fraction]]:
    """Return a basis of the vectors orthogonal to every row (reduced row echelon form)."""
    matrix = [r[:] for r in rows]
    pivots: list[int] = []
    top = 0
    for col in range(width):
        found = next((i for i in range(top, len(matrix)) if matrix[i][col] != 0), None)
        if found is None:
            continue
        matrix[top], matrix[found] = matrix[found], matrix[top]
        lead = matrix[top][col]
        matrix[top] = [v / lead for v in matrix[top]]
        for i in range(len(matrix)):
            if i != top and matrix[i][col] != 0:
                factor = matrix[i][col]
                matrix[i] = [a - factor * b for a, b in zip(matrix[i], matrix[top], strict=True)]
        pivots.append(col)
        top += 1
    basis = []
    for free in (c for c in range(width) if c not in pivots):
        vector = [Fraction(0)] * width
        vector[free] = Fraction(1)
        for row, pivot in enumerate(pivots):
            vector[pivot] = -matrix[row][free]
        basis.append(vector)
    return basis


def derivable_groups(
    cells_per_round: Sequence[Sequence[frozenset[str]]],
    rounds: Sequence[Mapping[int, Place]],
    k: int,
    signs: tuple[int, ...] = (1,),
) -> list[dict[tuple[str | None, ...], int]]:
    """Return every combination, coefficients from ``signs`` (the first +1), of person classes
    totalling 1..k-1 people that the union of all rounds' cells lets anyone compute."""
    classes = person_classes(rounds)
    patterns = sorted(classes, key=lambda p: tuple(a or "" for a in p))
    rows = [
        [Fraction(1 if pattern[r] in cell else 0) for pattern in patterns]
        for r, cells in enumerate(cells_per_round)
        for cell in cells
    ]
    basis = null_space(rows, len(patterns))
    # A combination c is derivable iff it is orthogonal to the null space: sum c_j z_j = 0.
    z = [tuple(v[j] for v in basis) for j in range(len(patterns))]
    small = [j for j, p in enumerate(patterns) if classes[p] < k]
    found: list[dict[tuple[str | None, ...], int]] = []

    def grow(
        start: int, chosen: list[tuple[int, int]], partial: tuple[Fraction, ...], total: int
    ) -> None:
        if chosen and not any(partial):
            found.append({patterns[j]: sign for j, sign in chosen})
        for at in range(start, len(small)):
            j = small[at]
            if total + classes[patterns[j]] >= k:
                continue
            for sign in signs if chosen else (1,):
                summed = tuple(a + sign * b for a, b in zip(partial, z[j], strict=True))
                grow(at + 1, [*chosen, (j, sign)], summed, total + classes[patterns[j]])

    grow(0, [], tuple(Fraction(0) for _ in basis), 0)
    return found
