"""The oracle the property tests judge releases by: plain Gaussian elimination over the
rationals, sharing no code with the audit."""

from __future__ import annotations

from fractions import Fraction


def rank(rows: list[list[Fraction]]) -> int:
    """Return the rank of a matrix over the rationals."""
    rows = [r[:] for r in rows if any(r)]
    rank_found, col = 0, 0
    width = len(rows[0]) if rows else 0
    while rank_found < len(rows) and col < width:
        pivot = next((i for i in range(rank_found, len(rows)) if rows[i][col] != 0), None)
        if pivot is None:
            col += 1
            continue
        rows[rank_found], rows[pivot] = rows[pivot], rows[rank_found]
        for i in range(len(rows)):
            if i != rank_found and rows[i][col] != 0:
                factor = rows[i][col] / rows[rank_found][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[rank_found], strict=True)]
        rank_found += 1
        col += 1
    return rank_found
