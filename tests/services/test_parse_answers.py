"""parse_answers: every item needs an answer; "prefer not to say" only where the item offers it."""

from __future__ import annotations

from typing import Any

import pytest

from survey.domain.questions import PREFER_NOT_TO_SAY, Item
from survey.services.submission import InvalidAnswers, parse_answers

SKIP = PREFER_NOT_TO_SAY
MARKED = Item("saf", "safety", "Safe?", "likert5", False, False, prefer_not_to_say=True)
PLAIN = Item("mor", "morale", "Energy?", "likert5", False, True)
NPS = Item("nps", "enps", "Recommend?", "nps", False, True, prefer_not_to_say=True)
ITEMS = (MARKED, PLAIN, NPS)


@pytest.mark.parametrize(
    ("raw", "answers"),
    [
        pytest.param({"saf": 4, "mor": "2", "nps": 10}, {"saf": 4, "mor": 2, "nps": 10}, id="all"),
        pytest.param({"saf": SKIP, "mor": 3, "nps": 0}, {"mor": 3, "nps": 0}, id="skip-marked"),
        pytest.param({"saf": SKIP, "mor": 5, "nps": SKIP}, {"mor": 5}, id="skip-both-marked"),
    ],
)
def test_accepted(raw: dict[str, Any], answers: dict[str, int]) -> None:
    assert parse_answers(ITEMS, raw) == answers


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        pytest.param({"saf": 4, "mor": SKIP, "nps": 1}, {"mor": "not_offered"}, id="skip-plain"),
        pytest.param({"saf": SKIP, "nps": SKIP}, {"mor": "required"}, id="plain-missing"),
        pytest.param({"mor": 3, "nps": 1}, {"saf": "required"}, id="marked-missing"),
        pytest.param({"saf": "SKIP", "mor": 3, "nps": 1}, {"saf": "required"}, id="other-spelling"),
        pytest.param({"saf": None, "mor": 3, "nps": 11}, {"saf": "required", "nps": "required"}),
    ],
)
def test_refused(raw: dict[str, Any], errors: dict[str, str]) -> None:
    with pytest.raises(InvalidAnswers) as caught:
        parse_answers(ITEMS, raw)
    assert caught.value.errors == errors
