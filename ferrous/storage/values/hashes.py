"""The hash type (t_hash.c): a plain dict plus the listpack/hashtable encoding flag.

Redis keeps a small hash as a listpack (insertion order, updates in place) and
converts it to a hashtable for good once it has more than hash-max-listpack-entries
fields or any field or value longer than hash-max-listpack-value bytes. A dict
keeps the listpack's order, so HGETALL/HKEYS/HSCAN of small hashes match Redis.
"""
from __future__ import annotations

from ferrous.storage.values.sets import RandomPool, ScanSnapshot

DEFAULT_MAX_LISTPACK_ENTRIES = 512   # Redis 7.0's built-in default (redis.conf says 512 too)
DEFAULT_MAX_LISTPACK_VALUE = 64


def listpack_limits(config) -> tuple[int, int]:
    """(hash-max-listpack-entries, hash-max-listpack-value) from the live config."""
    return (getattr(config, "hash_max_listpack_entries", DEFAULT_MAX_LISTPACK_ENTRIES),
            getattr(config, "hash_max_listpack_value", DEFAULT_MAX_LISTPACK_VALUE))


class HashValue:
    """A hash value. Add or delete fields only through set()/delete() (or build a new
    HashValue): they keep the encoding flag, the random pool and the scan version."""

    type_name = "hash"
    __slots__ = ("fields", "listpack", "version", "_pool", "_scanner")

    def __init__(self, fields=None, listpack: bool = True):
        self.fields = {} if fields is None else fields
        self.listpack = listpack
        self.version = 0           # bumped when the set of fields changes (for HSCAN)
        # Created on first use: most hashes never see HRANDFIELD/HSCAN.
        self._pool = None
        self._scanner = None

    @property
    def pool(self) -> RandomPool:
        pool = self._pool
        if pool is None:
            pool = self._pool = RandomPool()
        return pool

    def encoding(self, config=None) -> str:
        return "listpack" if self.listpack else "hashtable"

    def __len__(self) -> int:
        return len(self.fields)

    def copy(self) -> "HashValue":
        return HashValue(dict(self.fields), self.listpack)

    # -- changes ------------------------------------------------------------
    def convert_if_long(self, strings, max_value: int) -> None:
        """hashTypeTryConversion: any argument longer than the limit converts the
        hash before anything is inserted (even if the command then changes nothing)."""
        if self.listpack:
            for s in strings:
                if len(s) > max_value:
                    self.listpack = False
                    return

    def set(self, field: bytes, value: bytes, limits: tuple[int, int]) -> bool:
        """hashTypeSet: True when the field is new."""
        fields = self.fields
        if self.listpack and (len(field) > limits[1] or len(value) > limits[1]):
            self.listpack = False
        is_new = field not in fields
        fields[field] = value
        if is_new:
            if self._pool is not None:
                self._pool.added(field)
            self.version += 1
            if self.listpack and len(fields) > limits[0]:
                self.listpack = False
        return is_new

    def delete(self, field: bytes) -> bool:
        if self.fields.pop(field, None) is None:
            return False
        if self._pool is not None:
            self._pool.removed(field)
        self.version += 1
        return True

    # -- reads --------------------------------------------------------------
    def scan(self, cursor: int, count: int) -> tuple[list, int]:
        """One HSCAN step: (fields, next cursor). A listpack is returned whole."""
        if self.listpack:
            return list(self.fields), 0
        scanner = self._scanner
        if scanner is None:
            scanner = self._scanner = ScanSnapshot()
        return scanner.batch(self.fields, self.version, cursor, count)

    def random_field(self) -> bytes:
        return self.pool.pick(self.fields)

    def random_fields(self, count: int) -> list:
        """count random fields with repetitions (negative HRANDFIELD count)."""
        pick, fields = self.pool.pick, self.fields
        return [pick(fields) for _ in range(count)]

    def random_distinct(self, count: int) -> list:
        """count distinct random fields, count < len(self)."""
        chosen = self.pool.distinct(self.fields, count)
        if self.listpack:
            # Redis samples a listpack in place and returns fields in their order.
            wanted = set(chosen)
            return [f for f in self.fields if f in wanted]
        return chosen
