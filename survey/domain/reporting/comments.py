"""Released comments, by group, with a search over their (already masked) text.

Invariant: a search only filters what the manifest holds; each group's count is the
manifest's own, so searching reveals nothing more than reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..manifest import Manifest
from .wording import plural

COMMENT_QUERY_MAX_CHARS = 100


@dataclass(frozen=True)
class CommentGroup:
    """A published group of comments, with those matching the search."""

    unit: int
    label: str
    count: int
    texts: tuple[str, ...]

    @property
    def count_text(self) -> str:
        """Return the group's size in words ("1 comment", "12 comments")."""
        return plural(self.count, "comment")


def normalise_query(query: str) -> str:
    """Return a search query trimmed, on one line and at most COMMENT_QUERY_MAX_CHARS long."""
    return re.sub(r"\s+", " ", query).strip()[:COMMENT_QUERY_MAX_CHARS]


def comment_groups(manifest: Manifest, query: str = "") -> list[CommentGroup]:
    """Return the manifest's comment groups, each with its texts containing ``query``.

    The match is a case-insensitive substring test over the published (already masked)
    texts; ``count`` is the manifest's own count, so a search reveals nothing it does not hold.
    """
    needle = normalise_query(query).casefold()
    return [
        CommentGroup(
            group.unit,
            group.label,
            group.count,
            tuple(t for t in group.texts if needle in t.casefold()),
        )
        for group in manifest.comments
    ]
