"""Masking identifiers in free text before anyone reads it.

Invariant: emails, phone-like digit runs and any name from the roster (whole names, and each
part of three letters or more, in any letter case) are replaced by a bracketed placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<![\w])\+?\d[\d ()./-]{6,}\d(?![\w])")
URL_LIKE = re.compile(r"https?://\S+")
MIN_NAME_PART = 3


def name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """Return one pattern matching the given roster names and their capitalised parts."""
    parts: set[str] = set()
    for name in names:
        name = name.strip()
        if not name:
            continue
        parts.add(name)
        parts.update(p for p in re.split(r"[\s-]+", name) if len(p) >= MIN_NAME_PART)
    if not parts:
        return None
    alternatives = "|".join(re.escape(p) for p in sorted(parts, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def mask(text: str, names: re.Pattern[str] | None) -> str:
    """Return ``text`` with emails, links, phone numbers and roster names masked."""
    text = EMAIL.sub("[email]", text)
    text = URL_LIKE.sub("[link]", text)
    text = PHONE.sub("[number]", text)
    if names is not None:
        text = names.sub("[name]", text)
    return text
