"""Across rounds: R3 - R1 differencing, swaps and large-unit joiners recover no joiner's
scores, the incremental audit agrees with the full one, and membership sets stay private."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.domain import audit, churn, manifest, noise, scoring
from survey.domain.elimination import Elimination
from survey.domain.release import (
    EarlierRelease,
    ReleaseInput,
    build_manifest,
)
from tests.domain.across_rounds import earlier_of
from tests.domain.churn_cases import DEPT, OTHER, R1, TEAM, K, round_input
from tests.domain.oracle import rank
from tests.domain.seeded_noise import seeded

JOINER, LEAVER = 99, 98
NEAR_CERTAIN = math.log(1e6)  # Laplace noise exceeds this many scales with probability 1e-6


def programme(rounds: Sequence[Mapping[int, Sequence[int]]]) -> list[manifest.Manifest]:
    built: list[manifest.Manifest] = []
    earlier: list[EarlierRelease] = []
    for number, placed in enumerate(rounds, start=1):
        data = round_input(number, placed, earlier)
        built.append(build_manifest(data, shuffle=lambda texts: None, sampler=seeded(number)))
        earlier.append(earlier_of(data, built[-1]))
    return built


def bounds(cell: manifest.ThemeCell | None, theme: str) -> tuple[float, float] | None:
    """Return what a published figure says the mean lies in (None: nothing).

    A coarsened figure is the mean plus noise, rounded to a whole point and to the coarse
    step: the attacker takes the rounding and a bound the noise exceeds with probability 1e-6
    (for the published n, at least the theme's, so the bound is if anything too narrow).
    """
    if cell is None:
        return None
    low, high = scoring.index_bounds(theme)
    if cell.mean is not None:
        return cell.mean - 0.05, cell.mean + 0.05
    if cell.coded == churn.COARSE_TEXT:
        assert cell.mean_text is not None
        value = float(cell.mean_text.split()[-1].replace("\u2212", "-"))
        step = churn.coarse_step(cell.n, high - low)
        blur = NEAR_CERTAIN * noise.scale(cell.n, high - low, noise.CHURN_EPSILON)
        return value - step / 2 - blur, value + step / 2 + blur
    return low, high  # a uniform cell's coded index: rounded to a tenth of the scale at best


def joiner_ranges(before: manifest.Manifest, after: manifest.Manifest) -> list[float]:
    """Return, per unit holding the joiner and theme published in both, the width of the
    joiner's possible scores that ``after`` minus ``before`` leaves (everyone else alike)."""
    widths = []
    for unit in after.units:
        if unit.id not in (1, 2, 3):  # department 4 never holds the joiner
            continue
        old = before.unit(unit.id)
        if not (unit.shown and old and old.shown):
            continue
        for theme, cell in unit.themes.items():
            low, high = scoring.index_bounds(theme)
            was, now = bounds(old.themes.get(theme), theme), bounds(cell, theme)
            if was is None or now is None:
                continue
            n1, n3 = old.themes[theme].n, cell.n
            lo = max(low, n3 * now[0] - n1 * was[1])
            hi = min(high, n3 * now[1] - n1 * was[0])
            widths.append(hi - lo)
    return widths


JOINED = {1: [], 2: DEPT, 3: [*TEAM, JOINER], 4: OTHER}
WITH_LEAVER = {1: [], 2: DEPT, 3: [*TEAM, LEAVER], 4: OTHER}


@pytest.mark.parametrize(
    ("name", "rounds", "pairs"),
    [
        ("R2 hidden, R3 - R1", [R1, JOINED, JOINED], [(0, 1), (0, 2), (1, 2)]),
        ("joiner in R2", [R1, JOINED], [(0, 1)]),
        ("swap: one leaver, one joiner", [WITH_LEAVER, JOINED, JOINED], [(0, 1), (0, 2)]),
    ],
)
def test_no_construction_recovers_a_joiner(
    name: str, rounds: list[dict[int, list[int]]], pairs: list[tuple[int, int]]
) -> None:
    built = programme(rounds)
    assert built[0].unit(3).shown and built[0].unit(3).coarse is None  # type: ignore[union-attr]
    for later in built[1:]:
        team, dept, org = later.unit(3), later.unit(2), later.unit(1)
        assert team is not None and dept is not None and org is not None
        assert not team.shown, name  # small: hidden, in every later round
        assert dept.shown and dept.coarse and org.shown and org.coarse, name  # large: coarsened
        assert dept.distributions is None and dept.scale_quality is None


@pytest.mark.parametrize(
    ("rounds", "pairs"),
    [([R1, JOINED, JOINED], [(0, 1), (0, 2), (1, 2)]), ([WITH_LEAVER, JOINED], [(0, 1)])],
)
def test_coarse_figures_leave_a_joiner_20_points_wide(
    rounds: list[dict[int, list[int]]], pairs: list[tuple[int, int]]
) -> None:
    built = programme(rounds)
    for before, after in pairs:
        widths = joiner_ranges(built[before], built[after])
        assert widths
        assert min(widths) > 20, (before, after, min(widths))


def test_without_the_check_r3_minus_r1_gives_the_joiner_away() -> None:
    """The construction itself: with no earlier releases passed in, the subtraction works."""
    first = build_manifest(round_input(1, R1, []))
    third = build_manifest(round_input(3, JOINED, []))
    assert third.unit(3).shown  # type: ignore[union-attr]
    assert min(joiner_ranges(first, third)) < 2


def test_a_change_of_k_people_publishes_exactly_again() -> None:
    grown = {1: [], 2: DEPT, 3: [*TEAM, *range(90, 95)], 4: OTHER}
    first, second = programme([R1, grown])
    assert second.unit(3).shown and second.unit(2).coarse is None  # type: ignore[union-attr]


def test_membership_sets_are_not_published() -> None:
    """Only decisions leak into the manifest: renumbering every person changes nothing."""

    def renumbered(placed: Mapping[int, Sequence[int]]) -> dict[int, list[int]]:
        return {u: [1000 + 7 * p for p in people] for u, people in placed.items()}

    plain = [manifest.serialise(m) for m in programme([R1, JOINED, JOINED])]
    shifted_rounds = [renumbered(r) for r in (R1, JOINED, JOINED)]
    shifted = []
    earlier: list[EarlierRelease] = []
    for number, placed in enumerate(shifted_rounds, start=1):
        data = round_input(number, placed, earlier)
        data = ReleaseInput(
            **{**data.__dict__, "answers": round_input(number, _orig(placed), []).answers}
        )
        built = build_manifest(data, shuffle=lambda texts: None, sampler=seeded(number))
        shifted.append(manifest.serialise(built))
        earlier.append(earlier_of(data, built))
    assert shifted == plain


def _orig(placed: Mapping[int, Sequence[int]]) -> dict[int, list[int]]:
    return {u: [(p - 1000) // 7 for p in people] for u, people in placed.items()}


# --- the incremental audit equals the full one ---------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_incremental_audit_equals_full_audit(data: st.DataObject) -> None:
    atoms = [f"a{i}" for i in range(data.draw(st.integers(2, 10)))]
    counts = {a: data.draw(st.sampled_from([0, 1, 1, 2, 3, 4, 6, 9])) for a in atoms}
    k = data.draw(st.integers(3, 6))
    cells = data.draw(
        st.lists(st.frozensets(st.sampled_from(atoms), min_size=1), min_size=1, max_size=9)
    )
    state = Elimination(counts, k)
    published: list[frozenset[str]] = []
    for cell in cells:
        kept = state.add(cell)
        assert kept == audit.audit([*published, cell], counts, k).ok
        if kept:
            published.append(cell)


def signed_leaks(cells: list[frozenset[str]], counts: Mapping[str, int], k: int) -> list[Any]:
    """Oracle: every +1/-1 combination of atoms totalling 1..k-1 in the cells' row space."""
    atoms = sorted(a for a, n in counts.items() if n > 0)
    matrix = [[Fraction(1 if a in cell else 0) for a in atoms] for cell in cells]
    base = rank(matrix)
    small = [a for a in atoms if counts[a] < k]
    found = []
    for size in range(1, k):
        for group in itertools.combinations(small, size):
            if sum(counts[a] for a in group) >= k:
                continue
            for signs in itertools.product((1, -1), repeat=size - 1):
                coef = dict(zip(group, (1, *signs), strict=True))
                row = [Fraction(coef.get(a, 0)) for a in atoms]
                if rank([*matrix, row]) == base:
                    found.append(coef)
    return found


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_signed_incremental_audit_matches_its_oracle(data: st.DataObject) -> None:
    atoms = [f"a{i}" for i in range(data.draw(st.integers(2, 7)))]
    counts = {a: data.draw(st.sampled_from([1, 1, 2, 3, 6])) for a in atoms}
    cells = data.draw(
        st.lists(st.frozensets(st.sampled_from(atoms), min_size=1), min_size=1, max_size=6)
    )
    state = Elimination(counts, K, signed=True)
    published: list[frozenset[str]] = []
    for cell in cells:
        kept = state.add(cell)
        assert kept == (not signed_leaks([*published, cell], counts, K))
        if kept:
            published.append(cell)


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_tallied_elimination_keeps_every_dependency_balanced(data: st.DataObject) -> None:
    """Kept cells' tallies never contradict: appending them as a column raises no rank; a cell
    is refused for its tally only when its row is in the span and its tally would."""
    atoms = [f"a{i}" for i in range(data.draw(st.integers(2, 6)))]
    counts = dict.fromkeys(atoms, K)  # no small atoms: only tallies can refuse
    state = Elimination(counts, K, signed=True, tallied=True)
    rows: list[list[Fraction]] = []
    for _ in range(data.draw(st.integers(1, 10))):
        cell = data.draw(st.frozensets(st.sampled_from(atoms), min_size=1))
        tally = data.draw(st.integers(0, 12))
        row = [Fraction(1 if a in cell else 0) for a in atoms]
        plain = [r[:-1] for r in rows]
        balanced = rank([*rows, [*row, Fraction(tally)]]) == rank([*plain, row])
        kept = state.add(cell, tally=tally)
        assert kept == balanced
        if kept:
            rows.append([*row, Fraction(tally)])
        else:
            assert state.refusal is not None and state.refusal.discrepancy
    assert rank(rows) == rank([r[:-1] for r in rows])


@pytest.mark.parametrize(
    ("n", "span", "step"),
    [(15, 100, 20), (20, 100, 10), (40, 100, 5), (100, 100, 2), (1000, 100, 1), (15, 200, 40)],
)
def test_coarse_step_moves_at_most_half_a_step_per_person(n: int, span: int, step: float) -> None:
    assert churn.coarse_step(n, span) == step
    assert span / n <= step / 2


def test_a_difference_across_releases_keeps_the_larger_k() -> None:
    """A team of 8 published by a release with k = 5; three leave, and a release with k = 3
    (another programme's, or a lowered k) would publish the 5 who stay. The three leavers'
    difference is allowed by k = 3 but not by the k = 5 the earlier release promised."""
    team = "1|a"
    stayed = {team: list(range(1, 6))}

    def exact(earlier_k: int) -> bool:
        before = EarlierRelease({team: list(range(1, 9))}, [(frozenset({team}), 8)], {team: 8})
        earlier = dataclasses.replace(before, k=earlier_k)
        return churn.History(stayed, [earlier], 3, {team: 5}).add({team})

    assert exact(3) and not exact(5)
