"""How finely an open round's org-wide participation may be shown.

Invariant: nothing is shown until k people have answered, and the figure moves in steps of at
least :data:`PARTICIPATION_STEP` percent and never finer than k people, so one more answer
rarely changes what anyone sees.
"""

from __future__ import annotations

import math

PARTICIPATION_STEP = 5  # percent
FEWER_THAN_K = -1  # recorded when fewer than k have answered: nothing is shown


def rounded_share(invited: int, answered: int, k: int) -> int:
    """Return the share of ``invited`` who answered, rounded, or :data:`FEWER_THAN_K`."""
    if answered < k or not invited:
        return FEWER_THAN_K
    # The step is never finer than k people, so a change of one answer rarely shows.
    step = PARTICIPATION_STEP * math.ceil(100.0 * k / invited / PARTICIPATION_STEP)
    return int(step * round(100.0 * answered / invited / step))
