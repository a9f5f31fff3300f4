"""Reading a roster CSV and planning what importing it would change.

Invariant: a roster file describes the whole organisation at once, and either every line of it
is valid and consistent with the existing tree, or the plan carries errors and nothing may be
applied. Paths identify units (``Lab/Research/Language``); units are created, never renamed,
moved or deleted. People are matched by lower-cased email; people active now but absent from
the file are deactivated, never deleted, so rounds already opened keep their snapshot.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

# The tree's paths and rules live in roster_tree; re-exported because import lines use them.
from .roster_tree import PATH_SEPARATOR as PATH_SEPARATOR
from .roster_tree import Path as Path
from .roster_tree import format_path as format_path
from .roster_tree import tree_problems

UNSTATED_BAND = "unstated"
KNOWN_BANDS = ("<1y", "1-3y", "3y+", UNSTATED_BAND)
REQUIRED_COLUMNS = ("email", "unit")
OPTIONAL_COLUMNS = ("tenure", "name")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
MAX_ROWS = 50_000
# An import that would take more than this share of the active roster off it is confirmed
# explicitly: a short file by mistake would otherwise empty the next round.
LEAVING_CONFIRM_SHARE = 0.1
MAX_SEGMENT_CHARS = 120  # OrgUnit.name
MAX_EMAIL_CHARS = 254  # Person.email
MAX_NAME_CHARS = 200  # Person.name
HEADER_LINE = 1
FILE_COLUMN = ""  # the column of an error about the whole line or file

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # line breaks, tabs, NUL: never part of a value
EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")


@dataclass(frozen=True, order=True)
class LineError:
    """One problem, at a line of the file (the header is line 1) and a column ('' for all)."""

    line: int
    column: str
    message: str


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


@dataclass(frozen=True)
class PersonState:
    """What the database holds about one person now."""

    unit_path: Path
    band: str
    name: str
    active: bool


@dataclass(frozen=True)
class Move:
    """A person moving from one unit to another."""

    email: str
    before: Path
    after: Path


@dataclass(frozen=True)
class Change:
    """A person's tenure band or name changing."""

    email: str
    before: str
    after: str


@dataclass(frozen=True)
class RosterPlan:
    """What applying a parsed roster would change, and why it cannot, if it cannot.

    ``units_to_create`` is ordered so that every parent comes before its children.
    """

    units_to_create: tuple[Path, ...] = ()
    to_add: tuple[RosterRow, ...] = ()
    to_move: tuple[Move, ...] = ()
    to_change_band: tuple[Change, ...] = ()
    to_rename: tuple[Change, ...] = ()
    to_reactivate: tuple[str, ...] = ()
    to_deactivate: tuple[str, ...] = ()
    unchanged: int = 0
    errors: tuple[LineError, ...] = ()
    active_before: int = 0  # people active on the roster before the plan

    @property
    def ok(self) -> bool:
        """Return whether the plan may be applied."""
        return not self.errors

    @property
    def leaving_needs_confirmation(self) -> bool:
        """Return whether more than ``LEAVING_CONFIRM_SHARE`` of the active roster would leave."""
        return len(self.to_deactivate) > LEAVING_CONFIRM_SHARE * self.active_before

    @property
    def leaving_warning(self) -> str:
        """Return the warning an import that empties much of the roster shows, or ''."""
        if not self.leaving_needs_confirmation:
            return ""
        leaving = len(self.to_deactivate)
        return (
            f"{_count(leaving, 'person', 'people')} of {self.active_before} active "
            f"({leaving / max(self.active_before, 1):.0%}) would leave the roster and not be "
            "invited again. If the file is only part of the roster, do not apply it: a roster "
            "file lists everyone."
        )

    @property
    def changes_anything(self) -> bool:
        """Return whether applying the plan would change the database."""
        return any(
            (
                self.units_to_create,
                self.to_add,
                self.to_move,
                self.to_change_band,
                self.to_rename,
                self.to_reactivate,
                self.to_deactivate,
            )
        )

    @property
    def summary(self) -> str:
        """Return one plain sentence saying what applying the plan would do."""
        if not self.changes_anything:
            return f"Nothing to change: all {self.unchanged} people are already as listed."
        parts = [
            _count(len(self.units_to_create), "new unit"),
            _count(len(self.to_add), "new person", "new people"),
            _count(len(self.to_move), "person moving unit", "people moving unit"),
            _count(len(self.to_change_band), "tenure band change"),
            _count(len(self.to_rename), "name change"),
            _count(len(self.to_reactivate), "person returning", "people returning"),
            _count(len(self.to_deactivate), "person leaving", "people leaving"),
        ]
        return f"{'; '.join(parts)}; {self.unchanged} unchanged."

    @property
    def fingerprint(self) -> str:
        """Return a digest of the plan, so an apply can check it does what was previewed."""
        digest = hashlib.sha256()
        for part in (
            self.units_to_create,
            tuple((r.email, r.name, r.unit_path, r.band) for r in self.to_add),
            self.to_move,
            self.to_change_band,
            self.to_rename,
            self.to_reactivate,
            self.to_deactivate,
            self.unchanged,
        ):
            digest.update(repr(part).encode())
        return digest.hexdigest()


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


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
            where = _join_numbers(lines)
            message = f"{email} appears on lines {where}; list each person once."
            errors.extend(LineError(line, "email", message) for line in lines)
    if not rows and not errors:
        errors.append(LineError(HEADER_LINE, FILE_COLUMN, "The file lists nobody."))
    duplicated = {email for email, lines in seen.items() if len(lines) > 1}
    valid = tuple(row for row in rows if row.email not in duplicated)
    return RosterParse(valid, tuple(sorted(set(errors))))


def csv_records(text: str, errors: list[LineError]) -> Iterator[tuple[int, list[str]]]:
    """Yield (first line, cells) for each CSV record; malformed CSV stops with an error.

    Shared by every CSV file Candor reads (roster, question banks).
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        # Report where the broken record starts: an unclosed quote fails only at the end.
        errors.append(
            LineError(
                start,
                FILE_COLUMN,
                f"This line is not valid CSV ({exc}); check its double quotes.",
            )
        )


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


def _join_numbers(numbers: list[int]) -> str:
    """Return ``3, 7 and 9`` for [3, 7, 9]."""
    shown = [str(n) for n in numbers]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def plan(
    existing_units: Mapping[Path, int],
    existing_people: Mapping[str, PersonState],
    rows: Iterable[RosterRow],
) -> RosterPlan:
    """Return what importing ``rows`` would change in the existing tree and roster.

    :param existing_units: unit id by path from the root, for every unit now in the tree.
    :param existing_people: the state of every person now on the roster, by lower-cased email.
    :param rows: the valid rows of a parsed roster file.
    """
    rows = tuple(rows)
    errors = _tree_errors(existing_units, rows)
    wanted: set[Path] = {row.unit_path[: i + 1] for row in rows for i in range(len(row.unit_path))}
    create = tuple(sorted(wanted - set(existing_units), key=lambda p: (len(p), p)))
    add: list[RosterRow] = []
    move: list[Move] = []
    band: list[Change] = []
    rename: list[Change] = []
    reactivate: list[str] = []
    unchanged = 0
    for row in rows:
        now = existing_people.get(row.email)
        if now is None:
            add.append(row)
            continue
        changed = False
        if not now.active:
            reactivate.append(row.email)
            changed = True
        if now.unit_path != row.unit_path:
            move.append(Move(row.email, now.unit_path, row.unit_path))
            changed = True
        if now.band != row.band:
            band.append(Change(row.email, now.band, row.band))
            changed = True
        if row.name and now.name != row.name:  # an empty name keeps the stored one
            rename.append(Change(row.email, now.name, row.name))
            changed = True
        if not changed:
            unchanged += 1
    listed = {row.email for row in rows}
    deactivate = sorted(
        email for email, now in existing_people.items() if now.active and email not in listed
    )
    return RosterPlan(
        units_to_create=create,
        to_add=tuple(add),
        to_move=tuple(move),
        to_change_band=tuple(band),
        to_rename=tuple(rename),
        to_reactivate=tuple(reactivate),
        to_deactivate=tuple(deactivate),
        unchanged=unchanged,
        errors=tuple(sorted(set(errors))),
        active_before=sum(1 for now in existing_people.values() if now.active),
    )


def plan_person(
    existing_units: Mapping[Path, int], existing_people: Mapping[str, PersonState], row: RosterRow
) -> RosterPlan:
    """Return what adding or changing one person (and nobody else) would change.

    The same rules as an import of the whole roster apply to the person's line; nobody else
    leaves.
    """
    now = existing_people.get(row.email)
    return plan(existing_units, {} if now is None else {row.email: now}, (row,))


def _tree_errors(existing: Mapping[Path, int], rows: tuple[RosterRow, ...]) -> list[LineError]:
    """Return the problems of the file's paths against the existing tree (see roster_tree)."""
    problems = tree_problems(existing, ((row.unit_path, row.line) for row in rows))
    return [LineError(line, "unit", message) for line, message in problems]


def all_errors(parsed: RosterParse, planned: RosterPlan) -> tuple[LineError, ...]:
    """Return every problem of a file, parse and plan together, in line order."""
    return tuple(sorted(set(parsed.errors) | set(planned.errors)))
