"""A bounded, thread-safe memo of the most recently used values, for per-process caches of
work that depends on its key alone (compiled SQL kept under an access profile's content)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
_MISSING = object()


class RecentlyUsed(Generic[V]):
    """At most ``size`` values, the least recently used dropped first; None is a value."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> tuple[bool, V | None]:
        """(True, value) when ``key`` is kept, marking it used; else (False, None)."""
        with self._lock:
            value = self._values.get(key, _MISSING)
            if value is _MISSING:
                return False, None
            self._values.move_to_end(key)
            return True, value  # type: ignore[return-value]

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def __len__(self) -> int:
        return len(self._values)
