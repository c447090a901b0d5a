"""Cursor-based iteration with Redis's SCAN guarantee over Python containers.

A Python dict cannot be resumed from a cursor, so a ScanIndex keeps its own copy
of the keys, bucketed by hash into 2**k lists. A cursor walks the buckets in
*reverse-binary* order, exactly like Redis's dictScan: when the table doubles
or halves between two calls, the buckets already visited map onto buckets the
cursor will not visit again, so an element present for the whole iteration is
returned at least once (and duplicates only appear after a shrink).

The index only costs anything once someone scans: the keyspace builds it lazily
on the first SCAN/RANDOMKEY of a database and then maintains it on every add and
remove. HSCAN/SSCAN/ZSCAN can keep one per large collection in the same way.

Thread-safety: add() may resize and needs exclusive access to the index;
remove() never resizes, so two removers racing under a shared lock (lazy expiry
under a read lock) at worst leave a stale entry or an overestimated count, and
scanners always check that what they got back still exists. Shrinking happens
in scan() and random_item(), which run with exclusive access.
"""
from __future__ import annotations

import random
from itertools import chain

_chain = chain.from_iterable

MIN_BUCKETS = 4
MAX_LOAD = 4      # grow when there are more elements than MAX_LOAD per bucket
TARGET_LOAD = 2   # elements per bucket after a resize
MIN_LOAD = 0.5    # shrink (when scanning) below this many elements per bucket


class ScanIndex:
    """A set of hashable items that can be scanned with a cursor.

    `shift` skips low hash bits that are equal for every item (the keyspace's
    shard bits), so that buckets spread on the bits that differ.
    """

    __slots__ = ("buckets", "bits", "mask", "count", "shift", "grow_at")

    def __init__(self, items=(), shift: int = 0):
        """items must be distinct (e.g. a dict's keys)."""
        self.shift = shift
        self._rebuild(list(items))

    def __len__(self) -> int:
        return self.count

    def _allocate(self, size: int) -> None:
        self.buckets = [[] for _ in range(size)]
        self.mask = size - 1
        self.bits = size.bit_length() - 1
        self.grow_at = MAX_LOAD * size

    # -- maintenance --------------------------------------------------------------
    def add(self, item) -> None:
        """Insert item; adding an item already present does nothing."""
        bucket = self.buckets[(hash(item) >> self.shift) & self.mask]  # inlined: hot path
        if item in bucket:
            return
        bucket.append(item)
        self.count += 1
        if self.count > self.grow_at:
            self._resize()

    def remove(self, item) -> None:
        """Remove item if present. Never resizes (see the module docstring)."""
        bucket = self.buckets[(hash(item) >> self.shift) & self.mask]
        try:
            bucket.remove(item)
        except ValueError:
            return
        self.count -= 1

    def clear(self) -> None:
        self.count = 0
        self._allocate(MIN_BUCKETS)

    def _resize(self) -> None:
        self._rebuild([item for bucket in self.buckets for item in bucket])

    def _rebuild(self, items: list) -> None:
        """Size the table for TARGET_LOAD items per bucket and redistribute items."""
        self.count = len(items)
        size = MIN_BUCKETS
        while size * TARGET_LOAD < self.count:
            size *= 2
        self._allocate(size)
        buckets, mask, shift = self.buckets, self.mask, self.shift
        for item in items:
            buckets[(hash(item) >> shift) & mask].append(item)

    def _shrink_if_sparse(self) -> None:
        if len(self.buckets) > MIN_BUCKETS and self.count < MIN_LOAD * len(self.buckets):
            self._resize()

    # -- iteration ----------------------------------------------------------------
    def scan(self, cursor: int, count: int) -> tuple[int, list]:
        """Visit buckets from cursor until `count` items are collected (or 10*count
        buckets were visited, as Redis bounds the work on sparse tables).
        Returns (next cursor, items); next cursor 0 means the iteration is over.

        The cursor is a bucket index; the walk goes through *positions* (the
        bit-reversed cursor) in increasing order. An aligned run of 2**j positions
        is the slice buckets[start::size >> j], so runs are taken in C, not bucket
        by bucket; the order of items within one reply does not matter.
        """
        self._shrink_if_sparse()
        buckets, bits = self.buckets, self.bits
        size = len(buckets)
        position = _reverse_bits(cursor & self.mask, bits)
        items: list = []
        budget = count * 10
        while True:
            run = self._run_length(position, count - len(items))
            start = _reverse_bits(position, bits)
            items.extend(_chain(buckets[start::size // run]))
            position += run
            budget -= run
            if position >= size:
                return 0, items
            if len(items) >= count or budget <= 0:
                return _reverse_bits(position, bits), items

    def _run_length(self, position: int, wanted: int) -> int:
        """The largest power of two <= the buckets expected to hold `wanted` more
        items, that `position` is aligned to."""
        expected = wanted * len(self.buckets) // max(self.count, 1)
        run = 1 << max(expected.bit_length() - 1, 0)
        while position & (run - 1):
            run >>= 1
        return min(run, len(self.buckets))

    def next_cursor(self, cursor: int) -> int:
        """Increment the reversed bits of cursor within the table (dictScan's v++)."""
        bits = self.bits
        position = _reverse_bits(cursor & self.mask, bits) + 1
        if position > self.mask:
            return 0
        return _reverse_bits(position, bits)

    def random_item(self):
        """A random item (items in crowded buckets are slightly less likely, as
        with Redis's dictGetRandomKey), or None when empty."""
        self._shrink_if_sparse()
        if self.count <= 0:
            return None
        buckets = self.buckets
        for _ in range(64 * len(buckets)):
            bucket = buckets[random.getrandbits(self.bits) if self.bits else 0]
            if bucket:
                return bucket[random.randrange(len(bucket))]
        return None  # only stale counts get here: the index is really empty


_REVERSED_BYTES = bytes(int(format(i, "08b")[::-1], 2) for i in range(256))


def _reverse_bits(value: int, bits: int) -> int:
    """value's low `bits` bits in reverse order (value < 2**bits <= 2**64)."""
    if bits == 0:
        return 0
    flipped = value.to_bytes(8, "little").translate(_REVERSED_BYTES)
    return int.from_bytes(flipped, "big") >> (64 - bits)


def scan_sharded(indexes: list, cursor: int, count: int) -> tuple[int, list]:
    """SCAN over several ScanIndexes (one per keyspace shard) as one cursor space.

    The cursor packs (bucket cursor << shard_bits) | shard, so it stays a small
    unsigned integer and 0 is both the start and the end. Shards are visited in
    order; the COUNT budget carries over from one shard to the next.
    """
    shard_bits = (len(indexes) - 1).bit_length()
    shard_mask = len(indexes) - 1
    shard, bucket_cursor = cursor & shard_mask, cursor >> shard_bits
    items: list = []
    while len(items) < count:
        index = indexes[shard]
        if len(index):
            bucket_cursor, found = index.scan(bucket_cursor, count - len(items))
            items.extend(found)
        else:
            bucket_cursor = 0
        if bucket_cursor:
            return (bucket_cursor << shard_bits) | shard, items
        shard += 1
        if shard == len(indexes):
            return 0, items
    return (bucket_cursor << shard_bits) | shard, items
