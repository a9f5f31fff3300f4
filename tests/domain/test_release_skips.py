"""Releases with "prefer not to say": scoring and each item's n exclude it, and disclosure counts
each theme on its own while never publishing how many people skipped.

The tree is test_release's: Lab = Research (Alpha 8 + Beta 7) + Ops (8: Gamma 6, Small 2,
Empty 0); k = 5; Lab, Research, Ops, Alpha and Beta are published.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest

from survey.domain import scoring
from survey.domain.release import OpenedAnswer
from tests.domain.release_cases import ASKED, BANK, build_manifest, release_input, rows_by_id

SECURITY = ("sec1", "sec2")


def with_skips(skips: Mapping[int, tuple[int, tuple[str, ...]]]) -> dict[str, Any]:
    """Return the manifest when, in unit u, the first ``count`` respondents skip ``items``."""
    data = release_input()
    seen: dict[int, int] = {}
    answers = []
    for a in data.answers:
        seen[a.unit_id] = seen.get(a.unit_id, 0) + 1
        count, items = skips.get(a.unit_id, (0, ()))
        kept = {k: v for k, v in a.answers.items() if seen[a.unit_id] > count or k not in items}
        answers.append(OpenedAnswer(a.unit_id, a.band, kept))
    return build_manifest(dataclasses.replace(data, answers=answers))


# skips -> units publishing the security theme, and the security items whose answer counts the
# organisation (the only unit here with at least DISTRIBUTION_MIN_N in every remainder) publishes
CASES = [
    pytest.param({}, {1, 2, 3, 4, 5}, {"sec1", "sec2"}, id="nobody-skips"),
    pytest.param({4: (2, SECURITY)}, {1, 2, 3, 4, 5}, set(), id="two-skip-in-alpha"),
    pytest.param({4: (4, SECURITY)}, {1, 2, 3, 5}, set(), id="alpha-theme-below-k"),
    pytest.param({4: (4, SECURITY), 5: (2, SECURITY)}, {1, 2, 3, 5}, set(), id="skips-in-two"),
    pytest.param({4: (8, ("sec1",))}, {1, 2, 3, 4, 5}, {"sec2"}, id="one-item-skipped-by-all"),
    pytest.param({6: (6, SECURITY)}, {1, 2, 4, 5}, set(), id="skipped-in-a-hidden-unit"),
]


@pytest.mark.parametrize(("skips", "security_in", "counted"), CASES)
def test_each_theme_is_published_on_its_own_n(
    skips: Mapping[int, tuple[int, tuple[str, ...]]],
    security_in: set[int],
    counted: set[str],
) -> None:
    rows = rows_by_id(with_skips(skips))
    shown = {uid for uid, row in rows.items() if row["shown"]}
    assert shown == {1, 2, 3, 4, 5}  # skipping an item never hides a unit
    assert {uid for uid in shown if "security" in rows[uid]["themes"]} == security_in
    lab = rows[1]
    published = set(lab["distributions"]) | set(lab["distributions_coded"])
    assert published & set(SECURITY) == counted
    for uid in shown:
        row = rows[uid]
        assert "morale" in row["themes"]  # nobody skipped morale
        for key, cell in row["themes"].items():
            # A theme's own n is never published: it would count who preferred not to say.
            assert cell["n"] == row["n"], (uid, key)
        for key, tally in row.get("distributions", {}).items():
            assert sum(tally) == row["n"], (uid, key)
        for key, coded in row.get("distributions_coded", {}).items():
            assert coded["n"] == row["n"], (uid, key)


@pytest.mark.parametrize(
    ("skips", "exact"),
    [  # the organisation: 23 respondents
        pytest.param({}, True, id="all-answered"),
        pytest.param({4: (8, SECURITY), 5: (5, SECURITY)}, True, id="ten-answered"),
        pytest.param({4: (8, SECURITY), 5: (6, SECURITY)}, False, id="nine-answered"),
    ],
)
def test_exact_shares_need_enough_answers_to_the_theme(
    skips: Mapping[int, tuple[int, tuple[str, ...]]], exact: bool
) -> None:
    cell = rows_by_id(with_skips(skips))[1]["themes"]["security"]
    assert (cell["favourable_pct"] is not None) is exact
    assert cell["favourable_text"] and cell["n"] == 23


def test_skipped_items_are_left_out_of_the_mean() -> None:
    manifest = with_skips({4: (3, SECURITY)})
    data = release_input()
    skipped = [a for a in data.answers if a.unit_id == 4][:3]
    found = [
        s
        for a in data.answers
        if a not in skipped
        for s in scoring.score_person(BANK, ASKED, a.answers)
        if s.theme == "security"
    ]
    summary = scoring.summarise(found)
    assert summary is not None and summary.n == 23 - 3
    cell = rows_by_id(manifest)[1]["themes"]["security"]
    assert cell["mean"] == round(summary.mean, 1) and cell["sd"] == round(summary.sd, 1)
    assert cell["n"] == 23
