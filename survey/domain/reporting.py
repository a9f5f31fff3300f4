"""Read-only views of release manifests: overview, trends, heatmaps, answer distributions,
comments and the printable report's contents.

Invariant: everything here is computed from manifests alone (plus question texts and
HR-written events and actions, which are not results), and a cell the manifest hides becomes
``None`` (a gap), never a number; so does a uniform cell's mean, which keeps only its coded
index as text. A unit missing from a round's snapshot is marked absent, not hidden. Every
figure is read through :func:`_cell`, which returns nothing for a hidden unit or a theme the
manifest did not publish; a comparison or a movement needs two exact published cells.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .disclosure import ABSENT_TEXT, HIDDEN_TEXT
from .questions import LIKERT_LABELS, NPS_MAX, NPS_MIN, Item
from .scoring import index_bounds

if TYPE_CHECKING:  # charts imports matplotlib; pages that only read tables must not
    from .charts import TrendPoint, TrendSeries

Manifest = Mapping[str, Any]

Z95 = 1.96  # two-sided 95 % normal quantile: standard errors from 95 % interval half-widths
MOVEMENTS_SHOWN = 3
ENPS = "enps"
MINUS = "\u2212"  # a real minus sign: screen readers say "minus", not "dash"
COMMENT_QUERY_MAX_CHARS = 100
# Heatmap colours show the difference from the organisation; the scale's half-width is the
# largest difference on a 0-100 index, rounded up to a step and kept within these bounds
# (eNPS differences beyond it take the end colours; their numbers are still printed).
HEATMAP_SPAN_STEP = 5.0
HEATMAP_MIN_SPAN = 5.0
HEATMAP_MAX_SPAN = 25.0
AGREEMENT_LOW = 0.7  # r_wg(J) below this: people in the group disagree with each other
TOO_LOW_TO_INTERPRET = "too low to interpret"
GROUP_DISAGREES = "people in this group disagree"
# Colours of answer options in the distribution bars: ColorBrewer BrBG, brown for disagreement
# (or a detractor's rating), grey for the middle, teal for agreement (or a promoter's).
LIKERT_COLOURS = ("#8C510A", "#D8B365", "#D9D9D9", "#5AB4AC", "#01665E")
NPS_DETRACTOR_COLOURS = (
    "#543005",
    "#8C510A",
    "#A6611A",
    "#BF812D",
    "#D8B365",
    "#DFC27D",
    "#F6E8C3",
)
NPS_PASSIVE_COLOURS = ("#D9D9D9", "#BDBDBD")
NPS_PROMOTER_COLOURS = ("#5AB4AC", "#01665E")


# --- trends ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendRow:
    """One round of a trend as shown in the data table beside a chart."""

    round_label: str
    closed_on: str
    shown: bool
    n: int | None
    mean: float | None
    favourable: str
    ci_low: float | None
    ci_high: float | None
    coded_index: str = ""  # a uniform cell: its coded index ("≥ 90"), and why it is coded
    coded: str = ""
    absent: bool = False  # the unit was not in this round's snapshot

    @property
    def status_text(self) -> str:
        """Return why the row has no exact figure ("" when it has one)."""
        if self.absent:
            return ABSENT_TEXT
        if not self.shown:
            return HIDDEN_TEXT
        if self.coded:
            return f"{self.coded_index} ({self.coded})"
        return ""


@dataclass(frozen=True)
class UnitChoice:
    """A unit that can be picked on the dashboard."""

    id: int
    path: str
    depth: int


@dataclass(frozen=True)
class Event:
    """Something HR marked on the timeline: an ISO date and a short label."""

    on: str
    label: str


def theme_scale(theme: str) -> tuple[float, float, str]:
    """Return the y range and axis label for a theme's index."""
    low, high = index_bounds(theme)
    return (low, high, "eNPS (-100 to 100)" if theme == ENPS else "Index (0-100)")


def _unit(manifest: Manifest, unit_id: int) -> Mapping[str, Any] | None:
    for unit in manifest["units"]:
        if unit["id"] == unit_id:
            return unit  # type: ignore[no-any-return]
    return None


def _cell(unit: Mapping[str, Any] | None, theme: str) -> Mapping[str, Any] | None:
    """Return a unit's published cell for ``theme``, or None if the unit or the cell is hidden."""
    if unit is None or not unit["shown"]:
        return None
    cell = unit["themes"].get(theme)
    return cell  # type: ignore[no-any-return]


def _tick(manifest: Manifest) -> str:
    closed = manifest["round"]["closed_on"]
    try:
        day = dt.date.fromisoformat(closed).strftime("%d %b")
    except ValueError:
        day = closed
    return f"{manifest['round']['label']}\n{day}"


def asked(manifest: Manifest, theme: str) -> bool:
    """Return whether a round asked about ``theme`` (rotating themes skip some rounds)."""
    return any(t["key"] == theme for t in manifest["themes"])


def _row(manifest: Manifest, unit: Mapping[str, Any] | None, theme: str) -> TrendRow:
    cell = _cell(unit, theme)
    return TrendRow(
        round_label=manifest["round"]["label"],
        closed_on=manifest["round"]["closed_on"],
        shown=cell is not None,
        n=cell["n"] if cell else None,
        mean=cell["mean"] if cell else None,
        favourable=cell["favourable_text"] if cell else "",
        ci_low=cell["ci_low"] if cell else None,
        ci_high=cell["ci_high"] if cell else None,
        coded_index=str(cell.get("mean_text", "")) if cell else "",
        coded=str(cell.get("coded", "")) if cell else "",
        absent=unit is None,
    )


def trend_point(tick: str, row: TrendRow) -> TrendPoint:
    """Return a row as a chart point: a gap labelled with its coded index, "absent" or hidden."""
    from .charts import TrendPoint

    note = ABSENT_TEXT if row.absent else row.coded_index
    return TrendPoint(tick, row.mean, row.ci_low, row.ci_high, note)


def trend_rows(manifests: Sequence[Manifest], unit_id: int, theme: str) -> list[TrendRow]:
    """Return one row per released round that asked about ``theme``, for ``unit_id``."""
    return [_row(m, _unit(m, unit_id), theme) for m in manifests if asked(m, theme)]


def place_events(closed_on: Sequence[str], events: Iterable[Event]) -> tuple[tuple[int, str], ...]:
    """Return (round index, label) for each event, placed at the first round closing on or after it.

    ``closed_on`` holds the ISO closing dates of the rounds on the chart, oldest first. An
    event after the last of them is not placed (it belongs to a round not released yet).
    """
    placed = []
    for event in sorted(events, key=lambda e: (e.on, e.label)):
        index = next((i for i, closed in enumerate(closed_on) if closed >= event.on), None)
        if index is not None:
            placed.append((index, event.label))
    return tuple(placed)


def trend_series(
    manifests: Sequence[Manifest],
    unit_id: int,
    theme: str,
    theme_label: str,
    unit_path: str,
    events: Sequence[Event] = (),
    reference: float | None = None,
) -> TrendSeries:
    """Return the chart input for one unit and theme over all released rounds."""
    from .charts import TrendSeries

    low, high, label = theme_scale(theme)
    measured = [m for m in manifests if asked(m, theme)]
    points = tuple(
        trend_point(_tick(m), row)
        for m, row in zip(measured, trend_rows(manifests, unit_id, theme), strict=True)
    )
    return TrendSeries(
        title=f"{theme_label} — {unit_path}",
        y_label=label,
        y_min=low,
        y_max=high,
        points=points,
        reference=reference,
        events=place_events([m["round"]["closed_on"] for m in measured], events),
    )


def unit_choices(manifests: Sequence[Manifest]) -> list[UnitChoice]:
    """Return units shown in at least one release, with the newest path each had."""
    latest: dict[int, UnitChoice] = {}
    for manifest in manifests:
        for unit in manifest["units"]:
            if unit["shown"]:
                latest[unit["id"]] = UnitChoice(unit["id"], unit["path"], unit["depth"])
    return sorted(latest.values(), key=lambda u: u.path)


def round_units(manifest: Manifest) -> list[UnitChoice]:
    """Return the units one release shows, in path order."""
    return sorted(
        (UnitChoice(u["id"], u["path"], u["depth"]) for u in manifest["units"] if u["shown"]),
        key=lambda u: u.path,
    )


def themes_of(manifests: Sequence[Manifest]) -> list[tuple[str, str]]:
    """Return (key, label) of every theme reported in any release, in question-bank order.

    Rounds list their themes in bank order but rotating themes skip rounds, so a theme first
    seen later is placed before the next theme of its round that is already known.
    """
    order: list[str] = []
    labels: dict[str, str] = {}
    for manifest in manifests:
        keys = [t["key"] for t in manifest["themes"]]
        for position, theme in enumerate(manifest["themes"]):
            key = theme["key"]
            labels.setdefault(key, theme["label"])
            if key in order:
                continue
            later = next((k for k in keys[position + 1 :] if k in order), None)
            order.insert(order.index(later) if later else len(order), key)
    return [(key, labels[key]) for key in order]


def root_unit(manifests: Sequence[Manifest]) -> int | None:
    """Return the organisation's unit id in the newest release."""
    if not manifests:
        return None
    for unit in manifests[-1]["units"]:
        if unit["parent"] is None:
            return int(unit["id"])
    return None


def manifest_by_number(manifests: Sequence[Manifest], number: int) -> int | None:
    """Return the index in ``manifests`` of the round numbered ``number``, or None."""
    return next((i for i, m in enumerate(manifests) if m["round"]["number"] == number), None)


def subtree(manifest: Manifest, unit_id: int) -> set[int]:
    """Return the ids of ``unit_id`` and every unit below it in one release's tree."""
    children: dict[int | None, list[int]] = {}
    for unit in manifest["units"]:
        children.setdefault(unit["parent"], []).append(unit["id"])
    found, stack = set(), [unit_id]
    while stack:
        node = stack.pop()
        if node not in found:
            found.add(node)
            stack.extend(children.get(node, []))
    return found


@dataclass(frozen=True)
class BandRow:
    """One attribute band of a unit in one round: shown with figures, or hidden."""

    band: str
    shown: bool
    n: int | None
    means: dict[str, float]
    coded: dict[str, str] = field(default_factory=dict)  # theme -> coded index of a uniform cell


def band_rows(manifest: Manifest, unit_id: int) -> list[BandRow]:
    """Return the attribute-band breakdown of ``unit_id`` in one manifest (may be empty)."""
    rows = []
    for cell in manifest.get("attributes", {}).get("cells", []):
        if cell["unit"] != unit_id:
            continue
        rows.append(
            BandRow(
                band=cell["band"],
                shown=cell["shown"],
                n=cell.get("n") if cell["shown"] else None,
                means={k: v["mean"] for k, v in cell["themes"].items() if v["mean"] is not None}
                if cell["shown"]
                else {},
                coded={
                    k: str(v["mean_text"])
                    for k, v in cell["themes"].items()
                    if v["mean"] is None and "mean_text" in v
                }
                if cell["shown"]
                else {},
            )
        )
    return rows


# --- numbers in words ------------------------------------------------------------------------


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


def _scale_words(theme: str) -> str:
    return "on a scale from −100 to +100" if theme == ENPS else "out of 100"


@dataclass(frozen=True)
class Change:
    """A change between two published measurements and whether it exceeds its uncertainty.

    ``threshold`` is 1.96·sqrt(se₁² + se₂²) with each standard error taken from its 95 %
    interval's half-width; ``clear`` says the change is larger than that.
    """

    delta: float
    threshold: float
    clear: bool

    @property
    def direction(self) -> str:
        """Return "up", "down" or "same" as rounded for display."""
        shown = format_delta(self.delta)
        return "same" if shown == "0" else ("up" if self.delta > 0 else "down")

    @property
    def text(self) -> str:
        """Return the change as printed, with its sign (+4, −3, 0)."""
        return format_delta(self.delta)


def _standard_error(row: TrendRow) -> float | None:
    if row.ci_low is None or row.ci_high is None:
        return None
    return (row.ci_high - row.ci_low) / (2 * Z95)


def change_between(previous: TrendRow, current: TrendRow) -> Change | None:
    """Return the change from ``previous`` to ``current``, or None unless both are published."""
    if previous.mean is None or current.mean is None:
        return None
    se_prev, se_cur = _standard_error(previous), _standard_error(current)
    if se_prev is None or se_cur is None:
        return None
    delta = current.mean - previous.mean
    threshold = Z95 * math.sqrt(se_prev**2 + se_cur**2)
    return Change(delta=delta, threshold=threshold, clear=abs(delta) > threshold)


def _change_words(change: Change) -> str:
    if change.direction == "same":
        return "about the same as"
    amount = format_delta(change.delta).lstrip("+" + MINUS)
    return f"{change.direction} {amount} since"


def _certainty_words(change: Change) -> str:
    if change.clear:
        return "larger than its uncertainty, so probably a real change"
    return "within its uncertainty, so it may be chance"


# --- overview --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """One theme's latest measurement for a unit, the change since the one before, in words."""

    theme: str
    label: str
    current: TrendRow
    previous: TrendRow | None
    change: Change | None
    in_latest: bool
    value_text: str
    sentence: str

    @property
    def interval_text(self) -> str:
        """Return the 95 % interval of the current measurement as printed ("" if hidden)."""
        low, high = self.current.ci_low, self.current.ci_high
        if low is None or high is None:
            return ""
        separator = " to " if high < 0 else "–"  # "−39 to −12" reads better than "−39–−12"
        return f"{format_index(self.theme, low)}{separator}{format_index(self.theme, high)}"


@dataclass(frozen=True)
class Movement:
    """A change of one theme in one unit between two published measurements."""

    theme: str
    label: str
    unit_id: int
    unit_path: str
    previous: TrendRow
    current: TrendRow
    change: Change
    sentence: str


@dataclass(frozen=True)
class Overview:
    """The latest released round of a programme at a glance, for one unit and those below it."""

    round_label: str
    closed_on: str
    rounds: int
    unit_id: int
    unit_path: str
    participation: int | None
    participation_sentence: str
    headlines: tuple[Headline, ...]
    movements: tuple[Movement, ...]
    movements_sentence: str


def _measured(manifests: Sequence[Manifest], theme: str) -> list[Manifest]:
    return [m for m in manifests if asked(m, theme)]


def headline(
    manifests: Sequence[Manifest], unit_id: int, theme: str, label: str
) -> Headline | None:
    """Return ``theme``'s latest measurement for ``unit_id``, or None if it was never asked."""
    measured = _measured(manifests, theme)
    if not measured:
        return None
    current = _row(measured[-1], _unit(measured[-1], unit_id), theme)
    previous = (
        _row(measured[-2], _unit(measured[-2], unit_id), theme) if len(measured) > 1 else None
    )
    in_latest = measured[-1] is manifests[-1]
    change = change_between(previous, current) if previous else None
    when = current.round_label if in_latest else f"{current.round_label}, when it was last asked"
    if current.coded:
        return Headline(
            theme,
            label,
            current,
            previous,
            None,
            in_latest,
            current.coded_index,
            f"{label} is {current.coded_index} {_scale_words(theme)} in {when}: "
            f"{current.coded}, so no exact figure is published.",
        )
    if current.mean is None:
        return Headline(
            theme,
            label,
            current,
            previous,
            None,
            in_latest,
            current.status_text,
            f"{label} in {when}: {current.status_text}.",
        )
    value = format_index(theme, current.mean)
    sentence = f"{label} is {value} {_scale_words(theme)} in {when}"
    if previous is None:
        sentence += ", the first time it was measured."
    elif change is None:
        sentence += f"; no comparison with {previous.round_label}: {previous.status_text}."
    else:
        before = format_index(theme, previous.mean or 0.0)
        sentence += (
            f", {_change_words(change)} {previous.round_label} ({before}): "
            f"{_certainty_words(change)}."
        )
    return Headline(theme, label, current, previous, change, in_latest, value, sentence)


def headlines(
    manifests: Sequence[Manifest], unit_id: int, themes: Sequence[tuple[str, str]] | None = None
) -> list[Headline]:
    """Return a headline per theme of the programme, in question-bank order."""
    found = []
    for key, label in themes if themes is not None else themes_of(manifests):
        item = headline(manifests, unit_id, key, label)
        if item is not None:
            found.append(item)
    return found


def _scaled(theme: str, delta: float) -> float:
    """Return a change as a share of its theme's range, so eNPS (twice as wide) compares fairly."""
    low, high, _ = theme_scale(theme)
    return abs(delta) / (high - low)


def movements(
    manifests: Sequence[Manifest],
    unit_ids: Collection[int],
    themes: Sequence[tuple[str, str]] | None = None,
    limit: int = MOVEMENTS_SHOWN,
) -> list[Movement]:
    """Return the largest changes between each theme's last two measurements.

    Only units in ``unit_ids`` count, and only where both measurements are published. Changes
    are ranked by size relative to the theme's range.
    """
    candidates = []
    for key, label in themes if themes is not None else themes_of(manifests):
        measured = _measured(manifests, key)
        if len(measured) < 2:
            continue
        before_m, after_m = measured[-2], measured[-1]
        before_units = {u["id"]: u for u in before_m["units"]}
        for unit in after_m["units"]:
            if unit["id"] not in unit_ids:
                continue
            current = _row(after_m, unit, key)
            previous = _row(before_m, before_units.get(unit["id"]), key)
            change = change_between(previous, current)
            if change is None or change.direction == "same":
                continue
            rank = (-_scaled(key, change.delta), str(unit["path"]), key)
            candidates.append((rank, key, label, unit, previous, current, change))
    candidates.sort(key=lambda c: c[0])
    found = []
    for _, key, label, unit, previous, current, change in candidates[:limit]:
        sentence = (
            f"{label} in {unit['path']}: {_change_words(change).replace(' since', '')} "
            f"from {format_index(key, previous.mean or 0.0)} in {previous.round_label} to "
            f"{format_index(key, current.mean or 0.0)} in {current.round_label}, "
            f"{_certainty_words(change)}."
        )
        found.append(
            Movement(key, label, unit["id"], unit["path"], previous, current, change, sentence)
        )
    return found


def overview(
    manifests: Sequence[Manifest], unit_id: int, themes: Sequence[tuple[str, str]] | None = None
) -> Overview:
    """Return the overview of the newest of ``manifests`` for ``unit_id`` and the units below it."""
    latest = manifests[-1]
    themes = list(themes) if themes is not None else themes_of(manifests)
    # The newest path the unit had (a unit missing from the latest release keeps its old one).
    path = next(
        (str(u["path"]) for m in reversed(manifests) if (u := _unit(m, unit_id)) is not None), ""
    )
    pct = latest.get("participation", {}).get("org_pct_rounded")
    if pct is None:
        taking_part = (
            f"Participation is not published for {latest['round']['label']}: {HIDDEN_TEXT}."
        )
    else:
        taking_part = (
            f"About {pct} % of the people invited across the organisation took part in "
            f"{latest['round']['label']}."
        )
    moves = movements(manifests, subtree(latest, unit_id), themes)
    if moves:
        moved = (
            f"The {len(moves)} largest changes since each theme's previous measurement, among "
            f"{path} and the units below it that were shown both times:"
        )
    else:
        moved = "No change can be compared yet: that needs two published measurements."
    return Overview(
        round_label=latest["round"]["label"],
        closed_on=latest["round"]["closed_on"],
        rounds=len(manifests),
        unit_id=unit_id,
        unit_path=path,
        participation=pct,
        participation_sentence=taking_part,
        headlines=tuple(headlines(manifests, unit_id, themes)),
        movements=tuple(moves),
        movements_sentence=moved,
    )


# --- heatmap ---------------------------------------------------------------------------------


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

    def chart_input(self) -> dict[str, Any]:
        """Return the arguments of ``charts.HeatmapData``: differences, centred on zero.

        The organisation's own row (all zeros) is left out; its values are in the column labels.
        """
        rows = [r for r in self.rows if r.path != self.org_path]
        return {
            "title": self.title,
            "rows": tuple(r.label for r in rows),
            "columns": tuple(
                (f"{c.label} (org {c.org_text})" if c.org_text else c.label)
                if c.org_value is None
                else f"{c.label} (org {format_index(c.key, c.org_value)})"
                for c in self.columns
            ),
            "values": tuple(
                tuple(None if c is None else c.difference for c in r.cells) for r in rows
            ),
            "notes": tuple(
                tuple("" if c is None or c.value is not None else c.value_text for c in r.cells)
                for r in rows
            ),
            "centre": 0.0,
            "span": self.span,
        }


def heatmap(manifest: Manifest, scope: int | None = None, max_depth: int | None = None) -> Heatmap:
    """Return the heatmap of one release: ``scope`` and the units below it (default: all).

    Hidden units are rows of hidden cells; so is a shown unit's theme the manifest left out.
    """
    units = manifest["units"]
    root = next(u for u in units if u["parent"] is None)
    wanted = subtree(manifest, scope) if scope is not None else {u["id"] for u in units}
    columns: list[HeatmapColumn] = []
    for theme in manifest["themes"]:
        org_cell = _cell(root, theme["key"])
        org_value = None if org_cell is None or org_cell["mean"] is None else org_cell["mean"]
        org_text = "" if org_cell is None else str(org_cell.get("mean_text", ""))
        columns.append(HeatmapColumn(theme["key"], theme["label"], org_value, org_text))
    rows = []
    for unit in sorted(units, key=lambda u: u["path"]):
        if unit["id"] not in wanted or (max_depth is not None and unit["depth"] > max_depth):
            continue
        cells: list[HeatmapCell | None] = []
        for column in columns:
            cell = _cell(unit, column.key)
            if cell is None:
                cells.append(None)
                continue
            if cell["mean"] is None:
                cells.append(
                    HeatmapCell(None, None, str(cell["mean_text"]), "", str(cell["coded"]))
                )
                continue
            value = float(cell["mean"])
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
                unit["id"],
                unit["path"],
                _below(root["path"], unit["path"]),
                unit["depth"],
                bool(unit["shown"]),
                unit.get("n") if unit["shown"] else None,
                tuple(cells),
            )
        )
    index_diffs = [
        abs(c.difference)
        for r in rows
        for c, col in zip(r.cells, columns, strict=True)
        if c is not None and c.difference is not None and col.key != ENPS
    ]
    widest = max(index_diffs, default=0.0)
    span = min(
        HEATMAP_MAX_SPAN,
        max(HEATMAP_MIN_SPAN, HEATMAP_SPAN_STEP * math.ceil(widest / HEATMAP_SPAN_STEP)),
    )
    label = manifest["round"]["label"]
    title = f"Difference from {root['path']}, {label}"
    made = Heatmap(
        label,
        manifest["round"]["closed_on"],
        root["path"],
        tuple(columns),
        tuple(rows),
        span,
        title,
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
        f"{data.title}: {len(data.columns)} themes for {len(rows)} units, each cell the unit's "
        f"value minus the organisation's ({len(rows) * len(data.columns)} cells)."
    ]
    if hidden:
        sentences.append(f"{hidden} of {total} cells are {HIDDEN_TEXT}.")
    if coded:
        sentences.append(
            f"{len(coded)} of {total} cells show a coded index, not an exact one: {coded[0]}."
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


# --- answer distributions and scale quality --------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """One answer option of a distribution bar: count, share and where it sits (0-100)."""

    label: str
    count: int
    pct: float
    start: float
    colour: str


@dataclass(frozen=True)
class ItemDistribution:
    """How a group answered one question."""

    key: str
    text: str
    theme: str
    scale: str
    reverse: bool
    n: int
    segments: tuple[Segment, ...]
    sentence: str
    coded: str = ""  # a uniform item: its answers are not published, and this says why


@dataclass(frozen=True)
class QualityRow:
    """Cronbach's alpha and r_wg(J) of one multi-item theme, with what they mean."""

    theme: str
    label: str
    items: int
    alpha: float | None
    agreement: float | None
    flags: tuple[str, ...]


def _segments(
    counts: Sequence[int], labels: Sequence[str], colours: Sequence[str]
) -> tuple[Segment, ...]:
    total = sum(counts)
    out, start = [], 0.0
    for count, label, colour in zip(counts, labels, colours, strict=True):
        pct = 100.0 * count / total if total else 0.0
        out.append(Segment(label, count, round(pct, 1), round(start, 2), colour))
        start += pct
    return tuple(out)


def answer_labels(item: Item) -> tuple[str, ...]:
    """Return the label of each answer option of ``item``, lowest first."""
    if item.scale == "nps":
        return tuple(str(v) for v in range(NPS_MIN, NPS_MAX + 1))
    return LIKERT_LABELS


def _distribution_sentence(item: Item, counts: Sequence[int]) -> str:
    total = sum(counts)
    if item.scale == "nps":
        promoters = sum(counts[9:])
        detractors = sum(counts[:7])
        return (
            f"{total} answers: {100 * promoters / total:.0f} % promoters (9-10), "
            f"{100 * detractors / total:.0f} % detractors (0-6)."
        )
    agree, disagree = counts[3] + counts[4], counts[0] + counts[1]
    sentence = (
        f"{total} answers: {100 * agree / total:.0f} % agree or strongly agree, "
        f"{100 * disagree / total:.0f} % disagree or strongly disagree."
    )
    if item.reverse:
        sentence += " The statement is negative: agreeing with it is the less healthy answer."
    return sentence


def distributions(
    manifest: Manifest, unit_id: int, items: Sequence[Item]
) -> list[ItemDistribution]:
    """Return the published answer distributions of a unit, in question order (may be empty).

    Distributions exist only for units the release marked distribution-safe (see the manifest);
    an item of ``items`` the manifest has no counts for is left out.
    """
    unit = _unit(manifest, unit_id)
    if unit is None or not unit["shown"]:
        return []
    published = unit.get("distributions") or {}
    coded = unit.get("distributions_coded") or {}
    out = []
    for item in items:
        if item.key in coded:
            why = str(coded[item.key]["coded"])
            n = int(coded[item.key]["n"])
            out.append(
                ItemDistribution(
                    item.key,
                    item.text,
                    item.theme,
                    item.scale,
                    item.reverse,
                    n,
                    (),
                    f"{n} answers, {why}: how they answered is not published.",
                    why,
                )
            )
            continue
        counts = published.get(item.key)
        if not counts or sum(counts) == 0:
            continue
        labels = answer_labels(item)
        if len(counts) != len(labels):
            continue
        colours = (
            NPS_DETRACTOR_COLOURS + NPS_PASSIVE_COLOURS + NPS_PROMOTER_COLOURS
            if item.scale == "nps"
            else LIKERT_COLOURS
        )
        out.append(
            ItemDistribution(
                item.key,
                item.text,
                item.theme,
                item.scale,
                item.reverse,
                sum(counts),
                _segments(counts, labels, colours),
                _distribution_sentence(item, counts),
            )
        )
    return out


def scale_quality(manifest: Manifest, unit_id: int) -> list[QualityRow]:
    """Return alpha and agreement per multi-item theme of a unit, flagged where weak."""
    unit = _unit(manifest, unit_id)
    if unit is None or not unit["shown"]:
        return []
    labels = {t["key"]: t["label"] for t in manifest["themes"]}
    quality = unit.get("scale_quality") or {}
    rows = []
    for key in labels:
        if key not in quality:
            continue
        q = quality[key]
        flags = []
        if not q["interpretable"]:
            flags.append(TOO_LOW_TO_INTERPRET)
        if q["agreement"] is not None and q["agreement"] < AGREEMENT_LOW:
            flags.append(GROUP_DISAGREES)
        rows.append(
            QualityRow(key, labels[key], q["items"], q["alpha"], q["agreement"], tuple(flags))
        )
    return rows


# --- comments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommentGroup:
    """A published group of comments, with those matching the search."""

    unit: int
    label: str
    count: int
    texts: tuple[str, ...]


def normalise_query(query: str) -> str:
    """Return a search query trimmed, on one line and at most COMMENT_QUERY_MAX_CHARS long."""
    return re.sub(r"\s+", " ", query).strip()[:COMMENT_QUERY_MAX_CHARS]


def comment_groups(manifest: Manifest, query: str = "") -> list[CommentGroup]:
    """Return the manifest's comment groups, each with its texts containing ``query``.

    The match is a case-insensitive substring test over the published (already masked)
    texts; ``count`` is the manifest's own count, so a search reveals nothing it does not hold.
    """
    needle = normalise_query(query).casefold()
    groups = []
    for group in manifest.get("comments", []):
        texts = tuple(t for t in group["texts"] if needle in t.casefold())
        groups.append(CommentGroup(group["unit"], group["label"], group["count"], texts))
    return groups


# --- the printable report --------------------------------------------------------------------


@dataclass(frozen=True)
class ActionRow:
    """ "You said, we did": one thing done after the round, under a theme."""

    theme_label: str
    text: str
    recorded_on: str


@dataclass(frozen=True)
class ReportTrend:
    """One small multiple: a theme's trend for one unit, with events placed on its rounds."""

    unit_path: str
    theme: str
    theme_label: str
    y_min: float
    y_max: float
    ticks: tuple[str, ...]
    rows: tuple[TrendRow, ...]
    events: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Report:
    """Everything the printable report of one round draws, and nothing else."""

    program: str
    round_label: str
    closed_on: str
    k: int
    comment_k: int
    verdict: str
    overview: Overview
    trends: tuple[tuple[str, tuple[ReportTrend, ...]], ...]
    heatmap: Heatmap
    actions: tuple[ActionRow, ...]


def audit_verdict(manifest: Manifest) -> str:
    """Return the release's thresholds and audit verdict as a sentence."""
    k = int(manifest["k"])
    found = manifest["audit"]
    mode = "exact audit" if found["mode"] == "exact" else "audit over blocks of at least k people"
    outcome = (
        f"The disclosure check passed ({mode}): no group of 1 to {k - 1} people can be worked "
        f"out from the {found['cells']} published cells"
        if found["ok"]
        else "The disclosure check did not pass"
    )
    return (
        f"Every figure describes at least k = {k} respondents; comments are shown only for "
        f"groups of at least {manifest['comment_k']}. {outcome}"
        f"{'' if found.get('exhaustive', True) else ' (search budget reached)'}."
    )


def report(
    manifests: Sequence[Manifest],
    number: int,
    actions: Sequence[ActionRow] = (),
    events: Sequence[Event] = (),
    max_depth: int = 1,
) -> Report:
    """Return the contents of the printable report of round ``number``.

    Only rounds up to and including it are used, and only the organisation and units down to
    ``max_depth`` (departments), as leadership sees them.

    :raises KeyError: if no released round has that number.
    """
    index = manifest_by_number(manifests, number)
    if index is None:
        raise KeyError(number)
    upto = list(manifests[: index + 1])
    manifest = upto[-1]
    themes = themes_of(upto)
    root = next(u for u in manifest["units"] if u["parent"] is None)
    trends = []
    for unit in sorted(manifest["units"], key=lambda u: u["path"]):
        if not unit["shown"] or unit["depth"] > max_depth:
            continue
        panels = []
        for key, label in themes:
            measured = _measured(upto, key)
            low, high, _ = theme_scale(key)
            panels.append(
                ReportTrend(
                    unit["path"],
                    key,
                    label,
                    low,
                    high,
                    tuple(m["round"]["label"] for m in measured),
                    tuple(trend_rows(upto, unit["id"], key)),
                    place_events([m["round"]["closed_on"] for m in measured], events),
                )
            )
        trends.append((unit["path"], tuple(panels)))
    return Report(
        program=str(manifest["round"]["program"]),
        round_label=manifest["round"]["label"],
        closed_on=manifest["round"]["closed_on"],
        k=int(manifest["k"]),
        comment_k=int(manifest["comment_k"]),
        verdict=audit_verdict(manifest),
        overview=overview(upto, int(root["id"]), themes),
        trends=tuple(trends),
        heatmap=heatmap(manifest, max_depth=max_depth),
        actions=tuple(actions),
    )
