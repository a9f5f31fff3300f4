"""Noise drawn once at release: DP figures are integers stored once, the budget is accounted
per release and per year, and with DP off a release is byte-for-byte what it was."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping

import pytest

from survey.domain import export, manifest, noise
from survey.domain.noise import Sampler
from survey.domain.release import build_manifest, canonical_json
from tests.domain.churn_cases import DEPT, OTHER, R1, TEAM, round_input
from tests.domain.seeded_noise import seeded


def refuse(value: float, scale: float) -> float:
    raise AssertionError("no figure should be drawn")


BIG = {1: [], 2: DEPT, 3: [*TEAM, *range(100, 133)], 4: [*OTHER, *range(200, 240)]}


def built(
    epsilon: float | None, sampler: Sampler, placed: Mapping[int, list[int]] = BIG
) -> manifest.Manifest:
    data = round_input(1, placed, [])
    data = type(data)(**{**data.__dict__, "dp_epsilon": epsilon})
    return build_manifest(data, shuffle=lambda texts: None, sampler=sampler)


def test_dp_off_draws_nothing_and_changes_nothing() -> None:
    """Off (the default) never calls a sampler, and the manifest has no field DP would add."""
    plain = round_input(1, BIG, [])  # no dp_epsilon given: the default
    before = canonical_json(manifest.serialise(build_manifest(plain, lambda t: None, refuse)))
    off = canonical_json(manifest.serialise(built(None, refuse)))
    assert off == before
    assert '"noise"' not in off and "noisy" not in off


def test_dp_figures_are_integers_without_interval_on_large_cells_only() -> None:
    m = built(1.0, seeded(1))
    assert m.noise is not None and m.noise.epsilon == 1.0 and m.noise.min_n == noise.DP_MIN_N
    noisy = [u for u in m.units if u.noisy]
    assert {u.id for u in noisy} == {1, 2, 4}  # org 113, departments 53 and 60; team 40
    for unit in m.units:
        for cell in unit.themes.values():
            if unit.noisy:
                assert cell.coded == noise.DP_TEXT and cell.sd is None and cell.ci_low is None
                assert isinstance(cell.mean, int)
                assert cell.favourable_pct is None or isinstance(cell.favourable_pct, int)
            else:
                assert cell.coded != noise.DP_TEXT
        if unit.noisy:
            assert unit.distributions is None and unit.scale_quality is None


def test_noise_is_drawn_once_and_stored() -> None:
    draws: list[float] = []
    inner = seeded(2)

    def counting(value: float, scale: float) -> float:
        draws.append(value)
        return inner(value, scale)

    m = built(1.0, counting)
    stored = canonical_json(manifest.serialise(m))
    count = len(draws)
    assert count > 0
    # Rendering reads the stored manifest: parsing it again draws nothing and changes nothing.
    again = manifest.parse(manifest.serialise(m))
    assert canonical_json(manifest.serialise(again)) == stored and len(draws) == count
    # A second release build would draw anew (different numbers): views never rebuild.
    other = canonical_json(manifest.serialise(built(1.0, seeded(3))))
    assert other != stored


def test_per_figure_budget_composes_to_the_release_budget() -> None:
    m = built(2.0, seeded(4))
    assert m.noise is not None
    themes = len(m.themes)
    levels = max(u.depth for u in m.units) + 1
    per_person = noise.figures_per_person(levels, 2, themes)
    assert m.noise.per_figure * per_person == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("releases", "expected"),
    [
        ([], {}),
        (
            [("2026-03-01", 1.0), ("2026-06-01", 0.5), ("2027-01-05", 1.0)],
            {"2026": 1.5, "2027": 1.0},
        ),
        ([("2026-03-01", None), ("2026-06-01", 0.5)], {"2026": 0.5}),
    ],
)
def test_budget_per_year(
    releases: list[tuple[str, float | None]], expected: dict[str, float]
) -> None:
    assert noise.per_year(releases) == expected


@pytest.mark.parametrize("epsilon", [0.0, -1.0, math.nan, noise.DP_EPSILON_MAX + 1])
def test_unusable_budgets_are_refused(epsilon: float) -> None:
    with pytest.raises(noise.NoiseError):
        noise.check_epsilon(epsilon)


@pytest.mark.parametrize(("n", "span", "expected"), [(50, 100, 2), (100, 100, 1), (50, 200, 4)])
def test_sensitivity_is_one_persons_whole_range(n: int, span: float, expected: float) -> None:
    assert noise.sensitivity(n, span) == expected


def test_opendp_draws_are_rounded_to_integers_on_the_scale() -> None:
    sample = noise.opendp_sampler()
    draws = [noise.draw(sample, 50.4, 100, 0.0, 100.0, 1.0) for _ in range(200)]
    assert all(isinstance(d, int) and 0 <= d <= 100 for d in draws)
    assert 45 < sum(draws) / len(draws) < 55 and len(set(draws)) > 3


def test_small_release_is_never_noisy() -> None:
    m = built(1.0, refuse, R1)  # no cell reaches DP_MIN_N: nothing drawn
    assert m.noise is not None and not any(u.noisy for u in m.units)


def test_csv_states_the_budget_and_prints_whole_numbers() -> None:
    on = built(1.0, seeded(5))
    stored = manifest.serialise(on)
    first = export.to_csv([manifest.parse(stored)])
    assert export.to_csv([manifest.parse(stored)]) == first  # re-rendered: the same numbers
    header, columns = first.splitlines()[:2]
    assert header == "# differential privacy: R1 \u03b5=1; per year: 2026 \u03b5=1"
    assert columns == ",".join(export.CSV_COLUMNS)
    noisy_rows = [r for r in csv.reader(io.StringIO(first)) if r[-1] == noise.DP_TEXT]
    assert noisy_rows and all(r[6].lstrip("-").isdigit() and r[8] == "" for r in noisy_rows)
    off = export.to_csv([built(None, refuse)])
    assert off.splitlines()[0] == ",".join(export.CSV_COLUMNS) and noise.DP_TEXT not in off
