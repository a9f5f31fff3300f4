"""Across rounds: no figure may isolate the people who joined, left or skipped a round.

Invariant: take every release, of every programme over the roster and in whatever order the
rounds were released, as one system. Its atoms are *person classes*:
eligible people who sat in the same storage atom (unit x band) in every one of the releases
(from each round's roster snapshot: who was eligible where, never who answered). Every cell a
release published exactly is a row over these classes. Assuming the worst case, that everyone
gives the same answers every round, the sums an observer can compute are exactly that row
space; so a cell is published exactly only if afterwards no combination with coefficients +1
and -1 over classes totalling 1..k-1 people is derivable (``Elimination(signed=True)``). That
refuses R3 - R1 when R2 was hidden (the cell is compared with *every* earlier release), a
swap (one leaver and one joiner: their difference), a remainder that changed by one person
while both its cells changed by more, and a re-organised unit whose people an older cell
covered -- at every level.

Who answered changes too, with the same people eligible: one person skips R2, and
7 x mean(R1) - 6 x mean(R2) is what they said in R1. The release never learns who answered,
only how many in each atom, so two more checks run (see :class:`History`):

* every exact cell carries its n as a tally (``Elimination(tallied=True)``): a cell whose
  people the earlier exact cells already sum is exact only if its n is the n those cells imply.
  Any nonzero difference refuses it, however large: two large differences (a department down
  by 20, one of its teams down by 18) can leave a small one (the other team's 2);
* a second system over *respondents*, arranged as the worst case for a difference: in each
  atom and round the people eligible in the most rounds answered first, so respondents nest
  wherever the same people stay. It refuses a whole shown in one round minus a part shown in
  another (the organisation in R1, when team A was hidden for its remainder, minus A in R2:
  the rest's two R1 respondents), whose counts differ over *different* people.

What stays (stated on ``/privacy``) needs knowing who answered in which round, which Candor
never stores: against another arrangement than the nested one, e.g. one person answering only
R1 and another only R2 with the count unchanged (their difference), or thirds answering two of
three rounds each (half of R1 + R2 - R3 is a third), figures can still be combined.

A refused cell with fewer than ``coarse_min_n(k)`` respondents is hidden for the round. A larger
one would be hidden for as long as its membership or its count of respondents differs from an
earlier release, perhaps for ever, so it is published *coarsened* instead (``coarse_step``): its
index and favourable share get Laplace noise drawn once at release (at most
``noise.CHURN_EPSILON`` per figure, see :mod:`.noise`) and are then rounded to a step so wide
that one person's whole answer range moves them by at most half a step, with no spread,
interval, distribution or scale quality; coarsened cells are not exact rows of the system.
Rounding alone would not do: two releases' rounding errors can point opposite ways and pin a
joiner near an end of the scale; noise no rounding error can cancel. What stays (stated on
``/privacy``): the respondent count n of a coarsened cell is exact, so whether a joiner answered
may be inferred (never what they said), and the model assumes the worst case, everyone answering
the same every round.

Within a round every atom holds at least k eligible people (see :mod:`.grouping`), so the
system never refuses a cell for the round's own structure; that is the within-round audit's
job (:mod:`.audit`, over respondents).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .disclosure import CHURN_FACTOR, MINUS
from .elimination import Elimination

# Coarse steps, on a 0..100 scale: the first whose step * n reaches COARSE_SPAN * the range.
COARSE_STEPS = (1, 2, 5, 10, 20, 25, 50)
COARSE_SPAN = 2
COARSE_TEXT = "rounded: the group or who answered changed since an earlier round"


@dataclass(frozen=True)
class EarlierRelease:
    """What a later release needs of an earlier one (of any programme).

    :param members: atom id (unit|band) -> the eligible person ids stored under it, from
        that round's snapshot.
    :param exact: every cell it published exactly (coarsened cells left out): its atoms and
        its respondents (the published n).
    :param respondents: atom id -> how many answered (kept with the release, never
        published); None when they are known no more (see :class:`History`).
    :param k: the threshold that release promised (0: not known, this round's applies).
    """

    members: Mapping[str, Sequence[int]]
    exact: Sequence[tuple[frozenset[str], int]]
    respondents: Mapping[str, int] | None = None
    k: int = 0


def coarse_min_n(k: int) -> int:
    """Return the respondents a refused cell needs to be coarsened rather than hidden."""
    return CHURN_FACTOR * k


def coarse_step(n: int, span: float) -> float:
    """Return the rounding step of a coarsened figure of ``n`` people on a scale ``span`` wide.

    One person moves a mean by at most ``span / n``; the step is at least ``COARSE_SPAN``
    times that, so the difference of two releases' rounded sums is uncertain by at least the
    whole range of one person's answer.
    """
    for step in COARSE_STEPS:
        value = step * span / 100.0
        if value * n >= COARSE_SPAN * span:
            return value
    return COARSE_STEPS[-1] * span / 100.0


def coarse_round(value: float, n: int, low: float, high: float) -> float:
    """Return ``value`` rounded to the coarse step for ``n`` people on ``low..high``."""
    step = coarse_step(n, high - low)
    rounded = low + step * round((value - low) / step)
    return min(high, max(low, rounded))


def coarse_index(value: float, n: int, low: float, high: float) -> str:
    """Return a coarsened index as published: "about 60", or "about +20" on eNPS."""
    rounded = coarse_round(value, n, low, high)
    text = f"{abs(rounded):.0f}"
    if low < 0 and text != "0":
        text = ("+" if rounded > 0 else MINUS) + text
    return f"about {text}"


def coarse_share(pct: float, n: int) -> str:
    """Return a coarsened favourable share as published: "about 60 %"."""
    return f"about {coarse_round(pct, n, 0.0, 100.0):.0f} %"


class History:
    """Every earlier release, of every programme, as one system, for the round being released.

    Two systems, and a cell is exact only if both keep it: one over the *eligible* people
    (who joined, left or moved, with each cell's n as a tally), and, once there is an earlier
    release, one over *respondents* in a canonical arrangement (see :func:`_canonical`): nested
    across rounds wherever the same people stay, which is the worst case for a difference, so
    a whole of one round minus a part of another counts the respondents it really sums.

    An earlier release whose respondents per atom are known no more (stored before they were
    kept, and its answers since shredded) cannot be arranged so: nothing bounds what its exact
    cells could be differenced against. No cell of this round over any person one of those
    cells covered is then exact: it is coarsened or hidden, as any refused cell.
    """

    def __init__(
        self,
        members: Mapping[str, Sequence[int]],
        earlier: Sequence[EarlierRelease],
        k: int,
        respondents: Mapping[str, int],
    ) -> None:
        """Build the person classes and add every earlier exact cell (already audited then).

        A difference across releases is held to the largest k among them: an earlier
        release promised its own k (a programme's k may be lowered, and another programme's
        may be lower), and a later release must not break that promise by subtraction.

        :param respondents: atom id -> how many answered this round.
        """
        k = max([k, *(release.k for release in earlier)])
        self._respondents = respondents
        self._members = members
        # The people under an exact cell of an earlier release of unknown respondents.
        self._uncounted: set[int] = {
            person
            for release in earlier
            if release.respondents is None
            for cell, _n in release.exact
            for atom in cell
            for person in release.members.get(atom, ())
        }
        placements = [release.members for release in earlier] + [members]
        self.state = _System(placements, k, tallied=True)
        self.answered: _System | None = None
        if earlier:
            counts = [release.respondents for release in earlier] + [respondents]
            rounds: dict[int, int] = {}
            for placed in placements:
                for people in placed.values():
                    for person in people:
                        rounds[person] = rounds.get(person, 0) + 1
            order = {p: (-n, p) for p, n in rounds.items()}
            answered = [_canonical(m, n, order) for m, n in zip(placements, counts, strict=True)]
            self.answered = _System(answered, k, tallied=False)
        for i, release in enumerate(earlier):
            for cell, n in release.exact:
                self.state.add(i, cell, n, check=False)
                if self.answered is not None:
                    self.answered.add(i, cell, n, check=False)

    def add(self, cell: Iterable[str]) -> bool:
        """Add a cell of this round (its atoms); return False, changing nothing, if it would
        let a difference of 1..k-1 people across rounds be computed, if it sums the same
        people as earlier exact cells over a different number of respondents, or if, with
        respondents nested as :func:`_canonical` takes them, it would let a sum of 1..k-1
        respondents be computed; or if it covers anyone an exact cell of an earlier release
        of unknown respondents covered."""
        atoms = list(cell)
        if self._uncounted and any(
            person in self._uncounted for atom in atoms for person in self._members.get(atom, ())
        ):
            return False
        n = sum(self._respondents.get(atom, 0) for atom in atoms)
        now = self.state.now
        if not self.state.add(now, atoms, n):
            return False
        if self.answered is not None and not self.answered.add(now, atoms, n):
            self.state.elimination.undo()
            return False
        return True


def _canonical(
    members: Mapping[str, Sequence[int]],
    respondents: Mapping[str, int] | None,
    order: Mapping[int, tuple[int, int]],
) -> dict[str, list[int]]:
    """Return atom -> the people taken to have answered, as many as did: first those eligible
    in the most releases (then the lowest ids), so that wherever people stay, the rounds'
    respondents nest as far as the counts allow -- the worst case for a difference."""
    if respondents is None:
        return {atom: list(people) for atom, people in members.items()}
    return {
        atom: sorted(people, key=order.__getitem__)[: max(0, int(respondents.get(atom, 0)))]
        for atom, people in members.items()
    }


class _System:
    """Person classes over several releases' placements, and the elimination of their cells."""

    def __init__(
        self, placements: Sequence[Mapping[str, Sequence[int]]], k: int, *, tallied: bool
    ) -> None:
        where: dict[int, list[str | None]] = {}
        for i, placed in enumerate(placements):
            for atom, people in placed.items():
                for person in people:
                    where.setdefault(person, [None] * len(placements))[i] = atom
        names: dict[tuple[str | None, ...], str] = {}
        counts: dict[str, int] = {}
        for person in sorted(where):
            name = names.setdefault(tuple(where[person]), f"c{len(names)}")
            counts[name] = counts.get(name, 0) + 1
        # release index -> atom -> the classes whose people sat in that atom then
        self._classes: list[dict[str, set[str]]] = [{} for _ in placements]
        for sig, name in names.items():
            for i, place in enumerate(sig):
                if place is not None:
                    self._classes[i].setdefault(place, set()).add(name)
        self.elimination = Elimination(counts, k, signed=True, tallied=tallied)
        self.now = len(placements) - 1

    def add(self, release: int, atoms: Iterable[str], n: int, *, check: bool = True) -> bool:
        found: set[str] = set()
        for atom in atoms:
            found |= self._classes[release].get(atom, set())
        return self.elimination.add(found, check=check, tally=n)
