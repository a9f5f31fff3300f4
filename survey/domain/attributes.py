"""Which attribute-band cells (organisation and departments x tenure band) a release publishes.

Invariant: a candidate is kept only if everything published with it still passes the audit of
its mode -- in exact mode the exact audit over atoms (:func:`.audit.select_cells`), in block
mode the rule that a cell is a union of whole blocks of at least k -- and only if it is also
safe across rounds (:class:`.churn.History`); a cell refused across rounds is kept coarsened if
it is large enough (``churn.coarse_min_n``), else hidden. Candidates are every band of every
shown unit down to ``ATTRIBUTE_MAX_DEPTH``, whatever their counts, so the list of cells (shown
or hidden) never tells a 0 from 1..k-1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import audit, churn, disclosure
from .blocks import merge_into_blocks
from .grouping import MIXED_BAND
from .tree import Tree

ATTRIBUTE_MAX_DEPTH = 1  # attribute breakdowns: organisation and department level only
ATTRIBUTE_NAME = "tenure"
MODE_EXACT = "exact"
MODE_BLOCKS = "blocks"


@dataclass(frozen=True)
class Selection:
    """The attribute cells decided for one release.

    :param candidates: every candidate's name (``unit|band``) and atoms, in manifest order.
    :param definitions: name -> the cell's structural definition, as the manifest stores it.
    :param kept: the names published, in the order they were kept.
    :param coarse: the kept names published coarsened (refused across rounds, large enough).
    :param blocks: the blocks of block mode (None in exact mode).
    """

    candidates: tuple[tuple[str, frozenset[str]], ...]
    definitions: Mapping[str, Mapping[str, Any]]
    kept: tuple[str, ...]
    coarse: frozenset[str]
    blocks: list[frozenset[str]] | None


def candidates(
    tree: Tree, visibility: Mapping[int, disclosure.Visibility]
) -> tuple[list[tuple[str, frozenset[str]]], dict[str, dict[str, Any]]]:
    """Return every candidate cell (name and atoms) and its definition, by unit then band."""
    found: list[tuple[str, frozenset[str]]] = []
    definitions: dict[str, dict[str, Any]] = {}
    for unit in sorted(tree.parents):
        if not visibility[unit].shown or tree.depth[unit] > ATTRIBUTE_MAX_DEPTH:
            continue
        for band in tree.bands:
            if band == MIXED_BAND:  # a storage label, not a tenure band anyone reports on
                continue
            definition: dict[str, Any] = {"kind": "attribute", "unit": unit, "band": band}
            name = f"{unit}|{band}"
            definitions[name] = definition
            found.append((name, tree.cell(definition)))
    return found, definitions


def select(
    tree: Tree,
    visibility: Mapping[int, disclosure.Visibility],
    counts: Mapping[str, int],
    k: int,
    base_cells: Sequence[frozenset[str]],
    history: churn.History | None,
    mode: str,
) -> Selection:
    """Decide the attribute cells published on top of ``base_cells`` (the shown units).

    In exact mode candidates are added one at a time and kept only if the audit of everything
    published still passes (largest first, or a second order where that keeps more: see
    :func:`.audit.select_cells`). In block mode, inside each region of the hierarchy, atoms are
    merged into blocks of at least k, and only cells that are unions of whole blocks are
    published, so every derivable group is a union of blocks.
    """
    found, definitions = candidates(tree, visibility)
    coarse: set[str] = set()

    def admit(name: str, cell: frozenset[str]) -> bool:
        if history is None or history.add(cell):
            return True
        if sum(counts.get(a, 0) for a in cell) >= churn.coarse_min_n(k):
            coarse.add(name)
            return True
        return False

    blocks = None
    if mode == MODE_EXACT:
        kept, _rejected = audit.select_cells(base_cells, found, counts, k, admit=admit)
    else:
        blocks = merge_into_blocks(k, tree.parents, visibility, counts)
        kept = []
        for name, cell in found:
            total = sum(counts.get(a, 0) for a in cell)
            whole = all(b <= cell or not (b & cell) for b in blocks)
            if total >= k and whole and admit(name, cell):
                kept.append(name)
    return Selection(tuple(found), definitions, tuple(kept), frozenset(coarse), blocks)
