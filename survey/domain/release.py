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
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import attributes, audit, churn, disclosure, noise, scoring
from .attributes import ATTRIBUTE_MAX_DEPTH, ATTRIBUTE_NAME
from .attributes import MODE_BLOCKS as MODE_BLOCKS
from .attributes import MODE_EXACT as MODE_EXACT
from .blocks import block_audit, merge_into_blocks
from .cells import Draw, lazy_opendp, published_cell, with_unit_n
from .churn import EarlierRelease as EarlierRelease
from .comments import COMMENT_MAX_DEPTH as COMMENT_MAX_DEPTH
from .comments import REMAINDER_LABEL as REMAINDER_LABEL
from .comments import comment_groups
from .lifecycle import round_label
from .manifest import MANIFEST_VERSION, CellDefinition, Manifest, parse, to_json
from .pooling import Pool, quality_of
from .questions import Bank, Theme
from .tree import Tree, TreeError, subtrees
from .tree import atom_id as atom_id
from .tree import expand_cell as expand_cell

PARTICIPATION_ROUNDING = 5  # org-wide participation is published to the nearest 5 %
# Above this many atoms use block merging. The exact audit keeps its elimination state between
# candidates (see elimination.py), so an organisation of about 50,000 eligible people (10,000
# atoms) still releases in exact mode (see bench/release.py).
EXACT_MAX_ATOMS = 12_000


class ReleaseError(RuntimeError):
    """Raised when a release cannot be published safely."""


@dataclass(frozen=True, slots=True)
class OpenedAnswer:
    """One respondent's answers after unsealing: where they sit, and what they said.

    Slotted: a release holds one per respondent, and an instance without a ``__dict__`` is one
    object for the garbage collector to walk instead of two.
    """

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
    # Head-count change since earlier releases whose snapshots name no members (older rounds).
    churn: Mapping[int, int] = field(default_factory=dict)
    # Every earlier release, of every programme, for the across-rounds check (churn.py); it
    # needs the snapshot's ``members`` (atom -> eligible person ids), never who answered.
    earlier: Sequence[EarlierRelease] = ()
    # Sealed rows that failed to open and were set aside by an explicit quarantine.
    quarantined: int = 0
    # The programme's differential-privacy budget per release; None: off (see noise.py).
    dp_epsilon: float | None = None


def canonical_json(manifest: Mapping[str, Any]) -> str:
    """Return the manifest as canonical JSON (sorted keys), as stored and hashed."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(manifest: Mapping[str, Any]) -> str:
    """Return the SHA-256 of the canonical manifest, recorded to prove it never changes."""
    return hashlib.sha256(canonical_json(manifest).encode()).hexdigest()


def build_manifest(
    data: ReleaseInput,
    shuffle: Callable[[list[str]], None] | None = None,
    sampler: noise.Sampler | None = None,
) -> Manifest:
    """Return the manifest of one round: disclosure decisions, figures and audit verdict.

    ``sampler`` draws the noise of DP and coarsened figures (default: OpenDP's, loaded only
    if a figure needs noise); every draw happens here, once, and only its result is stored.
    """
    disclosure.check_k(data.k)
    try:
        rnd = _Round.of(data, sampler)
    except TreeError as exc:
        raise ReleaseError(str(exc)) from exc
    tree = rnd.tree
    visibility, coarse_units, history = _decide_units(rnd)
    # Exact favourable shares and answer distributions need every derivable group to have at
    # least DISTRIBUTION_MIN_N people: the same remainder rule at that threshold.
    detailed = disclosure.decide_units(
        tree.parents, rnd.direct, max(data.k, disclosure.DISTRIBUTION_MIN_N)
    )
    unit_rows = [
        _unit_row(rnd, uid, visibility[uid], detailed[uid].shown, uid in coarse_units)
        for uid in sorted(tree.parents, key=tree.path)
    ]
    base_defs = [{"kind": "unit", "unit": row["id"]} for row in unit_rows if row["shown"]]
    base_cells = [tree.cell(d) for d in base_defs]
    attribute_rows, kept_defs, coarse_defs, mode, blocks = _attributes(
        rnd, visibility, base_cells, history
    )
    published = base_defs + kept_defs
    cells = [tree.cell(d) for d in published]
    if blocks is None:
        verdict = audit.audit(cells, rnd.counts, data.k)
    else:
        verdict = block_audit(cells, blocks, rnd.counts, data.k)
    if not verdict.ok:
        raise ReleaseError(
            "the disclosure audit found a group of fewer than k people that could be computed "
            f"from the published cells: {sorted(verdict.leaks[0].atoms) if verdict.leaks else '?'}"
        )
    _add_distributions(unit_rows, rnd, detailed)

    total_eligible = sum(rnd.eligible_direct.values())
    org_rate = 100.0 * len(data.answers) / total_eligible if total_eligible else 0.0
    audit_record: dict[str, Any] = {
        "ok": verdict.ok,
        "mode": mode,
        "published": published,
        "cells": verdict.cells,
        "atoms": verdict.atoms,
        "sets_checked": verdict.sets_checked,
        "exhaustive": verdict.exhaustive,
    }
    coarse = [{"kind": "unit", "unit": u} for u in sorted(coarse_units)] + coarse_defs
    if coarse:
        audit_record["coarse"] = coarse
    written: dict[str, Any] = {
        "version": MANIFEST_VERSION,
        "round": {
            "id": data.round_id,
            "number": data.round_number,
            "label": round_label(data.round_number),
            "program": data.program,
            "opens_on": data.opens_on,
            "closed_on": data.closed_on,
        },
        "k": data.k,
        "comment_k": data.comment_k,
        "quarantined": data.quarantined,
        "themes": [{"key": t.key, "label": t.label} for t in rnd.themes],
        "participation": {
            "org_pct_rounded": _round_to(org_rate, PARTICIPATION_ROUNDING)
            if visibility[tree.root].shown
            else None,
        },
        "units": unit_rows,
        "attributes": {"name": ATTRIBUTE_NAME, "bands": list(tree.bands), "cells": attribute_rows},
        "comments": comment_groups(
            tree, data.answers, data.comments, data.comment_k, data.roster_names, shuffle
        ),
        "audit": audit_record,
    }
    if rnd.budget.epsilon is not None:
        written["noise"] = {
            "epsilon": rnd.budget.epsilon,
            "per_figure": rnd.budget.per_figure,
            "min_n": noise.DP_MIN_N,
            "mechanism": noise.MECHANISM,
        }
    return parse(written)


@dataclass(frozen=True)
class _Round:
    """What every step of one release reads, computed once: the tree, who answered where
    (respondents per unit and per atom), eligible counts, the themes asked and each
    respondent's theme scores and every atom's answer tallies, pooled (see :mod:`.pooling`)."""

    data: ReleaseInput
    tree: Tree
    direct: Counter[int]
    counts: Counter[str]
    eligible_direct: dict[int, int]
    eligible: dict[int, int]
    themes: tuple[Theme, ...]
    pool: Pool
    budget: noise.Noise

    @classmethod
    def of(cls, data: ReleaseInput, sampler: noise.Sampler | None = None) -> _Round:
        """Return the release's shared view of ``data``."""
        tree = Tree.of(data.snapshot, data.answers)
        eligible_direct = {int(u): c for u, c in data.snapshot["eligible"].items()}
        asked = data.bank.items_for(data.asked)
        themes = tuple(t for t in data.bank.themes if any(i.theme == t.key for i in asked))
        epsilon = noise.check_epsilon(data.dp_epsilon)
        per_figure = None
        if epsilon is not None:
            levels = max(tree.depth.values()) + 1
            per_figure = epsilon / noise.figures_per_person(
                levels, min(levels, ATTRIBUTE_MAX_DEPTH + 1), len(themes)
            )
        return cls(
            data=data,
            tree=tree,
            direct=Counter(a.unit_id for a in data.answers),
            counts=respondents_per_atom(data.answers),
            eligible_direct=eligible_direct,
            eligible=disclosure.subtree_counts(tree.parents, eligible_direct),
            themes=themes,
            pool=Pool.of(data.bank, data.asked, data.answers),
            budget=noise.Noise(sampler or lazy_opendp(), epsilon, per_figure),
        )

    def noisy(self, n: int) -> bool:
        """Return whether a cell of ``n`` respondents gets DP noise."""
        return self.budget.per_figure is not None and n >= noise.DP_MIN_N

    def figures(
        self, indexes: Sequence[int], exact: bool, coarse: bool
    ) -> dict[str, dict[str, Any]]:
        """Return the published theme figures of the respondents at ``indexes``."""
        epsilon = self.budget.per_figure if self.noisy(len(indexes)) else None
        if coarse:
            epsilon = min(noise.CHURN_EPSILON, self.budget.per_figure or noise.CHURN_EPSILON)
        draw = Draw(self.budget.sampler, epsilon)
        out = {}
        for theme in self.themes:
            found = self.pool.found(theme.key, indexes)
            summary = scoring.summarise(found)
            if summary is not None and summary.n >= self.data.k:
                # --- prefer not to say (issue 13.5): see cells.with_unit_n ---
                exact_here = exact and summary.n >= disclosure.DISTRIBUTION_MIN_N
                cell = published_cell(summary, found, exact_here, coarse, draw)
                out[theme.key] = with_unit_n(cell, len(indexes))
        return out


def _decide_units(
    rnd: _Round,
) -> tuple[dict[int, disclosure.Visibility], set[int], churn.History | None]:
    """Return the units' visibility, the shown units published coarsened, and the history.

    A shown unit that would single out 1..k-1 joiners or leavers across rounds (see
    :mod:`.churn`; largest first) is coarsened if large enough, else hidden, and the remainder
    rule runs again without it, until nothing changes. The history returned holds every
    unit published exactly, for the attribute cells to be checked against.
    """
    data, tree = rnd.data, rnd.tree
    members = data.snapshot.get("members")
    forced: set[int] = set()
    while True:
        visibility = disclosure.decide_units(tree.parents, rnd.direct, data.k, data.churn, forced)
        history = churn.History(members, data.earlier, data.k, rnd.counts) if members else None
        coarse: set[int] = set()
        hide: set[int] = set()
        for uid in sorted(tree.parents, key=lambda u: (-visibility[u].n, u)):
            if not visibility[uid].shown:
                continue
            legacy = 0 < data.churn.get(uid, 0) < data.k  # head counts, for old snapshots
            cell = tree.cell({"kind": "unit", "unit": uid})
            if not legacy and (history is None or history.add(cell)):
                continue
            (coarse if visibility[uid].n >= churn.coarse_min_n(data.k) else hide).add(uid)
        if not hide:
            return visibility, coarse, history
        forced |= hide


def _unit_row(
    rnd: _Round, uid: int, vis: disclosure.Visibility, exact: bool, coarse: bool
) -> dict[str, Any]:
    """Return a unit's manifest row: figures if shown, the one neutral wording if hidden."""
    tree = rnd.tree
    row: dict[str, Any] = {
        "id": uid,
        "path": tree.path(uid),
        "name": tree.units[str(uid)]["name"],
        "parent": tree.parents[uid],
        "depth": tree.depth[uid],
        "eligible": rnd.eligible.get(uid, 0),
        "shown": vis.shown,
        # One neutral wording: the internal reason (vis.reason) would bound the size.
        "reason": "" if vis.shown else disclosure.HIDDEN_TEXT,
        "themes": {},
    }
    if vis.shown:
        row["n"] = vis.n
        row["participation_pct"] = round(100.0 * vis.n / max(rnd.eligible.get(uid, 0), vis.n), 1)
        row["themes"] = rnd.figures(tree.within[uid], exact, coarse)
        if coarse:
            row["coarse"] = True
        elif rnd.noisy(len(tree.within[uid])):
            row["noisy"] = True
    return row


def verify(
    manifest: Manifest, snapshot: Mapping[str, Any], counts: Mapping[str, int]
) -> audit.AuditResult:
    """Re-run a release's audit from its published cell definitions and the atom counts.

    ``counts`` are respondents per atom (unit|band), which the caller can count from stored
    rows without opening any answer. Block-mode releases are re-blocked the same way.
    """
    parents = {int(uid): info["parent"] for uid, info in snapshot["units"].items()}
    subtree = subtrees(parents)
    bands = manifest.attributes.bands
    cells = [expand_cell(to_json(d), subtree, bands) for d in manifest.audit.published]
    k = manifest.k
    if manifest.audit.mode == MODE_EXACT:
        return audit.audit(cells, counts, k)
    shown = {u.id: u.shown for u in manifest.units}
    visibility = {uid: disclosure.Visibility(shown.get(uid, False), 0) for uid in parents}
    return block_audit(cells, merge_into_blocks(k, parents, visibility, counts), counts, k)


def reaudit(manifest: Manifest) -> audit.AuditResult:
    """Audit a stored manifest from what it publishes alone.

    Each published unit is split into its *region*: its members minus those of its nearest
    published descendants, whose respondent count follows from the published n. Regions are
    the atoms; every published unit is the union of its own and its published descendants'
    regions. The audit then proves no set of regions totalling 1..k-1 is derivable.
    """
    units = {u.id: u for u in manifest.units}
    shown = {uid for uid, u in units.items() if u.shown}

    def nearest_shown_ancestor(uid: int) -> int | None:
        parent = units[uid].parent
        while parent is not None and parent not in shown:
            parent = units[parent].parent
        return parent

    above = {uid: nearest_shown_ancestor(uid) for uid in shown}
    counts = {str(uid): units[uid].n or 0 for uid in shown}
    for uid, parent in above.items():
        if parent is not None:
            counts[str(parent)] -= units[uid].n or 0
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
    return audit.audit(cells, counts, manifest.k)


def respondents_per_atom(answers: Sequence[OpenedAnswer]) -> Counter[str]:
    """Return atom id (unit|band) -> how many of ``answers`` were stored under it."""
    return Counter(atom_id(a.unit_id, a.band) for a in answers)


def earlier_release(
    snapshot: Mapping[str, Any], manifest: Manifest, respondents: Mapping[str, int] | None
) -> EarlierRelease:
    """Return what a later release is given of this one (see :mod:`.churn`): its members per
    atom, every cell it published exactly (see :func:`_exact_cells`) with its n, its
    respondents per atom and its k."""
    subtree = subtrees_of(snapshot)
    exact = [
        (expand_cell(to_json(d), subtree, manifest.attributes.bands), manifest.respondents(d))
        for d in _exact_cells(manifest)
    ]
    return EarlierRelease(snapshot["members"], exact, respondents, manifest.k)


def _exact_cells(manifest: Manifest) -> list[CellDefinition]:
    """Return the cells a release published exactly, in audit order: coarsened ones left out
    (their figures are noisy and rounded, not sums)."""
    coarse = set(manifest.audit.coarse or ())
    return [d for d in manifest.audit.published if d not in coarse]


def refused_across(
    snapshot: Mapping[str, Any],
    manifest: Manifest,
    respondents: Mapping[str, int],
    earlier: Sequence[EarlierRelease],
) -> list[CellDefinition]:
    """Return the exact cells of a stored release that the releases made before it, as they
    are known now, would refuse (see :class:`.churn.History`): none if it was checked against
    all of them when it was made. A snapshot without members was checked by head counts
    only; it is not re-checked here."""
    if "members" not in snapshot or not earlier:
        return []
    history = churn.History(snapshot["members"], earlier, manifest.k, respondents)
    cells = earlier_release(snapshot, manifest, respondents).exact  # in _exact_cells' order
    return [
        d
        for d, (cell, _n) in zip(_exact_cells(manifest), cells, strict=True)
        if not history.add(cell)
    ]


def subtrees_of(snapshot: Mapping[str, Any]) -> dict[int, set[int]]:
    """Return unit id -> ids of the unit and all its descendants, from a round snapshot."""
    return subtrees({int(uid): info["parent"] for uid, info in snapshot["units"].items()})


def _attributes(
    rnd: _Round,
    visibility: Mapping[int, disclosure.Visibility],
    base_cells: Sequence[frozenset[str]],
    history: churn.History | None,
) -> tuple[
    list[dict[str, Any]],
    list[dict[str, Any]],
    list[dict[str, Any]],
    str,
    list[frozenset[str]] | None,
]:
    """Decide the attribute-band cells (see :mod:`.attributes`) and write their rows.

    Exact mode up to ``EXACT_MAX_ATOMS`` atoms with respondents, block mode above. Return the
    cells' rows, the definitions kept, those of them coarsened, the mode and the blocks (None
    in exact mode).
    """
    data, tree = rnd.data, rnd.tree
    mode = MODE_EXACT if len(rnd.counts) <= EXACT_MAX_ATOMS else MODE_BLOCKS
    chosen = attributes.select(tree, visibility, rnd.counts, data.k, base_cells, history, mode)
    kept, coarse, definitions = set(chosen.kept), chosen.coarse, chosen.definitions
    # A unit's respondents by band, in answer order, split once for all its bands' cells.
    by_band: dict[int, dict[str, list[int]]] = {}
    rows = []
    for name, _atoms in chosen.candidates:
        definition = definitions[name]
        unit, band = int(definition["unit"]), str(definition["band"])
        row: dict[str, Any] = {
            "unit": unit,
            "path": tree.path(unit),
            "band": band,
            "shown": name in kept,
            "reason": "" if name in kept else disclosure.HIDDEN_TEXT,
            "themes": {},
        }
        if name in kept:
            split = by_band.get(unit)
            if split is None:
                split = by_band[unit] = {}
                for i in tree.within[unit]:
                    split.setdefault(data.answers[i].band, []).append(i)
            scored = split.get(band, [])
            row["n"] = len(scored)
            row["themes"] = rnd.figures(scored, False, name in coarse)
            if name in coarse:
                row["coarse"] = True
            elif rnd.noisy(len(scored)):
                row["noisy"] = True
        rows.append(row)
    kept_defs = [dict(definitions[name]) for name in chosen.kept]
    coarse_defs = [dict(definitions[n]) for n in chosen.kept if n in coarse]
    return rows, kept_defs, coarse_defs, mode, chosen.blocks


def _add_distributions(
    unit_rows: list[dict[str, Any]], rnd: _Round, detailed: Mapping[int, disclosure.Visibility]
) -> None:
    """Add per-item answer counts to shown units that are distribution-safe (see ``detailed``)
    and not coarsened (a tally would give a joiner's answers away)."""
    tree, bands = rnd.tree, rnd.tree.bands
    for row in unit_rows:
        if not row["shown"] or not detailed[row["id"]].shown or row.get("coarse"):
            continue
        if row.get("noisy"):  # exact tallies would undo the noise
            continue
        within = tree.within[row["id"]]
        row["scale_quality"] = quality_of(rnd.pool.scale_rows(within))
        dist: dict[str, list[int]] = {}
        coded: dict[str, dict[str, Any]] = {}
        atoms = [(u, b) for u in sorted(tree.subtree[row["id"]]) for b in bands]
        for key, tally in rnd.pool.tallies(atoms).items():
            answered = [v for v, count in enumerate(tally) if count]
            if sum(tally) != len(within):  # prefer not to say: a tally would count who did
                continue
            if answered and disclosure.is_uniform(answered[-1] - answered[0]):
                # The tally would give every answer: publish how many answered, and why not how.
                coded[key] = {"n": sum(tally), "coded": disclosure.UNIFORM_TEXT}
            else:
                dist[key] = tally
        row["distributions"] = dist
        row["distributions_coded"] = coded


def _round_to(value: float, step: int) -> int:
    return int(step * round(value / step))
