"""Question rotation: which items a round asks.

Invariants: a theme is asked whole or not at all, so its index always means the same thing;
themes with a core item are asked every round; the other themes are packed into
``every`` groups and group ``(number - 1) % every`` is asked in round ``number``, so each
theme is measured at least once every ``every`` rounds; no round asks more than
``MAX_ITEMS`` items. The schedule depends only on the bank and ``every``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .questions import Bank

MAX_ITEMS = 10  # about three minutes
NO_ROTATION = 1
DEFAULT_ROTATION_EVERY = 3  # a new programme asks each rotating theme every 3 rounds


class RotationError(ValueError):
    """Raised when a bank cannot be scheduled within the item budget."""


@dataclass(frozen=True)
class Schedule:
    """The rotation of one bank: core themes, and the rotating groups in order."""

    core: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...]

    def themes_for(self, number: int) -> tuple[str, ...]:
        """Return the themes asked in round ``number`` (1-based)."""
        if not self.groups:
            return self.core
        return self.core + self.groups[(number - 1) % len(self.groups)]


def _theme_sizes(bank: Bank) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for item in bank.items:
        sizes[item.theme] = sizes.get(item.theme, 0) + 1
    return sizes


def schedule(bank: Bank, every: int, max_items: int = MAX_ITEMS) -> Schedule:
    """Pack the bank's rotating themes into ``every`` groups (first fit, largest first)."""
    if every < NO_ROTATION:
        raise RotationError("the rotation period must be at least 1 round")
    sizes = _theme_sizes(bank)
    order = [t.key for t in bank.themes if t.key in sizes]
    core = tuple(t for t in order if any(i.core for i in bank.items if i.theme == t))
    rotating = [t for t in order if t not in core]
    core_items = sum(sizes[t] for t in core)
    if core_items > max_items:
        raise RotationError(
            f"the core themes alone have {core_items} items; at most {max_items} fit in a pulse"
        )
    if every == NO_ROTATION:
        total = core_items + sum(sizes[t] for t in rotating)
        if total > max_items:
            raise RotationError(
                f"asking every theme every round means {total} items; at most {max_items} fit "
                "in a pulse, so rotate them over more rounds"
            )
        return Schedule(core + tuple(rotating), ())
    room = max_items - core_items
    groups: list[list[str]] = [[] for _ in range(every)]
    filled = [0] * every
    for theme in sorted(rotating, key=lambda t: (-sizes[t], order.index(t))):
        if sizes[theme] > room:
            raise RotationError(
                f"theme {theme!r} has {sizes[theme]} items but only {room} fit beside the "
                "core items"
            )
        slot = next((g for g in range(every) if filled[g] + sizes[theme] <= room), None)
        if slot is None:
            raise RotationError(
                f"the rotating themes do not fit in {every} rounds of at most {max_items} "
                "items; rotate over more rounds"
            )
        groups[slot].append(theme)
        filled[slot] += sizes[theme]
    ordered = tuple(tuple(t for t in order if t in g) for g in groups if g)
    return Schedule(core, ordered)


def items_for_round(bank: Bank, number: int, every: int) -> tuple[str, ...]:
    """Return the keys of the items asked in round ``number``, in bank order."""
    themes = set(schedule(bank, every).themes_for(number))
    return tuple(item.key for item in bank.items if item.theme in themes)
