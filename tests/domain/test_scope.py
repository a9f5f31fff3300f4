"""The scope rules: which units of one release each reader sees (no app, no database)."""

from __future__ import annotations

import pytest

from survey.domain.access import Role
from survey.domain.scope import UnitNode, report_depth, round_scope

# Lab ─ Research ─ Alpha (shown), Beta (shown)
#     └ Ops ─ Gamma (hidden) ─ Tiny (hidden); Ops ─ Delta (shown)
#     └ Hidden dept (hidden) ─ Omega (hidden)
LAB, RESEARCH, ALPHA, BETA, OPS, GAMMA, TINY, DELTA, HDEPT, OMEGA = range(1, 11)
TREE = [
    UnitNode(LAB, None, 0, True),
    UnitNode(RESEARCH, LAB, 1, True),
    UnitNode(ALPHA, RESEARCH, 2, True),
    UnitNode(BETA, RESEARCH, 2, True),
    UnitNode(OPS, LAB, 1, True),
    UnitNode(GAMMA, OPS, 2, False),
    UnitNode(TINY, GAMMA, 3, False),
    UnitNode(DELTA, OPS, 2, True),
    UnitNode(HDEPT, LAB, 1, False),
    UnitNode(OMEGA, HDEPT, 2, False),
]
EVERYTHING = set(range(1, 11))


@pytest.mark.parametrize(
    ("role", "bound", "units", "broader"),
    [
        (Role.ADMIN, set(), EVERYTHING, set()),
        (Role.HR, set(), EVERYTHING, set()),
        (Role.LEADER, set(), {LAB, RESEARCH, OPS, HDEPT}, set()),
        # a manager's own shown team: that subtree only
        (Role.MANAGER, {ALPHA}, {ALPHA}, set()),
        (Role.MANAGER, {RESEARCH}, {RESEARCH, ALPHA, BETA}, set()),
        # own team hidden: its subtree (hidden, so without figures) and the nearest published
        # ancestor, marked broader
        (Role.MANAGER, {GAMMA}, {GAMMA, TINY, OPS}, {OPS}),
        (Role.MANAGER, {TINY}, {TINY, OPS}, {OPS}),
        # the nearest *published* ancestor: past a hidden department, the organisation
        (Role.MANAGER, {OMEGA}, {OMEGA, LAB}, {LAB}),
        # a stand-in already inside the manager's own subtree is not "broader"
        (Role.MANAGER, {OPS, GAMMA}, {OPS, GAMMA, TINY, DELTA}, set()),
        (Role.MANAGER, {ALPHA, DELTA}, {ALPHA, DELTA}, set()),
        # bound to nothing, or to a unit this round does not have: nothing
        (Role.MANAGER, set(), set(), set()),
        (Role.MANAGER, {99}, set(), set()),
    ],
)
def test_round_scope(role: Role, bound: set[int], units: set[int], broader: set[int]) -> None:
    scope = round_scope(role, TREE, bound)
    assert scope.units == units
    assert scope.broader == broader
    assert scope.organisation == (LAB in units)


def test_past_rounds_use_their_own_tree() -> None:
    """A team that moved between departments is judged by each round's snapshot."""
    before = [UnitNode(LAB, None, 0, True), UnitNode(OPS, LAB, 1, True), UnitNode(9, OPS, 2, True)]
    after = [
        UnitNode(LAB, None, 0, True),
        UnitNode(OPS, LAB, 1, True),
        UnitNode(RESEARCH, LAB, 1, True),
        UnitNode(9, RESEARCH, 2, True),
    ]
    assert round_scope(Role.MANAGER, before, {RESEARCH}).units == set()
    assert round_scope(Role.MANAGER, after, {RESEARCH}).units == {RESEARCH, 9}
    assert round_scope(Role.MANAGER, before, {OPS}).units == {OPS, 9}
    assert round_scope(Role.MANAGER, after, {OPS}).units == {OPS}


def test_reports_page_depth() -> None:
    assert {role: report_depth(role) for role in Role} == {
        Role.ADMIN: 1,
        Role.HR: 1,
        Role.LEADER: 1,
        Role.MANAGER: None,
    }
