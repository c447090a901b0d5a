"""The sorted set type (t_zset.c): a dict member -> score plus a SortedList of
(score, member), which is exactly Redis's order (score, then member bytes).

Redis keeps a small sorted set as a listpack and converts it to a skiplist for good
once it holds more than zset-max-listpack-entries members or a member longer than
zset-max-listpack-value bytes. Only OBJECT ENCODING and ZSCAN (a listpack is returned
in one call) can see the difference, so the flag is all we keep.

Range lookups bisect the SortedList: O(log n) to find the bounds, then O(m) to read.
"""
from __future__ import annotations

import math
import random
import re
import threading
from types import SimpleNamespace
from typing import NamedTuple

from sortedcontainers import SortedList

from ferrous.storage.scan import ScanIndex

DEFAULT_MAX_LISTPACK_ENTRIES = 128
DEFAULT_MAX_LISTPACK_VALUE = 64

# zsetAdd outcomes.
ADDED, UPDATED, UNCHANGED, SKIPPED, NAN = "added", "updated", "unchanged", "skipped", "nan"


def listpack_limits(config) -> tuple[int, int]:
    """(zset-max-listpack-entries, zset-max-listpack-value) from the live config."""
    return (getattr(config, "zset_max_listpack_entries", DEFAULT_MAX_LISTPACK_ENTRIES),
            getattr(config, "zset_max_listpack_value", DEFAULT_MAX_LISTPACK_VALUE))


# -- number parsing (C strtod, as Redis calls it) -------------------------------------
_STRTOD_RE = re.compile(
    rb"[ \t\n\v\f\r]*([+-]?)(?:"
    rb"(0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)"
    rb"|((?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    rb"|(inf(?:inity)?)"
    rb"|(nan(?:\([0-9A-Za-z_]*\))?)"
    rb")", re.I)


def strtod(data: bytes) -> tuple[float, int, bool]:
    """glibc strtod: (value, bytes consumed, ERANGE). Nothing parsed gives (0.0, 0, False)."""
    match = _STRTOD_RE.match(data)
    if match is None:
        return 0.0, 0, False
    sign, hexa, decimal, inf, nan = match.groups()
    negative = sign == b"-"
    if inf:
        return (-math.inf if negative else math.inf), match.end(), False
    if nan:
        return math.nan, match.end(), False
    if hexa:
        try:
            value = float.fromhex(hexa.decode())
        except OverflowError:
            value = math.inf
        mantissa = hexa[2:].split(b"p")[0].split(b"P")[0]
    else:
        value = float(decimal)
        mantissa = re.split(rb"[eE]", decimal)[0]
    erange = math.isinf(value) or (value == 0.0 and mantissa.strip(b"0.") != b"")
    return (-value if negative else value), match.end(), erange


def parse_double(data: bytes) -> float | None:
    """getDoubleFromObject: the whole string, no leading space, no overflow, no NaN."""
    if not data or data[:1].isspace():
        return None
    value, end, erange = strtod(data)
    if end != len(data) or value != value or (erange and (math.isinf(value) or value == 0.0)):
        return None
    return value


_LISTPACK_INT_LIMIT = float(2 ** 62)   # double2ll's range, (double)(LLONG_MAX / 2)


def listpack_score_text(score: float, fallback) -> bytes:
    """A score as a listpack stores it (ZSCAN shows that text): an integral score within
    double2ll's range is an integer entry, anything else fallback(score) (d2string)."""
    if -_LISTPACK_INT_LIMIT <= score <= _LISTPACK_INT_LIMIT and score == int(score):
        return b"%d" % int(score)
    return fallback(score)


class ScoreRange(NamedTuple):
    min: float
    max: float
    minex: bool
    maxex: bool


def _c_string(data: bytes) -> bytes:
    """What C string functions see of an argument: up to the first NUL."""
    nul = data.find(b"\0")
    return data if nul < 0 else data[:nul]


def _parse_score_bound(data: bytes) -> tuple[float, bool] | None:
    data = _c_string(data)          # zslParseRange checks only up to the C string end
    exclusive = data[:1] == b"("
    text = data[1:] if exclusive else data
    value, end, _ = strtod(text)
    if end != len(text) or value != value:
        return None
    return value, exclusive


def parse_score_range(low: bytes, high: bytes) -> ScoreRange | None:
    """zslParseRange: '(' makes a bound exclusive; strtod accepts what it accepts."""
    lo, hi = _parse_score_bound(low), _parse_score_bound(high)
    if lo is None or hi is None:
        return None
    return ScoreRange(lo[0], hi[0], lo[1], hi[1])


class _Extreme:
    """shared.minstring / shared.maxstring: below / above every member (compared by
    identity only, as sdscmplex does)."""
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return self.name


MIN_STRING, MAX_STRING = _Extreme("MIN_STRING"), _Extreme("MAX_STRING")


class LexRange(NamedTuple):
    min: object   # bytes, MIN_STRING or MAX_STRING
    max: object
    minex: bool
    maxex: bool

    def gte_min(self, member: bytes) -> bool:
        bound = self.min
        if bound is MIN_STRING:
            return True
        if bound is MAX_STRING:
            return False
        return member > bound if self.minex else member >= bound

    def lte_max(self, member: bytes) -> bool:
        bound = self.max
        if bound is MAX_STRING:
            return True
        if bound is MIN_STRING:
            return False
        return member < bound if self.maxex else member <= bound

    def is_empty(self) -> bool:
        """The ranges zslIsInLexRange rejects before looking at any member."""
        low, high = self.min, self.max
        if low is high:
            return isinstance(low, _Extreme) or self.minex or self.maxex
        if low is MAX_STRING or high is MIN_STRING:
            return True
        if low is MIN_STRING or high is MAX_STRING:
            return False
        return low > high or (low == high and (self.minex or self.maxex))


def _parse_lex_bound(data: bytes):
    head, alone = data[:1], data[1:2] in (b"", b"\0")   # "+" must end the C string
    if head == b"+":
        return (MAX_STRING, True) if alone else None
    if head == b"-":
        return (MIN_STRING, True) if alone else None
    if head == b"(":
        return data[1:], True
    if head == b"[":
        return data[1:], False
    return None


def parse_lex_range(low: bytes, high: bytes) -> LexRange | None:
    """zslParseLexRange: '[x' inclusive, '(x' exclusive, '-' and '+' the extremes."""
    lo, hi = _parse_lex_bound(low), _parse_lex_bound(high)
    if lo is None or hi is None:
        return None
    return LexRange(lo[0], hi[0], lo[1], hi[1])


class _Top:
    """Sorts after every member: (score, TOP) is just past all entries with that score."""
    __slots__ = ()

    def __lt__(self, other):
        return False

    def __gt__(self, other):
        return True


_TOP = _Top()
_SCAN_LOCK = threading.Lock()  # ScanIndex.scan may resize; ZSCAN runs under a read lock


class _SharedReadSortedList(SortedList):
    """A SortedList that readers may share. SortedList builds its positional index
    lazily, on the first read after a change, and fills it in several steps; commands
    that only read run concurrently (shared shard lock), so one reader could see the
    index half built by another. This builds it aside and publishes it in one list
    assignment, offset first (writers, who clear it, hold the lock exclusively)."""

    def _build_index(self):
        scratch = SimpleNamespace(_lists=self._lists, _index=[], _offset=0)
        SortedList._build_index(scratch)
        self._offset = scratch._offset
        self._index[:] = scratch._index


class ZSetValue:
    type_name = "zset"
    __slots__ = ("scores", "ordered", "listpack", "scan_index")

    def __init__(self, listpack: bool = True):
        self.scores: dict = {}
        self.ordered = _SharedReadSortedList()
        self.listpack = listpack
        self.scan_index: ScanIndex | None = None

    @classmethod
    def from_pairs(cls, pairs, config) -> "ZSetValue":
        """A result set built whole (ZUNIONSTORE, GEOSEARCHSTORE ...): a listpack when its
        final size and member lengths allow it (zsetConvertToListpackIfNeeded)."""
        scores = dict(pairs)
        entries, max_value = listpack_limits(config)
        zset = cls(len(scores) <= entries and all(len(m) <= max_value for m in scores))
        if zset.listpack:
            scores = {member: zset._stored(score) for member, score in scores.items()}
        zset.scores = scores
        zset.ordered = _SharedReadSortedList((score, member) for member, score in scores.items())
        return zset

    def encoding(self, config=None) -> str:
        return "listpack" if self.listpack else "skiplist"

    def __len__(self) -> int:
        return len(self.scores)

    def copy(self) -> "ZSetValue":
        twin = ZSetValue(self.listpack)
        twin.scores = dict(self.scores)
        twin.ordered = _SharedReadSortedList(self.ordered)
        return twin

    # -- changes ------------------------------------------------------------------------
    def _stored(self, score: float) -> float:
        """A listpack stores an integral score as an integer, so -0.0 comes back as 0."""
        return 0.0 if self.listpack and score == 0 else score

    def _insert(self, member: bytes, score: float) -> None:
        score = self._stored(score)
        self.scores[member] = score
        self.ordered.add((score, member))
        if self.scan_index is not None:
            self.scan_index.add(member)

    def _delete(self, member: bytes, score: float) -> None:
        del self.scores[member]
        self.ordered.remove((score, member))
        if self.scan_index is not None:
            self.scan_index.remove(member)

    def add(self, member: bytes, score: float, limits: tuple[int, int], nx=False, xx=False,
            gt=False, lt=False, incr=False) -> tuple[str, float]:
        """zsetAdd: (outcome, resulting score). limits are listpack_limits(config): a new
        member that would not fit converts the listpack to a skiplist before going in."""
        if score != score:
            return NAN, score
        current = self.scores.get(member)
        if current is None:
            if xx:
                return SKIPPED, score
            if self.listpack and (len(self.scores) + 1 > limits[0] or len(member) > limits[1]):
                self.listpack = False
            self._insert(member, score)
            return ADDED, score
        if nx:
            return SKIPPED, current
        if incr:
            score += current
            if score != score:
                return NAN, score
        if (lt and score >= current) or (gt and score <= current):
            return SKIPPED, current
        if score == current:
            return UNCHANGED, score
        stored = self._stored(score)
        self.ordered.remove((current, member))
        self.ordered.add((stored, member))
        self.scores[member] = stored
        return UPDATED, score

    def remove(self, member: bytes) -> bool:
        score = self.scores.get(member)
        if score is None:
            return False
        self._delete(member, score)
        return True

    def remove_positions(self, start: int, stop: int) -> int:
        """Delete the entries at ranks start..stop-1; returns how many went."""
        if start >= stop:
            return 0
        doomed = list(self.ordered.islice(start, stop))
        del self.ordered[start:stop]
        scores, index = self.scores, self.scan_index
        for _, member in doomed:
            del scores[member]
            if index is not None:
                index.remove(member)
        return len(doomed)

    def pop(self, count: int, maximum: bool) -> list:
        """ZPOPMIN/ZPOPMAX core (genericZpopCommand): up to count (member, score) pairs from
        the low or high end, in pop order. Shared with BZPOPMIN/BZPOPMAX/BZMPOP."""
        popped = []
        ordered = self.ordered
        for _ in range(min(count, len(ordered))):
            score, member = ordered.pop(-1 if maximum else 0)
            del self.scores[member]
            if self.scan_index is not None:
                self.scan_index.remove(member)
            popped.append((member, score))
        return popped

    # -- reads --------------------------------------------------------------------------
    def score(self, member: bytes) -> float | None:
        return self.scores.get(member)

    def rank(self, member: bytes, reverse: bool = False) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        rank = self.ordered.bisect_left((score, member))
        return len(self.scores) - 1 - rank if reverse else rank

    def items(self, start: int = 0, stop: int | None = None, reverse: bool = False) -> list:
        """(member, score) pairs at ranks start..stop-1, in ascending or descending order."""
        return [(member, score) for score, member in self.ordered.islice(start, stop, reverse)]

    def rank_bounds(self, start: int, end: int) -> tuple[int, int] | None:
        """Redis's index sanitizing for ZRANGE/ZREMRANGEBYRANK: (first, last) inclusive,
        or None when the range is empty."""
        length = len(self.scores)
        if start < 0:
            start += length
        if end < 0:
            end += length
        if start < 0:
            start = 0
        if start > end or start >= length:
            return None
        return start, min(end, length - 1)

    def range_by_rank(self, start: int, end: int, reverse: bool) -> list:
        """ZRANGE by index (already sanitized, inclusive); reverse counts from the top."""
        if reverse:
            top = len(self.scores) - 1
            return self.items(top - end, top - start + 1, reverse=True)
        return self.items(start, end + 1)

    def score_positions(self, spec: ScoreRange) -> tuple[int, int]:
        """[start, stop) of the entries whose score is inside spec."""
        ordered = self.ordered
        start = ordered.bisect_left((spec.min, _TOP) if spec.minex else (spec.min,))
        stop = ordered.bisect_left((spec.max,) if spec.maxex else (spec.max, _TOP))
        return start, max(start, stop)

    def lex_positions(self, spec: LexRange, reverse: bool = False) -> tuple[int, int]:
        """[start, stop) of the members inside spec, for a walk upwards (or downwards
        when reverse: ZREVRANGEBYLEX, ZRANGE ... BYLEX REV)."""
        if spec.is_empty() or not self.scores:
            return 0, 0
        ordered = self.ordered
        first, last = ordered[0][0], ordered[-1][0]
        if first != last:
            return self._lex_positions_mixed_scores(spec, reverse)
        # One score for everything: the bounds bisect directly.
        start = self._bisect_lex(first, spec.min, spec.minex)
        stop = self._bisect_lex(first, spec.max, not spec.maxex)
        return start, max(start, stop)

    def _lex_positions_mixed_scores(self, spec: LexRange, reverse: bool) -> tuple[int, int]:
        """Members with different scores are not in lex order, and the lex commands are
        undefined: reproduce what Redis 7.0 does on a listpack (zzlIsInLexRange, then
        zzlFirstInLexRange / zzlLastInLexRange and a walk while the members stay in
        range). A skiplist's answer depends on its random levels: no order can match."""
        ordered = self.ordered
        size = len(ordered)
        if not spec.gte_min(ordered[size - 1][1]) or not spec.lte_max(ordered[0][1]):
            return 0, 0
        if reverse:
            end = size - 1
            while end >= 0 and not spec.lte_max(ordered[end][1]):
                end -= 1
            if end < 0 or not spec.gte_min(ordered[end][1]):
                return 0, 0
            start = end
            while start > 0 and spec.gte_min(ordered[start - 1][1]):
                start -= 1
            return start, end + 1
        start = 0
        while start < size and not spec.gte_min(ordered[start][1]):
            start += 1
        if start == size or not spec.lte_max(ordered[start][1]):
            return 0, 0
        stop = start + 1
        while stop < size and spec.lte_max(ordered[stop][1]):
            stop += 1
        return start, stop

    def _bisect_lex(self, score: float, bound, after: bool) -> int:
        if bound is MIN_STRING:
            return 0
        if bound is MAX_STRING:
            return len(self.ordered)
        key = (score, bound, _TOP) if after else (score, bound)
        return self.ordered.bisect_left(key)

    def window(self, start: int, stop: int, offset: int, limit: int, reverse: bool) -> list:
        """LIMIT offset count over the entries [start, stop), walking up or down.
        A negative offset gives nothing and a negative count means no limit, as in Redis."""
        if offset < 0:
            return []
        if reverse:
            high = stop - offset
            low = start if limit < 0 else max(start, high - limit)
            return self.items(low, high, reverse=True) if low < high else []
        low = start + offset
        high = stop if limit < 0 else min(stop, low + limit)
        return self.items(low, high) if low < high else []

    # -- random access ------------------------------------------------------------------
    def random_member(self) -> bytes:
        return self.ordered[random.randrange(len(self.ordered))][1]

    def random_pairs(self, count: int) -> list:
        """count random (member, score) pairs, repetitions allowed."""
        ordered, size = self.ordered, len(self.ordered)
        pairs = []
        for _ in range(count):
            score, member = ordered[random.randrange(size)]
            pairs.append((member, score))
        return pairs

    def random_distinct(self, count: int) -> list:
        """count distinct (member, score) pairs (count < len), in set order."""
        ordered = self.ordered
        return [(ordered[i][1], ordered[i][0]) for i in sorted(random.sample(range(len(ordered)), count))]

    # -- ZSCAN ----------------------------------------------------------------------------
    def scan(self, cursor: int, count: int) -> tuple[list, int]:
        """One ZSCAN step: (members, next cursor). A listpack is returned whole, in order;
        a skiplist is walked like dictScan, with an index built on first use."""
        if self.listpack:
            return [member for _, member in self.ordered], 0
        with _SCAN_LOCK:
            if self.scan_index is None:
                self.scan_index = ScanIndex(self.scores)
            cursor, members = self.scan_index.scan(cursor, count)
        return members, cursor
