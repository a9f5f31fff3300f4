"""How figures are put into words: signs, scales, plurals and the notes every surface shares.

Invariant: each wording that more than one page, chart, CSV or PDF prints is defined here once
(the wording of hidden cells and absent units is :mod:`survey.domain.disclosure`'s).
"""

from __future__ import annotations

from ..disclosure import CODED_BOTTOM_PCT, CODED_ROUNDING_PCT, CODED_TOP_PCT, DISTRIBUTION_MIN_N
from ..scoring import index_bounds

ENPS = "enps"
MINUS = "\u2212"  # a real minus sign: screen readers say "minus", not "dash"
NOT_ASKED_TEXT = "not asked this round"
FAVOURABLE_CODING = (
    "Favourable share: the percentage of people whose answers to a theme average agree or "
    "better (for eNPS, promoters: 9 or 10). It is exact only where every group that could be "
    f"worked out has at least {DISTRIBUTION_MIN_N} people; elsewhere it is rounded to the "
    f"nearest {CODED_ROUNDING_PCT} % (“about 60 %”) and shown as “≥ {CODED_TOP_PCT} %” or "
    f"“≤ {CODED_BOTTOM_PCT} %” at the extremes."
)


def plural(count: int, noun: str, many: str | None = None) -> str:
    """Return ``count`` with ``noun`` in the right number ("1 comment", "3 comments")."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"


def theme_scale(theme: str) -> tuple[float, float, str]:
    """Return the y range and axis label for a theme's index."""
    low, high = index_bounds(theme)
    return (low, high, "eNPS (-100 to 100)" if theme == ENPS else "Index (0-100)")


def scale_words(theme: str) -> str:
    """Return the range a theme's index is on, in words."""
    return "on a scale from −100 to +100" if theme == ENPS else "out of 100"


def format_index(theme: str, value: float) -> str:
    """Return a theme's value as printed: a whole number, eNPS with its sign."""
    text = f"{value:.0f}"
    if text in ("-0", "0"):
        return "0"
    if theme == ENPS:
        return ("+" + text) if value > 0 else text.replace("-", MINUS)
    return text.replace("-", MINUS)


def format_delta(value: float) -> str:
    """Return a change with an explicit sign (+4, −3, 0)."""
    text = f"{abs(value):.0f}"
    if text == "0":
        return "0"
    return ("+" if value > 0 else MINUS) + text
