"""Building a round's release manifest from its opened answers.

Invariant: the manifest is the only thing any page, chart or export reads. It holds figures
only for cells that disclosure control allows, and for a hidden cell it holds no number at all
(not n, not a rate), so a hidden cell reads the same for 0 and for 1..k-1 respondents.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import audit, disclosure, scoring
from .questions import Bank
from .redaction import mask, name_pattern

MANIFEST_VERSION = 1
PARTICIPATION_ROUNDING = 5  # org-wide participation is published to the nearest 5 %
COMMENT_MAX_DEPTH = 1       # comments: organisation and department level only
REMAINDER_LABEL = "Elsewhere in the organisation"


class ReleaseError(RuntimeError):
    """Raised when a release cannot be published safely."""


@dataclass(frozen=True)
class OpenedAnswer:
    """One respondent's answers after unsealing: where they sit, and what they said."""

    unit_id: int
    band: str
    answers: Mapping[str, int]


@dataclass(frozen=True)
class ReleaseInput:
    """Everything a release needs, already unsealed and frozen at the round's opening."""

    round_id: int
    round_number: int
    program: str
    opens_on: str
    closed_on: str
    k: int
    comment_k: int
    bank: Bank
    asked: tuple[str, ...]
    snapshot: Mapping[str, Any]
    answers: Sequence[OpenedAnswer]
    comments: Sequence[tuple[int, str]] = ()
    roster_names: Sequence[str] = ()
    churn: Mapping[int, int] = field(default_factory=dict)


def atom_id(unit_id: int, band: str) -> str:
    """Return the name of the finest cell: one unit crossed with one attribute band."""
    return f"{unit_id}|{band}"


def canonical_json(manifest: Mapping[str, Any]) -> str:
    """Return the manifest as canonical JSON (sorted keys), as stored and hashed."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(manifest: Mapping[str, Any]) -> str:
    """Return the SHA-256 of the canonical manifest, recorded to prove it never changes."""
    return hashlib.sha256(canonical_json(manifest).encode()).hexdigest()


def build_manifest(data: ReleaseInput, shuffle: Callable[[list[str]], None] | None = None) -> dict[str, Any]:
    """Return the manifest of one round: disclosure decisions, figures and audit verdict."""
    disclosure.check_k(data.k)
    units = data.snapshot["units"]
    parents = {int(uid): info["parent"] for uid, info in units.items()}
    direct = Counter(a.unit_id for a in data.answers)
    visibility = disclosure.decide_units(parents, direct, data.k, data.churn)
    eligible_direct = {int(u): c for u, c in data.snapshot["eligible"].items()}
    eligible = disclosure.subtree_counts(parents, eligible_direct)
    subtree = _subtrees(parents)

    themes = [t for t in data.bank.themes if any(i.theme == t.key for i in data.bank.items_for(data.asked))]
    person_scores: list[tuple[int, dict[str, scoring.ThemeScore]]] = []
    for answer in data.answers:
        scores = scoring.score_person(data.bank, data.asked, answer.answers)
        person_scores.append((answer.unit_id, {s.theme: s for s in scores}))

    unit_rows = []
    for uid in sorted(parents, key=lambda u: units[str(u)]["path"]):
        vis = visibility[uid]
        row: dict[str, Any] = {
            "id": uid,
            "path": units[str(uid)]["path"],
            "name": units[str(uid)]["name"],
            "parent": parents[uid],
            "depth": _depth(parents, uid),
            "eligible": eligible.get(uid, 0),
            "shown": vis.shown,
            "reason": vis.reason,
            "themes": {},
        }
        if vis.shown:
            members = subtree[uid]
            row["n"] = vis.n
            row["participation_pct"] = round(100.0 * vis.n / max(eligible.get(uid, 0), vis.n), 1)
            for theme in themes:
                summary = scoring.summarise(
                    s[theme.key] for unit, s in person_scores if unit in members and theme.key in s
                )
                if summary is not None and summary.n >= data.k:
                    row["themes"][theme.key] = _cell(summary)
        unit_rows.append(row)

    cells = [
        frozenset(atom_id(a.unit_id, a.band) for a in data.answers if a.unit_id in subtree[row["id"]])
        for row in unit_rows
        if row["shown"]
    ]
    atom_counts = Counter(atom_id(a.unit_id, a.band) for a in data.answers)
    verdict = audit.audit(cells, atom_counts, data.k)
    if not verdict.ok:
        raise ReleaseError(
            "the disclosure audit found a group of fewer than k people that could be computed "
            f"from the published cells: {sorted(verdict.leaks[0].atoms) if verdict.leaks else '?'}"
        )

    total_eligible = sum(eligible_direct.values())
    org_rate = 100.0 * len(data.answers) / total_eligible if total_eligible else 0.0
    return {
        "version": MANIFEST_VERSION,
        "round": {
            "id": data.round_id,
            "number": data.round_number,
            "label": f"R{data.round_number}",
            "program": data.program,
            "opens_on": data.opens_on,
            "closed_on": data.closed_on,
        },
        "k": data.k,
        "comment_k": data.comment_k,
        "themes": [{"key": t.key, "label": t.label} for t in themes],
        "participation": {
            "org_pct_rounded": _round_to(org_rate, PARTICIPATION_ROUNDING)
            if visibility[_root(parents)].shown
            else None,
        },
        "units": unit_rows,
        "comments": _comment_groups(data, parents, shuffle),
        "audit": {
            "ok": verdict.ok,
            "mode": "exact",
            "cells": verdict.cells,
            "atoms": verdict.atoms,
            "sets_checked": verdict.sets_checked,
            "exhaustive": verdict.exhaustive,
        },
    }


def reaudit(manifest: Mapping[str, Any]) -> audit.AuditResult:
    """Audit a stored manifest from what it publishes alone.

    Each published unit is split into its *region*: its members minus those of its nearest
    published descendants, whose respondent count follows from the published n. Regions are
    the atoms; every published unit is the union of its own and its published descendants'
    regions. The audit then proves no set of regions totalling 1..k-1 is derivable.
    """
    units = {u["id"]: u for u in manifest["units"]}
    shown = {uid for uid, u in units.items() if u["shown"]}

    def nearest_shown_ancestor(uid: int) -> int | None:
        parent = units[uid]["parent"]
        while parent is not None and parent not in shown:
            parent = units[parent]["parent"]
        return parent

    above = {uid: nearest_shown_ancestor(uid) for uid in shown}
    counts = {str(uid): int(units[uid]["n"]) for uid in shown}
    for uid, parent in above.items():
        if parent is not None:
            counts[str(parent)] -= int(units[uid]["n"])
    cells = []
    for uid in shown:
        members = {str(uid)}
        for other in shown:
            node = above[other]
            while node is not None:
                if node == uid:
                    members.add(str(other))
                    break
                node = above[node]
        cells.append(frozenset(members))
    if any(c < 0 for c in counts.values()):
        return audit.AuditResult(False, (), len(cells), len(counts), 0, True)
    return audit.audit(cells, counts, int(manifest["k"]))


def _cell(summary: scoring.Summary) -> dict[str, Any]:
    coded = summary.n < disclosure.DISTRIBUTION_MIN_N and (
        summary.favourable_pct >= 90 or summary.favourable_pct <= 10
    )
    return {
        "n": summary.n,
        "mean": round(summary.mean, 1),
        "favourable_pct": None if coded else round(summary.favourable_pct, 1),
        "favourable_text": disclosure.coded_share(summary.favourable_pct, summary.n),
        "sd": round(summary.sd, 1),
        "ci_low": round(summary.ci_low, 1),
        "ci_high": round(summary.ci_high, 1),
    }


def _comment_groups(
    data: ReleaseInput,
    parents: Mapping[int, int | None],
    shuffle: Callable[[list[str]], None] | None,
) -> list[dict[str, Any]]:
    """Group masked comments by department under the comment threshold's remainder rule.

    Comments are counted against their own threshold, at organisation and department level
    only; each comment appears in exactly one group (its department's, or the remainder).
    """
    if not data.comments:
        return []
    shallow = {u: p for u, p in parents.items() if _depth(parents, u) <= COMMENT_MAX_DEPTH}

    def lift(unit: int) -> int:
        while unit not in shallow:
            parent = parents[unit]
            assert parent is not None
            unit = parent
        return unit

    respondents = Counter(lift(a.unit_id) for a in data.answers)
    visibility = disclosure.decide_units(shallow, respondents, data.comment_k)
    root = _root(parents)
    pattern = name_pattern(data.roster_names)
    groups: dict[int, list[str]] = defaultdict(list)
    for unit_id, text in data.comments:
        unit = lift(unit_id)
        if not visibility[unit].shown:
            unit = root
        groups[unit].append(mask(text, pattern))
    out = []
    units = data.snapshot["units"]
    rng = random.SystemRandom()
    for unit, texts in sorted(groups.items()):
        if not visibility[unit].shown:
            continue
        (shuffle or rng.shuffle)(texts)
        label = units[str(unit)]["path"] if unit != root else (
            units[str(root)]["path"] if len(groups) == 1 else REMAINDER_LABEL
        )
        out.append({"unit": unit, "label": label, "count": len(texts), "texts": texts})
    return out


def _subtrees(parents: Mapping[int, int | None]) -> dict[int, set[int]]:
    members: dict[int, set[int]] = {u: {u} for u in parents}
    for unit in parents:
        node = parents[unit]
        while node is not None:
            members[node].add(unit)
            node = parents[node]
    return members


def _depth(parents: Mapping[int, int | None], unit: int) -> int:
    depth, node = 0, parents[unit]
    while node is not None:
        depth, node = depth + 1, parents[node]
    return depth


def _root(parents: Mapping[int, int | None]) -> int:
    roots = [u for u, p in parents.items() if p is None]
    if len(roots) != 1:
        raise ReleaseError("the round's snapshot must have exactly one root unit")
    return roots[0]


def _round_to(value: float, step: int) -> int:
    return int(step * round(value / step))
