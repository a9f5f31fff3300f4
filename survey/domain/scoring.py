"""Scoring: turn one person's answers into theme scores, and many scores into statistics.

Invariants: a reverse-scored item counts as ``LIKERT_MAX + LIKERT_MIN - answer``, so a higher
theme index always means a healthier workplace; theme indices live on 0..100 (eNPS on -100..100).

Prefer not to say: an item a person chose not to answer is absent from their answers (see
:data:`~.questions.PREFER_NOT_TO_SAY`). A person's theme score is the mean of the items of that
theme they answered that round; a theme none of whose asked items they answered is not scored
for them, so it counts neither in the theme's n nor in any of its statistics, and an item's n
counts only those who answered it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .questions import LIKERT_MAX, LIKERT_MIN, Bank, Item

FAVOURABLE_AT = 4.0  # a theme mean of "agree" or better on the 1..5 scale, after reversal
PROMOTER_AT = 9
DETRACTOR_AT = 6

# Two-sided 95 % Student-t quantiles for small samples; above 30 degrees of freedom the normal
# quantile is within 2 % and is used instead.
_T95 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    11: 2.201,
    12: 2.179,
    13: 2.160,
    14: 2.145,
    15: 2.131,
    16: 2.120,
    17: 2.110,
    18: 2.101,
    19: 2.093,
    20: 2.086,
    21: 2.080,
    22: 2.074,
    23: 2.069,
    24: 2.064,
    25: 2.060,
    26: 2.056,
    27: 2.052,
    28: 2.048,
    29: 2.045,
    30: 2.042,
}
_Z95 = 1.960
_VALUE = operator.attrgetter("value")
_FAVOURABLE = operator.attrgetter("favourable")
_CATEGORY = operator.attrgetter("favourable", "detractor")


class ScoringError(ValueError):
    """Raised when answers do not fit the items they claim to answer."""


@dataclass(frozen=True)
class ThemeScore:
    """One respondent's score on one theme.

    :param value: the theme index (0..100, or 0..10 rating for eNPS).
    :param favourable: agreed on average (or a promoter, for eNPS).
    :param detractor: only meaningful for eNPS.
    """

    theme: str
    value: float
    favourable: bool
    detractor: bool = False


@dataclass(frozen=True)
class Summary:
    """Statistics of one group on one theme. Never built for fewer than one respondent."""

    n: int
    mean: float
    favourable_pct: float
    sd: float
    ci_low: float
    ci_high: float


def item_value(item: Item, answer: int) -> int:
    """Return the answer with reverse items flipped, checking it is on the item's scale."""
    low, high = item.bounds
    if not low <= answer <= high:
        raise ScoringError(f"answer {answer} to {item.key} is outside {low}..{high}")
    if item.reverse:
        return LIKERT_MAX + LIKERT_MIN - answer
    return answer


def score_person(bank: Bank, asked: Sequence[str], answers: Mapping[str, int]) -> list[ThemeScore]:
    """Return the theme scores of one respondent for the items ``asked`` that round."""
    by_theme: dict[str, list[Item]] = {}
    for item in bank.items_for(tuple(asked)):
        by_theme.setdefault(item.theme, []).append(item)
    scores = (score_theme(asked_items, answers) for asked_items in by_theme.values())
    return [score for score in scores if score is not None]


def score_theme(asked_items: Sequence[Item], answers: Mapping[str, int]) -> ThemeScore | None:
    """Return one respondent's score on the theme of ``asked_items`` (the theme's items asked
    that round, in bank order), or None if they answered none of them."""
    items = [item for item in asked_items if item.key in answers]
    if not items:
        return None
    theme = asked_items[0].theme
    if items[0].scale == "nps":
        rating = item_value(items[0], answers[items[0].key])
        return ThemeScore(theme, float(rating), rating >= PROMOTER_AT, rating <= DETRACTOR_AT)
    return likert_score(theme, [item_value(item, answers[item.key]) for item in items])


def likert_score(theme: str, values: Sequence[int]) -> ThemeScore:
    """Return the score on a Likert ``theme`` of one respondent's item values (reverse items
    already flipped, as :func:`item_value` gives them; at least one)."""
    mean = sum(values) / len(values)
    index = (mean - LIKERT_MIN) / (LIKERT_MAX - LIKERT_MIN) * 100
    return ThemeScore(theme, index, mean >= FAVOURABLE_AT)


def squared_deviations(values: Sequence[float], mean: float) -> float:
    """Return the sum of ``(v - mean) ** 2`` over ``values``, added in their order.

    Each distinct value's square is computed once and looked up (answers take few distinct
    values), which gives the very floats squaring each value would, summed the same way.
    """
    square = {v: (v - mean) ** 2 for v in set(values)}
    return sum(map(square.__getitem__, values))


def t_quantile(df: int) -> float:
    """Return the two-sided 95 % t quantile for ``df`` degrees of freedom."""
    return _T95.get(df, _Z95) if df >= 1 else math.inf


def index_bounds(theme: str) -> tuple[float, float]:
    """Return the lowest and highest value a group's index on ``theme`` can take."""
    return (-100.0, 100.0) if theme == "enps" else (0.0, 100.0)


def summarise(scores: Iterable[ThemeScore]) -> Summary | None:
    """Return n, mean, favourable share, spread and a 95 % interval, or None for no scores.

    For eNPS the mean is the net promoter score (promoters % minus detractors %), and its
    interval comes from the variance of the +1/0/-1 promoter coding.
    """
    scores = list(scores)
    n = len(scores)
    if n == 0:
        return None
    is_nps = scores[0].theme == "enps"
    if is_nps:
        values = [100.0 * (1 if s.favourable else -1 if s.detractor else 0) for s in scores]
    else:
        values = list(map(_VALUE, scores))
    mean = sum(values) / n
    sd = math.sqrt(squared_deviations(values, mean) / (n - 1)) if n > 1 else 0.0
    half = t_quantile(n - 1) * sd / math.sqrt(n) if n > 1 else math.inf
    low, high = index_bounds(scores[0].theme)
    favourable = 100.0 * sum(map(_FAVOURABLE, scores)) / n
    return Summary(
        n=n,
        mean=mean,
        favourable_pct=favourable,
        sd=sd,
        ci_low=max(low, mean - half),
        ci_high=min(high, mean + half),
    )


INDEX_STEP = 100 / (LIKERT_MAX - LIKERT_MIN)  # one answer step on the 0..100 theme index


def spread_steps(scores: Iterable[ThemeScore]) -> float:
    """Return how many answer steps apart a group's most distant scores on one theme are.

    Likert themes count steps of the answer scale on the theme index (``INDEX_STEP`` points);
    eNPS counts steps of the 0..10 rating, and a group whose members all fall in one eNPS
    category (all promoters, passives or detractors) has spread 0 in what eNPS publishes.
    """
    scores = list(scores)
    if not scores:
        return 0.0
    values: list[float] = list(map(_VALUE, scores))
    if scores[0].theme == "enps":
        categories = set(map(_CATEGORY, scores))
        return 0.0 if len(categories) == 1 else max(values) - min(values)
    return (max(values) - min(values)) / INDEX_STEP


ALPHA_INTERPRETABLE = 0.6  # below this a scale's items do not hang together well enough
UNIFORM_VARIANCE_LIKERT5 = 2.0  # variance of a uniform answer on 1..5: (5**2 - 1) / 12


@dataclass(frozen=True)
class ScaleQuality:
    """How well a multi-item scale measured one group.

    :param alpha: Cronbach's alpha (None when it cannot be computed).
    :param agreement: r_wg(J), within-group agreement against a uniform null (0..1).
    """

    items: int
    alpha: float | None
    agreement: float | None

    @property
    def interpretable(self) -> bool:
        """Return whether alpha is high enough to read the scale's index."""
        return self.alpha is not None and self.alpha >= ALPHA_INTERPRETABLE


def _variance(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return squared_deviations(values, mean) / (len(values) - 1)


def scale_quality(rows: Sequence[Sequence[int]]) -> ScaleQuality:
    """Return Cronbach's alpha and r_wg(J) for respondents' (reverse-scored) item values.

    Each row is one respondent's values on the same items of one Likert scale.
    """
    n = len(rows)
    j = len(rows[0]) if rows else 0
    if n < 2 or j < 2:
        return ScaleQuality(j, None, None)
    columns = list(zip(*rows, strict=True))
    item_vars = [_variance(col) for col in columns]
    total_var = _variance(list(map(sum, rows)))
    alpha = j / (j - 1) * (1 - sum(item_vars) / total_var) if total_var > 0 else None
    ratio = (sum(item_vars) / j) / UNIFORM_VARIANCE_LIKERT5
    ratio = min(ratio, 1.0)  # more spread than chance means no agreement, not negative
    agreement = j * (1 - ratio) / (j * (1 - ratio) + ratio) if ratio > 0 else 1.0
    return ScaleQuality(j, alpha, agreement)
