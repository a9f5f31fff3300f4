"""Property test: all releases of a programme taken together, across three or four rounds of
random membership changes, let no group of 1..k-1 people be computed.

Each round is released through the churn-aware path (``ReleaseInput.earlier`` holds every
earlier release, as services/rounds.py passes it). The oracle shares no code with the audit or
the elimination: its atoms are *person classes* (people placed in the same atom, or absent, in
every round), every exactly published cell of every round is a 0/1 row over them, and a group
is derivable iff its indicator is orthogonal to a null-space basis of those rows, found by
plain Gaussian elimination over ``Fraction``. Everyone eligible answers every round, and the
same way: the worst case the across-rounds model assumes (see domain/churn.py).
"""

from __future__ import annotations

from hypothesis import given, settings

from survey.domain.release import atom_id, build_manifest
from tests.domain.across_rounds import (
    Programme,
    derivable_groups,
    exact_cells,
    programmes,
    release_all,
    round_input,
)
from tests.domain.seeded_noise import seeded


@settings(max_examples=100, deadline=None)
@given(programmes())
def test_the_union_of_all_rounds_derives_no_small_group(programme: Programme) -> None:
    published = release_all(programme)
    assert derivable_groups(published, programme.rounds, programme.k) == []


@settings(max_examples=60, deadline=None)
@given(programmes())
def test_the_union_of_all_rounds_derives_no_small_difference(programme: Programme) -> None:
    """The stronger claim of domain/churn.py: no +1/-1 combination either (a swap)."""
    published = release_all(programme)
    assert derivable_groups(published, programme.rounds, programme.k, (1, -1)) == []


# --- the oracle itself -----------------------------------------------------------------------


def test_oracle_finds_r3_minus_r1_when_r2_was_hidden() -> None:
    """A joiner in R2 stays; R1 and R3 publish the team exactly: R3 - R1 is the joiner."""
    team = dict.fromkeys(range(1, 7), (2, "3y+"))
    rounds = [team, {**team, 7: (2, "3y+")}, {**team, 7: (2, "3y+")}]
    cell = frozenset({atom_id(2, "3y+")})
    assert derivable_groups([[cell], [], [cell]], rounds, 5) == [{(None, "2|3y+", "2|3y+"): 1}]


def test_oracle_finds_a_swap_only_when_signed() -> None:
    """One leaver and one joiner: the team's two totals give their difference, no group."""
    stay = dict.fromkeys(range(1, 7), (2, "3y+"))
    rounds = [{**stay, 7: (2, "3y+")}, {**stay, 8: (2, "3y+")}, stay]
    cell = frozenset({atom_id(2, "3y+")})
    assert derivable_groups([[cell], [cell], []], rounds, 5) == []
    swap = derivable_groups([[cell], [cell], []], rounds, 5, (1, -1))
    assert swap == [{(None, "2|3y+", None): 1, ("2|3y+", None, None): -1}]


def test_the_release_path_refuses_what_the_oracle_finds() -> None:
    """Without the earlier releases, the same programme publishes R3 - R1."""
    parents = {1: None, 2: 1, 3: 1}
    team = dict.fromkeys(range(1, 8), (2, "3y+"))
    rest = dict.fromkeys(range(20, 30), (3, "3y+"))
    rounds = [{**team, **rest}, {**team, 8: (2, "3y+"), **rest}, {**team, 8: (2, "3y+"), **rest}]
    programme = Programme([parents] * 3, 5, rounds)
    alone = []
    for number in range(1, 4):
        data = round_input(programme, number, [])
        alone.append(exact_cells(data, build_manifest(data, sampler=seeded(number))))
    assert derivable_groups(alone, rounds, 5) != []
    assert derivable_groups(release_all(programme), rounds, 5) == []
