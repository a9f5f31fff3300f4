"""Tests for the disclosure audit: known attacks, brute-force cross-checks, selection, blocks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.domain.audit import (
    MAX_LEAK_EXAMPLES,
    REASON_FEWER_THAN_K,
    REASON_SUBTRACTION,
    AuditResult,
    Leak,
    audit,
    merge_blocks,
    select_cells,
)

F = frozenset
PROPERTY = settings(max_examples=150, deadline=None)
System = tuple[list[frozenset[str]], dict[str, int], int]


# --- independent oracle: dense Gaussian elimination over the rationals ----------------------


def _rank(rows: Sequence[Sequence[Fraction]]) -> int:
    matrix = [list(row) for row in rows]
    rank = 0
    width = len(matrix[0]) if matrix else 0
    for col in range(width):
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


def _derivable(
    cells: Sequence[frozenset[str]], counts: Mapping[str, int], subset: frozenset[str]
) -> bool:
    """Say whether subset's indicator lies in the row space of the cells over nonzero atoms."""
    columns = sorted(a for a, c in counts.items() if c > 0)
    rows = [[Fraction(int(a in cell)) for a in columns] for cell in cells]
    target = [Fraction(int(a in subset)) for a in columns]
    return _rank(rows) == _rank([*rows, target])


def _brute_force_leaks(
    cells: Sequence[frozenset[str]], counts: Mapping[str, int], k: int
) -> list[frozenset[str]]:
    nonzero = sorted(a for a, c in counts.items() if c > 0)
    leaks = []
    for size in range(1, len(nonzero) + 1):
        for combo in combinations(nonzero, size):
            subset = F(combo)
            total = sum(counts[a] for a in subset)
            if 1 <= total < k and _derivable(cells, counts, subset):
                leaks.append(subset)
    return leaks


def _total(cell: frozenset[str], counts: Mapping[str, int]) -> int:
    return sum(counts.get(a, 0) for a in cell)


# --- known attack patterns ---------------------------------------------------------------------

ATTACKS = [
    pytest.param(
        [F("abc"), F("a"), F("b")],
        {"a": 5, "b": 6, "c": 2},
        5,
        {F("c")},
        id="parent-minus-children",
    ),
    pytest.param(
        [F("abc"), F("a")],
        {"a": 7, "b": 1, "c": 2},
        5,
        {F("bc")},
        id="two-hidden-siblings-under-k",
    ),
    pytest.param(
        # A - B + C - D isolates r and s (three people) though every cell holds >= k.
        [F("pr"), F("pq"), F("qst"), F("t")],
        {"p": 5, "q": 5, "r": 1, "s": 2, "t": 5},
        5,
        {F("rs")},
        id="four-overlapping-filters-isolate-three",
    ),
    pytest.param(
        # Band Y exists only in team 1, so org x Y is team 1 x Y and team1 - (org x Y) = t1x.
        [F({"t1x", "t1y"}), F({"t2x", "t2y"}), F({"t1y", "t2y"})],
        {"t1x": 2, "t1y": 6, "t2x": 8, "t2y": 0},
        5,
        {F({"t1x"})},
        id="team-minus-org-attribute-living-in-one-team",
    ),
    pytest.param(
        # Org x band crossed with teams: the band cells and team totals pin a 2-person corner.
        [F({"t1x", "t1y"}), F({"t2x", "t2y"}), F({"t1x", "t2x"}), F({"t2y"})],
        {"t1x": 6, "t1y": 2, "t2x": 4, "t2y": 5},
        5,
        {F({"t1y"}), F({"t2x"})},
        id="crossed-band-and-team-totals",
    ),
    pytest.param(
        [F("abz")],
        {"a": 1, "b": 2, "z": 0},
        5,
        {F("ab")},
        id="small-published-cell-is-itself-a-leak",
    ),
    pytest.param(
        [F("abcd"), F("ab"), F("ac"), F("ad")],
        {"a": 5, "b": 1, "c": 1, "d": 1},
        5,
        {F("a"), F("b"), F("c"), F("d")},
        id="overlapping-pairs-determine-everything",
    ),
]


@pytest.mark.parametrize(("cells", "counts", "k", "expected"), ATTACKS)
def test_known_attacks_are_caught(
    cells: list[frozenset[str]], counts: dict[str, int], k: int, expected: set[frozenset[str]]
) -> None:
    result = audit(cells, counts, k)
    assert not result.ok
    assert result.exhaustive
    found = {leak.atoms for leak in result.leaks}
    small_expected = {s for s in expected if 1 <= _total(s, counts) < k}
    assert small_expected <= found
    for leak in result.leaks:
        assert leak.total == _total(leak.atoms, counts)
        assert 1 <= leak.total < k
        assert _derivable(cells, counts, leak.atoms)


SAFE = [
    pytest.param(
        # Org, two departments, one team; every remainder is 0 or >= k.
        [F("abcdef"), F("abc"), F("def"), F("a")],
        {"a": 6, "b": 3, "c": 3, "d": 2, "e": 2, "f": 2},
        5,
        id="safe-tree",
    ),
    pytest.param(
        # Zero atoms are projected out without opening a hole: {a} = 7 is derivable but >= k.
        [F("abz"), F("bz")],
        {"a": 7, "b": 5, "z": 0},
        5,
        id="zero-atom-projected-harmlessly",
    ),
    pytest.param(
        # Atoms missing from counts count 0; the small atom c is in no cell at all.
        [F({"a", "ghost"}), F({"b", "ghost", "phantom"})],
        {"a": 5, "b": 9, "c": 1},
        5,
        id="absent-atoms-and-uncovered-small-atom",
    ),
    pytest.param(
        # Two bands crossed with two teams: only the four published marginals are derivable.
        [F({"t1x", "t1y"}), F({"t2x", "t2y"}), F({"t1x", "t2x"}), F({"t1y", "t2y"})],
        {"t1x": 2, "t1y": 3, "t2x": 3, "t2y": 2},
        5,
        id="two-by-two-margins",
    ),
    pytest.param([], {"a": 1}, 5, id="nothing-published"),
    pytest.param([F("ab")], {"a": 0, "b": 0}, 5, id="all-zero"),
]


@pytest.mark.parametrize(("cells", "counts", "k"), SAFE)
def test_safe_releases_pass(cells: list[frozenset[str]], counts: dict[str, int], k: int) -> None:
    result = audit(cells, counts, k)
    assert result == AuditResult(
        ok=True,
        leaks=(),
        cells=len(cells),
        atoms=sum(1 for c in counts.values() if c > 0),
        sets_checked=result.sets_checked,
        exhaustive=True,
    )
    assert _brute_force_leaks(cells, counts, k) == []


def test_leaks_are_reported_smallest_first_and_capped() -> None:
    atoms = [f"a{i}" for i in range(MAX_LEAK_EXAMPLES + 3)]
    counts = {a: 1 + i % 4 for i, a in enumerate(atoms)}
    result = audit([F([a]) for a in atoms], counts, 5)
    assert not result.ok
    assert len(result.leaks) == MAX_LEAK_EXAMPLES
    totals = [leak.total for leak in result.leaks]
    assert totals == sorted(totals)
    assert result.leaks[0] == Leak(F({"a0"}), 1)


def test_budget_exhaustion_fails_closed() -> None:
    cells = [F({"t1x", "t1y"}), F({"t2x", "t2y"}), F({"t1x", "t2x"}), F({"t1y", "t2y"})]
    counts = {"t1x": 2, "t1y": 3, "t2x": 3, "t2y": 2}
    full = audit(cells, counts, 5)
    assert full.ok
    assert full.sets_checked > 2
    tight = audit(cells, counts, 5, max_sets=2)
    assert not tight.ok
    assert not tight.exhaustive
    assert tight.sets_checked == 2


def test_k_of_one_never_leaks_and_bad_input_is_rejected() -> None:
    assert audit([F("a")], {"a": 1}, 1).ok
    with pytest.raises(ValueError, match="k must be"):
        audit([], {}, 0)
    with pytest.raises(ValueError, match="negative"):
        audit([F("a")], {"a": -1}, 5)


# --- select_cells --------------------------------------------------------------------------------


def test_select_cells_keeps_largest_first_and_explains_rejections() -> None:
    counts = {"t1x": 6, "t1y": 2, "t2x": 4, "t2y": 5}
    base = [F({"t1x", "t1y", "t2x", "t2y"}), F({"t1x", "t1y"}), F({"t2x", "t2y"})]
    candidates = [
        ("band-x", F({"t1x", "t2x"})),
        ("band-y", F({"t1y", "t2y"})),
        ("t1-x", F({"t1x"})),
        ("t1-y", F({"t1y"})),
    ]
    kept, rejected = select_cells(base, candidates, counts, 5)
    # band-y = org - band-x is already derivable, so it adds nothing; t1-x would expose t1y.
    assert kept == ["band-x", "band-y"]
    assert rejected == {
        "t1-x": REASON_SUBTRACTION,
        "t1-y": REASON_FEWER_THAN_K,
    }
    assert audit([*base, F({"t1x", "t2x"}), F({"t1y", "t2y"})], counts, 5).ok


def test_select_cells_tries_the_refused_cells_first_when_that_keeps_more() -> None:
    """Org x band-y (8) first would refuse both of department A's cells (A minus A-y is
    B-y, 2 people); A-y and A-z first keep two cells, and org x band-y is what is refused."""
    counts = {"Ay": 6, "Az": 5, "Bx": 2, "By": 2, "Bz": 1}
    base = [F(counts), F({"Ay", "Az"}), F({"Bx", "By", "Bz"})]
    candidates = [
        ("org-y", F({"Ay", "By"})),
        ("org-z", F({"Az", "Bz"})),
        ("A-y", F({"Ay"})),
        ("A-z", F({"Az"})),
    ]
    kept, rejected = select_cells(base, candidates, counts, 5)
    assert kept == ["A-y", "A-z"]
    assert rejected == {"org-y": REASON_SUBTRACTION, "org-z": REASON_SUBTRACTION}
    assert not audit([*base, F({"Ay", "By"}), F({"Ay"})], counts, 5).ok  # largest first's pair


def test_select_cells_rejects_duplicate_names() -> None:
    with pytest.raises(ValueError, match="unique"):
        select_cells([], [("x", F("a")), ("x", F("b"))], {"a": 5, "b": 5}, 5)


# --- merge_blocks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "k", "expected"),
    [
        ({"a": 3, "b": 2, "c": 5, "d": 1, "e": 1}, 5, [F("ab"), F("cde")]),
        ({"a": 1, "b": 1}, 5, [F("ab")]),
        ({"a": 5, "b": 0}, 5, [F("ab")]),
        ({}, 5, []),
    ],
)
def test_merge_blocks_examples(
    counts: dict[str, int], k: int, expected: list[frozenset[str]]
) -> None:
    assert merge_blocks(sorted(counts), counts, k) == expected


def test_merge_blocks_rejects_repeated_atoms() -> None:
    with pytest.raises(ValueError, match="distinct"):
        merge_blocks(["a", "a"], {"a": 5}, 5)


# --- properties ----------------------------------------------------------------------------------


@st.composite
def systems(draw: st.DrawFn, max_atoms: int = 8) -> System:
    n = draw(st.integers(1, max_atoms))
    atoms = [f"a{i}" for i in range(n)]
    counts = {a: draw(st.integers(0, 7)) for a in atoms}
    cells = draw(
        st.lists(
            st.frozensets(st.sampled_from(atoms), min_size=1, max_size=n),
            max_size=2 * n,
        )
    )
    k = draw(st.integers(1, 8))
    return cells, counts, k


@PROPERTY
@given(systems(max_atoms=10))
def test_every_reported_leak_is_genuine(system: System) -> None:
    cells, counts, k = system
    result = audit(cells, counts, k)
    assert result.ok == (result.exhaustive and not result.leaks)
    assert len(result.leaks) <= MAX_LEAK_EXAMPLES
    for leak in result.leaks:
        assert leak.total == _total(leak.atoms, counts)
        assert 1 <= leak.total < k
        assert _derivable(cells, counts, leak.atoms)


@PROPERTY
@given(systems(max_atoms=8))
def test_audit_matches_brute_force(system: System) -> None:
    cells, counts, k = system
    result = audit(cells, counts, k)
    brute = _brute_force_leaks(cells, counts, k)
    assert result.exhaustive
    assert result.ok == (not brute)
    if brute:
        # The smallest derivable total is always a minimal set, so it must be reported first.
        assert result.leaks[0].total == min(_total(s, counts) for s in brute)


@PROPERTY
@given(systems(max_atoms=8), st.data())
def test_select_cells_result_passes_audit(system: System, data: st.DataObject) -> None:
    cells, counts, k = system
    split = data.draw(st.integers(0, len(cells)))
    base, _ = select_cells([], [(f"b{i}", c) for i, c in enumerate(cells[:split])], counts, k)
    base_cells = [cells[int(name[1:])] for name in base]
    candidates = [(f"c{i}", c) for i, c in enumerate(cells[split:])]
    kept, rejected = select_cells(base_cells, candidates, counts, k)
    by_name = dict(candidates)
    assert set(kept) | set(rejected) == set(by_name)
    assert not set(kept) & set(rejected)
    assert audit(base_cells + [by_name[n] for n in kept], counts, k).ok
    for name, reason in rejected.items():
        assert (reason == REASON_FEWER_THAN_K) == (_total(by_name[name], counts) < k)
    # Never fewer than plain largest first, each candidate checked by a whole new audit.
    plain: list[frozenset[str]] = []
    for name, cell in sorted(candidates, key=lambda c: (-_total(c[1], counts), c[0])):
        if _total(cell, counts) >= k and audit([*base_cells, *plain, cell], counts, k).ok:
            plain.append(cell)
    assert len(kept) >= len(plain)


@PROPERTY
@given(st.lists(st.integers(0, 9), max_size=30), st.integers(1, 12))
def test_merge_blocks_is_a_partition_of_blocks_at_least_k(counts_list: list[int], k: int) -> None:
    atoms = [f"a{i}" for i in range(len(counts_list))]
    counts = dict(zip(atoms, counts_list, strict=True))
    blocks = merge_blocks(atoms, counts, k)
    assert sorted(a for block in blocks for a in block) == sorted(atoms)
    assert sum(len(block) for block in blocks) == len(atoms)
    position = {a: i for i, a in enumerate(atoms)}
    for block in blocks:  # contiguous
        spots = sorted(position[a] for a in block)
        assert spots == list(range(spots[0], spots[-1] + 1))
    if sum(counts_list) >= k:
        assert all(_total(block, counts) >= k for block in blocks)
    elif atoms:
        assert len(blocks) == 1
    # Publishing every block and the whole leaks nothing below k.
    if sum(counts_list) >= k:
        assert audit([*blocks, F(atoms)], counts, k).ok
