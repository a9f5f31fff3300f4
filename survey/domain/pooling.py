"""A release's answers scored once, and pooled into the cells it publishes.

Invariant: pooling changes no published number. Each respondent's answers are scored once per
theme (:func:`.scoring.score_theme`); a cell's theme figures and scale quality are then
computed by the same functions, from the same values in the same order (the cell's
respondents in answer order), as scoring the cell's respondents afresh would give, and its
answer tallies are integer counts summed over the cell's atoms (finest unit x band).

Why: a respondent lies in one unit per level of the tree and in attribute cells besides, so
re-scoring respondents for every cell repeated the per-answer work once per level. Here it is
done once per respondent (once per distinct answer pattern of a theme, in fact), and a cell
only gathers what was computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from . import scoring
from .questions import Bank, Item
from .scoring import ThemeScore

Row = tuple[int, ...]  # one respondent's reverse-scored values on one scale's items
Tally = list[int]  # respondents per answer value, lowest value first


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

    def score(self, raw: tuple[int | None, ...]) -> tuple[ThemeScore | None, Row | None]:
        """Return the theme score and scale row of one answer pattern (None: unanswered)."""
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

        :raises scoring.ScoringError: if an answer lies outside its item's scale.
        """
        plans = _plans(bank, asked)
        scores: dict[str, list[ThemeScore | None]] = {p.theme: [] for p in plans}
        rows: dict[str, list[Row | None]] = {p.theme: [] for p in plans if p.scale}
        # atom -> per theme: answer pattern -> respondents (only counts are kept per answer)
        patterns: dict[tuple[int, str], list[dict[tuple[int | None, ...], int]]] = {}
        memo: list[dict[tuple[int | None, ...], tuple[ThemeScore | None, Row | None]]] = [
            {} for _ in plans
        ]
        columns = [
            (p, memo[t], scores[p.theme].append, rows.get(p.theme)) for t, p in enumerate(plans)
        ]
        for answer in answers:
            got = answer.answers.get
            atom = patterns.get((answer.unit_id, answer.band))
            if atom is None:
                atom = patterns[answer.unit_id, answer.band] = [{} for _ in plans]
            for (plan, known, add_score, scale_rows), counted in zip(columns, atom, strict=True):
                raw = tuple(map(got, plan.keys))
                found = known.get(raw)
                if found is None:
                    found = known[raw] = plan.score(raw)
                add_score(found[0])
                if scale_rows is not None:
                    scale_rows.append(found[1])
                counted[raw] = counted.get(raw, 0) + 1
        return cls(bank.items_for(tuple(asked)), scores, rows, _tally(plans, patterns))

    def found(self, theme: str, indexes: Sequence[int]) -> list[ThemeScore]:
        """Return the scores on ``theme`` of the respondents at ``indexes`` who have one."""
        column = self.scores[theme]
        return [s for s in map(column.__getitem__, indexes) if s is not None]

    def scale_rows(self, indexes: Sequence[int]) -> dict[str, list[Row]]:
        """Return, per multi-item Likert theme, the rows of the respondents at ``indexes``
        who answered all of its items."""
        out = {}
        for theme, column in self.rows.items():
            out[theme] = [r for r in map(column.__getitem__, indexes) if r is not None]
        return out

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
    plans: Sequence[_ThemePlan],
    patterns: Mapping[tuple[int, str], Sequence[Mapping[tuple[int | None, ...], int]]],
) -> dict[tuple[int, str], dict[str, Tally]]:
    """Return each atom's answer tally per item, from its respondents' answer patterns."""
    out: dict[tuple[int, str], dict[str, Tally]] = {}
    for atom, per_theme in patterns.items():
        tallies = out[atom] = {}
        for plan, counted in zip(plans, per_theme, strict=True):
            for p, item in enumerate(plan.items):
                low, high = item.bounds
                tally = [0] * (high - low + 1)
                for raw, count in counted.items():
                    value = raw[p]
                    if value is not None:
                        tally[value - low] += count
                if any(tally):
                    tallies[item.key] = tally
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
