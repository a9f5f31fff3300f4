"""Tests for the manifest schema: exact round trip, older manifests, fail-closed parsing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from survey.domain import reporting
from survey.domain.manifest import MANIFEST_VERSION, ManifestError, parse, serialise
from tests.domain.reporting_cases import CORE, SAFETY, release, spread


@pytest.fixture(scope="module")
def stored() -> dict[str, Any]:
    return serialise(release(1, CORE + SAFETY, {4: spread(4, 8), 5: [5] * 7}))


def test_round_trip_is_exact(stored: dict[str, Any]) -> None:
    assert serialise(parse(stored)) == stored
    assert stored["version"] == MANIFEST_VERSION


def test_an_older_manifest_without_later_fields_still_reads(stored: dict[str, Any]) -> None:
    old = copy.deepcopy(stored)
    old.pop("quarantined", None)
    for unit in old["units"]:
        for key in ("scale_quality", "distributions", "distributions_coded"):
            unit.pop(key, None)
    made = parse(old)
    assert made.quarantined is None and made.ballot_keys is None
    assert serialise(made) == old  # absent stays absent: the digest over it is unchanged
    assert reporting.distributions(made, 1, []) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(version=2), "version 2"),
        (lambda m: m.pop("units"), "lacks 'units'"),
        (lambda m: m.update(surprise=1), "does not know"),
        (lambda m: m["round"].update(number="3"), "manifest.round.number"),
        (lambda m: m["units"][0].update(shown=1), "manifest.units[0].shown"),
        (lambda m: m["units"][0].update(n=True), "manifest.units[0].n"),
        (lambda m: m["themes"].append({"key": "x"}), "lacks 'label'"),
        (lambda m: m["audit"].update(published={}), "must be a list"),
    ],
)
def test_anything_else_is_refused(stored: dict[str, Any], change: Any, message: str) -> None:
    bad = copy.deepcopy(stored)
    change(bad)
    with pytest.raises(ManifestError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(bad)


def test_a_manifest_is_frozen(stored: dict[str, Any]) -> None:
    made = parse(stored)
    with pytest.raises(AttributeError):
        made.k = 1  # type: ignore[misc]
