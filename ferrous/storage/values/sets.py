"""The set type (t_set.c): a plain Python set plus the intset/hashtable encoding flag.

Redis keeps a set of integers as a sorted intset while it has at most
set-max-intset-entries members, and converts it to a hashtable for good as soon
as a non-integer member arrives or it grows past the limit. Ferrous stores every
set the same way but tracks that flag, so OBJECT ENCODING and the reply order of
intsets (ascending integers) match Redis.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from random import randrange, sample

DEFAULT_MAX_INTSET_ENTRIES = 512
INTSET_ENTRIES_CAP = 1 << 30      # Redis caps the limit (intset internals)

_INT_RE = re.compile(rb"(?:0|-?[1-9][0-9]{0,18})\Z")


def is_int(data: bytes) -> bool:
    """string2ll: canonical decimal that fits a signed 64-bit integer."""
    return _INT_RE.match(data) is not None and -(1 << 63) <= int(data) < (1 << 63)


class RandomPool:
    """O(1) uniform random picks from a plain set or dict, which Python cannot index.

    Built on the first random pick: a list of the elements and each element's
    position in it. From then on the owner reports every add and remove, which
    keep both exact in O(1) (a removal moves the last element into the hole).
    Read-only commands run concurrently under a shared lock: they only read the
    pool, or build it and publish it with one assignment.
    """

    __slots__ = ("state",)      # (elements, {element: index}) or None

    def __init__(self):
        self.state = None

    def _elements(self, container) -> list:
        state = self.state
        if state is None:
            elements = list(container)
            state = self.state = (elements, {e: i for i, e in enumerate(elements)})
        return state[0]

    # -- the owner's changes (under the write lock) ------------------------------------
    def added(self, element) -> None:
        state = self.state
        if state is not None:
            elements, positions = state
            positions[element] = len(elements)
            elements.append(element)

    def removed(self, element) -> None:
        state = self.state
        if state is not None:
            elements, positions = state
            index = positions.pop(element, None)
            if index is None:           # the owner was changed behind our back: rebuild
                self.state = None
                return
            last = elements.pop()
            if index < len(elements):
                elements[index] = last
                positions[last] = index

    # -- picks -----------------------------------------------------------------------
    def pick(self, container):
        """A random element of the non-empty container (it is not removed)."""
        elements = self._elements(container)
        return elements[randrange(len(elements))]

    def distinct(self, container, count: int) -> list:
        """count distinct random elements, count < len(container)."""
        if count * 3 > len(container):
            # Many of them: sampling the whole is cheaper than rejecting repeats.
            return sample(list(container), count)
        chosen = {}
        while len(chosen) < count:
            chosen[self.pick(container)] = None
        return list(chosen)


_SCAN_KEY_MASK = (1 << 63) - 1


def scan_key(element) -> int:
    """An element's place in scan order: a 63-bit hash plus one, so 0 stays "start"."""
    return (hash(element) & _SCAN_KEY_MASK) + 1


class ScanSnapshot:
    """SSCAN/HSCAN cursors over a plain set or dict, which have no stable positions.

    A cursor is a position in hash order: a batch returns the elements whose
    scan_key is >= cursor, and the next cursor is the key of the first element
    not returned. The order comes from a sorted snapshot of the elements, rebuilt
    when a scan starts (cursor 0) after the container's membership changed. So the
    snapshot in use always holds every element that was present when the oldest
    running scan started: an element present for a whole scan is returned (once,
    unless two elements share a 63-bit hash, whose group is never split), removed
    elements are skipped, and elements added later may or may not be returned --
    the guarantee Redis gives. A snapshot is replaced as a whole, never changed in
    place, so concurrent readers under a shared lock are safe.
    """

    __slots__ = ("state",)      # (membership version, sorted keys, elements) or None

    def __init__(self):
        self.state = None

    def batch(self, container, version: int, cursor: int, count: int) -> tuple[list, int]:
        state = self.state
        if state is None or (cursor == 0 and state[0] != version):
            elements = sorted(container, key=scan_key)
            state = (version, [scan_key(e) for e in elements], elements)
            self.state = state
        _, keys, elements = state
        total = len(keys)
        i = bisect_left(keys, cursor)
        found = []
        # Like Redis's maxiterations: stop after count*10 stale entries too.
        budget = count * 10
        while i < total and len(found) < count and budget > 0:
            element = elements[i]
            if element in container:
                found.append(element)
            i += 1
            budget -= 1
        # Never split elements that share a key: the cursor could not resume inside it.
        while 0 < i < total and keys[i] == keys[i - 1]:
            element = elements[i]
            if element in container:
                found.append(element)
            i += 1
        return found, (keys[i] if i < total else 0)


def intset_limit(config) -> int:
    limit = getattr(config, "set_max_intset_entries", DEFAULT_MAX_INTSET_ENTRIES)
    return min(limit, INTSET_ENTRIES_CAP)


def int_sorted(members) -> list:
    """Members in intset order (ascending integers); every member is an integer."""
    return sorted(members, key=int)


def fits_intset(members, limit: int, all_ints: bool = False) -> bool:
    """Would a set built from scratch with these members be an intset?
    all_ints: the caller knows they are integers (they come from an intset)."""
    if len(members) > limit:
        return False
    return all_ints or all(is_int(m) for m in members)


class SetValue:
    """A set value. Change `members` only through the methods below (or build a new
    SetValue): they keep the encoding flag, the random pool and the scan version."""

    type_name = "set"
    __slots__ = ("members", "intset", "version", "_pool", "_scanner")

    def __init__(self, members=None, intset: bool = True):
        self.members = set() if members is None else members
        self.intset = intset
        self.version = 0           # bumped when membership changes (for SSCAN)
        # Created on first use: most sets never see SPOP/SRANDMEMBER/SSCAN.
        self._pool = None
        self._scanner = None

    @property
    def pool(self) -> RandomPool:
        pool = self._pool
        if pool is None:
            pool = self._pool = RandomPool()
        return pool

    def encoding(self, config=None) -> str:
        return "intset" if self.intset else "hashtable"

    def __len__(self) -> int:
        return len(self.members)

    def copy(self) -> "SetValue":
        return SetValue(set(self.members), self.intset)

    # -- changes ------------------------------------------------------------
    def add(self, member: bytes, limit: int) -> bool:
        members = self.members
        if member in members:
            return False
        if self.intset and not is_int(member):
            self.intset = False
        members.add(member)
        if self.intset and len(members) > limit:
            self.intset = False
        if self._pool is not None:
            self._pool.added(member)
        self.version += 1
        return True

    def remove(self, member: bytes) -> bool:
        try:
            self.members.remove(member)
        except KeyError:
            return False
        if self._pool is not None:
            self._pool.removed(member)
        self.version += 1
        return True

    def pop_random(self) -> bytes:
        member = self.pool.pick(self.members)
        self.remove(member)
        return member

    def pop_many(self, count: int, limit: int) -> list:
        """SPOP with 0 < count < size, using Redis's two strategies; returns the
        popped members in reply order."""
        remaining = len(self.members) - count
        if remaining * 5 > count:
            return [self.pop_random() for _ in range(count)]
        # Few members stay: Redis picks those and builds a new set from them,
        # whose encoding is worked out afresh (an old hashtable may become an
        # intset again); the rest is replied in the old set's order.
        keep = set(sample(list(self.members), remaining))
        popped = self.members - keep
        was_intset = self.intset
        self.members = keep
        self.intset = fits_intset(keep, limit)
        self._pool = None
        self.version += 1
        return int_sorted(popped) if was_intset else list(popped)

    # -- reads --------------------------------------------------------------
    def ordered(self) -> list:
        """The members in Redis's iteration order where it is defined (intset)."""
        if self.intset:
            return int_sorted(self.members)
        return list(self.members)

    def scan(self, cursor: int, count: int) -> tuple[list, int]:
        """One SSCAN step: (members, next cursor). An intset is returned whole."""
        if self.intset:
            return int_sorted(self.members), 0
        scanner = self._scanner
        if scanner is None:
            scanner = self._scanner = ScanSnapshot()
        return scanner.batch(self.members, self.version, cursor, count)

    def random_member(self) -> bytes:
        return self.pool.pick(self.members)

    def random_members(self, count: int) -> list:
        """count random members with repetitions (SRANDMEMBER with a negative count)."""
        pick, members = self.pool.pick, self.members
        return [pick(members) for _ in range(count)]

    def random_distinct(self, count: int) -> list:
        return self.pool.distinct(self.members, count)
