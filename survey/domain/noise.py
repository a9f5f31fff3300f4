"""Noise drawn once at release: optional differential privacy, and coarsened cells.

Invariant: a noisy figure is drawn exactly once, while the release is built, and the manifest
stores only the noisy figure (never the draw, never the exact value), so every view of the
release shows the same number and repeated views cannot average the noise away. Outputs are
integers: Laplace noise is added to the exact figure by OpenDP, whose samplers are built to
resist floating-point attacks, and the noisy figure is rounded to a whole index point
(post-processing, which costs no privacy).

Two rules use it:

* **Differential privacy** (a programme's opt-in, off by default): every published mean and
  favourable share of a cell with at least :data:`DP_MIN_N` respondents gets noise. The
  programme's budget ``epsilon`` is per release; one person's answers sit in at most
  :func:`figures_per_person` noisy figures, so each figure gets ``epsilon`` divided by that
  (basic composition), and a release as a whole is ``epsilon``-differentially private in what
  its noisy figures say about any one person. The budget of a year is the sum over its releases.
  Groups below :data:`DP_MIN_N` are published exactly under *k* and the audit, as without DP.
* **Coarsened cells** (see :mod:`.churn`): whatever the DP setting, a cell refused by the
  across-rounds check and published coarsened gets noise with at most :data:`CHURN_EPSILON`
  per figure before its coarse rounding, so the difference of two releases' figures is blurred
  by noise that no rounding error can cancel (deterministic rounding alone could pin a joiner).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .manifest import Manifest

DP_MIN_N = 50  # noise is meaningful only for large groups
CHURN_EPSILON = 1.0  # per figure of a coarsened cell
DP_EPSILON_MAX = 10.0
MECHANISM = "Laplace (OpenDP), rounded to whole points"
DP_TEXT = "with random noise added for privacy"
FIGURES_PER_THEME = 2  # a theme's mean and its favourable share

# (exact value, noise scale) -> the value with Laplace noise. Injected, so tests can seed it.
Sampler = Callable[[float, float], float]


class NoiseError(ValueError):
    """Raised for a privacy budget that cannot be used."""


@dataclass(frozen=True)
class Noise:
    """How a release adds noise: the DP budget (None: off) and the sampler to draw with."""

    sampler: Sampler
    epsilon: float | None = None
    per_figure: float | None = None


def check_epsilon(epsilon: float | None) -> float | None:
    """Return a usable per-release budget, or raise :class:`NoiseError`."""
    if epsilon is None:
        return None
    if not (0 < epsilon <= DP_EPSILON_MAX) or math.isnan(epsilon):
        raise NoiseError(f"epsilon must be above 0 and at most {DP_EPSILON_MAX:g}")
    return epsilon


def figures_per_person(levels: int, attribute_levels: int, themes: int) -> int:
    """Return the most noisy figures one person's answers can be in.

    A person sits in one unit per level of the tree and in one attribute band cell per
    attribute level; each such cell publishes ``FIGURES_PER_THEME`` figures per theme.
    """
    return max(1, (levels + attribute_levels) * themes * FIGURES_PER_THEME)


def sensitivity(n: int, span: float) -> float:
    """Return how far one person can move the mean of ``n`` people on a scale ``span`` wide."""
    return span / n


def scale(n: int, span: float, epsilon: float) -> float:
    """Return the noise scale (index points) giving ``epsilon`` to a figure of ``n`` people."""
    return sensitivity(n, span) / epsilon


def draw(sampler: Sampler, value: float, n: int, low: float, high: float, epsilon: float) -> int:
    """Return ``value`` with noise for ``epsilon``, rounded to an integer and clamped to the scale.

    Rounding and clamping are post-processing: they cost no privacy.
    """
    noisy = sampler(value, scale(n, high - low, epsilon))
    return int(min(high, max(low, round(noisy))))


def opendp_sampler() -> Sampler:
    """Return OpenDP's Laplace sampler (imported here: it takes ~0.3 s to load)."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    made: dict[float, Callable[[float], float]] = {}

    def sample(value: float, noise_scale: float) -> float:
        if noise_scale not in made:
            made[noise_scale] = dp.m.make_laplace(
                dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float), noise_scale
            )
        return float(made[noise_scale](float(value)))

    return sample


def spent(manifests: Iterable[Manifest]) -> dict[str, float]:
    """Return the budget a programme's released manifests spent, per calendar year."""
    return per_year((m.round.closed_on, m.noise.epsilon if m.noise else None) for m in manifests)


def per_year(releases: Iterable[tuple[str, float | None]]) -> dict[str, float]:
    """Return the privacy budget spent per calendar year from (closed_on, epsilon) pairs."""
    out: dict[str, float] = {}
    for closed_on, epsilon in releases:
        if epsilon is not None:
            out[closed_on[:4]] = round(out.get(closed_on[:4], 0.0) + epsilon, 6)
    return out
