"""The heatmap: units × themes of one round, coloured by the difference from the organisation.

Invariant: hidden units are rows of hidden cells, and so is a shown unit's theme the manifest
left out; a uniform cell shows its coded index and no difference. The colour scale is the same
in every round and every scope (:data:`HEATMAP_SPAN` index points either side of the
organisation), so one colour always means one size of difference.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..chartinput import HeatmapData
from ..disclosure import HIDDEN_TEXT
from ..manifest import Manifest
from .selection import cell, subtree
from .wording import format_delta, format_index, plural

# Half-width of the colour scale on a 0-100 index, fixed across rounds: differences beyond it
# (often eNPS, whose scale is twice as wide) take the end colours; their numbers are printed.
HEATMAP_SPAN = 15.0


@dataclass(frozen=True)
class HeatmapColumn:
    """A theme asked in the round, with the organisation's value it is compared against."""

    key: str
    label: str
    org_value: float | None
    org_text: str = ""  # the organisation's coded index when its cell is uniform


@dataclass(frozen=True)
class HeatmapCell:
    """A published value and its difference from the organisation (None when not comparable).

    A uniform cell has no value: ``value_text`` is its coded index and ``coded`` says why.
    """

    value: float | None
    difference: float | None
    value_text: str
    difference_text: str
    coded: str = ""


@dataclass(frozen=True)
class HeatmapRow:
    """A unit of the round: its published cells, or hidden. ``label`` is its path below the org."""

    unit_id: int
    path: str
    label: str
    depth: int
    shown: bool
    n: int | None
    cells: tuple[HeatmapCell | None, ...]


def legend_text(org_path: str, span: float = HEATMAP_SPAN) -> str:
    """Return what the heatmap's colours mean, for the chart's legend and the page."""
    return (
        f"Colour: index points above or below {org_path}, from {format_delta(-span)} (brown) "
        f"through 0 (pale) to {format_delta(span)} (teal), the same scale in every round; "
        "larger differences take the end colours."
    )


@dataclass(frozen=True)
class Heatmap:
    """Units × themes of one round, coloured by the difference from the organisation."""

    round_label: str
    closed_on: str
    org_path: str
    columns: tuple[HeatmapColumn, ...]
    rows: tuple[HeatmapRow, ...]
    span: float
    title: str
    description: str

    @property
    def legend(self) -> str:
        """Return what the colours mean."""
        return legend_text(self.org_path, self.span)

    def chart_input(self, title: str | None = None) -> HeatmapData:
        """Return what the chart is drawn from: differences, centred on zero.

        The organisation's own row (all zeros) is left out; its values are in the column
        labels. ``title`` replaces the chart's own (the PDF page writes its heading itself).
        """
        rows = [r for r in self.rows if r.path != self.org_path]
        return HeatmapData(
            title=self.title if title is None else title,
            rows=tuple(r.label for r in rows),
            columns=tuple(
                (f"{c.label} (org {c.org_text})" if c.org_text else c.label)
                if c.org_value is None
                else f"{c.label} (org {format_index(c.key, c.org_value)})"
                for c in self.columns
            ),
            values=tuple(tuple(None if c is None else c.difference for c in r.cells) for r in rows),
            notes=tuple(
                tuple("" if c is None or c.value is not None else c.value_text for c in r.cells)
                for r in rows
            ),
            centre=0.0,
            span=self.span,
            legend=self.legend,
        )


def heatmap(manifest: Manifest, scope: int | None = None, max_depth: int | None = None) -> Heatmap:
    """Return the heatmap of one release: ``scope`` and the units below it (default: all)."""
    root = manifest.root
    wanted = subtree(manifest, scope) if scope is not None else {u.id for u in manifest.units}
    columns: list[HeatmapColumn] = []
    for theme in manifest.themes:
        org_cell = cell(root, theme.key)
        org_value = None if org_cell is None else org_cell.mean
        org_text = "" if org_cell is None else (org_cell.mean_text or "")
        columns.append(HeatmapColumn(theme.key, theme.label, org_value, org_text))
    rows = []
    for unit in sorted(manifest.units, key=lambda u: u.path):
        if unit.id not in wanted or (max_depth is not None and unit.depth > max_depth):
            continue
        cells: list[HeatmapCell | None] = []
        for column in columns:
            found = cell(unit, column.key)
            if found is None:
                cells.append(None)
            elif found.mean is None:
                cells.append(HeatmapCell(None, None, found.mean_text or "", "", found.coded or ""))
            else:
                value = float(found.mean)
                diff = None if column.org_value is None else round(value - column.org_value, 1)
                cells.append(
                    HeatmapCell(
                        value,
                        diff,
                        format_index(column.key, value),
                        "" if diff is None else format_delta(diff),
                    )
                )
        rows.append(
            HeatmapRow(
                unit.id,
                unit.path,
                _below(root.path, unit.path),
                unit.depth,
                unit.shown,
                unit.n if unit.shown else None,
                tuple(cells),
            )
        )
    label = manifest.round.label
    made = Heatmap(
        label,
        manifest.round.closed_on,
        root.path,
        tuple(columns),
        tuple(rows),
        HEATMAP_SPAN,
        f"Difference from {root.path}, {label}",
        "",
    )
    return replace(made, description=describe_heatmap(made))


def _below(root_path: str, path: str) -> str:
    """Return ``path`` without the organisation's own name in front (the root keeps it)."""
    rest = path[len(root_path) :] if path.startswith(root_path) else ""
    if rest[:1] not in ("/", " "):
        return path
    return rest.lstrip("/ ")


def describe_heatmap(data: Heatmap) -> str:
    """Return a plain-English text alternative to the heatmap chart."""
    rows = [r for r in data.rows if r.path != data.org_path]
    if not rows or not data.columns:
        return f"{data.title}: no units or themes to show."
    total = len(rows) * len(data.columns)
    hidden = sum(1 for r in rows for c in r.cells if c is None)
    coded = [c.coded for r in rows for c in r.cells if c is not None and c.coded]
    diffs = [
        (c.difference, col, r.label)
        for r in rows
        for c, col in zip(r.cells, data.columns, strict=True)
        if c is not None and c.difference is not None
    ]
    sentences = [
        f"{data.title}: {plural(len(data.columns), 'theme')} for {plural(len(rows), 'unit')}, "
        f"each cell the unit's value minus the organisation's ({plural(total, 'cell')})."
    ]
    if hidden:
        sentences.append(
            f"{hidden} of {total} cells {'is' if hidden == 1 else 'are'} {HIDDEN_TEXT}."
        )
    if coded:
        sentences.append(
            f"{len(coded)} of {total} cells {'shows' if len(coded) == 1 else 'show'} a coded "
            f"index, not an exact one: {coded[0]}."
        )
    if diffs:
        top = max(diffs, key=lambda d: (d[0], d[2]))
        bottom = min(diffs, key=lambda d: (d[0], d[2]))
        if top[0] > 0:
            sentences.append(
                f"Furthest above the organisation: {top[1].label} in {top[2]} "
                f"({format_delta(top[0])})."
            )
        if bottom[0] < 0:
            sentences.append(
                f"Furthest below: {bottom[1].label} in {bottom[2]} ({format_delta(bottom[0])})."
            )
    else:
        sentences.append("No unit below the organisation has a published value to compare.")
    return " ".join(sentences)
