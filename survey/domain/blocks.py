"""Block mode: a release's atoms merged into blocks of at least k, for organisations too large
for the exact audit.

Invariant: in block mode every published cell is a union of whole blocks, and the audit runs
with blocks as its atoms, so no cell can isolate fewer than k people inside a block.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from . import audit, disclosure


def regions(
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


def merge_into_blocks(
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
    region_of = regions(parents, visibility)
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


def block_audit(
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
