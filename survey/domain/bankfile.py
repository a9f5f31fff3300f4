"""Question-bank files: a bank as a CSV file, one line per item, and back.

Invariants: a file either becomes, whole, a bank that :func:`~survey.domain.questions.parse_bank`
accepts and that some rotation can schedule, or it is refused with every problem found, each
tied to its line (the first line of the file is line 1) and column. ``parse_bank_csv`` of
``bank_to_csv(bank)`` gives the bank back unchanged for every bank whose themes are listed in
the order their items first appear (every bank read from a file, and the shipped ones). Cells
a spreadsheet would read as a formula are written with a leading ``'``, which reading removes.

The format::

    # key: acme-v1
    # comment_prompt: Anything else? (optional; do not include names)
    # comment_prompt_de: Sonst noch etwas? (freiwillig; keine Namen)
    theme,theme_label,theme_description,item,text,scale,reverse,core,text_de,theme_label_de
    morale,Morale,How people feel.,mor1,Most days I have energy.,likert5,no,yes,An den ...,Stimmung

The optional column ``prefer_not_to_say`` (yes/no, empty means no) marks the items that offer
that choice; a bank with no marked item is written without it.

Lines starting with ``#`` are comments; ``# key:``, ``# comment_prompt:`` and
``# comment_prompt_<lang>:`` among them are settings. The first other line names the columns.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from .bankcheck import min_rotation, unschedulable
from .export import FORMULA_LEADERS, neutralise
from .questions import (
    LANGUAGE_CODE,
    SOURCE_LANGUAGE,
    Bank,
    BankError,
    Item,
    Theme,
    Translations,
    parse_bank,
)
from .roster import CONTROL, FILE_COLUMN, LineError, csv_records

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
BANK_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")  # question_banks.key is 64
SETTING = re.compile(r"^#\s*([A-Za-z_]+)\s*:(.*)$", re.DOTALL)
COMMENT_PROMPT = "comment_prompt"
MAX_ITEMS_IN_FILE = 500
MAX_TEXT_CHARS = 300
MAX_LABEL_CHARS = 80
MAX_DESCRIPTION_CHARS = 300


class BankFileError(BankError):
    """A bank file cannot be imported; ``errors`` lists every problem by line."""

    def __init__(self, errors: list[LineError] | tuple[LineError, ...]) -> None:
        self.errors = tuple(sorted(set(errors)))
        first = self.errors[0] if self.errors else None
        summary = f"line {first.line}: {first.message}" if first else "the file is unusable"
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(summary + more)


@dataclass(frozen=True)
class _Row:
    """One valid item line, before the themes are assembled."""

    line: int
    theme: str
    theme_fields: dict[str, str]  # theme_label, theme_description, theme_label_<lang>
    item: Item


def parse_bank_csv(text: str, key: str | None = None) -> Bank:
    """Return the bank a CSV file describes, or raise :class:`BankFileError` listing problems.

    :param text: the whole file, decoded; a leading byte-order mark is ignored.
    :param key: the bank's key; when given it overrides the file's ``# key:`` line.
    """
    errors: list[LineError] = []
    settings: dict[str, tuple[int, str]] = {}
    records = csv_records(text.removeprefix("\ufeff"), errors)
    columns: dict[str, int] | None = None
    header_seen = False
    rows: list[_Row] = []
    item_lines: dict[str, list[int]] = {}
    count = 0
    for line, cells in records:
        if not any(cell.strip() for cell in cells):
            continue
        if cells[0].lstrip().startswith("#"):
            _setting(line, cells, settings, errors)
            continue
        if not header_seen:
            header_seen = True
            columns = _columns(cells, errors)
            if columns is None:
                break
            continue
        assert columns is not None
        count += 1
        if count > MAX_ITEMS_IN_FILE:
            errors.append(
                LineError(line, FILE_COLUMN, f"A bank holds at most {MAX_ITEMS_IN_FILE} items.")
            )
            break
        item_key, row = _row(line, cells, columns, errors)
        if item_key:
            item_lines.setdefault(item_key, []).append(line)
        if row is not None:
            rows.append(row)
    if not header_seen and not errors:
        errors.append(LineError(1, FILE_COLUMN, "The file has no header line naming the columns."))
    elif columns is not None and not rows and not errors:
        errors.append(LineError(1, FILE_COLUMN, "The file lists no items."))
    for item_key, lines in item_lines.items():
        if len(lines) > 1:
            message = f"The item {item_key!r} appears on lines {_numbers(lines)}; keys are unique."
            errors.extend(LineError(line, "item", message) for line in lines)
    themes = _themes(rows, errors)
    bank_key = _bank_key(key, settings, errors)
    prompt, prompt_translations = _comment_prompt(settings, errors)
    if errors:
        raise BankFileError(errors)
    assert bank_key is not None
    try:
        bank = parse_bank(
            _as_dict(bank_key, themes, [r.item for r in rows], prompt, prompt_translations)
        )
    except BankError as exc:  # every rule is checked above; this is a safety net
        raise BankFileError([LineError(1, FILE_COLUMN, str(exc))]) from exc
    if min_rotation(bank) is None:
        raise BankFileError([LineError(1, FILE_COLUMN, unschedulable(bank))])
    return bank


def bank_to_csv(bank: Bank) -> str:
    """Return ``bank`` as a CSV file that :func:`parse_bank_csv` reads back unchanged."""
    languages = [lang for lang in bank.languages if lang != SOURCE_LANGUAGE]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f"# key: {bank.key}"])
    writer.writerow([f"# {COMMENT_PROMPT}: {bank.comment_prompt}"])
    for lang, prompt in bank.comment_prompt_translations:
        writer.writerow([f"# {COMMENT_PROMPT}_{lang}: {prompt}"])
    marked = any(item.prefer_not_to_say for item in bank.items)
    header = [name for name in COLUMNS if marked or name != PREFER_COLUMN]
    header += [f"text_{lang}" for lang in languages]
    header += [f"theme_label_{lang}" for lang in languages]
    writer.writerow(header)
    for item in bank.items:
        theme = bank.theme(item.theme)
        cells = [
            theme.key,
            theme.label,
            theme.description,
            item.key,
            item.text,
            item.scale,
            "yes" if item.reverse else "no",
            "yes" if item.core else "no",
        ]
        if marked:
            cells.append("yes" if item.prefer_not_to_say else "no")
        cells += [dict(item.translations).get(lang, "") for lang in languages]
        cells += [dict(theme.translations).get(lang, "") for lang in languages]
        writer.writerow([neutralise(cell) for cell in cells])
    return out.getvalue()


def _setting(
    line: int, cells: list[str], settings: dict[str, tuple[int, str]], errors: list[LineError]
) -> None:
    """Record a ``# name: value`` setting; other comment lines are ignored."""
    while cells and not cells[-1].strip():
        cells = cells[:-1]  # spreadsheets pad comment lines with empty cells
    match = SETTING.match(",".join(cells).strip())
    if match is None:
        return
    name, value = match.group(1).lower(), match.group(2).strip()
    if name != "key" and name != COMMENT_PROMPT and not name.startswith(COMMENT_PROMPT + "_"):
        return
    if name in settings:
        errors.append(
            LineError(
                line,
                name,
                f"The setting {name!r} is given twice (first on line {settings[name][0]}).",
            )
        )
        return
    settings[name] = (line, value)


def _columns(header: list[str], errors: list[LineError]) -> dict[str, int] | None:
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


def _row(
    line: int, cells: list[str], columns: dict[str, int], errors: list[LineError]
) -> tuple[str, _Row | None]:
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
    text = _text(line, "text", cell("text"), MAX_TEXT_CHARS, errors, required=True)
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
        "theme_label": _text(line, "theme_label", cell("theme_label"), MAX_LABEL_CHARS, errors),
        "theme_description": _text(
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
        value = _text(line, name, cell(name), limit, errors)
        if translated.group(1) == "theme_label":
            theme_fields[name] = value
        elif value:
            translations.append((translated.group(2), value))
    if len(errors) > found:
        return item_key, None
    item = Item(
        item_key, theme, text, scale, reverse, core, tuple(sorted(translations)), prefer_not_to_say
    )
    return item_key, _Row(line, theme, theme_fields, item)


def _text(
    line: int, column: str, value: str, limit: int, errors: list[LineError], required: bool = False
) -> str:
    """Return ``value``, recording a problem if it is too long or required and empty."""
    if required and not value:
        errors.append(LineError(line, column, f"The {column} is empty."))
    elif len(value) > limit:
        errors.append(LineError(line, column, f"The {column} is longer than {limit} characters."))
    return value


def _themes(rows: list[_Row], errors: list[LineError]) -> list[Theme]:
    """Assemble the themes in order of first appearance; each field must agree across rows."""
    fields: dict[str, dict[str, tuple[int, str]]] = {}
    first_line: dict[str, int] = {}
    for row in rows:
        first_line.setdefault(row.theme, row.line)
        known = fields.setdefault(row.theme, {})
        for name, value in row.theme_fields.items():
            if not value:
                continue  # empty means "as on the theme's other lines"
            if name not in known:
                known[name] = (row.line, value)
            elif known[name][1] != value:
                errors.append(
                    LineError(
                        row.line,
                        name,
                        f"The theme {row.theme!r} has {name} {known[name][1]!r} on line "
                        f"{known[name][0]} but {value!r} here; give each theme one {name} "
                        "(or leave it empty after its first line).",
                    )
                )
    themes = []
    for key, known in fields.items():
        if "theme_label" not in known:
            errors.append(
                LineError(
                    first_line[key],
                    "theme_label",
                    f"The theme {key!r} has no label: fill theme_label on one of its lines.",
                )
            )
            continue
        translations: Translations = tuple(
            sorted(
                (name.removeprefix("theme_label_"), value)
                for name, (_, value) in known.items()
                if name.startswith("theme_label_")
            )
        )
        description = known.get("theme_description", (0, ""))[1]
        themes.append(Theme(key, known["theme_label"][1], description, translations))
    return themes


def _bank_key(
    key: str | None, settings: dict[str, tuple[int, str]], errors: list[LineError]
) -> str | None:
    """Return the key given on import, else the file's ``# key:``; None after a problem."""
    line, value = (0, key.strip()) if key and key.strip() else settings.get("key", (1, ""))
    if not value:
        errors.append(
            LineError(
                1,
                "key",
                "The bank has no key: start the file with a line such as “# key: acme-v1”, "
                "or give the key when importing.",
            )
        )
        return None
    if not BANK_KEY.match(value):
        errors.append(
            LineError(
                max(line, 1),
                "key",
                f"The bank key {value!r} must use only lower-case letters, digits and - "
                "(at most 64), starting with a letter or digit.",
            )
        )
        return None
    return value


def _comment_prompt(
    settings: dict[str, tuple[int, str]], errors: list[LineError]
) -> tuple[str, Translations]:
    """Return the comment prompt and its translations from the file's settings."""
    prompt = settings.get(COMMENT_PROMPT, (0, ""))[1]
    translations = []
    for name, (line, value) in settings.items():
        if name == "key":
            continue
        if name == COMMENT_PROMPT:
            _text(line, name, value, MAX_TEXT_CHARS, errors)
            continue
        lang = name.removeprefix(COMMENT_PROMPT + "_")
        if not LANGUAGE_CODE.match(lang) or lang == SOURCE_LANGUAGE:
            errors.append(
                LineError(
                    line,
                    name,
                    f"{name!r} names no other language; write comment_prompt_<code>, such as "
                    "comment_prompt_de.",
                )
            )
        elif not value:
            errors.append(LineError(line, name, f"The setting {name!r} is empty."))
        elif not prompt:
            errors.append(
                LineError(line, name, f"{name!r} translates a comment_prompt the file lacks.")
            )
        else:
            translations.append((lang, _text(line, name, value, MAX_TEXT_CHARS, errors)))
    return prompt, tuple(sorted(translations))


def _as_dict(
    key: str,
    themes: list[Theme],
    items: list[Item],
    prompt: str,
    prompt_translations: Translations,
) -> dict[str, object]:
    """Return the JSON form of the parsed bank, so the bank's own rules check it once more."""
    return {
        "key": key,
        "comment_prompt": prompt,
        "comment_prompt_translations": dict(prompt_translations),
        "themes": [
            {
                "key": t.key,
                "label": t.label,
                "description": t.description,
                "translations": dict(t.translations),
            }
            for t in themes
        ],
        "items": [
            {
                "key": i.key,
                "theme": i.theme,
                "text": i.text,
                "scale": i.scale,
                "reverse": i.reverse,
                "core": i.core,
                "translations": dict(i.translations),
                "prefer_not_to_say": i.prefer_not_to_say,
            }
            for i in items
        ],
    }


def _numbers(lines: list[int]) -> str:
    """Return line numbers as prose: ``3, 5 and 9``."""
    return ", ".join(str(n) for n in lines[:-1]) + f" and {lines[-1]}"
