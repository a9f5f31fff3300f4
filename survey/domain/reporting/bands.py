"""Attribute breakdowns: a unit's figures by tenure band, in the bands' natural order.

Invariant: a band the manifest hides has no figures; bands read in the roster's order
(``roster.KNOWN_BANDS``: <1y, 1-3y, 3y+, unstated), never alphabetically.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..manifest import Manifest
from ..roster import KNOWN_BANDS


@dataclass(frozen=True)
class BandRow:
    """One attribute band of a unit in one round: shown with figures, or hidden."""

    band: str
    shown: bool
    n: int | None
    means: dict[str, float]
    coded: dict[str, str] = field(default_factory=dict)  # theme -> coded index of a uniform cell


def band_key(band: str) -> tuple[int, str]:
    """Return a sort key putting known bands in the roster's order, any others after them."""
    known = KNOWN_BANDS.index(band) if band in KNOWN_BANDS else len(KNOWN_BANDS)
    return (known, band)


def in_band_order(bands: Iterable[str]) -> list[str]:
    """Return ``bands`` in their natural order."""
    return sorted(bands, key=band_key)


def band_rows(manifest: Manifest, unit_id: int) -> list[BandRow]:
    """Return the attribute-band breakdown of ``unit_id`` in one manifest (may be empty)."""
    rows = []
    for found in manifest.attributes.cells:
        if found.unit != unit_id:
            continue
        themes = found.themes if found.shown else {}
        rows.append(
            BandRow(
                band=found.band,
                shown=found.shown,
                n=found.n if found.shown else None,
                means={k: v.mean for k, v in themes.items() if v.mean is not None},
                coded={
                    k: v.mean_text
                    for k, v in themes.items()
                    if v.mean is None and v.mean_text is not None
                },
            )
        )
    return sorted(rows, key=lambda r: band_key(r.band))
