"""Masking identifiers in free text before anyone reads it.

Invariant: emails, links (with or without a scheme), phone numbers and extensions, employee and
ticket numbers, ``@handles`` and any name from the roster (whole names, and each part of at
least ``MIN_NAME_PART`` letters, with genitive and plural endings) are replaced by a bracketed
placeholder. Matching runs on a normalised copy of the text (NFKD compatibility forms, casefold,
no combining marks, a few letters transliterated), so case, accents, full-width letters and
invisible characters change nothing; the mask is applied to the original text through an offset
map, so everything that is not masked reads exactly as written. An invisible format character
(a zero-width space, a soft hyphen) is tried both as a word boundary and as nothing, so it can
neither fuse two words into one that escapes the patterns nor split a name in two.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

MIN_NAME_PART = 2  # "Bo" is a name; single letters (initials) are not masked alone
# Genitive and plural endings a name takes in running text (Swedish and English): Lindqvists,
# Lindqvist's, Lindqvistes, Lindqvist'.
NAME_ENDINGS = r"(?:'s|'|es|s)?"
# Letters NFKD does not decompose, written as their plain-Latin spelling (after casefold).
TRANSLITERATE = {
    "ø": "o",
    "æ": "ae",
    "œ": "oe",
    "ł": "l",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "ı": "i",
    "\u2019": "'",  # right single quotation mark, the usual typographic apostrophe
    "\u2018": "'",
    "\u02bc": "'",
}
KEPT_CONTROLS = "\n\r\t"

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PATH = r"(?:[/?#:][^\s]*[^\s.,;:!?)\]'\"])?"
# Top-level domains a bare domain is recognised by; any domain followed by a path is a link.
LINK_TLDS = (
    "com|org|net|io|dev|app|co|info|biz|edu|gov|eu|uk|se|no|dk|fi|de|nl|be|fr|ch|at|es|it|pl"
    "|us|ca|au|ai|me|tv|ly|cloud|local|internal|corp|intra|lan"
)
LINK = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://\S*[^\s.,;:!?)\]'\"])"
    r"|(?:(?<![\w@.-])www\.[^\s]*[^\s.,;:!?)\]'\"])"
    r"|(?:(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}(?![\w-])[/?#]" + r"[^\s]*)"
    r"|(?:(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:"
    + LINK_TLDS
    + r")(?![\w-])"
    + _PATH
    + ")"
)
HANDLE = re.compile(r"(?<![\w@])@\w+(?:[.-]\w+)*")
PHONE = re.compile(r"(?<![\w])\+?\d[\d ()./-]{6,}\d(?![\w])")
EXTENSION = re.compile(r"(?<!\w)(?:extension|extn|ext|x)\.?\s?\d{2,6}(?!\w)")
# Matched on the normalised text before casefolding: a ticket key is upper case (JIRA-123).
TICKET = re.compile(r"(?<![\w-])[A-Z][A-Z0-9]{1,9}-\d+(?![\w-])")
STAFF_NUMBER = re.compile(r"(?<!\w)(?:[a-z]\d{4,}|[a-z]{2,3}\d{5,})(?!\w)")
HASH_NUMBER = re.compile(r"(?<![\w#&])#\d{2,}(?!\w)")

# Placeholders, in the order that wins when two matches overlap.
PLACEHOLDERS = ("[email]", "[link]", "[number]", "[id]", "[name]")


def normalise(text: str, fold: bool = True, invisible: str = " ") -> tuple[str, list[int]]:
    """Return ``text`` normalised for matching, and for each of its characters the original index.

    :param fold: casefold and transliterate (names, links); off for upper-case ticket keys.
    :param invisible: what a format character (zero-width space, soft hyphen) becomes: a space
        (a word boundary) or nothing.
    """
    out: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if category == "Cf" or (category == "Cc" and char not in KEPT_CONTROLS):
            pieces = invisible if category == "Cf" else " "
        else:
            decomposed = unicodedata.normalize("NFKD", char)
            pieces = "".join(c for c in decomposed if not unicodedata.combining(c))
            if fold:
                pieces = "".join(TRANSLITERATE.get(c, c) for c in pieces.casefold())
        out.append(pieces)
        offsets.extend([index] * len(pieces))
    return "".join(out), offsets


def name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """Return one pattern matching the roster's names, their parts and their endings.

    The pattern matches *normalised* text (see :func:`normalise`); :func:`mask` applies it.
    """
    parts: set[str] = set()
    for name in names:
        folded = normalise(name.strip())[0].strip()
        if not folded:
            continue
        parts.add(folded)
        for part in re.split(r"[\s-]+", folded):
            if sum(c.isalpha() for c in part) >= MIN_NAME_PART:
                parts.add(part)
    if not parts:
        return None
    alternatives = "|".join(re.escape(p) for p in sorted(parts, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives}){NAME_ENDINGS}(?!\w)")


def _spans(text: str, names: re.Pattern[str] | None) -> list[tuple[int, int, int]]:
    """Return (start, end, placeholder index) in ``text`` of everything to mask."""
    found: list[tuple[int, int, int]] = []
    for invisible in (" ", ""):
        folded, offsets = normalise(text, True, invisible)
        plain, plain_offsets = normalise(text, False, invisible)
        searches: list[tuple[re.Pattern[str], int, str, Sequence[int]]] = [
            (EMAIL, 0, folded, offsets),
            (LINK, 1, folded, offsets),
            (PHONE, 2, folded, offsets),
            (EXTENSION, 2, folded, offsets),
            (STAFF_NUMBER, 3, folded, offsets),
            (HASH_NUMBER, 3, folded, offsets),
            (TICKET, 3, plain, plain_offsets),
            (HANDLE, 4, folded, offsets),
        ]
        if names is not None:
            searches.append((names, 4, folded, offsets))
        for pattern, kind, haystack, where in searches:
            for match in pattern.finditer(haystack):
                if match.end() > match.start():
                    found.append((where[match.start()], where[match.end() - 1] + 1, kind))
    return found


def mask(text: str, names: re.Pattern[str] | None) -> str:
    """Return ``text`` with emails, links, numbers, handles and roster names masked."""
    merged: list[list[int]] = []
    for start, end, kind in sorted(_spans(text, names)):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2] = min(merged[-1][2], kind)
        else:
            merged.append([start, end, kind])
    for start, end, kind in reversed(merged):
        text = text[:start] + PLACEHOLDERS[kind] + text[end:]
    return text
