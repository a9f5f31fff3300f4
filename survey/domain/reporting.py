"""Read-only views of release manifests: trends and tables for pages, charts and exports.

Invariant: everything here is computed from manifests alone, and a cell the manifest hides
becomes ``None`` (a gap), never a number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # charts imports matplotlib; pages that only read tables must not
    from .charts import TrendSeries

Manifest = Mapping[str, Any]


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


@dataclass(frozen=True)
class UnitChoice:
    """A unit that can be picked on the dashboard."""

    id: int
    path: str
    depth: int


def theme_scale(theme: str) -> tuple[float, float, str]:
    """Return the y range and axis label for a theme's index."""
    if theme == "enps":
        return (-100.0, 100.0, "eNPS (-100 to 100)")
    return (0.0, 100.0, "Index (0-100)")


def _unit(manifest: Manifest, unit_id: int) -> Mapping[str, Any] | None:
    for unit in manifest["units"]:
        if unit["id"] == unit_id:
            return unit  # type: ignore[no-any-return]
    return None


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


def trend_rows(manifests: Sequence[Manifest], unit_id: int, theme: str) -> list[TrendRow]:
    """Return one row per released round that asked about ``theme``, for ``unit_id``."""
    rows = []
    for manifest in manifests:
        if not asked(manifest, theme):
            continue
        unit = _unit(manifest, unit_id)
        cell = unit["themes"].get(theme) if unit and unit["shown"] else None
        rows.append(
            TrendRow(
                round_label=manifest["round"]["label"],
                closed_on=manifest["round"]["closed_on"],
                shown=cell is not None,
                n=cell["n"] if cell else None,
                mean=cell["mean"] if cell else None,
                favourable=cell["favourable_text"] if cell else "",
                ci_low=cell["ci_low"] if cell else None,
                ci_high=cell["ci_high"] if cell else None,
            )
        )
    return rows


def trend_series(
    manifests: Sequence[Manifest], unit_id: int, theme: str, theme_label: str, unit_path: str
) -> TrendSeries:
    """Return the chart input for one unit and theme over all released rounds."""
    from .charts import TrendPoint, TrendSeries

    low, high, label = theme_scale(theme)
    measured = [m for m in manifests if asked(m, theme)]
    points = tuple(
        TrendPoint(_tick(m), row.mean, row.ci_low, row.ci_high)
        for m, row in zip(measured, trend_rows(manifests, unit_id, theme), strict=True)
    )
    return TrendSeries(
        title=f"{theme_label} — {unit_path}",
        y_label=label,
        y_min=low,
        y_max=high,
        points=points,
    )


def unit_choices(manifests: Sequence[Manifest]) -> list[UnitChoice]:
    """Return units shown in at least one release, with the newest path each had."""
    latest: dict[int, UnitChoice] = {}
    for manifest in manifests:
        for unit in manifest["units"]:
            if unit["shown"]:
                latest[unit["id"]] = UnitChoice(unit["id"], unit["path"], unit["depth"])
    return sorted(latest.values(), key=lambda u: u.path)


def themes_of(manifests: Sequence[Manifest]) -> list[tuple[str, str]]:
    """Return (key, label) of every theme reported in any release, in first-seen order."""
    seen: dict[str, str] = {}
    for manifest in manifests:
        for theme in manifest["themes"]:
            seen.setdefault(theme["key"], theme["label"])
    return list(seen.items())


def root_unit(manifests: Sequence[Manifest]) -> int | None:
    """Return the organisation's unit id in the newest release."""
    if not manifests:
        return None
    for unit in manifests[-1]["units"]:
        if unit["parent"] is None:
            return int(unit["id"])
    return None


@dataclass(frozen=True)
class BandRow:
    """One attribute band of a unit in one round: shown with figures, or hidden."""

    band: str
    shown: bool
    n: int | None
    means: dict[str, float]


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
                means={k: v["mean"] for k, v in cell["themes"].items()} if cell["shown"] else {},
            )
        )
    return rows
