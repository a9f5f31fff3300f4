"""Building a round's release manifest from its opened answers.

Invariant: the manifest is the only thing any page, chart or export reads. It holds figures
only for cells that disclosure control allows, and for a hidden cell it holds no number at all
(not n, not a rate), so a hidden cell reads the same for 0 and for 1..k-1 respondents. Every
hidden cell carries the same neutral reason, and a cell whose respondents all answered alike
carries a coded index instead of a mean and interval (see ``disclosure.UNIFORM_TEXT``).
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
from .grouping import MIXED_BAND
from .questions import Bank
from .redaction import mask, name_pattern

MANIFEST_VERSION = 1
PARTICIPATION_ROUNDING = 5  # org-wide participation is published to the nearest 5 %
COMMENT_MAX_DEPTH = 1  # comments: organisation and department level only
REMAINDER_LABEL = "Elsewhere in the organisation"
ATTRIBUTE_MAX_DEPTH = 1  # attribute breakdowns: organisation and department level only
ATTRIBUTE_NAME = "tenure"
# Above this many atoms the exact audit's greedy selection gets slow (measured: ~20 s at 2,000
# atoms, over 60 s at 5,000, see bench/release.py); use block merging.
EXACT_MAX_ATOMS = 2500
MODE_EXACT = "exact"
MODE_BLOCKS = "blocks"


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
    # Sealed rows that failed to open and were set aside by an explicit quarantine.
    quarantined: int = 0


def atom_id(unit_id: int, band: str) -> str:
    """Return the name of the finest cell: one unit crossed with one attribute band."""
    return f"{unit_id}|{band}"


def canonical_json(manifest: Mapping[str, Any]) -> str:
    """Return the manifest as canonical JSON (sorted keys), as stored and hashed."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(manifest: Mapping[str, Any]) -> str:
    """Return the SHA-256 of the canonical manifest, recorded to prove it never changes."""
    return hashlib.sha256(canonical_json(manifest).encode()).hexdigest()


def build_manifest(
    data: ReleaseInput, shuffle: Callable[[list[str]], None] | None = None
) -> dict[str, Any]:
    """Return the manifest of one round: disclosure decisions, figures and audit verdict."""
    disclosure.check_k(data.k)
    units = data.snapshot["units"]
    parents = {int(uid): info["parent"] for uid, info in units.items()}
    direct = Counter(a.unit_id for a in data.answers)
    visibility = disclosure.decide_units(parents, direct, data.k, data.churn)
    # Exact favourable shares and answer distributions need every derivable group to have at
    # least DISTRIBUTION_MIN_N people: the same remainder rule at that threshold.
    detailed = disclosure.decide_units(parents, direct, max(data.k, disclosure.DISTRIBUTION_MIN_N))
    eligible_direct = {int(u): c for u, c in data.snapshot["eligible"].items()}
    eligible = disclosure.subtree_counts(parents, eligible_direct)
    subtree = _subtrees(parents)
    within = _respondents_within(parents, data.answers)

    themes = [
        t
        for t in data.bank.themes
        if any(i.theme == t.key for i in data.bank.items_for(data.asked))
    ]
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
            # One neutral wording: the internal reason (vis.reason) would bound the size.
            "reason": "" if vis.shown else disclosure.HIDDEN_TEXT,
            "themes": {},
        }
        if vis.shown:
            mine = [person_scores[i][1] for i in within[uid]]
            row["n"] = vis.n
            row["participation_pct"] = round(100.0 * vis.n / max(eligible.get(uid, 0), vis.n), 1)
            for theme in themes:
                found = [s[theme.key] for s in mine if theme.key in s]
                summary = scoring.summarise(found)
                if summary is not None and summary.n >= data.k:
                    row["themes"][theme.key] = _cell(summary, found, detailed[uid].shown)
        unit_rows.append(row)

    atom_counts = Counter(atom_id(a.unit_id, a.band) for a in data.answers)
    bands = sorted(
        {key.split("|", 1)[1] for key in data.snapshot.get("eligible_atoms", {})}
        | {a.band for a in data.answers}
    )
    base_defs = [{"kind": "unit", "unit": row["id"]} for row in unit_rows if row["shown"]]
    base_cells = [expand_cell(d, subtree, bands) for d in base_defs]
    attribute_rows, kept_defs, mode, blocks = _attributes(
        data,
        parents,
        visibility,
        subtree,
        bands,
        atom_counts,
        base_cells,
        themes,
        person_scores,
        within,
    )
    published = base_defs + kept_defs
    cells = [expand_cell(d, subtree, bands) for d in published]
    if blocks is None:
        verdict = audit.audit(cells, atom_counts, data.k)
    else:
        verdict = _block_audit(cells, blocks, atom_counts, data.k)
    if not verdict.ok:
        raise ReleaseError(
            "the disclosure audit found a group of fewer than k people that could be computed "
            f"from the published cells: {sorted(verdict.leaks[0].atoms) if verdict.leaks else '?'}"
        )
    _add_distributions(unit_rows, data, within, detailed)

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
        "quarantined": data.quarantined,
        "themes": [{"key": t.key, "label": t.label} for t in themes],
        "participation": {
            "org_pct_rounded": _round_to(org_rate, PARTICIPATION_ROUNDING)
            if visibility[_root(parents)].shown
            else None,
        },
        "units": unit_rows,
        "attributes": {"name": ATTRIBUTE_NAME, "bands": bands, "cells": attribute_rows},
        "comments": _comment_groups(data, parents, shuffle),
        "audit": {
            "ok": verdict.ok,
            "mode": mode,
            "published": published,
            "cells": verdict.cells,
            "atoms": verdict.atoms,
            "sets_checked": verdict.sets_checked,
            "exhaustive": verdict.exhaustive,
        },
    }


def verify(
    manifest: Mapping[str, Any], snapshot: Mapping[str, Any], counts: Mapping[str, int]
) -> audit.AuditResult:
    """Re-run a release's audit from its published cell definitions and the atom counts.

    ``counts`` are respondents per atom (unit|band), which the caller can count from stored
    rows without opening any answer. Block-mode releases are re-blocked the same way.
    """
    parents = {int(uid): info["parent"] for uid, info in snapshot["units"].items()}
    subtree = _subtrees(parents)
    bands = manifest["attributes"]["bands"]
    cells = [expand_cell(d, subtree, bands) for d in manifest["audit"]["published"]]
    k = int(manifest["k"])
    if manifest["audit"]["mode"] == MODE_EXACT:
        return audit.audit(cells, counts, k)
    shown = {u["id"]: u["shown"] for u in manifest["units"]}
    visibility = {uid: disclosure.Visibility(shown.get(uid, False), 0) for uid in parents}
    return _block_audit(cells, _blocks(k, parents, visibility, counts), counts, k)


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
        parent: int | None = units[uid]["parent"]
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


def expand_cell(
    definition: Mapping[str, Any], subtree: Mapping[int, set[int]], bands: Sequence[str]
) -> frozenset[str]:
    """Return the atoms a published cell sums, from its structural definition.

    A ``unit`` cell covers every band of every unit in the subtree; an ``attribute`` cell one
    band of them. Definitions never say which atoms actually have respondents.
    """
    members = subtree[int(definition["unit"])]
    wanted = [definition["band"]] if definition["kind"] == "attribute" else list(bands)
    return frozenset(atom_id(u, b) for u in members for b in wanted)


def subtrees_of(snapshot: Mapping[str, Any]) -> dict[int, set[int]]:
    """Return unit id -> ids of the unit and all its descendants, from a round snapshot."""
    return _subtrees({int(uid): info["parent"] for uid, info in snapshot["units"].items()})


def _attributes(
    data: ReleaseInput,
    parents: Mapping[int, int | None],
    visibility: Mapping[int, disclosure.Visibility],
    subtree: Mapping[int, set[int]],
    bands: Sequence[str],
    counts: Mapping[str, int],
    base_cells: Sequence[frozenset[str]],
    themes: Sequence[Any],
    person_scores: Sequence[tuple[int, dict[str, scoring.ThemeScore]]],
    within: Mapping[int, list[int]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str, list[frozenset[str]] | None]:
    """Decide the attribute-band cells (organisation and departments × band).

    Small releases use the exact audit: candidates are added largest first and kept only if
    the audit of everything published still passes. Large ones use block merging: inside each
    region of the hierarchy, atoms are merged into blocks of at least k, and only cells that
    are unions of whole blocks are published, so every derivable group is a union of blocks.
    """
    mode = MODE_EXACT if len(counts) <= EXACT_MAX_ATOMS else MODE_BLOCKS
    candidates: list[tuple[str, frozenset[str]]] = []
    definitions: dict[str, dict[str, Any]] = {}
    for unit in sorted(parents):
        if not visibility[unit].shown or _depth(parents, unit) > ATTRIBUTE_MAX_DEPTH:
            continue
        for band in bands:
            if band == MIXED_BAND:  # a storage label, not a tenure band anyone reports on
                continue
            definition: dict[str, Any] = {"kind": "attribute", "unit": unit, "band": band}
            name = f"{unit}|{band}"
            definitions[name] = definition
            candidates.append((name, expand_cell(definition, subtree, bands)))
    blocks = None
    if mode == MODE_EXACT:
        kept, rejected = audit.select_cells(base_cells, candidates, counts, data.k)
    else:
        blocks = _blocks(data.k, parents, visibility, counts)
        kept, rejected = [], {}
        for name, cell in candidates:
            total = sum(counts.get(a, 0) for a in cell)
            whole = all(b <= cell or not (b & cell) for b in blocks)
            if total < data.k:
                rejected[name] = audit.REASON_FEWER_THAN_K
            elif not whole:
                rejected[name] = "not a union of whole blocks"
            else:
                kept.append(name)
    rows = []
    units = data.snapshot["units"]
    for name, _atoms in candidates:
        definition = definitions[name]
        unit, band = int(definition["unit"]), str(definition["band"])
        row: dict[str, Any] = {
            "unit": unit,
            "path": units[str(unit)]["path"],
            "band": band,
            "shown": name in kept,
            "reason": "" if name in kept else disclosure.HIDDEN_TEXT,
            "themes": {},
        }
        if name in kept:
            scored = [person_scores[i][1] for i in within[unit] if data.answers[i].band == band]
            row["n"] = len(scored)
            for theme in themes:
                found = [s[theme.key] for s in scored if theme.key in s]
                summary = scoring.summarise(found)
                if summary is not None and summary.n >= data.k:
                    row["themes"][theme.key] = _cell(summary, found, False)
        rows.append(row)
    return rows, [definitions[name] for name in kept], mode, blocks


def _regions(
    parents: Mapping[int, int | None], visibility: Mapping[int, disclosure.Visibility]
) -> dict[int, int]:
    """Return unit -> the shown unit whose remainder it falls in (itself if shown)."""
    out = {}
    for unit in parents:
        node: int | None = unit
        while node is not None and not visibility[node].shown:
            node = parents[node]
        if node is not None:
            out[unit] = node
    return out


def _blocks(
    k: int,
    parents: Mapping[int, int | None],
    visibility: Mapping[int, disclosure.Visibility],
    counts: Mapping[str, int],
) -> list[frozenset[str]]:
    """Merge each hierarchy region's atoms into blocks of at least k.

    Inside a region, a band with k or more respondents gets blocks of its own (so band cells
    can stay unions of whole blocks); the bands below k are merged together, and if even
    those total less than k they join the region's last block.
    """
    region_of = _regions(parents, visibility)
    grouped: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for atom in sorted(counts, key=lambda a: (a.split("|", 1)[1], int(a.split("|", 1)[0]))):
        unit, band = atom.split("|", 1)
        if int(unit) in region_of and counts[atom] > 0:
            grouped[region_of[int(unit)]][band].append(atom)
    blocks: list[frozenset[str]] = []
    for by_band in grouped.values():
        own: list[frozenset[str]] = []
        leftover: list[str] = []
        for atoms in by_band.values():
            if sum(counts[a] for a in atoms) >= k:
                own.extend(audit.merge_blocks(atoms, counts, k))
            else:
                leftover.extend(atoms)
        if leftover and sum(counts[a] for a in leftover) >= k:
            own.extend(audit.merge_blocks(leftover, counts, k))
        elif leftover and own:
            own[-1] = own[-1] | frozenset(leftover)
        elif leftover:
            own.append(frozenset(leftover))
        blocks.extend(own)
    return blocks


def _block_audit(
    cells: Sequence[frozenset[str]],
    blocks: Sequence[frozenset[str]],
    counts: Mapping[str, int],
    k: int,
) -> audit.AuditResult:
    """Audit a block-mode release with blocks as atoms, after proving every cell is whole blocks."""
    block_of = {atom: i for i, block in enumerate(blocks) for atom in block}
    block_cells = []
    for cell in cells:
        used = {block_of[a] for a in cell if a in block_of}
        if any(not blocks[i] <= cell for i in used):
            return audit.AuditResult(False, (), len(cells), len(blocks), 0, True)
        block_cells.append(frozenset(f"b{i}" for i in used))
    block_counts = {f"b{i}": sum(counts.get(a, 0) for a in b) for i, b in enumerate(blocks)}
    return audit.audit(block_cells, block_counts, k)


def _add_distributions(
    unit_rows: list[dict[str, Any]],
    data: ReleaseInput,
    within: Mapping[int, list[int]],
    detailed: Mapping[int, disclosure.Visibility],
) -> None:
    """Add per-item answer counts to shown units that are distribution-safe (see ``detailed``)."""
    items = data.bank.items_for(data.asked)
    for row in unit_rows:
        if not row["shown"] or not detailed[row["id"]].shown:
            continue
        answers = [data.answers[i] for i in within[row["id"]]]
        row["scale_quality"] = _scale_quality(data, answers)
        dist: dict[str, list[int]] = {}
        coded: dict[str, dict[str, Any]] = {}
        for item in items:
            low, high = item.bounds
            tally = [0] * (high - low + 1)
            for answer in answers:
                if item.key in answer.answers:
                    tally[answer.answers[item.key] - low] += 1
            answered = [v for v, count in enumerate(tally) if count]
            if answered and disclosure.is_uniform(answered[-1] - answered[0]):
                # The tally would give every answer: publish how many answered, and why not how.
                coded[item.key] = {"n": sum(tally), "coded": disclosure.UNIFORM_TEXT}
            else:
                dist[item.key] = tally
        row["distributions"] = dist
        row["distributions_coded"] = coded


def _scale_quality(
    data: ReleaseInput, answers: Sequence[OpenedAnswer]
) -> dict[str, dict[str, Any]]:
    """Return Cronbach's alpha and within-group agreement per multi-item Likert theme."""
    by_theme: dict[str, list[Any]] = defaultdict(list)
    for item in data.bank.items_for(data.asked):
        if item.scale == "likert5":
            by_theme[item.theme].append(item)
    out = {}
    for theme, items in by_theme.items():
        if len(items) < 2:
            continue
        rows = [
            [scoring.item_value(i, a.answers[i.key]) for i in items]
            for a in answers
            if all(i.key in a.answers for i in items)
        ]
        quality = scoring.scale_quality(rows)
        out[theme] = {
            "items": quality.items,
            "alpha": None if quality.alpha is None else round(quality.alpha, 2),
            "agreement": None if quality.agreement is None else round(quality.agreement, 2),
            "interpretable": quality.interpretable,
        }
    return out


def _cell(
    summary: scoring.Summary, scores: Sequence[scoring.ThemeScore], exact: bool
) -> dict[str, Any]:
    """Return a published cell; ``exact`` marks cells safe for exact shares and distributions.

    A uniform cell (every answer within ``UNIFORM_MAX_STEPS`` of every other) publishes no
    mean, spread or interval, which would give each member's answer, but ``mean_text``, a
    coded index, and ``coded``, the reason; its favourable share is coded too.
    """
    if disclosure.is_uniform(scoring.spread_steps(scores)):
        low, high = scoring.index_bounds(scores[0].theme)
        return {
            "n": summary.n,
            "mean": None,
            "mean_text": disclosure.coded_index(summary.mean, low, high),
            "coded": disclosure.UNIFORM_TEXT,
            "favourable_pct": None,
            "favourable_text": disclosure.published_share(summary.favourable_pct, False),
            "sd": None,
            "ci_low": None,
            "ci_high": None,
        }
    return {
        "n": summary.n,
        "mean": round(summary.mean, 1),
        "favourable_pct": round(summary.favourable_pct, 1) if exact else None,
        "favourable_text": disclosure.published_share(summary.favourable_pct, exact),
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
        label = (
            units[str(unit)]["path"]
            if unit != root
            else (units[str(root)]["path"] if len(groups) == 1 else REMAINDER_LABEL)
        )
        out.append({"unit": unit, "label": label, "count": len(texts), "texts": texts})
    return out


def _respondents_within(
    parents: Mapping[int, int | None], answers: Sequence[OpenedAnswer]
) -> dict[int, list[int]]:
    """Return unit id -> indexes of the answers given in that unit or below it."""
    within: dict[int, list[int]] = {u: [] for u in parents}
    for index, answer in enumerate(answers):
        node: int | None = answer.unit_id
        while node is not None:
            within[node].append(index)
            node = parents[node]
    return within


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
