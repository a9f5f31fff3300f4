"""Which comments a release publishes, and under which group.

Invariant: comments are counted against their own threshold (``comment_k``), at organisation
and department level only (``COMMENT_MAX_DEPTH``), under the remainder rule; every comment is
masked (roster names, obvious identifiers) and appears in exactly one group -- its
department's, or the organisation's remainder -- shuffled, so their order tells nothing.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from . import disclosure
from .redaction import mask, name_pattern
from .tree import Placed, Tree

COMMENT_MAX_DEPTH = 1  # comments: organisation and department level only
REMAINDER_LABEL = "Elsewhere in the organisation"


def comment_groups(
    tree: Tree,
    answers: Sequence[Placed],
    comments: Sequence[tuple[int, str]],
    comment_k: int,
    roster_names: Sequence[str],
    shuffle: Callable[[list[str]], None] | None = None,
) -> list[dict[str, Any]]:
    """Group masked comments (unit id, text) by department under the comment threshold.

    ``answers`` are the round's respondents (where they sit), which the threshold counts.
    """
    if not comments:
        return []
    parents = tree.parents
    shallow = {u: p for u, p in parents.items() if tree.depth[u] <= COMMENT_MAX_DEPTH}

    def lift(unit: int) -> int:
        while unit not in shallow:
            parent = parents[unit]
            assert parent is not None
            unit = parent
        return unit

    respondents = Counter(lift(a.unit_id) for a in answers)
    visibility = disclosure.decide_units(shallow, respondents, comment_k)
    root = tree.root
    pattern = name_pattern(roster_names)
    groups: dict[int, list[str]] = defaultdict(list)
    for unit_id, text in comments:
        unit = lift(unit_id)
        if not visibility[unit].shown:
            unit = root
        groups[unit].append(mask(text, pattern))
    out = []
    rng = random.SystemRandom()
    for unit, texts in sorted(groups.items()):
        if not visibility[unit].shown:
            continue
        (shuffle or rng.shuffle)(texts)
        label = (
            tree.path(unit)
            if unit != root
            else (tree.path(root) if len(groups) == 1 else REMAINDER_LABEL)
        )
        out.append({"unit": unit, "label": label, "count": len(texts), "texts": texts})
    return out
