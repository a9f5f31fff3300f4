"""One item line of a question-bank file: the columns a header may name and what each cell holds.

Invariant: a header is either a usable map from column to position (the required columns
present, none twice, translated columns named by a language code other than English) or it is
refused with every problem; an item line is either an :class:`ItemRow` whose every cell keeps
its limit (key shape, scale, yes/no, length, no control character) or it is refused with every
problem, each at its line and column. Whether the items together make a bank is
:mod:`survey.domain.bankfile`'s to decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .csvlines import CONTROL, FILE_COLUMN, LineError
from .export import FORMULA_LEADERS
from .questions import LANGUAGE_CODE, SOURCE_LANGUAGE, Item

COLUMNS = (
    "theme",
    "theme_label",
    "theme_description",
    "item",
    "text",
    "scale",
    "reverse",
    "core",
    "prefer_not_to_say",
)
PREFER_COLUMN = "prefer_not_to_say"  # optional: written only for a bank that marks an item
REQUIRED_COLUMNS = ("theme", "item", "text")
TRANSLATED_COLUMN = re.compile(r"^(text|theme_label)_(.+)$")
SCALES = ("likert5", "nps")
DEFAULT_SCALE = "likert5"
YES = ("yes", "y", "true", "1")
NO = ("no", "n", "false", "0")
KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")  # theme and item keys; Action.theme is 32
MAX_TEXT_CHARS = 300
MAX_LABEL_CHARS = 80
MAX_DESCRIPTION_CHARS = 300


@dataclass(frozen=True)
class ItemRow:
    """One valid item line, before the themes are assembled."""

    line: int
    theme: str
    theme_fields: dict[str, str]  # theme_label, theme_description, theme_label_<lang>
    item: Item


def read_header(header: list[str], errors: list[LineError]) -> dict[str, int] | None:
    """Return column name -> index from the header, or None (with errors) if it is unusable."""
    found = len(errors)
    columns: dict[str, int] = {}
    while header and not header[-1].strip():
        header = header[:-1]  # spreadsheets may pad the header with empty cells
    for index, raw in enumerate(header):
        name = raw.strip().casefold()
        translated = TRANSLATED_COLUMN.match(name)
        if name in COLUMNS:
            pass
        elif translated:
            lang = translated.group(2)
            if not LANGUAGE_CODE.match(lang):
                errors.append(
                    LineError(
                        1,
                        name,
                        f"{lang!r} in column {name!r} is not a language code; use a two-letter "
                        "code such as de or fr.",
                    )
                )
                continue
            if lang == SOURCE_LANGUAGE:
                errors.append(
                    LineError(
                        1,
                        name,
                        f"The column {name!r} is not needed: {translated.group(1)} is the "
                        "English text.",
                    )
                )
                continue
        else:
            shown = name or f"(empty, column {index + 1})"
            errors.append(
                LineError(
                    1,
                    shown,
                    f"Unknown column {shown!r}; the columns are {', '.join(COLUMNS)}, and "
                    "text_<language> or theme_label_<language> for translations.",
                )
            )
            continue
        if name in columns:
            errors.append(LineError(1, name, f"The column {name!r} appears twice."))
        else:
            columns[name] = index
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        hint = " (separate columns by commas)" if any(";" in cell for cell in header) else ""
        errors.append(
            LineError(
                1,
                FILE_COLUMN,
                f"The first line that is not a # comment must name the columns; missing: "
                f"{', '.join(missing)}{hint}.",
            )
        )
    return None if len(errors) > found else columns


def _unneutralise(cell: str) -> str:
    """Undo :func:`~survey.domain.export.neutralise`: drop the ``'`` before a formula sign."""
    if cell.startswith("'") and cell[1:].startswith(FORMULA_LEADERS):
        return cell[1:]
    return cell


def _yes_no(line: int, column: str, raw: str, errors: list[LineError]) -> bool:
    """Return a yes/no cell as a bool (empty is no), recording anything else as a problem."""
    value = raw.casefold()
    if value in YES:
        return True
    if value in NO or not value:
        return False
    errors.append(
        LineError(line, column, f"{column} is {raw!r}; write yes or no (empty means no).")
    )
    return False


def read_item(
    line: int, cells: list[str], columns: dict[str, int], errors: list[LineError]
) -> tuple[str, ItemRow | None]:
    """Return the item key on ``line`` and its item, or None after recording the problems."""
    width = max(columns.values()) + 1
    if len(cells) > width and any(cell.strip() for cell in cells[width:]):
        errors.append(
            LineError(
                line,
                FILE_COLUMN,
                f"This line has {len(cells)} values but the header names {width} columns; put "
                "double quotes around any value that contains a comma.",
            )
        )
        return "", None
    found = len(errors)

    def cell(name: str) -> str:
        index = columns.get(name)
        raw = cells[index] if index is not None and index < len(cells) else ""
        if CONTROL.search(raw):
            errors.append(
                LineError(line, name, f"The {name} contains a line break or control character.")
            )
            return ""
        return _unneutralise(raw.strip())

    theme = cell("theme")
    item_key = cell("item")
    for column, value in (("theme", theme), ("item", item_key)):
        if not value:
            errors.append(LineError(line, column, f"The {column} key is empty."))
        elif not KEY.match(value):
            errors.append(
                LineError(
                    line,
                    column,
                    f"The {column} key {value!r} must start with a letter and use only letters, "
                    "digits, - and _ (at most 32).",
                )
            )
    text = text_cell(line, "text", cell("text"), MAX_TEXT_CHARS, errors, required=True)
    raw_scale = cell("scale")
    scale = raw_scale.casefold() or DEFAULT_SCALE
    if scale not in SCALES:
        errors.append(
            LineError(
                line,
                "scale",
                f"Unknown scale {raw_scale!r}; use likert5 (agreement, 1 to 5) or nps "
                "(0 to 10); empty means likert5.",
            )
        )
    reverse = _yes_no(line, "reverse", cell("reverse"), errors)
    core = _yes_no(line, "core", cell("core"), errors)
    prefer_not_to_say = _yes_no(line, PREFER_COLUMN, cell(PREFER_COLUMN), errors)
    if scale == "nps" and reverse:
        errors.append(
            LineError(
                line,
                "reverse",
                "An nps item cannot be reverse-scored: 10 always means most likely to recommend.",
            )
        )
    theme_fields = {
        "theme_label": text_cell(line, "theme_label", cell("theme_label"), MAX_LABEL_CHARS, errors),
        "theme_description": text_cell(
            line,
            "theme_description",
            cell("theme_description"),
            MAX_DESCRIPTION_CHARS,
            errors,
        ),
    }
    translations: list[tuple[str, str]] = []
    for name in columns:
        translated = TRANSLATED_COLUMN.match(name)
        if translated is None:
            continue
        limit = MAX_TEXT_CHARS if translated.group(1) == "text" else MAX_LABEL_CHARS
        value = text_cell(line, name, cell(name), limit, errors)
        if translated.group(1) == "theme_label":
            theme_fields[name] = value
        elif value:
            translations.append((translated.group(2), value))
    if len(errors) > found:
        return item_key, None
    item = Item(
        item_key, theme, text, scale, reverse, core, tuple(sorted(translations)), prefer_not_to_say
    )
    return item_key, ItemRow(line, theme, theme_fields, item)


def text_cell(
    line: int, column: str, value: str, limit: int, errors: list[LineError], required: bool = False
) -> str:
    """Return ``value``, recording a problem if it is too long or required and empty."""
    if required and not value:
        errors.append(LineError(line, column, f"The {column} is empty."))
    elif len(value) > limit:
        errors.append(LineError(line, column, f"The {column} is longer than {limit} characters."))
    return value
