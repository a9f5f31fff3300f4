"""The shape of the organisation tree as roster lines write it: paths and the rules on them.

Invariant: a path names a unit from the organisation's root (``Lab/Research/Language``); a new
path must start at the existing root, must not put an existing unit inside its own descendant
(a cycle), and must not name a unit that differs from a sibling only in letter case. Units are
created, never renamed, moved or deleted, so these rules are all that keeps the tree a tree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

PATH_SEPARATOR = "/"

Path = tuple[str, ...]


def format_path(path: Iterable[str]) -> str:
    """Return a unit path as people write it, such as ``Lab/Research``."""
    return PATH_SEPARATOR.join(path)


def tree_problems(
    existing: Mapping[Path, int], paths: Iterable[tuple[Path, int]]
) -> list[tuple[int, str]]:
    """Return (line, message) for each path that breaks the tree's rules.

    One problem per distinct path, on the first line that uses it: a different organisation
    root, a cycle (a segment naming an existing unit that would end up inside its own
    descendant), and unit names that differ from a sibling's only in letter case.

    :param existing: unit id by path, for every unit now in the tree.
    :param paths: (unit path, line) of every line, in file order.
    """
    first_line: dict[Path, int] = {}
    uses: dict[Path, int] = defaultdict(int)
    for path, line in paths:
        first_line.setdefault(path, line)
        uses[path] += 1
    problems: list[tuple[int, str]] = []

    def report(path: Path, message: str) -> None:
        others = uses[path] - 1
        also = f" The same path is on {others} more line{'s' if others != 1 else ''}."
        problems.append((first_line[path], message + (also if others else "")))

    roots = sorted({p[0] for p in existing})
    by_name: dict[str, list[Path]] = defaultdict(list)
    for path in existing:
        by_name[path[-1]].append(path)
    spelling: dict[tuple[Path, str], set[str]] = defaultdict(set)
    for path in existing:
        spelling[(path[:-1], path[-1].casefold())].add(path[-1])
    for path in first_line:
        for i in range(len(path)):
            spelling[(path[:i], path[i].casefold())].add(path[i])
    for path in first_line:
        if roots and path[0] not in roots:
            report(
                path,
                f"The organisation is called {' or '.join(map(repr, roots))} here, but this "
                f"path starts at {path[0]!r}.",
            )
            continue
        problem = _cycle(existing, by_name, path) or _case_clash(existing, spelling, path)
        if problem:
            report(path, problem)
    return problems


def _cycle(existing: Mapping[Path, int], by_name: Mapping[str, list[Path]], path: Path) -> str:
    """Return why ``path`` would put an existing unit inside its own descendant, or ''."""
    for j in range(1, len(path)):
        if path[: j + 1] in existing:
            continue
        for unit in by_name.get(path[j], ()):
            # ``path[j]`` names ``unit``; an earlier segment naming one of its descendants
            # would put the unit under itself.
            for i in range(1, j):
                inside = [d for d in by_name.get(path[i], ()) if d[: len(unit)] == unit]
                if inside:
                    return (
                        f"The path {format_path(path)!r} puts {path[j]!r} under {path[i]!r}, "
                        f"but {format_path(inside[0])!r} already has {path[i]!r} inside "
                        f"{path[j]!r}: that would be a cycle in the tree. Write the unit's "
                        "full current path, or give the new unit another name."
                    )
    return ""


def _case_clash(
    existing: Mapping[Path, int], spelling: Mapping[tuple[Path, str], set[str]], path: Path
) -> str:
    """Return why a new segment of ``path`` clashes with a sibling spelled differently, or ''."""
    for i in range(len(path)):
        if path[: i + 1] in existing:
            continue
        names = spelling[(path[:i], path[i].casefold())]
        if len(names) > 1:
            others = ", ".join(repr(n) for n in sorted(names - {path[i]}))
            return (
                f"The unit {path[i]!r} in {format_path(path)!r} differs from {others} only in "
                "letter case; use one spelling."
            )
    return ""
