"""Across rounds, with the same people eligible, who *answered* changes: someone skips a round.

With everyone else answering as before, a skipper is the difference of two releases' sums
(7 x mean(R1) - 6 x mean(R2)). The release knows only how many answered each atom, never who,
so it carries each exact cell's n as a tally (see domain/churn.py). The oracle here knows who
answered: its atoms are classes of *respondents* (people who answered in the same atoms in the
same rounds), every exact cell a 0/1 row over them (tests.domain.test_churn_union's plain
Gaussian elimination), and a group of 1..k-1 respondents must not be derivable.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from survey.domain import manifest
from survey.domain.release import (
    EarlierRelease,
    ReleaseInput,
    build_manifest,
    respondents_per_atom,
    verify,
)
from tests.domain.across_rounds import (
    Place,
    Programme,
    derivable_groups,
    earlier_of,
    exact_cells,
    person_classes,
    programmes,
    round_input,
)
from tests.domain.oracle import rank
from tests.domain.seeded_noise import seeded

TEAM_A, TEAM_B = 2, 3
PARENTS = {1: None, TEAM_A: 1, TEAM_B: 1}
BAND = "3y+"


def placed(*teams: tuple[int, range]) -> dict[int, Place]:
    return {person: (unit, BAND) for unit, people in teams for person in people}


def release(
    programme: Programme,
    skipped: Sequence[Collection[int]],
    *,
    across: bool = True,
    uncounted: Collection[int] = (),
) -> tuple[list[list[frozenset[str]]], list[manifest.Manifest]]:
    """Release every round with ``skipped[r]`` not answering round r+1; return each round's
    exact cells and manifests (``across`` False: each round alone, as before the check;
    ``uncounted``: the round numbers whose respondents per atom later releases do not know)."""
    earlier: list[EarlierRelease] = []
    cells, built_all = [], []
    for number in range(1, len(programme.rounds) + 1):
        data = round_input(programme, number, earlier if across else [])
        people = sorted(programme.rounds[number - 1])
        gone = skipped[number - 1]
        answers = [a for person, a in zip(people, data.answers, strict=True) if person not in gone]
        data = ReleaseInput(**{**data.__dict__, "answers": answers})
        built = build_manifest(data, shuffle=lambda texts: None, sampler=seeded(number))
        assert verify(built, data.snapshot, respondents_per_atom(answers)).ok
        cells.append(exact_cells(data, built))
        built_all.append(built)
        given = earlier_of(data, built)
        if number in uncounted:
            given = EarlierRelease(given.members, given.exact, None)
        earlier.append(given)
    return cells, built_all


def who_answered(
    programme: Programme, skipped: Sequence[Collection[int]]
) -> list[dict[int, Place]]:
    return [
        {p: place for p, place in r.items() if p not in gone}
        for r, gone in zip(programme.rounds, skipped, strict=True)
    ]


def leaks(
    programme: Programme, skipped: Sequence[Collection[int]], **kw: bool
) -> list[dict[tuple[str | None, ...], int]]:
    cells, _ = release(programme, skipped, **kw)
    return derivable_groups(cells, who_answered(programme, skipped), programme.k)


def test_a_respondent_who_skips_a_round_is_not_the_difference() -> None:
    """Seven in team A both rounds, one does not answer R2: before the check both rounds
    published A exactly (n 7 and 6); now R2 hides it, and no combination gives the skipper."""
    rounds = [placed((TEAM_A, range(1, 8)), (TEAM_B, range(20, 30)))] * 2
    programme = Programme([PARENTS] * 2, 5, rounds)
    skipped = [set(), {1}]
    assert leaks(programme, skipped, across=False) != []
    assert leaks(programme, skipped) == []
    _, (first, second) = release(programme, skipped)
    a1, a2 = first.unit(TEAM_A), second.unit(TEAM_A)
    assert a1 is not None and a1.shown and a1.n == 7
    assert a2 is not None and not (a2.shown and not a2.coarse)


def test_a_skipper_found_through_the_tree_is_refused() -> None:
    """The organisation and team A are the same both rounds; one of team B skips R2: the
    organisation's R1 - R2 with A unchanged is that person, unless R2 holds it back."""
    rounds = [placed((TEAM_A, range(1, 11)), (TEAM_B, range(20, 32)))] * 2
    programme = Programme([PARENTS] * 2, 5, rounds)
    skipped = [set(), {25}]
    assert leaks(programme, skipped, across=False) != []
    assert leaks(programme, skipped) == []


def test_two_large_differences_do_not_leave_a_small_one() -> None:
    """Twenty fewer answer in the organisation and eighteen fewer in team A: team B, two fewer,
    follows by subtraction, so no cell of R2 may be exact over a changed count."""
    rounds = [placed((TEAM_A, range(1, 31)), (TEAM_B, range(40, 70)))] * 2
    programme = Programme([PARENTS] * 2, 5, rounds)
    skipped = [set(), set(range(1, 19)) | {40, 41}]
    assert leaks(programme, skipped, across=False) != []
    assert leaks(programme, skipped) == []
    _, (_first, second) = release(programme, skipped)
    for unit in (1, TEAM_A, TEAM_B):
        row = second.unit(unit)
        assert row is not None and not (row.shown and not row.coarse), unit


def test_a_count_that_comes_back_is_published_again() -> None:
    """R2 is held back (one skipped); in R3 the same seven answer as in R1: exact again."""
    rounds = [placed((TEAM_A, range(1, 8)), (TEAM_B, range(20, 30)))] * 3
    programme = Programme([PARENTS] * 3, 5, rounds)
    skipped = [set(), {3}, set()]
    assert leaks(programme, skipped) == []
    _, built = release(programme, skipped)
    third = built[2].unit(TEAM_A)
    assert third is not None and third.shown and not third.coarse and third.n == 7


def test_a_whole_from_one_round_minus_a_part_from_another() -> None:
    """R1: A all ten answer, two of B's ten: the organisation (12) is shown, A is hidden (its
    remainder B would be 2). R2: five of B answer, A again: A is shown. Org(R1) - A(R2) is B's
    two respondents of R1, if A answered the same both rounds: R2 must not show A exactly."""
    rounds = [placed((TEAM_A, range(1, 11)), (TEAM_B, range(20, 30)))] * 2
    programme = Programme([PARENTS] * 2, 5, rounds)
    skipped = [set(range(22, 30)), set(range(25, 30))]
    assert leaks(programme, skipped) == []


def test_an_earlier_release_of_unknown_respondents_is_not_taken_as_everyone() -> None:
    """As above, but R1's respondents per atom are known no more (kept only since 0008, its
    answers shredded). Taking everyone in B to have answered R1 would make Org(R1) - A(R2) ten
    people, not B's two respondents: no R2 cell over anyone R1 published may be exact."""
    rounds = [placed((TEAM_A, range(1, 11)), (TEAM_B, range(20, 30)))] * 2
    programme = Programme([PARENTS] * 2, 5, rounds)
    skipped = [set(range(22, 30)), set(range(25, 30))]
    assert leaks(programme, skipped, uncounted={1}) == []
    cells, built = release(programme, skipped, uncounted={1})
    assert cells[0] != []
    assert cells[1] == []
    second = built[1].unit(TEAM_A)
    assert second is not None and not (second.shown and not second.coarse)


def test_people_no_uncounted_cell_covered_are_published_exactly() -> None:
    """R1 (respondents unknown later) covered teams A and B; in R2 a new team C of new people
    joins. Nothing of R1 covers C's people, so C is exact; every cell with A or B is not."""
    team_c = 4
    parents_2 = {**PARENTS, team_c: 1}
    first = placed((TEAM_A, range(1, 11)), (TEAM_B, range(20, 30)))
    second = placed((TEAM_A, range(1, 11)), (TEAM_B, range(20, 30)), (team_c, range(40, 50)))
    programme = Programme([PARENTS, parents_2], 5, [first, second])
    cells, built = release(programme, [set(), set()], uncounted={1})
    shown_c = built[1].unit(team_c)
    assert shown_c is not None and shown_c.shown and not shown_c.coarse and shown_c.n == 10
    for unit in (1, TEAM_A, TEAM_B):
        row = built[1].unit(unit)
        assert row is not None and not (row.shown and not row.coarse), unit
    assert cells[1] != []
    assert all(atom.startswith(f"{team_c}|") for cell in cells[1] for atom in cell)


def skips(programme: Programme, draw: st.DrawFn) -> list[set[int]]:
    """Draw who skips each round, any pattern: each person one time in ten."""
    return [{p for p in sorted(r) if draw(st.integers(0, 9)) == 0} for r in programme.rounds]


def nested(
    programme: Programme, answering: Sequence[Mapping[Place, int]], upto: int
) -> list[dict[int, Place]]:
    """Return who answered in rounds 1..``upto``, as the release of round ``upto`` takes it:
    in each atom, as many as answered, those eligible in the most of these rounds first (then
    the lowest ids), so respondents nest wherever the same people stay."""
    rounds = programme.rounds[:upto]
    presence: dict[int, int] = {}
    for placed_now in rounds:
        for person in placed_now:
            presence[person] = presence.get(person, 0) + 1
    found = []
    for placed_now, counts in zip(rounds, answering, strict=False):
        atoms: dict[Place, list[int]] = {}
        for person, place in placed_now.items():
            atoms.setdefault(place, []).append(person)
        chosen: dict[int, Place] = {}
        for place, people in atoms.items():
            people.sort(key=lambda p: (-presence[p], p))
            chosen.update(dict.fromkeys(people[: counts[place]], place))
        found.append(chosen)
    return found


def derivable_from(
    group: Mapping[tuple[str | None, ...], int],
    cells: Sequence[Sequence[frozenset[str]]],
    answered: Sequence[Mapping[int, Place]],
) -> bool:
    """Return whether ``group`` (coefficients over the classes of respondents ``answered``,
    one pattern entry per round) is a combination of the earlier rounds' ``cells`` alone."""
    people = sorted({p for r in answered for p in r})
    pattern = {
        p: tuple(f"{r[p][0]}|{r[p][1]}" if p in r else None for r in answered) for p in people
    }
    vector = [Fraction(group.get(pattern[p], 0)) for p in people]
    rows = [
        [Fraction(1 if pattern[p][i] in cell else 0) for p in people]
        for i, round_cells in enumerate(cells)
        for cell in round_cells
    ]
    return rank([*rows, vector]) == rank(rows)


@st.composite
def programmes_with_skips(draw: st.DrawFn) -> tuple[Programme, list[set[int]]]:
    programme = draw(programmes())
    return programme, skips(programme, draw)


@st.composite
def programmes_with_counts(draw: st.DrawFn) -> tuple[Programme, list[dict[Place, int]]]:
    """Draw a programme and how many answer in each atom of each round (up to 3 fewer)."""
    programme = draw(programmes())
    answering = []
    for placed_now in programme.rounds:
        sizes: dict[Place, int] = {}
        for place in placed_now.values():
            sizes[place] = sizes.get(place, 0) + 1
        answering.append(
            {place: draw(st.integers(max(0, n - 3), n)) for place, n in sorted(sizes.items())}
        )
    return programme, answering


@settings(max_examples=60, deadline=None)
@given(programmes_with_skips())
def test_random_skips_never_sum_the_same_people_over_two_counts(
    case: tuple[Programme, list[set[int]]],
) -> None:
    """Over random trees, membership changes and skips, every dependency among all rounds'
    exact cells (as rows over eligible-person classes) balances in their n: appending each
    cell's n as a column raises no rank."""
    programme, skipped = case
    cells, built = release(programme, skipped)
    classes = sorted(person_classes(programme.rounds), key=lambda p: tuple(a or "" for a in p))
    rows, tallied = [], []
    for r, (round_cells, released) in enumerate(zip(cells, built, strict=True)):
        by_atoms = dict(earlier_of_cells(released, programme, r + 1))
        for cell in round_cells:
            row = [Fraction(1 if pattern[r] in cell else 0) for pattern in classes]
            rows.append(row)
            tallied.append([*row, Fraction(by_atoms[cell])])
    assert rank(tallied) == rank(rows)


def earlier_of_cells(
    built: manifest.Manifest, programme: Programme, number: int
) -> list[tuple[frozenset[str], int]]:
    """Return round ``number``'s exact cells with their n, as the next release is given them."""
    data = round_input(programme, number, [])
    return list(earlier_of(data, built).exact)


@settings(max_examples=80, deadline=None)
@given(programmes_with_counts())
def test_no_release_adds_a_small_group_of_nested_respondents(
    case: tuple[Programme, list[dict[Place, int]]],
) -> None:
    """Over random trees, membership changes and counts of respondents, with the oracle
    knowing who answered: releasing round t makes no sum of 1..k-1 respondents computable
    that rounds 1..t-1 did not already give, whenever respondents nest as the release of
    round t takes them (domain/churn.py's worst case; other arrangements, which only someone
    who knows who answered could use, are the residual on /privacy)."""
    programme, answering = case
    total = len(programme.rounds)
    final = nested(programme, answering, total)
    skipped = [set(r) - set(a) for r, a in zip(programme.rounds, final, strict=True)]
    cells, _ = release(programme, skipped)
    for upto in range(1, total + 1):
        answered = nested(programme, answering, upto)
        for group in derivable_groups(cells[:upto], answered, programme.k):
            assert derivable_from(group, cells[: upto - 1], answered), (upto, group)
