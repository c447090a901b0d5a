"""Per-shard expiry table: absolute unix-ms deadlines with O(1) random sampling.

The active-expiry cycle samples random volatile keys as Redis does
(activeExpireCycle). A dict can't hand out a random key cheaply, so the table
also keeps its keys in a list with each key's position, and removes by swapping
with the last element.
"""
from __future__ import annotations

import random


class ExpireTable:
    __slots__ = ("when", "_keys", "_pos")

    def __init__(self):
        self.when: dict = {}
        self._keys: list = []
        self._pos: dict = {}

    def __len__(self) -> int:
        return len(self.when)

    def set(self, key, ms: int) -> None:
        if key not in self.when:
            self._pos[key] = len(self._keys)
            self._keys.append(key)
        self.when[key] = ms

    def remove(self, key) -> bool:
        if self.when.pop(key, None) is None:
            return False
        idx = self._pos.pop(key)
        last = self._keys.pop()
        if idx < len(self._keys):
            self._keys[idx] = last
            self._pos[last] = idx
        return True

    def clear(self) -> None:
        self.when.clear()
        self._keys.clear()
        self._pos.clear()

    def sample(self, count: int) -> list:
        keys = self._keys
        n = len(keys)
        if n <= count:
            return list(keys)
        return [keys[random.randrange(n)] for _ in range(count)]
