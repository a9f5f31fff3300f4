"""An exact audit kept as state, so cells can be added one at a time.

Invariant: after every :meth:`Elimination.add` that returned True (with checking on), no set
S of atoms with a combined count in 1..k-1 has an indicator in the row space, over the
rationals, of the cells added so far. It is the same criterion as :func:`.audit.audit`, which
re-derives everything from scratch; this keeps the reduced row echelon form between calls,
so adding one candidate costs work near that candidate instead of a whole audit.

Why the check can stay local. Let N be the null space of the rows so far and r the new row
(not already in their span), with pivot column p. A set S is derivable afterwards iff
1_S - c r is in the old row space for some c. If it was not derivable before, c is not 0, so
the sum of the old null-space coordinates of S is a nonzero multiple of those of r, which
has a nonzero entry at p (p was a free column, so r's reduced form is what made it a pivot).
Hence S contains an atom whose old coordinates touch p: p itself or a pivot whose row holds
p -- exactly the rows the elimination step rewrites. The search for zero-sum sets with total
< k therefore only starts from those *changed* atoms (in the new coordinates), and, as in
:mod:`.audit`, at each step branches only over atoms that touch the partial sum's
least-touched nonzero coordinate (touched by fewest rows), which reaches every minimal
derivable set.

Atoms with count 0 are left out (projected out), which can only make more sets derivable.
A search over its budget (``max_sets`` sets per added cell) fails closed: the cell is refused.

Tallies (``tallied=True``, used across rounds by :mod:`.churn`). Each cell may carry a number
beside its row -- how many of its people answered -- carried through every row operation as
if it were one more column that is never a pivot. A cell whose row is already in the span has
a *discrepancy*: its tally minus the tally the same combination of earlier cells implies.
Refusing every cell with a nonzero discrepancy keeps the invariant that every dependency among
the kept cells balances in tallies, so the discrepancy of a later cell does not depend on which
combination expresses it. A nonzero one means some combination of published sums, zero over
the eligible people, still adds up the answers of the people who took part in one round and
not in another: with everyone else answering as before, 7 x mean(R1) - 6 x mean(R2) is the one
who skipped R2.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeAlias

AtomId: TypeAlias = str
#: Default cap on the number of candidate sets one check (or one whole audit) may test.
DEFAULT_MAX_SETS = 200_000

_Row: TypeAlias = dict[int, int]
_Value: TypeAlias = int | Fraction


@dataclass(frozen=True)
class Refusal:
    """Why the last :meth:`Elimination.add` was refused: a derivable set (its atoms and their
    total), or, with ``exhaustive`` False, the search budget ran out."""

    atoms: frozenset[AtomId]
    total: int
    exhaustive: bool
    discrepancy: _Value | None = None


class Elimination:
    """The reduced row echelon form of the cells added so far, with a local leak check."""

    def __init__(
        self,
        counts: Mapping[AtomId, int],
        k: int,
        *,
        max_sets: int = DEFAULT_MAX_SETS,
        signed: bool = False,
        tallied: bool = False,
    ) -> None:
        """Start with no cells over atoms with these counts (atoms not given count 0).

        :param signed: also refuse a cell that makes a *difference* derivable: a combination
            with coefficients +1 and -1 over atoms totalling 1..k-1 (one leaver and one
            joiner of a team are such a pair across rounds).
        :param tallied: carry each cell's tally and refuse a cell already in the span whose
            tally does not balance (see the module's docstring).
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        self.k = k
        self.signed = signed
        self.max_sets = max_sets
        self.names: list[AtomId] = sorted(a for a, n in counts.items() if n > 0)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.count = [counts[name] for name in self.names]
        self.small = [n < k for n in self.count]
        self.basis: dict[int, _Row] = {}
        self.tallied = tallied
        self.tally: dict[int, _Value] = {}  # pivot -> its row's tally (with ``tallied``)
        self.holders: dict[int, set[int]] = {}  # free column -> pivots whose row uses it
        # The search's branching key per column, kept while the column's holders stay the same.
        self._keys = _CoordinateKeys(self.holders)
        self.sets_checked = 0
        self.refusal: Refusal | None = None
        self._undo: list[tuple[int, _Row | None, _Value | None]] = []

    # ----------------------------------------------------------------------------- elimination

    def add(self, cell: Iterable[AtomId], *, check: bool = True, tally: int = 0) -> bool:
        """Add a published cell; with ``check``, keep it only if no small set becomes derivable
        (and, with ``tallied``, only if its ``tally`` balances when its row is in the span).

        Return True if the cell is kept (always, without ``check``). A refused cell leaves the
        state as it was and sets :attr:`refusal`.
        """
        self._undo = []
        self.refusal = None
        vector: _Row = dict.fromkeys(sorted(self.index[a] for a in cell if a in self.index), 1)
        carried: _Value = tally
        for pivot in [c for c in vector if c in self.basis]:
            stored = self.basis[pivot]
            scale, factor = stored[pivot], vector.pop(pivot)
            combine_rows(vector, scale, stored, factor, pivot)
            if self.tallied:
                carried = scale * carried - factor * self.tally[pivot]
        if not vector:
            # Already derivable from what is published: nothing new is told, unless the
            # tallies say that the same people's sums were taken over different respondents.
            if self.tallied and check and carried:
                self.refusal = Refusal(frozenset(), 0, True, carried)
                return False
            return True
        pivot = min(vector, key=lambda c: (len(self.holders.get(c, ())), c))
        if vector[pivot] < 0:
            vector = {c: -v for c, v in vector.items()}
            carried = -carried
        divisor = reduce_content(vector)
        if self.tallied:
            carried = _divide(carried, divisor)
        changed = [pivot, *sorted(self.holders.get(pivot, ()))]
        self._undo = [
            (j, dict(self.basis[j]) if j in self.basis else None, self.tally.get(j))
            for j in changed
        ]
        self._eliminate(pivot, vector, carried)
        if check and not self._safe_after(changed):
            self.undo()
            return False
        return True

    def undo(self) -> None:
        """Take back the last kept cell (only the last one)."""
        for j, _old, _tally in self._undo:
            self._drop_row(j)
        for j, old, tally in self._undo:
            if old is not None:
                self._put_row(j, old)
                if tally is not None:
                    self.tally[j] = tally
        self._undo = []

    def _eliminate(self, pivot: int, vector: _Row, carried: _Value) -> None:
        lead = vector[pivot]
        holders, keys = self.holders, self._keys
        tallies = self.tally if self.tallied else None
        keys.pop(pivot, None)
        for other in sorted(holders.pop(pivot, set())):
            row = self.basis[other]
            before = row.keys() - {pivot}
            factor = row.pop(pivot)
            combine_rows(row, lead, vector, factor, pivot)
            divisor = reduce_content(row)
            if tallies is not None:
                tallies[other] = _divide(lead * tallies[other] - factor * carried, divisor)
            # Only the columns that came or went change their holders (rows can be long).
            for col in before - row.keys():
                holders[col].discard(other)
                keys.pop(col, None)
            for col in row.keys() - before:
                holders.setdefault(col, set()).add(other)
                keys.pop(col, None)
        self._put_row(pivot, vector)
        if tallies is not None:
            tallies[pivot] = carried

    def _drop_row(self, j: int) -> None:
        row = self.basis.pop(j, None)
        self.tally.pop(j, None)
        for col in row or ():
            if col != j and col in self.holders:
                self.holders[col].discard(j)
                self._keys.pop(col, None)

    def _put_row(self, j: int, row: _Row) -> None:
        self.basis[j] = row
        for col in row:
            if col != j:
                self.holders.setdefault(col, set()).add(j)
                self._keys.pop(col, None)

    # ----------------------------------------------------------------------------- the check

    def _coords(self, j: int) -> dict[int, _Value]:
        """Return atom ``j``'s null-space coordinates (the free columns it depends on)."""
        row = self.basis.get(j)
        if row is None:
            return {j: 1}
        lead = row[j]
        if lead == 1:
            return {c: -v for c, v in row.items() if c != j}
        return {c: Fraction(-v, lead) for c, v in row.items() if c != j}

    def _touching(self, coord: int) -> list[int]:
        """Return the small atoms whose coordinates include ``coord``, smallest first."""
        small = self.small
        found = [j for j in self.holders.get(coord, ()) if small[j]]
        if coord not in self.basis and small[coord]:
            found.append(coord)
        return found

    def _safe_after(self, changed: list[int]) -> bool:
        """Return whether no small set containing a changed atom is derivable now."""
        k = self.k
        anchors = sorted(
            (j for j in changed if self.count[j] < k), key=lambda j: (self.count[j], j)
        )
        rank = {j: r for r, j in enumerate(anchors)}
        cache: dict[int, dict[int, _Value]] = {}
        touching: dict[int, list[int]] = {}

        def coords(j: int) -> dict[int, _Value]:
            if j not in cache:
                cache[j] = self._coords(j)
            return cache[j]

        def touch(coord: int) -> list[int]:
            if coord not in touching:
                touching[coord] = self._touching(coord)
            return touching[coord]

        order = self._keys
        signs = (1, -1) if self.signed else (1,)
        tested = 0
        for anchor in anchors:
            floor = rank[anchor]
            start = coords(anchor)
            tested += 1
            if not start:
                return self._refuse([anchor], exhaustive=True)
            seen: set[frozenset[int]] = set()
            stack = [(frozenset([anchor]), frozenset([anchor + 1]), start, self.count[anchor])]
            while stack:
                members, key, partial, total = stack.pop()
                # Any nonzero coordinate must be cancelled by some added atom; branch over the
                # atoms of the one touched by fewest rows (a cheap stand-in for fewest options).
                coord = min(partial, key=order.__getitem__)
                best = [
                    j
                    for j in touch(coord)
                    if rank.get(j, len(anchors)) > floor
                    and j not in members
                    and total + self.count[j] < k
                ]
                for j, sign in ((j, sign) for j in best for sign in signs):
                    grown = members | {j}
                    grown_key = key | {sign * (j + 1)}
                    if grown_key in seen:
                        continue
                    seen.add(grown_key)
                    tested += 1
                    if tested > self.max_sets:
                        self.sets_checked += tested
                        return self._refuse(grown, exhaustive=False)
                    summed = dict(partial)
                    for coord, value in coords(j).items():
                        if new := summed.get(coord, 0) + sign * value:
                            summed[coord] = new
                        else:
                            del summed[coord]
                    if not summed:
                        self.sets_checked += tested
                        return self._refuse(grown, exhaustive=True)
                    stack.append((grown, grown_key, summed, total + self.count[j]))
        self.sets_checked += tested
        return True

    def _refuse(self, atoms: Iterable[int], *, exhaustive: bool) -> bool:
        chosen = list(atoms)
        self.refusal = Refusal(
            frozenset(self.names[j] for j in chosen),
            sum(self.count[j] for j in chosen),
            exhaustive,
        )
        return False


class _CoordinateKeys(dict[int, tuple[int, int]]):
    """Coordinate -> (rows holding it, coordinate), computed on first use."""

    def __init__(self, holders: Mapping[int, set[int]]) -> None:
        super().__init__()
        self.holders = holders

    def __missing__(self, coord: int) -> tuple[int, int]:
        key = (len(self.holders.get(coord, ())), coord)
        self[coord] = key
        return key


def combine_rows(target: _Row, scale: int, source: _Row, factor: int, skip: int) -> None:
    """Set ``target`` to ``scale * target - factor * source``, ignoring column ``skip``."""
    if scale != 1:
        for col in target:
            target[col] *= scale
    for col, value in source.items():
        if col == skip:
            continue
        new = target.get(col, 0) - factor * value
        if new:
            target[col] = new
        else:
            target.pop(col, None)


def _divide(value: _Value, divisor: int) -> _Value:
    """Return ``value / divisor``, an int while it divides exactly."""
    if divisor == 1:
        return value
    if isinstance(value, int) and value % divisor == 0:
        return value // divisor
    return Fraction(value, divisor)


def reduce_content(row: _Row) -> int:
    """Divide an integer row by the gcd of its entries, in place; return the divisor."""
    divisor = math.gcd(*row.values())
    if divisor > 1:
        for col in row:
            row[col] //= divisor
    return divisor or 1
