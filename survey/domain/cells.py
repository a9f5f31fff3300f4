"""The figures one published cell carries: exact, coded when its members answered alike,
coarsened after a membership change, or noisy under differential privacy.

Invariant: a cell's figures are drawn here once, at release; nothing downstream recomputes or
re-draws them, so repeated views cannot average noise away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import churn, disclosure, noise, scoring


def with_unit_n(cell: dict[str, Any], respondents: int) -> dict[str, Any]:
    """Return a theme cell that publishes the cell's respondents as its n.

    A theme is published only where its own n (those who answered any of its items) reaches
    k, but that n is never published: it would differ from the unit's n by the number who
    preferred not to say, a group of 1..k-1 people, and a parent's and a child's counts could
    be subtracted to the same effect. Likewise exact shares need DISTRIBUTION_MIN_N answers.
    """
    return {**cell, "n": respondents}


@dataclass(frozen=True)
class Draw:
    """The noise one cell's figures get (see :mod:`.noise`): epsilon None for exact ones."""

    sampler: noise.Sampler
    epsilon: float | None

    def __call__(self, value: float, n: int, low: float, high: float) -> float:
        """Return ``value``, with its noise drawn now if the cell gets any."""
        if self.epsilon is None:
            return value
        return noise.draw(self.sampler, value, n, low, high, self.epsilon)


def lazy_opendp() -> noise.Sampler:
    """Return a sampler that loads OpenDP on its first draw, so exact releases never do."""
    loaded: list[noise.Sampler] = []

    def sample(value: float, noise_scale: float) -> float:
        if not loaded:
            loaded.append(noise.opendp_sampler())
        return loaded[0](value, noise_scale)

    return sample


def published_cell(
    summary: scoring.Summary,
    scores: Sequence[scoring.ThemeScore],
    exact: bool,
    coarse: bool,
    draw: Draw,
) -> dict[str, Any]:
    """Return a published cell; ``exact`` marks cells safe for exact shares and distributions.

    A coarsened cell (see :mod:`.churn`) publishes neither mean, spread nor interval but
    ``mean_text``, its index rounded to the coarse step for its n, and ``coded``, why; its
    favourable share is rounded the same way. A uniform cell (every answer within
    ``UNIFORM_MAX_STEPS`` of every other) publishes no mean, spread or interval, which would
    give each member's answer, but ``mean_text``, a coded index, and ``coded``, the reason;
    its favourable share is coded too. ``draw`` adds the cell's noise, once (see :mod:`.noise`):
    a coarsened figure is rounded after it, and a DP figure is a noisy integer with no spread
    or interval.
    """
    low, high = scoring.index_bounds(scores[0].theme)
    mean = draw(summary.mean, summary.n, low, high)
    share = draw(summary.favourable_pct, summary.n, 0.0, 100.0)
    if coarse:
        return {
            "n": summary.n,
            "mean": None,
            "mean_text": churn.coarse_index(mean, summary.n, low, high),
            "coded": churn.COARSE_TEXT,
            "favourable_pct": None,
            "favourable_text": churn.coarse_share(share, summary.n),
            "sd": None,
            "ci_low": None,
            "ci_high": None,
        }
    if disclosure.is_uniform(scoring.spread_steps(scores)):
        return {
            "n": summary.n,
            "mean": None,
            "mean_text": disclosure.coded_index(mean, low, high),
            "coded": disclosure.UNIFORM_TEXT,
            "favourable_pct": None,
            "favourable_text": disclosure.published_share(share, False),
            "sd": None,
            "ci_low": None,
            "ci_high": None,
        }
    if draw.epsilon is not None:
        return {
            "n": summary.n,
            "mean": mean,
            "favourable_pct": share if exact else None,
            "favourable_text": disclosure.published_share(share, exact),
            "sd": None,
            "ci_low": None,
            "ci_high": None,
            "coded": noise.DP_TEXT,
        }
    return {
        "n": summary.n,
        "mean": round(summary.mean, 1),
        "favourable_pct": round(summary.favourable_pct, 1) if exact else None,
        "favourable_text": disclosure.published_share(summary.favourable_pct, exact),
        "sd": round(summary.sd, 1),
        "ci_low": round(summary.ci_low, 1),
        "ci_high": round(summary.ci_high, 1),
    }
