"""Reading the CSV files Candor imports (rosters, question banks), record by record.

Invariant: every problem found in a file is a :class:`LineError` tied to the line its record
starts on (the first line of the file is line 1) and to a column (``FILE_COLUMN`` for the whole
line or file); malformed CSV stops reading with one such error instead of an exception.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

HEADER_LINE = 1
FILE_COLUMN = ""  # the column of an error about the whole line or file
CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # line breaks, tabs, NUL: never part of a value


@dataclass(frozen=True, order=True)
class LineError:
    """One problem, at a line of the file (the header is line 1) and a column ('' for all)."""

    line: int
    column: str
    message: str


def csv_records(text: str, errors: list[LineError]) -> Iterator[tuple[int, list[str]]]:
    """Yield (first line, cells) for each CSV record; malformed CSV stops with an error."""
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


def join_numbers(numbers: list[int]) -> str:
    """Return line numbers as prose: ``3, 7 and 9`` for [3, 7, 9]."""
    shown = [str(n) for n in numbers]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"
