"""Reading a roster CSV: who is on it, in which unit, with which tenure band.

Invariant: a roster file describes the whole organisation at once; every line is either a
valid :class:`RosterRow` (email lower-cased, a path from the one root, a known tenure band) or
a :class:`~survey.domain.csvlines.LineError` naming its line and column, and a person listed
twice is kept on neither line. :func:`person_row` is the one validator of a person, for import
lines and browser edits alike. What applying the rows would change is
:mod:`survey.domain.roster_plan`'s to decide.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from .csvlines import CONTROL, FILE_COLUMN, HEADER_LINE, LineError, csv_records, join_numbers

# The tree's paths and rules live in roster_tree; re-exported because import lines use them.
from .roster_tree import PATH_SEPARATOR as PATH_SEPARATOR
from .roster_tree import Path as Path
from .roster_tree import format_path as format_path

UNSTATED_BAND = "unstated"
KNOWN_BANDS = ("<1y", "1-3y", "3y+", UNSTATED_BAND)
REQUIRED_COLUMNS = ("email", "unit")
OPTIONAL_COLUMNS = ("tenure", "name")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
MAX_ROWS = 50_000
MAX_SEGMENT_CHARS = 120  # OrgUnit.name
MAX_EMAIL_CHARS = 254  # Person.email
MAX_NAME_CHARS = 200  # Person.name

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")


@dataclass(frozen=True)
class RosterRow:
    """One valid person line: email lower-cased, unit path from the root, tenure band."""

    line: int
    email: str
    name: str
    unit_path: Path
    band: str


@dataclass(frozen=True)
class RosterParse:
    """The valid rows of a file and every problem found on its lines."""

    rows: tuple[RosterRow, ...]
    errors: tuple[LineError, ...]

    @property
    def ok(self) -> bool:
        """Return whether the file has no problem."""
        return not self.errors


def parse_roster(text: str, known_bands: tuple[str, ...] = KNOWN_BANDS) -> RosterParse:
    """Return the valid rows of a roster CSV and a plain-English error for every bad line.

    :param text: the whole file, already decoded; a leading byte-order mark is ignored.
    :param known_bands: the tenure bands a row may name; an empty cell means ``unstated``.
    """
    errors: list[LineError] = []
    records = csv_records(text.removeprefix("\ufeff"), errors)
    header = next(records, None)
    if header is None:
        if not errors:
            errors.append(LineError(HEADER_LINE, FILE_COLUMN, "The file is empty."))
        return RosterParse((), tuple(errors))
    columns = _columns(header[1], errors)
    if columns is None:
        return RosterParse((), tuple(sorted(errors)))
    bands = band_spellings(known_bands)
    rows: list[RosterRow] = []
    seen: dict[str, list[int]] = defaultdict(list)
    root: tuple[str, int] | None = None
    count = 0
    for line, cells in records:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are harmless
        count += 1
        if count > MAX_ROWS:
            errors.append(
                LineError(
                    line,
                    FILE_COLUMN,
                    f"The file has more than {MAX_ROWS:,} people, the most one import accepts.",
                )
            )
            break
        row = _row(line, cells, columns, bands, errors)
        if row is None:
            continue
        seen[row.email].append(line)
        if root is None:
            root = (row.unit_path[0], line)
        elif row.unit_path[0] != root[0]:
            errors.append(
                LineError(
                    line,
                    "unit",
                    f"The path starts at {row.unit_path[0]!r} but line {root[1]} starts at "
                    f"{root[0]!r}; every path must start at the same organisation.",
                )
            )
            continue
        rows.append(row)
    for email, lines in seen.items():
        if len(lines) > 1:
            where = join_numbers(lines)
            message = f"{email} appears on lines {where}; list each person once."
            errors.extend(LineError(line, "email", message) for line in lines)
    if not rows and not errors:
        errors.append(LineError(HEADER_LINE, FILE_COLUMN, "The file lists nobody."))
    duplicated = {email for email, lines in seen.items() if len(lines) > 1}
    valid = tuple(row for row in rows if row.email not in duplicated)
    return RosterParse(valid, tuple(sorted(set(errors))))


def _columns(header: list[str], errors: list[LineError]) -> dict[str, int] | None:
    """Return column name -> index from the header, or None (with errors) if it is unusable."""
    names = [cell.strip().casefold() for cell in header]
    columns: dict[str, int] = {}
    for index, name in enumerate(names):
        if name not in COLUMNS:
            shown = name or f"(empty, column {index + 1})"
            errors.append(
                LineError(
                    HEADER_LINE,
                    shown,
                    f"Unknown column {shown!r}; the columns are {', '.join(COLUMNS)}.",
                )
            )
        elif name in columns:
            errors.append(LineError(HEADER_LINE, name, f"The column {name!r} appears twice."))
        else:
            columns[name] = index
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        hint = " (columns must be separated by commas)" if any(";" in n for n in names) else ""
        errors.append(
            LineError(
                HEADER_LINE,
                FILE_COLUMN,
                f"The first line must name the columns; missing: {', '.join(missing)}{hint}.",
            )
        )
    return None if errors else columns


def _row(
    line: int,
    cells: list[str],
    columns: dict[str, int],
    bands: dict[str, str],
    errors: list[LineError],
) -> RosterRow | None:
    """Return the row on ``line``, or None after recording why it is invalid."""
    if len(cells) > len(columns):
        errors.append(
            LineError(
                line,
                FILE_COLUMN,
                f"This line has {len(cells)} values but the header has {len(columns)} columns; "
                "put double quotes around any value that contains a comma.",
            )
        )
        return None

    def cell(name: str) -> str:
        index = columns.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    return person_row(
        line, cell("email"), cell("unit"), cell("tenure"), cell("name"), bands, errors
    )


def person_row(
    line: int,
    email: str,
    unit: str,
    tenure: str,
    name: str,
    bands: Mapping[str, str],
    errors: list[LineError],
) -> RosterRow | None:
    """Return one person's row, or None after recording why it is invalid.

    The one validator of a person: every import line and every edit in the browser passes it.

    :param bands: the known tenure bands by casefolded spelling (see :func:`band_spellings`).
    :param errors: where problems are recorded, each naming its column (``email``, ``unit``,
        ``tenure``, ``name``).
    """
    found = len(errors)
    values = {"email": email, "unit": unit, "tenure": tenure, "name": name}
    for column, value in values.items():
        if CONTROL.search(value):
            errors.append(
                LineError(line, column, f"The {column} contains a line break or control character.")
            )
    if len(errors) > found:
        return None
    email = email.strip().lower()
    if not email:
        errors.append(LineError(line, "email", "The email is empty."))
    elif len(email) > MAX_EMAIL_CHARS or not EMAIL.fullmatch(email):
        errors.append(LineError(line, "email", f"{email!r} is not a valid email address."))
    path = _path(line, unit.strip(), errors)
    raw_band = tenure.strip()
    band = bands.get(raw_band.casefold()) if raw_band else UNSTATED_BAND
    if band is None:
        errors.append(
            LineError(
                line,
                "tenure",
                f"Unknown tenure band {raw_band!r}; use one of {', '.join(bands.values())}, "
                "or leave it empty.",
            )
        )
    name = name.strip()
    if len(name) > MAX_NAME_CHARS:
        errors.append(
            LineError(line, "name", f"The name is longer than {MAX_NAME_CHARS} characters.")
        )
    if len(errors) > found or path is None or band is None:
        return None
    return RosterRow(line=line, email=email, name=name, unit_path=path, band=band)


def band_spellings(known_bands: tuple[str, ...] = KNOWN_BANDS) -> dict[str, str]:
    """Return each known tenure band by its casefolded spelling, as :func:`person_row` takes."""
    return {band.casefold(): band for band in known_bands}


def _path(line: int, raw: str, errors: list[LineError]) -> Path | None:
    """Return the unit path written in ``raw``, or None after recording why it is invalid."""
    if not raw:
        errors.append(LineError(line, "unit", "The unit is empty."))
        return None
    path = tuple(segment.strip() for segment in raw.split(PATH_SEPARATOR))
    if "" in path:
        errors.append(
            LineError(
                line,
                "unit",
                f"The path {raw!r} has an empty part; write it like Organisation/Department/Team.",
            )
        )
        return None
    long = next((s for s in path if len(s) > MAX_SEGMENT_CHARS), None)
    if long is not None:
        errors.append(
            LineError(
                line,
                "unit",
                f"The unit name {long[:40]!r}… is longer than {MAX_SEGMENT_CHARS} characters.",
            )
        )
        return None
    repeated = next((s for i, s in enumerate(path) if s in path[:i]), None)
    if repeated is not None:
        errors.append(
            LineError(
                line,
                "unit",
                f"The path {format_path(path)!r} puts {repeated!r} inside itself; a unit cannot "
                "contain itself (cycle in the tree).",
            )
        )
        return None
    return path
