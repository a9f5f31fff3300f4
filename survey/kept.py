"""What a process keeps so as not to compute it again: a bounded memo, safe across threads.

Invariant: a value is kept under a key that names everything it was made from (a round's public
key, a manifest's digest, a reader's scope), so a kept value is never stale, only forgotten:
the least recently used one goes once more than ``size`` are kept. Values are shared between
requests, so they must not change.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Kept(Generic[K, V]):
    """At most ``size`` values by key, the least recently used forgotten first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """Return the value kept under ``key``, if any."""
        with self._lock:
            found = self._values.get(key)
            if found is not None:
                self._values.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> V:
        """Keep ``value`` under ``key`` and return it."""
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self._size:
                self._values.popitem(last=False)
        return value

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """Return the value under ``key``, making and keeping it first if there is none.

        ``make`` runs outside the lock: two threads may both make a missing value, and the
        second one kept wins (they are equal, being made from the same key).
        """
        found = self.get(key)
        return self.put(key, make()) if found is None else found

    def forget(self, which: Callable[[K], bool]) -> None:
        """Forget every value whose key ``which`` selects."""
        with self._lock:
            for key in [key for key in self._values if which(key)]:
                del self._values[key]
