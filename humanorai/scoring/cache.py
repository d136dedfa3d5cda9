"""A thread-safe LRU cache of scored texts, keyed by the normalised text's hash and the bundle id.

Two texts that normalise to the same string reach every member as the same input, so they share an
entry; a different bundle never does.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Generic, TypeVar

Value = TypeVar("Value")


def cache_key(normalized_text: str, bundle_id: str) -> str:
    """The key of a text already normalised by :data:`humanorai.text.RAW` (as :class:`TextBatch` holds it)."""
    digest = hashlib.sha256(normalized_text.encode("utf-8")).hexdigest()
    return f"{bundle_id}:{digest}"


class LRUCache(Generic[Value]):
    """At most ``capacity`` entries; the least recently used one goes first. Capacity 0 disables it."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, Value] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Value | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: str, value: Value) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
