"""Audit published counts so that no group of 1..k-1 respondents can be derived.

Invariant: a release passes ``audit`` only if no set S of atoms with a combined
respondent total in 1..k-1 has an indicator vector in the row space, over the
rationals, of the published cells.  Anyone holding the published totals can
compute exactly the linear combinations of those rows, so "in the row space" is
the same as "derivable by adding and subtracting published numbers".  When the
search cannot finish within its budget the audit fails closed (``ok`` is False).

Model.  An *atom* is the finest group the release distinguishes (finest unit x
attribute band).  A *cell* is a published total: the set of atoms it sums, i.e.
a 0/1 row over the atoms.  Atoms known to have 0 respondents are projected out
first; doing so can only make more sets derivable, so it is conservative.

Method.
1. Drop zero atoms, empty and duplicate cells; split the atom-cell incidence
   into connected components.  Row-space membership factors over components,
   so a derivable set with total < k has a derivable part with total 1..k-1
   inside one component.  Components without an atom of 1..k-1 respondents
   are skipped, and atoms in no cell can never be derived.
2. Per component, build the reduced row echelon form R exactly, by
   fraction-free integer elimination (``Fraction`` for what is read off it).
   For pivot column p and free column f the null-space coordinates of atom j
   are n_p[f] = -R[p][f] and n_f = e_f; S is derivable iff the sum of n_j
   over j in S is zero.
3. An atom with n_j = 0 is derivable on its own: a leak if it is small, and
   otherwise too large to be part of any leak.  The remaining small atoms are
   pruned: a null-space coordinate touched by a single candidate, or by
   candidates of a single sign, can never cancel, so those candidates go.
4. Search the zero-sum subsets of what remains with total < k: start from each
   anchor atom, and while the partial sum is nonzero, branch only over atoms
   that touch its least-touched nonzero coordinate.  Every minimal derivable
   set is reached this way.  Each distinct set tested counts towards
   ``max_sets``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeAlias

from .elimination import DEFAULT_MAX_SETS, AtomId, Elimination, combine_rows, reduce_content

#: Most leak examples an ``AuditResult`` carries.
MAX_LEAK_EXAMPLES = 5
#: Reason given by ``select_cells`` for a candidate below the threshold.
REASON_FEWER_THAN_K = "fewer than k"
#: Reason given by ``select_cells`` for a candidate that would leak.
REASON_SUBTRACTION = "would allow subtraction"
#: Reason given by ``select_cells`` for a candidate its ``admit`` refused.
REASON_ACROSS_ROUNDS = "would single out joiners or leavers across rounds"
#: Up to this many atoms with respondents ``select_cells`` tries a second order. Above it a
#: pass costs seconds, and in bench/release.py's organisations of 10,000 atoms largest first
#: already publishes as many cells as any sound selection could (its per-unit bound).
SECOND_PASS_MAX_ATOMS = 3_000

_ONE = Fraction(1)

_Vector: TypeAlias = dict[int, Fraction]
_IntRow: TypeAlias = dict[int, int]


@dataclass(frozen=True)
class Leak:
    """A set of atoms whose respondent total (1..k-1) can be derived from the release."""

    atoms: frozenset[AtomId]
    total: int


@dataclass(frozen=True)
class AuditResult:
    """The verdict of ``audit`` and what it looked at.

    ``cells`` counts the cells passed in, ``atoms`` the atoms with respondents,
    ``sets_checked`` the candidate sets tested.  ``exhaustive`` is False when
    the search hit ``max_sets``; ``ok`` is then False as well (fail closed).
    """

    ok: bool
    leaks: tuple[Leak, ...]
    cells: int
    atoms: int
    sets_checked: int
    exhaustive: bool


class _BudgetExceeded(Exception):
    """Signal that the enumeration reached ``max_sets``."""


class _Search:
    """Hold the state of one audit: budget, counter and best leak examples."""

    def __init__(self, k: int, max_sets: int) -> None:
        self.k = k
        self.max_sets = max_sets
        self.sets_checked = 0
        self.leaks: list[Leak] = []

    def tick(self) -> None:
        """Count one tested set; raise once the budget is exceeded."""
        if self.sets_checked >= self.max_sets:
            raise _BudgetExceeded
        self.sets_checked += 1

    def found(self, atoms: Iterable[AtomId], total: int) -> None:
        """Record a leak, keeping only the smallest few examples."""
        self.leaks.append(Leak(frozenset(atoms), total))
        if len(self.leaks) > 4 * MAX_LEAK_EXAMPLES:
            self.trim()

    def trim(self) -> None:
        """Sort the examples smallest first and keep ``MAX_LEAK_EXAMPLES``."""
        unique = {leak.atoms: leak for leak in self.leaks}.values()
        self.leaks = sorted(unique, key=_leak_key)[:MAX_LEAK_EXAMPLES]


def _leak_key(leak: Leak) -> tuple[int, int, list[AtomId]]:
    """Order leaks by total, then size, then atom names."""
    return (leak.total, len(leak.atoms), sorted(leak.atoms))


def audit(
    cells: Sequence[frozenset[AtomId]],
    counts: Mapping[AtomId, int],
    k: int,
    *,
    max_sets: int = DEFAULT_MAX_SETS,
) -> AuditResult:
    """Check that no set of 1..k-1 respondents is derivable from ``cells``.

    ``counts`` gives each atom's true respondent count; atoms it omits count 0.
    Return a result with ``ok`` True only when the search was exhaustive and
    found nothing.  ``leaks`` holds up to ``MAX_LEAK_EXAMPLES`` derivable sets,
    smallest total first (each a minimal one where the search can tell).
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    if max_sets < 0:
        raise ValueError("max_sets must not be negative")
    for atom, count in counts.items():
        if count < 0:
            raise ValueError(f"negative count for atom {atom!r}")
    nonzero = {atom: count for atom, count in counts.items() if count > 0}
    search = _Search(k, max_sets)
    exhaustive = True
    try:
        for component_cells in _components(cells, nonzero):
            _audit_component(component_cells, nonzero, search)
    except _BudgetExceeded:
        exhaustive = False
    search.trim()
    return AuditResult(
        ok=exhaustive and not search.leaks,
        leaks=tuple(search.leaks),
        cells=len(cells),
        atoms=len(nonzero),
        sets_checked=search.sets_checked,
        exhaustive=exhaustive,
    )


def _components(
    cells: Sequence[frozenset[AtomId]], nonzero: Mapping[AtomId, int]
) -> list[list[frozenset[AtomId]]]:
    """Project cells onto nonzero atoms and group them by shared atoms."""
    projected = sorted(
        {frozenset(a for a in cell if a in nonzero) for cell in cells} - {frozenset()},
        key=lambda cell: (len(cell), sorted(cell)),
    )
    parent: dict[AtomId, AtomId] = {}

    def find(atom: AtomId) -> AtomId:
        root = atom
        while parent[root] != root:
            root = parent[root]
        while parent[atom] != root:
            parent[atom], atom = root, parent[atom]
        return root

    for cell in projected:
        first, *rest = sorted(cell)  # a fixed order, so the verdict never depends on hashing
        parent.setdefault(first, first)
        for atom in rest:
            parent.setdefault(atom, atom)
            a, b = find(first), find(atom)
            if a != b:
                parent[b] = a
    groups: dict[AtomId, list[frozenset[AtomId]]] = {}
    for cell in projected:
        groups.setdefault(find(next(iter(cell))), []).append(cell)
    return [groups[root] for root in sorted(groups)]


def _audit_component(
    cells: list[frozenset[AtomId]], nonzero: Mapping[AtomId, int], search: _Search
) -> None:
    """Search one connected component for derivable sets with total < k."""
    k = search.k
    names = sorted({atom for cell in cells for atom in cell})
    if all(nonzero[name] >= k for name in names):
        return
    index = {name: i for i, name in enumerate(names)}
    count = [nonzero[name] for name in names]
    basis = _rref([frozenset(index[a] for a in cell) for cell in cells])

    candidates: dict[int, _Vector] = {}
    for j, name in enumerate(names):
        if count[j] >= k:
            continue
        search.tick()
        coords = _null_coordinates(j, basis)
        if coords:
            candidates[j] = coords
        else:
            search.found([name], count[j])
    _prune(candidates)
    _zero_sums(_integerise(candidates), count, names, search)


def _rref(rows: Iterable[frozenset[int]]) -> dict[int, _IntRow]:
    """Return the reduced row echelon form of 0/1 rows, keyed by pivot column.

    Eliminate fraction-free: each stored row is an integer vector whose true
    RREF row is the vector divided by its (positive) pivot entry; it has no
    entry in any other pivot column.  Pivots are chosen to touch as few stored
    rows as possible, which keeps hierarchical (nested) cell systems sparse.
    """
    basis: dict[int, _IntRow] = {}
    holders: dict[int, set[int]] = {}  # free column -> pivots whose row uses it
    for row in rows:
        vector: _IntRow = dict.fromkeys(sorted(row), 1)
        for pivot in [c for c in row if c in basis]:
            stored = basis[pivot]
            combine_rows(vector, stored[pivot], stored, vector.pop(pivot), pivot)
        if not vector:
            continue
        pivot = min(vector, key=lambda c: (len(holders.get(c, ())), c))
        if vector[pivot] < 0:
            vector = {c: -v for c, v in vector.items()}
        reduce_content(vector)
        lead = vector[pivot]
        for other in sorted(holders.pop(pivot, set())):
            row_other = basis[other]
            before = set(row_other)
            combine_rows(row_other, lead, vector, row_other.pop(pivot), pivot)
            reduce_content(row_other)
            for col in set(row_other) - before:
                holders.setdefault(col, set()).add(other)
            for col in before - set(row_other) - {pivot}:
                holders[col].discard(other)
        basis[pivot] = vector
        for col in vector:
            if col != pivot:
                holders.setdefault(col, set()).add(pivot)
    return basis


def _null_coordinates(j: int, basis: Mapping[int, _IntRow]) -> _Vector:
    """Return atom ``j``'s row of the null-space basis read off the RREF."""
    row = basis.get(j)
    if row is None:
        return {j: _ONE}
    lead = row[j]
    return {col: Fraction(-value, lead) for col, value in row.items() if col != j}


def _prune(candidates: dict[int, _Vector]) -> None:
    """Drop candidates that touch a coordinate no zero-sum could cancel."""
    touching: dict[int, set[int]] = {}
    for j, coords in candidates.items():
        for coord in coords:
            touching.setdefault(coord, set()).add(j)
    pending = list(touching)
    while pending:
        coord = pending.pop()
        atoms = touching.get(coord)
        if not atoms:
            continue
        signs = {candidates[j][coord] > 0 for j in atoms}
        if len(atoms) > 1 and len(signs) > 1:
            continue
        for j in list(atoms):
            for other in candidates.pop(j):
                touching[other].discard(j)
                pending.append(other)


def _integerise(candidates: Mapping[int, _Vector]) -> dict[int, _IntRow]:
    """Scale each null-space coordinate by a positive integer to clear denominators.

    Positive scaling of a coordinate changes neither which sums are zero nor
    any sign, so the search may run on plain integers.
    """
    scale: dict[int, int] = {}
    for coords in candidates.values():
        for coord, value in coords.items():
            scale[coord] = math.lcm(scale.get(coord, 1), value.denominator)
    return {
        j: {coord: int(value * scale[coord]) for coord, value in coords.items()}
        for j, coords in candidates.items()
    }


def _zero_sums(
    candidates: Mapping[int, _IntRow],
    count: Sequence[int],
    names: Sequence[AtomId],
    search: _Search,
) -> None:
    """Report every minimal zero-sum set of candidates with total < k."""
    k = search.k
    order = sorted(candidates, key=lambda j: (count[j], j))
    rank = {j: r for r, j in enumerate(order)}
    touching: dict[int, list[int]] = {}
    for j in order:
        for coord in candidates[j]:
            touching.setdefault(coord, []).append(j)

    for anchor in order:
        floor = rank[anchor]
        seen: set[frozenset[int]] = set()
        stack: list[tuple[frozenset[int], _IntRow, int]] = [
            (frozenset([anchor]), dict(candidates[anchor]), count[anchor])
        ]
        while stack:
            members, partial, total = stack.pop()
            best: list[int] | None = None
            for coord in partial:
                options = [
                    j
                    for j in touching[coord]
                    if rank[j] > floor and j not in members and total + count[j] < k
                ]
                if best is None or len(options) < len(best):
                    best = options
                    if not best:
                        break
            for j in best or ():
                grown = members | {j}
                if grown in seen:
                    continue
                seen.add(grown)
                search.tick()
                summed = dict(partial)
                for coord, value in candidates[j].items():
                    if new := summed.get(coord, 0) + value:
                        summed[coord] = new
                    else:
                        del summed[coord]
                if summed:
                    stack.append((grown, summed, total + count[j]))
                else:
                    search.found((names[i] for i in grown), total + count[j])


def select_cells(
    base: Sequence[frozenset[AtomId]],
    candidates: Sequence[tuple[str, frozenset[AtomId]]],
    counts: Mapping[AtomId, int],
    k: int,
    *,
    admit: Callable[[str, frozenset[AtomId]], bool] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Greedily choose which candidate cells to publish on top of ``base``.

    ``base`` is already published and assumed to pass ``audit``; if it does
    not, every candidate is rejected (fail closed).  Consider candidates by
    largest total first, ties by name; reject those with total < k as
    ``REASON_FEWER_THAN_K`` and keep one only if the audit of everything kept
    so far plus it passes, else reject it as ``REASON_SUBTRACTION``.  Up to
    ``SECOND_PASS_MAX_ATOMS`` atoms, try once more with the candidates that
    pass rejected for subtraction first (largest first among them, then the
    rest): where keeping one cell early costs two others later, this order
    can keep both.  The pass that keeps more cells wins, ties going to
    largest first.  ``admit`` is asked last, in the winning order only.
    Return the kept names in the order they were kept and the rejection
    reasons.

    Either pass keeps a cell only if the audit of everything kept with it
    passes, so the order changes how many cells are published, never whether
    what is published is safe.  The audit is kept as state
    (:class:`.elimination.Elimination`): each candidate is checked near its
    own atoms instead of by a whole new audit, with the same verdicts.
    """
    names = [name for name, _ in candidates]
    if len(set(names)) != len(names):
        raise ValueError("candidate names must be unique")

    def total(cell: frozenset[AtomId]) -> int:
        return sum(counts.get(atom, 0) for atom in cell)

    ranked = sorted(candidates, key=lambda item: (-total(item[1]), item[0]))
    chosen, result = ranked, _greedy(base, ranked, counts, k, None)
    refused = {name for name, why in result[1].items() if why == REASON_SUBTRACTION}
    if refused and sum(1 for n in counts.values() if n > 0) <= SECOND_PASS_MAX_ATOMS:
        promoted = [c for c in ranked if c[0] in refused] + [
            c for c in ranked if c[0] not in refused
        ]
        again = _greedy(base, promoted, counts, k, None)
        if len(again[0]) > len(result[0]):
            chosen, result = promoted, again
    if admit is None:
        return result
    return _greedy(base, chosen, counts, k, admit)


def _greedy(
    base: Sequence[frozenset[AtomId]],
    ordered: Sequence[tuple[str, frozenset[AtomId]]],
    counts: Mapping[AtomId, int],
    k: int,
    admit: Callable[[str, frozenset[AtomId]], bool] | None,
) -> tuple[list[str], dict[str, str]]:
    """Run one greedy pass of :func:`select_cells` over candidates in the order given."""
    state = Elimination(counts, k)
    # Smallest first, so nested (hierarchical) cells reduce to their remainders and stay sparse.
    base_ok = all(state.add(cell) for cell in sorted(base, key=len))
    kept: list[str] = []
    rejected: dict[str, str] = {}
    for name, cell in ordered:
        if sum(counts.get(atom, 0) for atom in cell) < k:
            rejected[name] = REASON_FEWER_THAN_K
        elif not (base_ok and state.add(cell)):
            rejected[name] = REASON_SUBTRACTION
        elif admit is not None and not admit(name, cell):
            state.undo()
            rejected[name] = REASON_ACROSS_ROUNDS
        else:
            kept.append(name)
    return kept, rejected


def merge_blocks(
    atoms: Sequence[AtomId], counts: Mapping[AtomId, int], k: int
) -> list[frozenset[AtomId]]:
    """Partition ordered ``atoms`` into contiguous blocks of at least k each.

    For very large organisations, where auditing every atom is too slow: merge
    neighbouring atoms (the caller orders them so neighbours are similar, e.g.
    same unit) until each block holds k or more respondents; a short last
    block joins the one before it.  If the whole total is below k, return a
    single block (which must then not be published at all).  Afterwards only
    unions of whole blocks may be published: every derivable set is then a
    union of blocks and so holds 0 or at least k respondents.  Return the
    blocks in order; an empty input gives no blocks.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    if len(set(atoms)) != len(atoms):
        raise ValueError("atoms must be distinct")
    blocks: list[list[AtomId]] = []
    current: list[AtomId] = []
    total = 0
    for atom in atoms:
        current.append(atom)
        total += counts.get(atom, 0)
        if total >= k:
            blocks.append(current)
            current, total = [], 0
    if current:
        if blocks:
            blocks[-1].extend(current)
        else:
            blocks.append(current)
    return [frozenset(block) for block in blocks]
