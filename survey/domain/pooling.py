"""A release's answers scored once, and pooled into the cells it publishes.

Invariant: pooling changes no published number. Each respondent's answers are scored once per
theme (:func:`.scoring.score_theme`); a cell's theme figures and scale quality are then
computed by the same functions, from the same values in the same order (the cell's
respondents in answer order), as scoring the cell's respondents afresh would give, and its
answer tallies are integer counts summed over the cell's atoms (finest unit x band).

Why: a respondent lies in one unit per level of the tree and in attribute cells besides, so
re-scoring respondents for every cell repeated the per-answer work once per level. Here it is
done once per respondent (once per distinct answer pattern of a theme, in fact, or per
distinct sum of a fully answered Likert scale, which is all its score depends on), and a cell
only gathers what was computed.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import count as numbering
from itertools import repeat
from typing import Any, Protocol

from . import scoring
from .questions import Bank, Item
from .scoring import ThemeScore

Row = tuple[int, ...]  # one respondent's reverse-scored values on one scale's items
Pattern = tuple[int | None, ...]  # one respondent's answers to one theme's items (None: skipped)
Tally = list[int]  # respondents per answer value, lowest value first


_ANSWERS = operator.attrgetter("answers")
_UNIT = operator.attrgetter("unit_id")
_BAND = operator.attrgetter("band")


class Placed(Protocol):
    """What pooling reads of one opened answer."""

    @property
    def unit_id(self) -> int: ...

    @property
    def band(self) -> str: ...

    @property
    def answers(self) -> Mapping[str, int]: ...


@dataclass(frozen=True)
class _ThemePlan:
    """One theme's asked items, and those of them that make a multi-item Likert scale."""

    theme: str
    items: tuple[Item, ...]
    keys: tuple[str, ...]
    scale: tuple[int, ...]  # positions in ``items`` of the scale's items; () if no scale

    def whole_scale(
        self, columns: Mapping[str, Sequence[int | None]]
    ) -> tuple[list[ThemeScore | None], list[Row | None]] | None:
        """Return every respondent's score and scale row when every item of the theme is on
        its scale and everyone answered each of them on it; else None (:meth:`score` then
        scores each pattern).

        A row is the items' values (:func:`.scoring.item_value`: reverse items flipped), and
        :func:`.scoring.likert_score` of a row depends only on the row's sum (an exact integer,
        over the same number of items), so it is computed once per distinct sum.
        """
        if not self.scale or len(self.scale) != len(self.items):
            return None
        value_columns = []
        for item, key in zip(self.items, self.keys, strict=True):
            low, high = item.bounds
            value_of: dict[int | None, int] = {
                answer: scoring.item_value(item, answer) for answer in range(low, high + 1)
            }
            column = columns[key]
            # Not a key of value_of: skipped (None), off the scale, or not an int (True == 1
            # is one, so bools are looked for too); those take the per-pattern path.
            if not set(map(type, column)) <= {int} or not set(column) <= value_of.keys():
                return None
            value_columns.append(list(map(value_of.__getitem__, column)))
        rows: list[Row] = list(zip(*value_columns, strict=True))
        sums = list(map(sum, rows))
        score_of = {
            total: scoring.likert_score(self.theme, row)
            for total, row in dict(zip(sums, rows, strict=True)).items()
        }
        return list(map(score_of.__getitem__, sums)), list(rows)

    def score(self, raw: Pattern) -> tuple[ThemeScore | None, Row | None]:
        """Return the theme score and scale row of one answer pattern (None: unanswered)."""
        if len(self.scale) == len(self.items) and None not in raw:
            # Every item answered, all on the scale: the values score_theme would compute
            # are the scale row, so each is computed once.
            values = tuple(map(scoring.item_value, self.items, raw))  # type: ignore[arg-type]
            return scoring.likert_score(self.theme, values), values
        answers = {
            key: value for key, value in zip(self.keys, raw, strict=True) if value is not None
        }
        score = scoring.score_theme(self.items, answers)
        row = None
        if self.scale and all(raw[p] is not None for p in self.scale):
            row = tuple(
                scoring.item_value(self.items[p], answers[self.keys[p]]) for p in self.scale
            )
        return score, row


def _plans(bank: Bank, asked: Sequence[str]) -> tuple[_ThemePlan, ...]:
    """Return the plan of every theme asked, in the order :func:`.scoring.score_person` uses."""
    by_theme: dict[str, list[Item]] = {}
    for item in bank.items_for(tuple(asked)):
        by_theme.setdefault(item.theme, []).append(item)
    plans = []
    for theme, items in by_theme.items():
        scale = tuple(p for p, item in enumerate(items) if item.scale == "likert5")
        plans.append(
            _ThemePlan(
                theme, tuple(items), tuple(i.key for i in items), scale if len(scale) >= 2 else ()
            )
        )
    return tuple(plans)


@dataclass(frozen=True)
class Pool:
    """Every respondent's theme scores and scale rows (aligned with the answers, None where
    not scored), and the answer tallies of every atom."""

    items: tuple[Item, ...]
    scores: Mapping[str, list[ThemeScore | None]]
    rows: Mapping[str, list[Row | None]]
    atom_tallies: Mapping[tuple[int, str], Mapping[str, Tally]]

    @classmethod
    def of(cls, bank: Bank, asked: Sequence[str], answers: Sequence[Placed]) -> Pool:
        """Score every answer once and tally every atom.

        Column by column: each item's answers, each theme's answer patterns, then each distinct
        pattern scored once; the loops over respondents are ``map`` and ``zip``.

        :raises scoring.ScoringError: if an answer lies outside its item's scale (the first
            such answer in answer order, as scoring each respondent in turn would report).
        """
        plans = _plans(bank, asked)
        given = list(map(_ANSWERS, answers))
        atoms = list(zip(map(_UNIT, answers), map(_BAND, answers), strict=True))
        # dict.get called from map is the fast path; any other Mapping works through its ABC.
        get = dict.get if all(type(d) is dict for d in given) else Mapping.get
        item_columns = {
            key: list(map(get, given, repeat(key))) for plan in plans for key in plan.keys
        }
        scores: dict[str, list[ThemeScore | None]] = {}
        rows: dict[str, list[Row | None]] = {}
        for plan in plans:
            whole = plan.whole_scale(item_columns)
            if whole is not None:
                scores[plan.theme], rows[plan.theme] = whole
                continue
            raws: list[Pattern] = list(zip(*(item_columns[k] for k in plan.keys), strict=True))
            score_of: dict[Pattern, ThemeScore | None] = {}
            row_of: dict[Pattern, Row | None] = {}
            try:
                for raw in dict.fromkeys(raws):  # each distinct pattern, in answer order
                    score_of[raw], row_of[raw] = plan.score(raw)
            except scoring.ScoringError:
                for answer in answers:  # raise the error the first wrong answer gives
                    scoring.score_person(bank, asked, answer.answers)
                raise
            scores[plan.theme] = list(map(score_of.__getitem__, raws))
            if plan.scale:
                rows[plan.theme] = list(map(row_of.__getitem__, raws))
        items = bank.items_for(tuple(asked))
        return cls(items, scores, rows, _tally(items, atoms, item_columns))

    def found(self, theme: str, indexes: Sequence[int]) -> list[ThemeScore]:
        """Return the scores on ``theme`` of the respondents at ``indexes`` who have one."""
        # filter(None, ...) drops only the Nones: a score (a dataclass) is always true.
        return list(filter(None, map(self.scores[theme].__getitem__, indexes)))

    def scale_rows(self, indexes: Sequence[int]) -> dict[str, list[Row]]:
        """Return, per multi-item Likert theme, the rows of the respondents at ``indexes``
        who answered all of its items."""
        # A row has at least two values, so it is true: filter(None, ...) drops only Nones.
        return {t: list(filter(None, map(c.__getitem__, indexes))) for t, c in self.rows.items()}

    def tallies(self, atoms: Iterable[tuple[int, str]]) -> dict[str, Tally]:
        """Return every asked item's answer tally summed over ``atoms``, in item order."""
        out = {item.key: [0] * (item.bounds[1] - item.bounds[0] + 1) for item in self.items}
        for atom in atoms:
            for key, tally in self.atom_tallies.get(atom, {}).items():
                total = out[key]
                for value, count in enumerate(tally):
                    total[value] += count
        return out


def _tally(
    items: Sequence[Item],
    atoms: Sequence[tuple[int, str]],
    item_columns: Mapping[str, Sequence[int | None]],
) -> dict[tuple[int, str], dict[str, Tally]]:
    """Return each atom's answer tally per item, from each item's column of answers."""
    out: dict[tuple[int, str], dict[str, Tally]] = {}
    # Each atom as a number (that of its first respondent), which hashes faster than a tuple.
    numbers: dict[tuple[int, str], int] = {}
    numbered = list(map(numbers.setdefault, atoms, numbering()))
    atom_of = {number: atom for atom, number in numbers.items()}
    for item in items:
        low, high = item.bounds
        for (number, value), found in Counter(
            zip(numbered, item_columns[item.key], strict=True)
        ).items():
            if value is None:
                continue
            atom = atom_of[number]
            tallies = out.get(atom)
            if tallies is None:
                tallies = out[atom] = {}
            tally = tallies.get(item.key)
            if tally is None:
                tally = tallies[item.key] = [0] * (high - low + 1)
            tally[value - low] += found
    return out


def quality_of(rows: Mapping[str, Sequence[Row]]) -> dict[str, dict[str, Any]]:
    """Return the published scale quality (alpha, agreement) of each theme's rows."""
    out = {}
    for theme, theme_rows in rows.items():
        quality = scoring.scale_quality(theme_rows)
        out[theme] = {
            "items": quality.items,
            "alpha": None if quality.alpha is None else round(quality.alpha, 2),
            "agreement": None if quality.agreement is None else round(quality.agreement, 2),
            "interpretable": quality.interpretable,
        }
    return out
