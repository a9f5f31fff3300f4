"""Masking identifiers in free text before anyone reads it.

Invariant: emails, links (with or without a scheme, and intranet short links), phone numbers
and extensions, employee and ticket numbers, ``@handles`` and any name from the roster (whole
names, and each part of at least ``MIN_NAME_PART`` letters, with genitive and plural endings)
are replaced by a bracketed placeholder. Matching runs on a normalised copy of the text (NFKD
compatibility forms, casefold, no combining marks, a few letters transliterated), so case,
accents, full-width letters and invisible characters change nothing; the mask is applied to the
original text through an offset map, so everything that is not masked reads exactly as written.
An invisible format character (a zero-width space, a soft hyphen) is tried both as a word
boundary and as nothing, so it can neither fuse two words into one that escapes the patterns nor
split a name in two.

A name part that is also an everyday word ("Bo", "Ek", "May", "Will": two letters, or listed in
``COMMON_WORDS``) is masked only where the text writes it with a capital letter, so "an apple"
stays readable when someone on the roster is called An; the whole name ("Bo Ek") and longer
parts are masked in any case.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

MIN_NAME_PART = 2  # "Bo" is a name; single letters (initials) are not masked alone
# Name parts this short are everyday words too often ("an", "li", "bo") to mask in lower case.
SHORT_NAME_LETTERS = 2
# Given names and surnames that are also common English or Swedish words (casefolded, without
# accents): masked when capitalised, kept when written as the word.
COMMON_WORDS = frozenset(
    "will may mark rose bill grant hope joy faith june april august frank guy pat sue dean "
    "miles chase summer sky max ray art don jack gene rich young king long white brown green "
    "black gray grey hall wood price page lane cook hunt hill ward bell eve dawn amber crystal "
    "per stig sten berg lind bjork sol gun mats tor lo".split()
)
# Genitive and plural endings a name takes in running text (Swedish and English): Lindqvists,
# Lindqvist's, Lindqvistes, Lindqvists', Lindqvist', and the Swedish colon genitive.
NAME_ENDINGS = r"(?:'s|:s|e?s'?|')?"
# Letters NFKD does not decompose (or decomposes into a space and a mark), written as their
# plain-Latin spelling; applied after casefolding.
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
    "\u00b4": "'",  # acute accent typed as an apostrophe (NFKD makes it a space and a mark)
    "`": "'",
    "\u2032": "'",  # prime
}
KEPT_CONTROLS = "\n\r\t"
# A letter or digit, but not the underscore: "Tove_Lindqvist" is two words to the name pattern.
_WORD = r"[^\W_]"

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
# Intranet short links and hostless paths people paste: go/tove, wiki/people/123.
SHORT_LINK = re.compile(
    r"(?<![\w/.-])(?:go|intranet|wiki|jira|confluence|sharepoint|drive|docs|git|gitlab|github)"
    r"/[^\s]*[^\s.,;:!?)\]'\"]"
)
HANDLE = re.compile(r"(?<![\w@])@\w+(?:[.-]\w+)*")
PHONE = re.compile(r"(?<![\w])\+?\d[\d ()./-]{6,}\d(?![\w])")
EXTENSION = re.compile(r"(?<!\w)(?:extension|extn|ext|x)\.?\s?\d{2,6}(?!\w)")
# Matched on the normalised text before casefolding: a ticket key is upper case (JIRA-123).
TICKET = re.compile(r"(?<![\w-])[A-Z][A-Z0-9]{1,9}-\d+(?![\w-])")
STAFF_NUMBER = re.compile(r"(?<!\w)(?:[a-z]\d{4,}|[a-z]{2,3}\d{5,})(?!\w)")
HASH_NUMBER = re.compile(r"(?<![\w#&])#\d{2,}(?!\w)")
# A bare number named by the word before it ("ticket 12345", "staff no 004512"): only the
# number (group ``id``) is masked, so the sentence still says what kind of number it was.
NAMED_NUMBER = re.compile(
    r"(?<!\w)(?:ticket|case|incident|issue|request|employee|emp|staff|badge|id|ref|reference"
    r"|no|nr|number|anst)\.?\s*(?:(?:no|nr|number|id)\.?\s*)?[#:]?\s*(?P<id>\d{3,})(?!\w)"
)

# Placeholders, in the order that wins when two matches overlap.
PLACEHOLDERS = ("[email]", "[link]", "[number]", "[id]", "[name]")
_NAME = 4


@dataclass(frozen=True)
class NamePattern:
    """The roster's names as patterns over normalised text (see :func:`name_pattern`).

    ``anywhere`` matches in any case; ``capitalised`` only where the original text starts the
    word with a capital letter (name parts that are everyday words).
    """

    anywhere: re.Pattern[str] | None
    capitalised: re.Pattern[str] | None


def _fold(char: str) -> str:
    """Return one character as matching sees it: decomposed, unaccented, casefolded."""
    char = TRANSLITERATE.get(char, char)
    decomposed = unicodedata.normalize("NFKD", char)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(TRANSLITERATE.get(c, c) for c in plain.casefold())


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
        elif fold:
            pieces = _fold(char)
        else:
            decomposed = unicodedata.normalize("NFKD", char)
            pieces = "".join(c for c in decomposed if not unicodedata.combining(c))
        out.append(pieces)
        offsets.extend([index] * len(pieces))
    return "".join(out), offsets


def _everyday(part: str) -> bool:
    """Return whether a name part is also an everyday word (masked only when capitalised)."""
    return sum(c.isalpha() for c in part) <= SHORT_NAME_LETTERS or part in COMMON_WORDS


def _alternatives(parts: Iterable[str]) -> re.Pattern[str] | None:
    """Return a pattern matching any of ``parts`` as whole words, with their endings."""
    ordered = sorted(set(parts), key=lambda p: (-len(p), p))
    if not ordered:
        return None
    alternatives = "|".join(re.escape(p) for p in ordered)
    return re.compile(rf"(?<!{_WORD})(?:{alternatives}){NAME_ENDINGS}(?!{_WORD})")


def name_pattern(names: Iterable[str]) -> NamePattern | None:
    """Return the patterns matching the roster's names, their parts and their endings.

    The patterns match *normalised* text (see :func:`normalise`); :func:`mask` applies them.
    Return None for a roster without names.
    """
    anywhere: set[str] = set()
    capitalised: set[str] = set()
    for name in names:
        folded = " ".join(normalise(name.strip())[0].split())
        if not folded:
            continue
        parts = [p for p in re.split(r"[\s-]+", folded) if p]
        if len(parts) > 1 or not _everyday(folded):
            anywhere.add(folded)  # a whole name of several parts is a name in any case
        else:
            capitalised.add(folded)
        for part in parts:
            if sum(c.isalpha() for c in part) >= MIN_NAME_PART:
                (capitalised if _everyday(part) else anywhere).add(part)
    if not anywhere and not capitalised:
        return None
    return NamePattern(_alternatives(anywhere), _alternatives(capitalised - anywhere))


@dataclass(frozen=True)
class _Search:
    pattern: re.Pattern[str]
    kind: int
    folded: bool = True
    group: str | int = 0
    capitalised: bool = False


_SEARCHES = (
    _Search(EMAIL, 0),
    _Search(LINK, 1),
    _Search(SHORT_LINK, 1),
    _Search(PHONE, 2),
    _Search(EXTENSION, 2),
    _Search(STAFF_NUMBER, 3),
    _Search(HASH_NUMBER, 3),
    _Search(NAMED_NUMBER, 3, group="id"),
    _Search(TICKET, 3, folded=False),
    _Search(HANDLE, _NAME),
)


def _end(text: str, end: int) -> int:
    """Return ``end`` moved past combining marks that belong to the last masked letter."""
    while end < len(text) and unicodedata.combining(text[end]):
        end += 1
    return end


def _spans(text: str, names: NamePattern | None) -> list[tuple[int, int, int]]:
    """Return (start, end, placeholder index) in ``text`` of everything to mask."""
    searches = list(_SEARCHES)
    if names is not None and names.anywhere is not None:
        searches.append(_Search(names.anywhere, _NAME))
    if names is not None and names.capitalised is not None:
        searches.append(_Search(names.capitalised, _NAME, capitalised=True))
    found: list[tuple[int, int, int]] = []
    for invisible in (" ", ""):
        haystacks = {
            True: normalise(text, True, invisible),
            False: normalise(text, False, invisible),
        }
        for search in searches:
            haystack, where = haystacks[search.folded]
            for match in search.pattern.finditer(haystack):
                first, last = match.span(search.group)
                if last <= first:
                    continue
                start = where[first]
                if search.capitalised and not text[start].isupper():
                    continue
                found.append((start, _end(text, where[last - 1] + 1), search.kind))
    return found


def mask(text: str, names: NamePattern | None) -> str:
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
