"""SORT and SORT_RO (sort.c), generic group.

Follows sortCommandGeneric step by step: parse every option first (a syntax error wins
over WRONGTYPE), look the key up, load the elements (lists and sorted sets load only
the LIMIT range directly when nothing is sorted), compute the sort keys, sort, then
reply or STORE a list.

BY and GET patterns read keys that no key spec declares, so both commands take the
whole keyspace (LOCK_ALL): a concurrent writer can never interleave with a SORT.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from functools import cmp_to_key

from ferrous import errors
from ferrous.commands.args import parse_int
from ferrous.commands.registry import LOCK_ALL, command, lookup
from ferrous.errors import CommandError
from ferrous.server.blocking import signal_key_ready
from ferrous.server.notify import NOTIFY_GENERIC, NOTIFY_LIST, notify
from ferrous.storage.pqsort import partial_quicksort
from ferrous.storage.values.hashes import HashValue
from ferrous.storage.values.lists import ListValue
from ferrous.storage.values.sets import SetValue
from ferrous.storage.values.zsets import ZSetValue, strtod

_SORTABLE = (ListValue, SetValue, ZSetValue)
_DBL_MIN = sys.float_info.min
_ACL = "@set @sortedset @list @dangerous -@keyspace"   # generic, yet not @keyspace in Redis


def _c_string(data: bytes) -> bytes:
    """What C string functions (strcasecmp, strchr, strcoll) see: up to the first NUL."""
    nul = data.find(b"\0")
    return data if nul < 0 else data[:nul]


@dataclass
class _SortOptions:
    desc: bool = False
    alpha: bool = False
    limit_start: int = 0
    limit_count: int = -1
    store: bytes | None = None
    by: bytes | None = None
    dontsort: bool = False
    gets: list = field(default_factory=list)


# -- keys -------------------------------------------------------------------------------
_GETKEYS_SKIP = {b"limit": 2, b"get": 1, b"by": 1}


def _sort_getkeys(argv: list) -> list:
    """sortGetKeys: the sorted key, plus the last STORE destination. Like Redis, a word
    after STORE is scanned again as an option (so `STORE limit a b` skips two)."""
    store = None
    i = 2
    while i < len(argv):
        word = _c_string(argv[i]).lower()
        if word in _GETKEYS_SKIP:
            i += _GETKEYS_SKIP[word]
        elif word == b"store" and i + 1 < len(argv):
            store = i + 1
        i += 1
    return [1] if store is None else [1, store]


def _sort_ro_getkeys(argv: list) -> list:
    """sortROGetKeys: only the sorted key."""
    return [1]


# -- option parsing -----------------------------------------------------------------------
def _parse_options(argv: list, readonly: bool, full_key_access=lambda: True) -> _SortOptions:
    """`full_key_access()`: may the user read any key (BY/GET patterns name keys)."""
    opts = _SortOptions()
    j = 2
    while j < len(argv):
        word = _c_string(argv[j]).lower()
        left = len(argv) - j - 1
        if word == b"asc":
            opts.desc = False
        elif word == b"desc":
            opts.desc = True
        elif word == b"alpha":
            opts.alpha = True
        elif word == b"limit" and left >= 2:
            opts.limit_start = parse_int(argv[j + 1])
            opts.limit_count = parse_int(argv[j + 2])
            j += 2
        elif word == b"store" and left >= 1 and not readonly:
            opts.store = argv[j + 1]
            j += 1
        elif word == b"by" and left >= 1:
            opts.by = argv[j + 1]
            # A pattern without '*' names no per-element key: nothing to sort by.
            # Like Redis, a later BY with a '*' does not undo it.
            if b"*" not in _c_string(opts.by):
                opts.dontsort = True
            elif not full_key_access():
                raise CommandError(errors.SORT_BY_ACL_DENIED)
            j += 1
        elif word == b"get" and left >= 1:
            if not full_key_access():
                raise CommandError(errors.SORT_GET_ACL_DENIED)
            opts.gets.append(argv[j + 1])
            j += 1
        else:
            raise CommandError(errors.SYNTAX_ERR)
        j += 1
    return opts


# -- pattern lookups ------------------------------------------------------------------------
def _lookup_by_pattern(ctx, pattern: bytes, subst: bytes):
    """lookupKeyByPattern: '#' is the element itself; otherwise the first '*' is
    replaced by the element and an optional '->field' reads a hash field. None when
    the key (or field) is missing or of the wrong type."""
    cpattern = _c_string(pattern)
    if cpattern == b"#":
        return subst
    star = cpattern.find(b"*")
    if star < 0:
        return None
    arrow = cpattern.find(b"->", star + 1)
    field_name = None
    if arrow >= 0 and arrow + 2 < len(cpattern):
        field_name = pattern[arrow + 2:]
        key = pattern[:star] + subst + pattern[star + 1:arrow]
    else:
        key = pattern[:star] + subst + pattern[star + 1:]
    value = ctx.read(key)
    if value is None:
        return None
    if field_name is not None:
        return value.fields.get(field_name) if type(value) is HashValue else None
    return value if type(value) is bytes else None


# -- loading -------------------------------------------------------------------------------
def _limit_range(opts: _SortOptions, length: int) -> tuple[int, int]:
    """LIMIT sanity checks: (start, end) inclusive; end < start means nothing."""
    start = max(opts.limit_start, 0)
    end = length - 1 if opts.limit_count < 0 else start + opts.limit_count - 1
    if start >= length:
        start, end = length - 1, length - 2
    return start, min(end, length - 1)


def _load_elements(value, opts: _SortOptions, start: int, end: int) -> tuple[list, int, int]:
    """The elements to sort and the (start, end) to output from them. Lists and sorted
    sets that are not sorted load just the LIMIT range, in DESC order if asked."""
    kind = type(value)
    if opts.dontsort and kind is not SetValue:
        if end < start:
            return [], 0, -1
        if kind is ListValue:
            items = list(reversed(value.items)) if opts.desc else list(value.items)
            elements = items[start:end + 1]
        else:
            elements = [member for member, _ in value.range_by_rank(start, end, opts.desc)]
        return elements, 0, end - start
    if kind is ListValue:
        return list(value.items), start, end
    if kind is SetValue:
        return value.ordered(), start, end
    return list(value.scores), start, end


# -- sorting ----------------------------------------------------------------------------------
def _score(byval: bytes | None) -> float | None:
    """strtod on the C string (a missing value scores 0); None when it is not a
    double: trailing bytes, NaN, or ERANGE (overflow, underflow, subnormal)."""
    if byval is None:
        return 0.0
    text = _c_string(byval)
    score, consumed, erange = strtod(text)
    if consumed != len(text) or erange or math.isnan(score) or 0 < abs(score) < _DBL_MIN:
        return None
    return score


def _compare(a, b) -> int:
    return (a > b) - (a < b)


def _alpha_cmp(cut, desc: bool):
    """sortCompare for ALPHA BY: (by value, element) records; a missing value first."""
    sign = -1 if desc else 1

    def cmp(x, y):
        if x[0] is None or y[0] is None:
            return sign * _compare(x[0] is not None, y[0] is not None)
        return sign * _compare(cut(x[0]), cut(y[0]))
    return cmp


def _numeric_cmp(desc: bool):
    """sortCompare for numbers: (score, element) records, ties by binary compare."""
    sign = -1 if desc else 1
    return lambda x, y: sign * _compare(x, y)


def _sort_elements(ctx, elements: list, opts: _SortOptions, start: int, end: int) -> list:
    """sortCompare. Numeric: by score, ties by binary compare of the elements. ALPHA:
    strcoll in the C locale, i.e. bytes up to the first NUL, but a full binary compare
    when STORE is given; a missing BY value sorts first. Redis sorts with glibc's
    qsort (a stable merge sort: Python's sort), or pqsort for a BY with a LIMIT."""
    by = opts.by
    cut = (lambda text: text) if opts.store is not None else _c_string
    if opts.alpha and by is None:
        keyed = [(cut(e), e) for e in elements]
        keyed.sort(key=lambda pair: pair[0], reverse=opts.desc)
        return [e for _, e in keyed]
    if opts.alpha:
        keyed = [(_lookup_by_pattern(ctx, by, e), e) for e in elements]
        cmp = _alpha_cmp(cut, opts.desc)
    else:
        if by is None:
            keyed = [(_score(e), e) for e in elements]
        else:
            keyed = [(_score(_lookup_by_pattern(ctx, by, e)), e) for e in elements]
        # Redis computes every score (each BY lookup counts as a keyspace hit or
        # miss) before it reports a bad one.
        if any(score is None for score, _ in keyed):
            raise CommandError(errors.SORT_SCORE_NOT_DOUBLE)
        cmp = _numeric_cmp(opts.desc)
    if by is not None and (start != 0 or end != len(keyed) - 1):
        # pqsort: not stable, so ties (equal or missing ALPHA BY values) come out
        # in its order.
        partial_quicksort(keyed, cmp, start, end)
    elif opts.alpha:
        keyed.sort(key=cmp_to_key(cmp))
    else:
        keyed.sort(reverse=opts.desc)
    return [e for _, e in keyed]


# -- output ----------------------------------------------------------------------------------
def _output(ctx, selected: list, gets: list, missing) -> list:
    """Each element, or the GET pattern lookups for each (missing → `missing`)."""
    if not gets:
        return selected
    out = []
    for element in selected:
        for pattern in gets:
            found = _lookup_by_pattern(ctx, pattern, element)
            out.append(missing if found is None else found)
    return out


def _store(ctx, key: bytes, items: list) -> int:
    """Replace key with a list of items (setKey), or delete it when items is empty."""
    if items:
        existed = ctx.db.lookup(key) is not None
        ctx.db.set(key, ListValue(items))
        if not existed:
            signal_key_ready(ctx, key)      # dbAdd of a list serves blocked clients
        notify(ctx, NOTIFY_LIST, "sortstore", key)
        ctx.dirty += len(items)
    elif ctx.db.delete(key):
        notify(ctx, NOTIFY_GENERIC, "del", key)
        ctx.dirty += 1
    return len(items)


def _in_script(ctx) -> bool:
    """Redis's CLIENT_SCRIPT flag: the script runner sets ctx.in_script while a
    script's redis.call() commands run."""
    return getattr(ctx, "in_script", False)


def _full_key_access(ctx, argv: list) -> bool:
    user = getattr(ctx.conn, "acl_user", None)
    if user is None or user.unrestricted:       # no user (the primary's link) or +@all ~* &*
        return True
    return user.full_key_access(lookup(argv), argv)     # SORT or SORT_RO, also from a script


def _generic_sort(ctx, argv: list, readonly: bool):
    opts = _parse_options(argv, readonly, lambda: _full_key_access(ctx, argv))
    value = ctx.read(argv[1])
    if value is None:
        value = ListValue()
    elif type(value) not in _SORTABLE:
        raise CommandError(errors.WRONGTYPE)
    if opts.dontsort and type(value) is SetValue and (opts.store is not None or _in_script(ctx)):
        # A set has no order of its own: what is stored or replicated (a script's
        # effects) must not depend on it, so Redis sorts it ALPHA.
        opts.dontsort, opts.alpha, opts.by = False, True, None
    start, end = _limit_range(opts, len(value))
    elements, start, end = _load_elements(value, opts, start, end)
    if not opts.dontsort:
        elements = _sort_elements(ctx, elements, opts, start, end)
    selected = elements[start:end + 1] if end >= start else []
    if opts.store is None:
        return _output(ctx, selected, opts.gets, None)
    return _store(ctx, opts.store, _output(ctx, selected, opts.gets, b""))


@command("sort", arity=-2, flags="write denyoom movablekeys", keys=(1, 1, 1), group="generic",
         acl=_ACL, getkeys=_sort_getkeys, lock=LOCK_ALL)
def sort(ctx, argv):
    return _generic_sort(ctx, argv, readonly=False)


@command("sort_ro", arity=-2, flags="readonly movablekeys", keys=(1, 1, 1), group="generic",
         acl=_ACL, getkeys=_sort_ro_getkeys, lock=LOCK_ALL)
def sort_ro(ctx, argv):
    return _generic_sort(ctx, argv, readonly=True)
