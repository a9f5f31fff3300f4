"""Tests for building, auditing and hashing a round's release manifest, without app or database."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.domain import scoring
from survey.domain.disclosure import DISTRIBUTION_MIN_N, HIDDEN_TEXT, UNIFORM_TEXT
from survey.domain.manifest import parse
from survey.domain.questions import load_bank
from survey.domain.redaction import mask
from survey.domain.release import (
    COMMENT_MAX_DEPTH,
    PARTICIPATION_ROUNDING,
    REMAINDER_LABEL,
    OpenedAnswer,
    ReleaseError,
    ReleaseInput,
    canonical_json,
    digest,
)
from survey.domain.release import reaudit as reaudit_typed
from tests.domain.release_cases import (
    ASKED,
    BANK,
    COMMENT_K,
    ELIGIBLE,
    RESPONDENTS,
    TREE,
    K,
    build_manifest,
    release_input,
    rows_by_id,
    snapshot,
)


def reaudit(manifest: Mapping[str, Any]) -> Any:
    """Re-audit a stored (possibly tampered) manifest."""
    return reaudit_typed(parse(manifest))


SHOWN = {1, 2, 3, 4, 5}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return build_manifest(release_input())


# --- units --------------------------------------------------------------------------------------


def test_round_header(manifest: dict[str, Any]) -> None:
    assert manifest["round"] == {
        "id": 3,
        "number": 2,
        "label": "R2",
        "program": "Pulse",
        "opens_on": "2026-11-02",
        "closed_on": "2026-11-16",
    }
    assert (manifest["k"], manifest["comment_k"]) == (K, COMMENT_K)
    assert [t["key"] for t in manifest["themes"]] == [t.key for t in BANK.themes]


def test_shown_units(manifest: dict[str, Any]) -> None:
    rows = rows_by_id(manifest)
    assert {uid for uid, row in rows.items() if row["shown"]} == SHOWN
    assert [row["path"] for row in manifest["units"]] == sorted(
        row["path"] for row in rows.values()
    )


@pytest.mark.parametrize("uid", sorted(set(TREE) - SHOWN))
def test_hidden_units_carry_no_numbers(manifest: dict[str, Any], uid: int) -> None:
    row = rows_by_id(manifest)[uid]
    assert row["shown"] is False
    assert "n" not in row
    assert "participation_pct" not in row
    assert row["themes"] == {}


@pytest.mark.parametrize("uid", sorted(SHOWN))
def test_shown_units_carry_cells(manifest: dict[str, Any], uid: int) -> None:
    row = rows_by_id(manifest)[uid]
    assert row["shown"] is True
    assert row["reason"] == ""
    assert row["n"] >= K
    assert 0 < row["participation_pct"] <= 100
    assert set(row["themes"]) == {t["key"] for t in manifest["themes"]}
    for key, cell in row["themes"].items():
        assert cell["n"] == row["n"], key
        assert set(cell) == {
            "n",
            "mean",
            "favourable_pct",
            "favourable_text",
            "sd",
            "ci_low",
            "ci_high",
        }
        assert cell["ci_low"] <= cell["mean"] <= cell["ci_high"]
        low, high = (-100, 100) if key == "enps" else (0, 100)
        assert low <= cell["ci_low"] and cell["ci_high"] <= high


def test_figures_match_scoring(manifest: dict[str, Any]) -> None:
    data = release_input()
    research = {2, 4, 5}
    scores = [
        s
        for a in data.answers
        if a.unit_id in research
        for s in scoring.score_person(BANK, ASKED, a.answers)
        if s.theme == "safety"
    ]
    summary = scoring.summarise(scores)
    assert summary is not None
    cell = rows_by_id(manifest)[2]["themes"]["safety"]
    assert cell["n"] == summary.n == 15
    assert cell["mean"] == round(summary.mean, 1)
    assert cell["sd"] == round(summary.sd, 1)


def test_zero_and_two_respondents_look_the_same(manifest: dict[str, Any]) -> None:
    rows = rows_by_id(manifest)
    ignore = {"id", "path", "name", "eligible"}
    empty = {k: v for k, v in rows[8].items() if k not in ignore}
    small = {k: v for k, v in rows[7].items() if k not in ignore}
    assert RESPONDENTS[8] == 0 and RESPONDENTS[7] == 2
    assert empty == small
    assert empty["reason"] == HIDDEN_TEXT


def test_remainder_is_hidden_with_its_sibling(manifest: dict[str, Any]) -> None:
    rows = rows_by_id(manifest)
    shown_children = [r for r in rows.values() if r["parent"] == 3 and r["shown"]]
    assert shown_children == []
    assert rows[3]["n"] == 8


def test_depths(manifest: dict[str, Any]) -> None:
    rows = rows_by_id(manifest)
    assert {uid: row["depth"] for uid, row in rows.items()} == {
        1: 0,
        2: 1,
        3: 1,
        4: 2,
        5: 2,
        6: 2,
        7: 2,
        8: 2,
    }


def test_audit_verdict(manifest: dict[str, Any]) -> None:
    assert manifest["audit"]["ok"] is True
    assert manifest["audit"]["exhaustive"] is True
    assert manifest["audit"]["cells"] >= len(SHOWN)


def test_reaudit_passes(manifest: dict[str, Any]) -> None:
    assert reaudit(manifest).ok


def _reveal(uid: int, n: int) -> Any:
    def change(m: dict[str, Any]) -> None:
        row = rows_by_id(m)[uid]
        row.update(shown=True, reason="", n=n)

    return change


def _set_n(uid: int, n: int) -> Any:
    def change(m: dict[str, Any]) -> None:
        rows_by_id(m)[uid]["n"] = n

    return change


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(_reveal(6, 6), id="child-shown-with-remainder-2"),
        pytest.param(_reveal(6, 7), id="child-shown-with-remainder-1"),
        pytest.param(_reveal(6, 4), id="child-shown-with-remainder-4"),
        pytest.param(_reveal(7, 2), id="small-child-shown"),
        pytest.param(_set_n(1, 26), id="root-remainder-3"),
        pytest.param(_set_n(4, 20), id="child-larger-than-parent"),
        pytest.param(_set_n(5, 3), id="published-n-below-k"),
    ],
)
def test_reaudit_catches_tampering(manifest: dict[str, Any], tamper: Any) -> None:
    tampered = copy.deepcopy(manifest)
    tamper(tampered)
    assert not reaudit(tampered).ok


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param([_reveal(6, 8)], id="child-equal-to-parent-remainder-0"),
        pytest.param([_reveal(6, 5), _set_n(3, 10), _set_n(1, 25)], id="remainder-exactly-k"),
    ],
)
def test_reaudit_accepts_safe_changes(manifest: dict[str, Any], changes: list[Any]) -> None:
    # These edits publish no group of 1..k-1 people, directly or by subtraction.
    tampered = copy.deepcopy(manifest)
    for change in changes:
        change(tampered)
    assert reaudit(tampered).ok


def test_release_refuses_small_k() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        build_manifest(release_input(k=2))


def test_release_needs_one_root() -> None:
    tree = {1: (None, "Lab"), 2: (None, "Other")}
    with pytest.raises(ReleaseError, match="exactly one root"):
        build_manifest(
            release_input(tree=tree, respondents={1: 6, 2: 6}, eligible={"1": 6, "2": 6})
        )


def test_churn_hides_unit() -> None:
    # Ops (8 respondents < 3k) changed by 2 people: hidden. Research (15 = 3k) is not guarded.
    m = build_manifest(release_input(churn={3: 2, 2: 2}))
    rows = rows_by_id(m)
    assert not rows[3]["shown"] and "n" not in rows[3]
    assert rows[2]["shown"]
    assert reaudit(m).ok


def test_no_distribution_derivable_for_fewer_than_ten() -> None:
    # Lab has 5 people of its own and one team of 10: both are shown (remainder 5 >= k), and
    # both have n >= 10, so both would carry answer distributions.
    tree = {1: (None, "Lab"), 2: (1, "Team")}
    m = build_manifest(
        release_input(tree=tree, respondents={1: 5, 2: 10}, eligible={"1": 5, "2": 10})
    )
    rows = rows_by_id(m)
    assert rows[1]["shown"] and rows[2]["shown"]
    # Only one of the two may carry details, and the other has no exact favourable share.
    assert ("distributions" in rows[1]) != ("distributions" in rows[2])
    plain = rows[2] if "distributions" in rows[1] else rows[1]
    assert all(cell["favourable_pct"] is None for cell in plain["themes"].values())
    if "distributions" in rows[1] and "distributions" in rows[2]:
        for key, parent in rows[1]["distributions"].items():
            remainder = [p - c for p, c in zip(parent, rows[2]["distributions"][key], strict=True)]
            assert not 0 < sum(remainder) < DISTRIBUTION_MIN_N, key


# --- digest -------------------------------------------------------------------------------------


def _reorder(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reorder(v) for k, v in reversed(list(value.items()))}
    if isinstance(value, list):
        return [_reorder(v) for v in value]
    return value


def test_digest_is_stable_under_key_reordering(manifest: dict[str, Any]) -> None:
    shuffled = _reorder(manifest)
    assert list(shuffled) != list(manifest)
    assert digest(shuffled) == digest(manifest)
    assert canonical_json(shuffled) == canonical_json(manifest)


def test_digest_changes_with_content(manifest: dict[str, Any]) -> None:
    changed = copy.deepcopy(manifest)
    changed["units"][0]["name"] += "!"
    assert digest(changed) != digest(manifest)
    assert len(digest(manifest)) == 64
    int(digest(manifest), 16)


def test_digest_of_rebuild_is_the_same() -> None:
    assert digest(build_manifest(release_input())) == digest(build_manifest(release_input()))


# --- participation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("eligible", "expected"),
    [
        (ELIGIBLE, 70),  # 23 / 32 = 71.9 %
        ({"4": 8, "5": 7, "6": 6, "7": 2, "8": 0}, 100),
        ({"4": 20, "5": 20, "6": 20, "7": 20, "8": 20}, 25),  # 23 %
        ({"4": 100, "5": 0, "6": 0, "7": 0, "8": 0}, 25),  # 23 % again
        ({"4": 9, "5": 8, "6": 7, "7": 3, "8": 2}, 80),  # 23 / 29 = 79.3 %
        ({"4": 46, "5": 0, "6": 0, "7": 0, "8": 0}, 50),  # 50 %
    ],
)
def test_participation_is_rounded(eligible: dict[str, int], expected: int) -> None:
    m = build_manifest(release_input(eligible=eligible))
    pct = m["participation"]["org_pct_rounded"]
    assert pct % PARTICIPATION_ROUNDING == 0
    assert pct == expected


def test_participation_hidden_when_org_below_k() -> None:
    m = build_manifest(release_input(respondents={4: 2, 5: 2}))
    assert m["participation"]["org_pct_rounded"] is None
    assert not any(row["shown"] for row in m["units"])
    assert all("n" not in row and row["themes"] == {} for row in m["units"])


# --- comments -----------------------------------------------------------------------------------

# Enough respondents for comments everywhere: 10 placed directly in Lab, Research 15, Ops 12.
BIG = {1: 10, 4: 8, 5: 7, 6: 6, 7: 3, 8: 3}
BIG_ELIGIBLE = {"1": 12, "4": 10, "5": 9, "6": 8, "7": 4, "8": 4}
ROSTER = ["Alice Johnson", "Bob Stone"]
COMMENTS = [
    (4, "Alice Johnson keeps cancelling our 1:1s"),
    (5, "More budget for tools, please. Mail me at bob.stone@example.org"),
    (6, "Johnson should listen to Ops"),
    (7, "Call +44 20 7946 0958 if you disagree"),
    (3, "Fine overall"),
    (2, "Research is great"),
    (1, "Whole org comment"),
]


def _all_texts(groups: list[dict[str, Any]]) -> list[str]:
    return [text for group in groups for text in group["texts"]]


def test_comments_below_comment_k_are_not_released() -> None:
    comments = [(4, "one"), (5, "two"), (6, "three")]
    m = build_manifest(release_input(comments=comments))  # 23 respondents, comment k 30
    assert build_manifest(release_input(comments=comments, comment_k=30))["comments"] == []
    assert m["comments"] != []


def test_comments_below_comment_k_with_small_org() -> None:
    m = build_manifest(release_input(respondents={4: 5, 5: 4}, comments=[(4, "hello")]))
    assert m["comments"] == []


def test_comments_released_and_masked() -> None:
    m = build_manifest(
        release_input(
            respondents=BIG, eligible=BIG_ELIGIBLE, comments=COMMENTS, roster_names=ROSTER
        )
    )
    groups = m["comments"]
    texts = _all_texts(groups)
    assert len(texts) == len(COMMENTS)
    assert sorted(texts) == sorted(
        [
            "[name] keeps cancelling our 1:1s",
            "More budget for tools, please. Mail me at [email]",
            "[name] should listen to Ops",
            "Call [number] if you disagree",
            "Fine overall",
            "Research is great",
            "Whole org comment",
        ]
    )
    for text in texts:
        assert "Alice" not in text and "Johnson" not in text and "@" not in text


def test_each_comment_in_exactly_one_group() -> None:
    m = build_manifest(release_input(respondents=BIG, eligible=BIG_ELIGIBLE, comments=COMMENTS))
    groups = m["comments"]
    assert Counter(_all_texts(groups)) == Counter(mask(text, None) for _, text in COMMENTS)
    assert all(group["count"] == len(group["texts"]) for group in groups)
    units = [group["unit"] for group in groups]
    assert len(units) == len(set(units))
    by_unit = {group["unit"]: sorted(group["texts"]) for group in groups}
    assert by_unit == {
        1: ["Whole org comment"],
        2: sorted(
            [
                "Alice Johnson keeps cancelling our 1:1s",
                "Research is great",
                "More budget for tools, please. Mail me at [email]",
            ]
        ),
        3: sorted(
            ["Johnson should listen to Ops", "Call [number] if you disagree", "Fine overall"]
        ),
    }
    labels = {group["unit"]: group["label"] for group in groups}
    assert labels == {1: REMAINDER_LABEL, 2: "Lab / Research", 3: "Lab / Ops"}


def test_comments_never_at_team_depth() -> None:
    m = build_manifest(
        release_input(respondents=BIG, eligible=BIG_ELIGIBLE, comments=COMMENTS, comment_k=3)
    )
    depth = {row["id"]: row["depth"] for row in m["units"]}
    assert m["comments"]
    for group in m["comments"]:
        assert depth[group["unit"]] <= COMMENT_MAX_DEPTH < 2


def test_comment_from_small_department_joins_the_organisation() -> None:
    # Ops has 8 respondents, below the comment threshold: its comments join the whole-org group,
    # and Research (15) is hidden for comments too, since 23 - 15 = 8 would single Ops out.
    m = build_manifest(release_input(comments=[(6, "ops"), (4, "research")]))
    (group,) = m["comments"]
    assert group["unit"] == 1
    assert group["label"] == "Lab"
    assert sorted(group["texts"]) == ["ops", "research"]


def test_comments_are_shuffled_with_given_shuffle() -> None:
    calls: list[list[str]] = []

    def shuffle(texts: list[str]) -> None:
        calls.append(list(texts))
        texts.reverse()

    m = build_manifest(release_input(comments=[(4, "a"), (5, "b"), (6, "c")]), shuffle=shuffle)
    assert calls == [["a", "b", "c"]]
    assert m["comments"][0]["texts"] == ["c", "b", "a"]


def test_no_comments() -> None:
    assert build_manifest(release_input())["comments"] == []


# --- property: random organisations ---------------------------------------------------------


@st.composite
def organisations(draw: st.DrawFn) -> ReleaseInput:
    size = draw(st.integers(1, 10))
    tree: dict[int, tuple[int | None, str]] = {1: (None, "Org")}
    for uid in range(2, size + 1):
        tree[uid] = (draw(st.integers(1, uid - 1)), f"U{uid}")
    respondents = {uid: draw(st.integers(0, 9)) for uid in tree}
    eligible = {str(uid): n + draw(st.integers(0, 3)) for uid, n in respondents.items()}
    k = draw(st.integers(3, 6))
    comments = [(uid, f"comment {uid}") for uid, n in respondents.items() if n]
    return release_input(
        tree=tree,
        respondents=respondents,
        eligible=eligible,
        k=k,
        comment_k=k + 2,
        comments=comments,
    )


@settings(max_examples=40, deadline=None)
@given(organisations())
def test_random_releases_are_safe(data: ReleaseInput) -> None:
    m = build_manifest(data)
    assert m["audit"]["ok"]
    assert reaudit(m).ok
    for row in m["units"]:
        if row["shown"]:
            assert row["n"] >= data.k
            assert all(cell["n"] >= data.k for cell in row["themes"].values())
        else:
            assert "n" not in row and "participation_pct" not in row and row["themes"] == {}
    for row in m["units"]:
        if "distributions" in row:
            assert row["shown"] and row["n"] >= DISTRIBUTION_MIN_N
    for row in m.get("attributes", {}).get("cells", []):
        if not row["shown"]:
            assert "n" not in row and row["themes"] == {}
    pct = m["participation"]["org_pct_rounded"]
    assert pct is None or pct % PARTICIPATION_ROUNDING == 0
    depth = {row["id"]: row["depth"] for row in m["units"]}
    released = _all_texts(m["comments"])
    assert len(released) == len(set(released))
    assert all(depth[g["unit"]] <= COMMENT_MAX_DEPTH for g in m["comments"])
    if m["comments"]:
        assert sorted(released) == sorted(text for _, text in data.comments)
        assert len(data.answers) >= data.comment_k


# --- homogeneity and neutral reasons (issue 11) -------------------------------------------------


@pytest.mark.parametrize(
    ("likert", "nps", "mean_text", "enps_text"),
    [
        ((3, 3, 3, 3, 3), (10, 10, 10, 10, 10), "about 50", "≥ +80"),  # identical answers
        ((5, 5, 5, 5, 5), (0, 1, 2, 3, 6), "≥ 90", "≤ \u221280"),  # eNPS -100: all detractors
        ((4, 5, 4, 4, 4), (7, 8, 7, 8, 8), "about 80", "about 0"),  # within one step
    ],
)
def test_uniform_cells_publish_no_exact_mean_or_interval(
    likert: tuple[int, ...], nps: tuple[int, ...], mean_text: str, enps_text: str
) -> None:
    bank = load_bank()
    asked = tuple(i.key for i in bank.items if i.theme in ("morale", "enps"))
    people = [
        OpenedAnswer(
            1,
            "3y+",
            {
                i.key: (n if i.scale == "nps" else (6 - v if i.reverse else v))
                for i in bank.items_for(asked)
            },
        )
        for v, n in zip(likert, nps, strict=True)
    ]
    data = ReleaseInput(
        round_id=1,
        round_number=1,
        program="Pulse",
        opens_on="2026-01-01",
        closed_on="2026-01-10",
        k=5,
        comment_k=10,
        bank=bank,
        asked=asked,
        snapshot=snapshot({1: (None, "Lab")}, {"1": 5}),
        answers=people,
    )
    (lab,) = build_manifest(data)["units"]
    for theme, text in (("morale", mean_text), ("enps", enps_text)):
        cell = lab["themes"][theme]
        assert cell["mean"] is None and cell["sd"] is None
        assert cell["ci_low"] is None and cell["ci_high"] is None
        assert cell["mean_text"] == text and cell["coded"] == UNIFORM_TEXT
        assert cell["favourable_pct"] is None
        assert "100" not in json.dumps(cell)  # neither an index of 100 nor an eNPS of ±100


def test_spread_answers_keep_exact_figures() -> None:
    bank = load_bank()
    asked = tuple(i.key for i in bank.items if i.theme == "morale")
    people = [
        OpenedAnswer(1, "3y+", {i.key: (6 - v if i.reverse else v) for i in bank.items_for(asked)})
        for v in (2, 3, 4, 4, 5)
    ]
    data = ReleaseInput(
        1, 1, "Pulse", "2026-01-01", "2026-01-10", 5, 10, bank, asked,
        snapshot({1: (None, "Lab")}, {"1": 5}), people,
    )  # fmt: skip
    cell = build_manifest(data)["units"][0]["themes"]["morale"]
    assert cell["mean"] == 65.0 and cell["ci_low"] is not None and "coded" not in cell


def test_every_hidden_cell_has_the_one_neutral_reason(manifest: dict[str, Any]) -> None:
    reasons = {u["reason"] for u in manifest["units"] if not u["shown"]}
    reasons |= {c["reason"] for c in manifest["attributes"]["cells"] if not c["shown"]}
    assert reasons == {HIDDEN_TEXT}
    assert {u["reason"] for u in manifest["units"] if u["shown"]} == {""}
