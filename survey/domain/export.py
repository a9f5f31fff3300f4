"""CSV export of released results.

Invariant: the export is a pure function of typed release manifests and prints only what they
publish: per unit its participation and each theme's figures, and the tenure cells the release
published, all under their labels (never keys). A hidden row carries no numbers and the one
neutral status (``disclosure.HIDDEN_TEXT``); a uniform cell carries its coded index in the
mean column, no interval, and says why; every text cell that a spreadsheet could read as a
formula is neutralised. A release with differential privacy on adds, above the column
header, one line stating its budget per release and per year (see :mod:`.noise`), and prints
its noisy figures as the whole numbers they are; with it off the CSV is unchanged.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence

from .disclosure import HIDDEN_TEXT
from .manifest import Manifest, ThemeCell
from .noise import DP_TEXT, spent
from .reporting.bands import band_key

CSV_COLUMNS = (
    "round",
    "closed_on",
    "unit_path",
    "tenure",
    "theme",
    "n",
    "mean",
    "favourable_pct",
    "ci_low",
    "ci_high",
    "participation_pct",
    "status",
)
FORMULA_LEADERS = ("=", "+", "-", "@", "\t", "\r", "\n")
STATUS_SHOWN = "shown"
PARTICIPATION_LABEL = "Participation"
FILENAME_MAX_CHARS = 60


def neutralise(cell: str) -> str:
    """Return ``cell`` so that no spreadsheet evaluates it as a formula (OWASP CSV injection)."""
    if cell.startswith(FORMULA_LEADERS):
        return "'" + cell
    return cell


def _number(value: float | None) -> str:
    return "" if value is None else f"{float(value):.1f}"


def _favourable(cell: ThemeCell) -> str:
    """Return the favourable share, or its coded form where the manifest coded it."""
    if cell.favourable_pct is None:
        return cell.favourable_text
    return _number(cell.favourable_pct)


def _theme_row(label: tuple[str, ...], cell: ThemeCell | None) -> tuple[str, ...]:
    """Return one theme's figures after ``label``, or the hidden status without numbers."""
    if cell is None:
        return (*label, "", "", "", "", "", "", HIDDEN_TEXT)
    if cell.mean is None:  # uniform: the coded index, and why there is no interval
        return (
            *label,
            str(cell.n),
            neutralise(cell.mean_text or ""),
            neutralise(_favourable(cell)),
            "",
            "",
            "",
            neutralise(cell.coded or ""),
        )
    if cell.coded == DP_TEXT:  # noisy whole numbers (domain/noise.py), no interval
        share = (
            cell.favourable_text if cell.favourable_pct is None else f"{cell.favourable_pct:.0f}"
        )
        return (*label, str(cell.n), f"{cell.mean:.0f}", neutralise(share), "", "", "", DP_TEXT)
    return (
        *label,
        str(cell.n),
        _number(cell.mean),
        neutralise(_favourable(cell)),
        _number(cell.ci_low),
        _number(cell.ci_high),
        "",
        STATUS_SHOWN,
    )


def manifest_rows(manifest: Manifest) -> Iterable[tuple[str, ...]]:
    """Yield the CSV rows of one manifest: each unit's participation and themes, then tenure.

    Units come in path order, themes in the round's order, tenure bands in their natural order
    and only the tenure cells the release published.
    """
    when = (neutralise(manifest.round.label), manifest.round.closed_on)
    for unit in sorted(manifest.units, key=lambda u: u.path):
        where = (neutralise(unit.path), "")
        if unit.shown and unit.n is not None:
            pct = _number(unit.participation_pct)
            yield (
                *when,
                *where,
                PARTICIPATION_LABEL,
                str(unit.n),
                "",
                "",
                "",
                "",
                pct,
                STATUS_SHOWN,
            )
        else:
            yield (*when, *where, PARTICIPATION_LABEL, "", "", "", "", "", "", HIDDEN_TEXT)
        for theme in manifest.themes:
            cell = unit.themes.get(theme.key) if unit.shown else None
            yield _theme_row((*when, *where, neutralise(theme.label)), cell)
    cells = sorted(
        (c for c in manifest.attributes.cells if c.shown),
        key=lambda c: (c.path, band_key(c.band)),
    )
    for found in cells:
        where = (neutralise(found.path), neutralise(found.band))
        for theme in manifest.themes:
            yield _theme_row((*when, *where, neutralise(theme.label)), found.themes.get(theme.key))


def to_csv(manifests: Iterable[Manifest]) -> str:
    """Return the CSV text for several manifests, oldest round first."""
    manifests = list(manifests)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    noisy = [m for m in manifests if m.noise is not None]
    if noisy:
        releases = ", ".join(
            f"{m.round.label} \u03b5={m.noise.epsilon:g}" for m in noisy if m.noise
        )
        years = ", ".join(f"{y} \u03b5={e:g}" for y, e in sorted(spent(noisy).items()))
        writer.writerow([f"# differential privacy: {releases}; per year: {years}"])
    writer.writerow(CSV_COLUMNS)
    for manifest in manifests:
        writer.writerows(manifest_rows(manifest))
    return out.getvalue()


def slug(text: str) -> str:
    """Return ``text`` as a lower-case ASCII file-name part ("Pulse 2026!" -> "pulse-2026")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:FILENAME_MAX_CHARS].strip("-")


def export_filename(program: str, manifests: Sequence[Manifest], fallback: str) -> str:
    """Return the CSV's file name: the programme's name and the rounds it holds.

    ``fallback`` names the programme when its name has no letters or digits in ASCII.
    """
    name = slug(program) or fallback
    if not manifests:
        return f"{name}-results.csv"
    first, last = manifests[0].round.number, manifests[-1].round.number
    rounds = f"R{first}" if first == last else f"R{first}-R{last}"
    return f"{name}-{rounds}-results.csv"


# "link" carries the code in the fragment; "entry_url" is the page where "code" can be typed.
LINK_COLUMNS = ("email", "name", "link", "code", "entry_url")


def links_csv(rows: Iterable[tuple[str, str, str, str, str]]) -> str:
    """Return invitation links as CSV for a mail merge, text cells neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LINK_COLUMNS)
    writer.writerows(tuple(neutralise(cell) for cell in row) for row in rows)
    return out.getvalue()
