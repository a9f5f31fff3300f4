"""The per-process memo: bounded, least recently used forgotten first, forgets on request."""

from __future__ import annotations

from survey.kept import Kept


def test_the_least_recently_used_value_goes_first() -> None:
    kept: Kept[str, int] = Kept(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # "a" is now the most recently used
    kept.put("c", 3)
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (1, None, 3)


def test_a_value_is_made_once_and_then_kept() -> None:
    kept: Kept[str, list[int]] = Kept(4)
    made: list[str] = []

    def make() -> list[int]:
        made.append("x")
        return [1]

    first = kept.get_or_make("x", make)
    assert kept.get_or_make("x", make) is first and made == ["x"]


def test_forget_drops_only_what_it_selects() -> None:
    kept: Kept[tuple[int, int], str] = Kept(8)
    for key in ((1, 1), (1, 2), (2, 1)):
        kept.put(key, str(key))
    kept.forget(lambda key: key[0] == 1)
    assert (kept.get((1, 1)), kept.get((1, 2)), kept.get((2, 1))) == (None, None, "(2, 1)")
