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

from .bankcheck import min_rotation, unschedulable
from .bankrows import (
    COLUMNS,
    MAX_TEXT_CHARS,
    PREFER_COLUMN,
    ItemRow,
    read_header,
    read_item,
    text_cell,
)
from .csvlines import FILE_COLUMN, LineError, csv_records, join_numbers
from .export import neutralise
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

BANK_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")  # question_banks.key is 64
SETTING = re.compile(r"^#\s*([A-Za-z_]+)\s*:(.*)$", re.DOTALL)
COMMENT_PROMPT = "comment_prompt"
MAX_ITEMS_IN_FILE = 500


class BankFileError(BankError):
    """A bank file cannot be imported; ``errors`` lists every problem by line."""

    def __init__(self, errors: list[LineError] | tuple[LineError, ...]) -> None:
        self.errors = tuple(sorted(set(errors)))
        first = self.errors[0] if self.errors else None
        summary = f"line {first.line}: {first.message}" if first else "the file is unusable"
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(summary + more)


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
    rows: list[ItemRow] = []
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
            columns = read_header(cells, errors)
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
        item_key, row = read_item(line, cells, columns, errors)
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
            where = join_numbers(lines)
            message = f"The item {item_key!r} appears on lines {where}; keys are unique."
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


def _themes(rows: list[ItemRow], errors: list[LineError]) -> list[Theme]:
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
            text_cell(line, name, value, MAX_TEXT_CHARS, errors)
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
            translations.append((lang, text_cell(line, name, value, MAX_TEXT_CHARS, errors)))
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
