"""A reproducible stand-in for OpenDP's sampler, for tests and benchmarks only."""

from __future__ import annotations

import math
import random

from survey.domain.noise import Sampler


def seeded(seed: int) -> Sampler:
    """Return a reproducible Laplace sampler (inverse CDF of a uniform draw)."""
    rng = random.Random(seed)

    def sample(value: float, scale: float) -> float:
        u = rng.random() - 0.5
        return value - scale * math.copysign(1.0, u) * math.log(1.0 - 2.0 * abs(u))

    return sample
