"""Whether a question bank can be scheduled, and what an admin should know before using it.

Invariant: a bank is accepted only if some rotation of at most ``LONGEST_ROTATION`` rounds can
ask it (``min_rotation`` is not None); everything else worth knowing (a rotation longer than a
new programme's default, missing translations) is a warning, never a refusal.
"""

from __future__ import annotations

from . import i18n
from .questions import SOURCE_LANGUAGE, Bank
from .rotation import DEFAULT_ROTATION_EVERY, MAX_ITEMS, RotationError, schedule

LONGEST_ROTATION = 12  # beyond this a theme would be measured too rarely to follow


def min_rotation(bank: Bank) -> int | None:
    """Return the fewest rounds a programme can rotate ``bank`` over, or None if none fits."""
    for every in range(1, LONGEST_ROTATION + 1):
        try:
            schedule(bank, every)
        except RotationError:
            continue
        return every
    return None


def bank_warnings(bank: Bank) -> tuple[str, ...]:
    """Return what an admin should know before using ``bank``: rotation and translation gaps."""
    warnings = []
    needed = min_rotation(bank)
    if needed is not None and needed > DEFAULT_ROTATION_EVERY:
        try:
            schedule(bank, DEFAULT_ROTATION_EVERY)
            reason = ""
        except RotationError as exc:
            reason = f" ({exc})"
        warnings.append(
            f"Programmes rotating their questions over {DEFAULT_ROTATION_EVERY} rounds "
            f"(the default) cannot ask this bank{reason}: raise their rotation to at least "
            f"{needed} rounds."
        )
    for lang in bank.languages:
        if lang == SOURCE_LANGUAGE:
            continue
        name = f"{i18n.NAMES.get(lang, lang)} ({lang})"
        if lang not in i18n.SUPPORTED:
            warnings.append(
                f"{name}: the survey pages are not available in this language (only "
                f"{', '.join(i18n.SUPPORTED)}), so employees are not offered these translations."
            )
            continue
        gaps = []
        items = sum(1 for item in bank.items if not item.has_text_in(lang))
        themes = sum(1 for theme in bank.themes if not theme.has_label_in(lang))
        if items:
            gaps.append(f"{items} of {len(bank.items)} item texts")
        if themes:
            gaps.append(f"{themes} of {len(bank.themes)} theme labels")
        if bank.comment_prompt and not bank.has_comment_prompt_in(lang):
            gaps.append("the comment prompt")
        if gaps:
            listed = ", ".join(gaps[:-1]) + " and " + gaps[-1] if len(gaps) > 1 else gaps[0]
            warnings.append(f"{name}: no translation for {listed}; English is shown instead.")
    return tuple(warnings)


def unschedulable(bank: Bank) -> str:
    """Return why no rotation fits ``bank``, with what to change."""
    try:
        schedule(bank, LONGEST_ROTATION)
    except RotationError as exc:
        return (
            f"No rotation can ask this bank: {exc}. A round asks at most {MAX_ITEMS} items, so "
            "mark fewer items as core or split large themes."
        )
    return "No rotation can ask this bank."  # pragma: no cover - min_rotation found none
