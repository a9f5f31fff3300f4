"""CSV export of released results.

Invariant: the export is a pure function of release manifests. A hidden row carries no
numbers and the one neutral status (``disclosure.HIDDEN_TEXT``); a uniform cell carries its
coded index in the mean column, no interval, and says why; every text cell that a spreadsheet
could read as a formula is neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from .disclosure import HIDDEN_TEXT

CSV_COLUMNS = (
    "round",
    "closed_on",
    "unit_path",
    "theme",
    "n",
    "mean",
    "favourable_pct",
    "ci_low",
    "ci_high",
    "status",
)
FORMULA_LEADERS = ("=", "+", "-", "@", "\t", "\r", "\n")
STATUS_SHOWN = "shown"


def neutralise(cell: str) -> str:
    """Return ``cell`` so that no spreadsheet evaluates it as a formula (OWASP CSV injection)."""
    if cell.startswith(FORMULA_LEADERS):
        return "'" + cell
    return cell


def _number(value: Any) -> str:
    return "" if value is None else f"{float(value):.1f}"


def _favourable(cell: Mapping[str, Any]) -> str:
    """Return the favourable share, or its coded form where the manifest coded it."""
    if cell.get("favourable_pct") is None:
        return str(cell.get("favourable_text", ""))
    return _number(cell["favourable_pct"])


def manifest_rows(manifest: Mapping[str, Any]) -> Iterable[tuple[str, ...]]:
    """Yield one CSV row per unit and theme of one manifest, in unit then theme order."""
    round_info = manifest["round"]
    for unit in manifest["units"]:
        for theme in manifest["themes"]:
            cell = unit["themes"].get(theme["key"]) if unit["shown"] else None
            label = (
                neutralise(str(round_info["label"])),
                str(round_info["closed_on"]),
                neutralise(str(unit["path"])),
                neutralise(str(theme["key"])),
            )
            if cell is None:
                yield (*label, "", "", "", "", "", HIDDEN_TEXT)
                continue
            if cell["mean"] is None:  # uniform: the coded index, and why there is no interval
                yield (
                    *label,
                    str(cell["n"]),
                    neutralise(str(cell["mean_text"])),
                    neutralise(_favourable(cell)),
                    "",
                    "",
                    neutralise(str(cell["coded"])),
                )
                continue
            yield (
                *label,
                str(cell["n"]),
                _number(cell["mean"]),
                _favourable(cell),
                _number(cell["ci_low"]),
                _number(cell["ci_high"]),
                STATUS_SHOWN,
            )


def to_csv(manifests: Iterable[Mapping[str, Any]]) -> str:
    """Return the CSV text for several manifests, oldest round first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for manifest in manifests:
        writer.writerows(manifest_rows(manifest))
    return out.getvalue()


# "link" carries the code in the fragment; "entry_url" is the page where "code" can be typed.
LINK_COLUMNS = ("email", "name", "link", "code", "entry_url")


def links_csv(rows: Iterable[tuple[str, str, str, str, str]]) -> str:
    """Return invitation links as CSV for a mail merge, text cells neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LINK_COLUMNS)
    writer.writerows(tuple(neutralise(cell) for cell in row) for row in rows)
    return out.getvalue()
