"""The list type (t_list.c): a deque of bytes elements.

Redis 7.0 stores every list as a quicklist (a linked list of listpack nodes; the
listpack encoding for small lists only arrived in 7.2), so OBJECT ENCODING is always
"quicklist". A deque has the same costs: O(1) at both ends, O(n) in the middle
(LINDEX, LSET, LINSERT, LPOS walk the nodes in Redis too).

Indexes given to these methods are already normalised by the caller where noted;
the Redis index conventions (negative from the tail, clamping) live here so that
every command shares them.
"""
from __future__ import annotations

from collections import deque
from itertools import islice

LEFT, RIGHT = 0, 1       # LIST_HEAD / LIST_TAIL
_LLONG_MIN = -(1 << 63)


def _wrap64(value: int) -> int:
    """value as C's signed 64-bit arithmetic leaves it (LPOS on LLONG_MIN ranks)."""
    return ((value + (1 << 63)) & ((1 << 64) - 1)) - (1 << 63)


def range_bounds(start: int, end: int, length: int):
    """addListRangeReply / LTRIM index rules: (start, end) inclusive and clamped, or
    None for an empty range."""
    if start < 0:
        start += length
    if end < 0:
        end += length
    if start < 0:
        start = 0
    if start > end or start >= length:
        return None
    if end >= length:
        end = length - 1
    return start, end


class ListValue:
    __slots__ = ("items",)
    type_name = "list"

    def __init__(self, items=()):
        self.items = deque(items)

    def encoding(self, config) -> str:
        return "quicklist"

    def __len__(self) -> int:
        return len(self.items)

    def copy(self) -> "ListValue":
        return ListValue(self.items)

    # -- both ends ------------------------------------------------------------
    def push(self, values, where: int) -> int:
        """LPUSH/RPUSH: each value in turn at the head or tail; the new length."""
        if where == LEFT:
            self.items.extendleft(values)
        else:
            self.items.extend(values)
        return len(self.items)

    def pop(self, where: int) -> bytes:
        return self.items.popleft() if where == LEFT else self.items.pop()

    def pop_many(self, where: int, count: int) -> list:
        """Up to count elements from one end, in popping order (RPOP 2 -> last, second last)."""
        pop = self.items.popleft if where == LEFT else self.items.pop
        return [pop() for _ in range(min(count, len(self.items)))]

    # -- by index ---------------------------------------------------------------
    def index(self, index: int):
        """LINDEX: the element at index (negative from the tail), or None."""
        try:
            return self.items[index]
        except IndexError:
            return None

    def set(self, index: int, value: bytes) -> bool:
        """LSET: False when index is out of range."""
        try:
            self.items[index] = value
        except IndexError:
            return False
        return True

    def range(self, start: int, end: int) -> list:
        """LRANGE with Redis's index rules; walks from the nearer end like quicklist."""
        length = len(self.items)
        bounds = range_bounds(start, end, length)
        if bounds is None:
            return []
        start, end = bounds
        if start == 0 and end == length - 1:
            return list(self.items)
        if start > length - 1 - end:
            tail = list(islice(reversed(self.items), length - 1 - end, length - start))
            tail.reverse()
            return tail
        return list(islice(self.items, start, end + 1))

    def trim(self, start: int, end: int) -> int:
        """LTRIM: keep [start, end]; returns how many elements were removed."""
        length = len(self.items)
        bounds = range_bounds(start, end, length)
        if bounds is None:
            self.items.clear()
            return length
        start, end = bounds
        head, tail = start, length - 1 - end
        if head + tail > length // 2:
            self.items = deque(islice(self.items, start, end + 1))
        else:
            for _ in range(head):
                self.items.popleft()
            for _ in range(tail):
                self.items.pop()
        return head + tail

    # -- by value ---------------------------------------------------------------
    def insert(self, pivot: bytes, value: bytes, before: bool) -> bool:
        """LINSERT next to the first pivot from the head; False when there is none."""
        try:
            position = self.items.index(pivot)
        except ValueError:
            return False
        self.items.insert(position if before else position + 1, value)
        return True

    def remove(self, value: bytes, count: int) -> int:
        """LREM: count > 0 from the head, < 0 from the tail, 0 all; how many went."""
        items = self.items
        if count == 1:
            try:
                items.remove(value)
            except ValueError:
                return 0
            return 1
        limit = abs(count) or len(items)
        kept = []
        removed = 0
        source = reversed(items) if count < 0 else items
        for element in source:
            if removed < limit and element == value:
                removed += 1
            else:
                kept.append(element)
        if removed:
            if count < 0:
                kept.reverse()
            self.items = deque(kept)
        return removed

    def positions(self, element: bytes, rank: int, count: int, maxlen: int, want_list: bool):
        """LPOS: matching indexes (want_list, COUNT given; count 0 = all) or the one
        index / None. rank != 0; negative ranks scan from the tail."""
        items = self.items
        if rank == 1 and not maxlen and not want_list:
            try:
                return items.index(element)          # the common case at C speed
            except ValueError:
                return None
        length = len(items)
        forward = rank > 0
        if not forward:
            rank = _wrap64(-rank)                    # LLONG_MIN stays negative, as in C
        source = items if forward else reversed(items)
        if maxlen:
            source = islice(source, maxlen)
        found = []
        matches = 0
        for i, candidate in enumerate(source):
            if candidate != element:
                continue
            matches += 1
            if matches < rank:
                continue
            position = i if forward else length - 1 - i
            if not want_list:
                return position
            found.append(position)
            if count and _wrap64(matches - rank + 1) >= count:
                break
        return found if want_list else None
