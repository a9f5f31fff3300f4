"""Tests for disclosure control: the remainder rule on unit trees, the churn guard, coded shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.domain.disclosure import (
    CHURN_FACTOR,
    DEFAULT_K,
    MIN_K,
    REASON_ANCESTOR,
    REASON_CHURN,
    REASON_REMAINDER,
    REASON_SMALL,
    DisclosureError,
    Visibility,
    check_k,
    decide_units,
    published_share,
    subtree_counts,
)

PROPERTY = settings(max_examples=150, deadline=None)
REASONS = {REASON_SMALL, REASON_REMAINDER, REASON_CHURN, REASON_ANCESTOR}
Parents = Mapping[int, int | None]


def _children(parents: Parents) -> dict[int | None, list[int]]:
    children: dict[int | None, list[int]] = {}
    for unit, parent in parents.items():
        children.setdefault(parent, []).append(unit)
    return children


def _totals(parents: Parents, direct: Mapping[int, int]) -> dict[int, int]:
    """Return subtree counts, computed independently of the module under test."""
    children = _children(parents)

    def total(unit: int) -> int:
        return direct.get(unit, 0) + sum(total(c) for c in children.get(unit, []))

    return {unit: total(unit) for unit in parents}


def assert_remainder_invariant(
    parents: Parents, direct: Mapping[int, int], k: int, result: Mapping[int, Visibility]
) -> None:
    """Check the remainder rule on a decision.

    Every shown unit has n >= k, and what is left of it after subtracting its nearest shown
    descendants is 0 or at least k. Hidden units say why; shown units give no reason.
    """
    assert set(result) == set(parents)
    totals = _totals(parents, direct)
    children = _children(parents)
    for unit, vis in result.items():
        assert vis.n == totals[unit], unit
        if not vis.shown:
            assert vis.reason in REASONS, (unit, vis.reason)
            continue
        assert vis.reason == ""
        assert vis.n >= k, f"unit {unit} is shown with n={vis.n} < k={k}"
        nearest: list[int] = []
        stack = list(children.get(unit, []))
        while stack:
            node = stack.pop()
            if result[node].shown:
                nearest.append(node)
            else:
                stack.extend(children.get(node, []))
        left = totals[unit] - sum(totals[d] for d in nearest)
        assert left == 0 or left >= k, (
            f"unit {unit} (n={totals[unit]}) minus shown descendants {sorted(nearest)} "
            f"leaves {left}, which is 1..{k - 1}"
        )


def shown(result: Mapping[int, Visibility]) -> set[int]:
    return {unit for unit, vis in result.items() if vis.shown}


# --- hand-made trees ----------------------------------------------------------------------------

# Each case: parents, direct respondents, k, the units expected to be shown.
TREES = [
    pytest.param({1: None}, {1: 5}, 5, {1}, id="single-unit-at-k"),
    pytest.param({1: None}, {1: 4}, 5, set(), id="single-unit-below-k"),
    pytest.param({1: None}, {}, 5, set(), id="no-respondents"),
    pytest.param(
        {1: None, 2: 1, 3: 1}, {2: 10, 3: 4}, 5, {1}, id="small-child-hidden-then-sibling"
    ),
    pytest.param(
        {1: None, 2: 1, 3: 1}, {1: 1, 2: 8, 3: 3}, 5, {1}, id="parent-12-children-8-and-3"
    ),
    pytest.param(
        {1: None, 2: 1, 3: 1}, {2: 8, 3: 8}, 5, {1, 2, 3}, id="both-children-shown-remainder-0"
    ),
    pytest.param({1: None, 2: 1, 3: 1}, {1: 5, 2: 8, 3: 8}, 5, {1, 2, 3}, id="remainder-exactly-k"),
    pytest.param(
        {1: None, 2: 1, 3: 1}, {1: 2, 2: 8, 3: 9}, 5, {1, 3}, id="direct-2-hides-smaller-child"
    ),
    pytest.param({1: None, 2: 1, 3: 1, 4: 1}, {2: 2, 3: 2, 4: 10}, 5, {1}, id="two-small-siblings"),
    pytest.param(
        {1: None, 2: 1, 3: 1, 4: 1},
        {2: 3, 3: 3, 4: 10},
        5,
        {1, 4},
        id="two-small-siblings-reach-k-together",
    ),
    pytest.param(
        {1: None, 2: 1, 3: 1, 4: 1},
        {2: 3, 3: 3, 4: 10, 1: 0},
        6,
        {1, 4},
        id="two-small-siblings-add-up-to-k",
    ),
    pytest.param(
        {1: None, 2: 1, 3: 1}, {2: 2, 3: 2}, 3, {1}, id="two-small-siblings-parent-above-k"
    ),
    pytest.param(
        # Root 1 -> middle 2 (direct 2) -> grandchildren 3 (6) and 4 (6); sibling 5 (10).
        # The middle's remainder 2 is fixed by hiding a grandchild, which joins the middle.
        {1: None, 2: 1, 3: 2, 4: 2, 5: 1},
        {2: 2, 3: 6, 4: 6, 5: 10},
        5,
        {1, 2, 4, 5},
        id="deep-middle-remainder",
    ),
    pytest.param(
        # The middle 2 has only 4 people: hidden, so the root's remainder is 4 and the
        # sibling must go too.
        {1: None, 2: 1, 3: 2, 4: 2, 5: 1},
        {3: 2, 4: 2, 5: 10},
        5,
        {1},
        id="small-middle-hides-sibling",
    ),
    pytest.param(
        # A chain where every level adds 2 people: no two adjacent levels can both be shown.
        # Several answers satisfy the rule ({1, 4} would too); only the invariant is pinned.
        {1: None, 2: 1, 3: 2, 4: 3},
        {1: 2, 2: 2, 3: 2, 4: 6},
        5,
        None,
        id="chain",
    ),
    pytest.param(
        {1: None, 2: 1, 3: 1, 4: 2, 5: 2},
        {1: 4},
        5,
        set(),
        id="root-below-k-hides-all",
    ),
    pytest.param(
        # Every level holds the same 7 people, so every difference is 0.
        {1: None, 2: 1, 3: 2, 4: 3},
        {4: 7},
        5,
        {1, 2, 3, 4},
        id="single-path-all-equal",
    ),
    pytest.param(
        {10: None, 20: None, 11: 10, 21: 20},
        {11: 6, 21: 3},
        5,
        {10, 11},
        id="forest",
    ),
]


@pytest.mark.parametrize(("parents", "direct", "k", "expected"), TREES)
def test_decide_units_tables(
    parents: dict[int, int | None], direct: dict[int, int], k: int, expected: set[int] | None
) -> None:
    result = decide_units(parents, direct, k)
    assert_remainder_invariant(parents, direct, k, result)
    if expected is not None:
        assert shown(result) == expected
    for unit, parent in parents.items():
        if parent is None:
            assert result[unit].shown == (result[unit].n >= k)


def test_parent_child_subtraction_reasons() -> None:
    parents = {1: None, 2: 1, 3: 1}
    result = decide_units(parents, {1: 1, 2: 8, 3: 3}, DEFAULT_K)
    assert result[1] == Visibility(True, 12, "")
    assert result[2] == Visibility(False, 8, REASON_REMAINDER)
    assert result[3] == Visibility(False, 3, REASON_SMALL)


def test_root_below_k_reasons() -> None:
    parents = {1: None, 2: 1, 3: 2}
    result = decide_units(parents, {3: 4}, DEFAULT_K)
    assert result[1].reason == REASON_SMALL
    assert result[2].reason == REASON_ANCESTOR
    assert result[3].reason == REASON_ANCESTOR
    assert not shown(result)


def test_hidden_unit_reads_the_same_for_zero_and_few() -> None:
    parents = {1: None, 2: 1, 3: 1, 4: 1}
    result = decide_units(parents, {2: 0, 3: 2, 4: 20}, DEFAULT_K)
    assert (result[2].shown, result[2].reason) == (result[3].shown, result[3].reason)


def test_hidden_middle_exposes_grandchildren() -> None:
    # The middle unit 2 is hidden by the churn guard; its children are still shown, and the
    # root's remainder is computed through it, against the grandchildren.
    parents = {1: None, 2: 1, 3: 2, 4: 2, 5: 1}
    direct = {2: 2, 3: 6, 4: 6, 5: 10}
    result = decide_units(parents, direct, 5, churn={2: 2})
    assert_remainder_invariant(parents, direct, 5, result)
    assert result[2].reason == REASON_CHURN
    assert result[1].shown
    assert result[3].shown or result[4].shown
    assert not (result[3].shown and result[4].shown)  # 24 - 6 - 6 - 10 = 2 would be exposed


# --- churn guard --------------------------------------------------------------------------------

K = DEFAULT_K


@pytest.mark.parametrize(
    ("n", "change", "hidden"),
    [
        (10, 0, False),
        (10, 1, True),
        (10, K - 1, True),
        (10, K, False),
        (10, 40, False),
        (CHURN_FACTOR * K - 1, 1, True),
        (CHURN_FACTOR * K - 1, K - 1, True),
        (CHURN_FACTOR * K, 1, False),
        (CHURN_FACTOR * K, K - 1, False),
        (50, 2, False),
        (K, 3, True),
    ],
)
def test_churn_guard(n: int, change: int, hidden: bool) -> None:
    parents = {1: None, 2: 1}
    direct = {1: 100, 2: n}
    result = decide_units(parents, direct, K, churn={2: change})
    assert result[2].shown is not hidden
    assert result[2].reason == (REASON_CHURN if hidden else "")
    assert result[1].shown
    assert_remainder_invariant(parents, direct, K, result)


def test_churn_on_small_unit_reports_small() -> None:
    result = decide_units({1: None, 2: 1}, {1: 10, 2: 3}, K, churn={2: 1})
    assert result[2].reason == REASON_SMALL


def test_churn_guard_on_root() -> None:
    result = decide_units({1: None}, {1: 12}, K, churn={1: 2})
    assert not result[1].shown


# --- thresholds and malformed trees ---------------------------------------------------------------


@pytest.mark.parametrize("k", [-1, 0, 1, 2])
def test_check_k_rejects_small(k: int) -> None:
    with pytest.raises(DisclosureError, match=f"at least {MIN_K}"):
        check_k(k)
    with pytest.raises(DisclosureError):
        decide_units({1: None}, {1: 100}, k)


@pytest.mark.parametrize("k", [MIN_K, 4, DEFAULT_K, 10, 50])
def test_check_k_accepts(k: int) -> None:
    assert check_k(k) == k


@pytest.mark.parametrize(
    ("parents", "direct"),
    [
        pytest.param({1: 2, 2: 1}, {1: 3}, id="two-cycle"),
        pytest.param({1: 1}, {1: 3}, id="self-loop"),
        pytest.param({1: None, 2: 3, 3: 4, 4: 2}, {2: 1}, id="three-cycle-beside-root"),
        pytest.param({1: None, 2: 3, 3: 2}, {1: 6, 2: 0}, id="cycle-with-zero-count"),
    ],
)
def test_cycle_detection(parents: dict[int, int | None], direct: dict[int, int]) -> None:
    with pytest.raises(DisclosureError, match="cycle"):
        decide_units(parents, direct, DEFAULT_K)


def test_cycle_without_counts_is_detected() -> None:
    with pytest.raises(DisclosureError, match="cycle"):
        decide_units({1: None, 2: 3, 3: 2}, {1: 6}, DEFAULT_K)


def test_unknown_unit_in_counts() -> None:
    with pytest.raises(DisclosureError, match="unknown unit 9"):
        decide_units({1: None}, {9: 5}, DEFAULT_K)


def test_unknown_parent() -> None:
    with pytest.raises(DisclosureError, match="unknown parent"):
        decide_units({1: None, 2: 7}, {2: 5}, DEFAULT_K)


def test_subtree_counts() -> None:
    parents = {1: None, 2: 1, 3: 2, 4: 1}
    assert subtree_counts(parents, {3: 2, 4: 5, 1: 1}) == {1: 8, 2: 2, 3: 2, 4: 5}
    assert subtree_counts(parents, {}) == {1: 0, 2: 0, 3: 0, 4: 0}


# --- property: random trees -----------------------------------------------------------------------


@st.composite
def trees(draw: st.DrawFn) -> tuple[dict[int, int | None], dict[int, int], int, dict[int, int]]:
    """Draw a random forest of up to 25 units, direct counts 0..12, k in 3..6 and churn."""
    size = draw(st.integers(1, 25))
    parents: dict[int, int | None] = {1: None}
    for unit in range(2, size + 1):
        parent = draw(
            st.one_of(st.integers(1, unit - 1), st.just(None) if unit % 7 == 0 else st.nothing())
        )
        parents[unit] = parent
    direct = {unit: draw(st.integers(0, 12)) for unit in parents}
    k = draw(st.integers(3, 6))
    churn = draw(st.dictionaries(st.sampled_from(sorted(parents)), st.integers(0, 8), max_size=4))
    return parents, direct, k, churn


@PROPERTY
@given(trees())
def test_remainder_invariant_on_random_trees(
    tree: tuple[dict[int, int | None], dict[int, int], int, dict[int, int]],
) -> None:
    parents, direct, k, _ = tree
    result = decide_units(parents, direct, k)
    assert_remainder_invariant(parents, direct, k, result)
    # The top of each tree is always published when it has k respondents.
    for unit, parent in parents.items():
        if parent is None:
            assert result[unit].shown == (result[unit].n >= k)


@PROPERTY
@given(trees())
def test_remainder_invariant_with_churn(
    tree: tuple[dict[int, int | None], dict[int, int], int, dict[int, int]],
) -> None:
    parents, direct, k, churn = tree
    result = decide_units(parents, direct, k, churn)
    assert_remainder_invariant(parents, direct, k, result)
    for unit, change in churn.items():
        if 0 < change < k and result[unit].n < CHURN_FACTOR * k:
            assert not result[unit].shown


@PROPERTY
@given(trees())
def test_nothing_hidden_without_cause(
    tree: tuple[dict[int, int | None], dict[int, int], int, dict[int, int]],
) -> None:
    # When every unit already satisfies the rule, only units below k are hidden.
    parents, direct, k, _ = tree
    totals = _totals(parents, direct)
    big = {u for u, n in totals.items() if n >= k}
    result = decide_units(parents, direct, k)
    naive = {u: Visibility(u in big, totals[u], "" if u in big else REASON_SMALL) for u in parents}
    try:
        assert_remainder_invariant(parents, direct, k, naive)
    except AssertionError:
        return
    assert shown(result) == big


def _rank(rows: Sequence[Sequence[Fraction]]) -> int:
    matrix = [list(row) for row in rows]
    rank = 0
    for col in range(len(matrix[0]) if matrix else 0):
        pivot = next((r for r in range(rank, len(matrix)) if matrix[r][col] != 0), None)
        if pivot is None:
            continue
        matrix[rank], matrix[pivot] = matrix[pivot], matrix[rank]
        for r in range(len(matrix)):
            if r != rank and matrix[r][col] != 0:
                factor = matrix[r][col] / matrix[rank][col]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[rank], strict=True)]
        rank += 1
    return rank


@settings(max_examples=60, deadline=None)
@given(trees().filter(lambda t: len(t[0]) <= 8))
def test_no_small_group_derivable_by_brute_force(
    tree: tuple[dict[int, int | None], dict[int, int], int, dict[int, int]],
) -> None:
    # Independent oracle: atoms are the people placed directly in each unit; published rows are
    # the subtrees of shown units. No set of atoms totalling 1..k-1 may lie in their row space.
    parents, direct, k, churn = tree
    result = decide_units(parents, direct, k, churn)
    children = _children(parents)

    def members(unit: int) -> set[int]:
        out = {unit}
        for child in children.get(unit, []):
            out |= members(child)
        return out

    atoms = sorted(u for u in parents if direct[u] > 0)
    rows = [[Fraction(int(a in members(u))) for a in atoms] for u in parents if result[u].shown]
    if not rows:
        return
    base = _rank(rows)
    for size in range(1, len(atoms) + 1):
        for subset in combinations(atoms, size):
            total = sum(direct[a] for a in subset)
            if not 1 <= total < k:
                continue
            target = [Fraction(int(a in subset)) for a in atoms]
            assert _rank([*rows, target]) > base, f"{subset} ({total} people) is derivable"


# --- coded shares ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pct", "exact", "text"),
    [
        (100.0, False, "≥ 90 %"),
        (90.0, False, "≥ 90 %"),
        (88.9, False, "about 90 %"),
        (50.0, False, "about 50 %"),
        (11.1, False, "about 10 %"),
        (10.0, False, "≤ 10 %"),
        (0.0, False, "≤ 10 %"),
        (100.0, True, "100 %"),
        (90.0, True, "90 %"),
        (88.9, True, "89 %"),
        (10.0, True, "10 %"),
        (0.0, True, "0 %"),
        (66.666, True, "67 %"),
        (33.3, True, "33 %"),
    ],
)
def test_published_share(pct: float, exact: bool, text: str) -> None:
    """Exact in the distribution-safe set; elsewhere coded at the extremes and rounded."""
    assert published_share(pct, exact) == text
