"""Set group (t_set.c), plus the HSCAN/SSCAN option parsing they share."""
from __future__ import annotations

import re

from ferrous import errors
from ferrous.commands.args import LLONG_MIN, parse_int
from ferrous.commands.registry import command
from ferrous.errors import CommandError
from ferrous.protocol.types import RespSet
from ferrous.storage.glob import glob_matcher
from ferrous.server.notify import NOTIFY_GENERIC, NOTIFY_SET, notify
from ferrous.storage.values.sets import (
    SetValue, fits_intset, int_sorted, intset_limit, is_int,
)


def c_option(arg: bytes) -> bytes:
    """An option word as Redis's strcasecmp sees it: lower-cased, cut at a NUL byte."""
    nul = arg.find(b"\0")
    return (arg if nul < 0 else arg[:nul]).lower()


def _read_set(ctx, key: bytes):
    """lookupKeyRead + checkType: the SetValue or None."""
    value = ctx.read(key)
    if value is None or type(value) is SetValue:
        return value
    raise CommandError(errors.WRONGTYPE)


def _write_set(ctx, key: bytes):
    """lookupKeyWrite + checkType: the SetValue or None."""
    value = ctx.db.lookup(key)
    if value is None or type(value) is SetValue:
        return value
    raise CommandError(errors.WRONGTYPE)


def _after_removal(ctx, key: bytes, set_: SetValue) -> None:
    """A set never exists empty: delete it, or signal the in-place change."""
    if set_.members:
        ctx.db.touch(key)
    else:
        ctx.db.delete(key)
        notify(ctx, NOTIFY_GENERIC, "del", key)


# -- single-key commands --------------------------------------------------------

@command("sadd", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), group="set")
def sadd(ctx, argv):
    key = argv[1]
    set_ = _write_set(ctx, key)
    created = set_ is None
    if created:
        # setTypeCreate: an intset only if the first member is an integer.
        set_ = SetValue(intset=is_int(argv[2]))
    limit = intset_limit(ctx.server.config)
    added = 0
    for member in argv[2:]:
        added += set_.add(member, limit)
    if created:
        ctx.db.set(key, set_)
    elif added:
        ctx.db.touch(key)
    ctx.dirty += added
    if added:
        notify(ctx, NOTIFY_SET, "sadd", key)
    return added


@command("srem", arity=-3, flags="write fast", keys=(1, 1, 1), group="set")
def srem(ctx, argv):
    key = argv[1]
    set_ = _write_set(ctx, key)
    if set_ is None:
        return 0
    removed = 0
    for member in argv[2:]:
        if set_.remove(member):
            removed += 1
            if not set_.members:
                break
    if removed:
        notify(ctx, NOTIFY_SET, "srem", key)
        _after_removal(ctx, key, set_)
        ctx.dirty += removed
    return removed


@command("scard", arity=2, flags="readonly fast", keys=(1, 1, 1), group="set")
def scard(ctx, argv):
    set_ = _read_set(ctx, argv[1])
    return 0 if set_ is None else len(set_.members)


@command("sismember", arity=3, flags="readonly fast", keys=(1, 1, 1), group="set")
def sismember(ctx, argv):
    set_ = _read_set(ctx, argv[1])
    return int(set_ is not None and argv[2] in set_.members)


@command("smismember", arity=-3, flags="readonly fast", keys=(1, 1, 1), group="set")
def smismember(ctx, argv):
    set_ = _read_set(ctx, argv[1])
    if set_ is None:
        return [0] * (len(argv) - 2)
    members = set_.members
    return [int(m in members) for m in argv[2:]]


@command("smembers", arity=2, flags="readonly", keys=(1, 1, 1), group="set")
def smembers(ctx, argv):
    set_ = _read_set(ctx, argv[1])
    return RespSet([] if set_ is None else set_.ordered())


@command("smove", arity=4, flags="write fast", keys=(1, 2, 1), group="set")
def smove(ctx, argv):
    src_key, dst_key, member = argv[1], argv[2], argv[3]
    src = ctx.db.lookup(src_key)
    dst = ctx.db.lookup(dst_key)
    if src is None:
        return 0
    if type(src) is not SetValue or (dst is not None and type(dst) is not SetValue):
        raise CommandError(errors.WRONGTYPE)
    if src is dst:
        return int(member in src.members)
    if not src.remove(member):
        return 0
    notify(ctx, NOTIFY_SET, "srem", src_key)
    _after_removal(ctx, src_key, src)
    ctx.dirty += 1
    if dst is None:
        dst = SetValue(intset=is_int(member))
        dst.add(member, intset_limit(ctx.server.config))
        ctx.db.set(dst_key, dst)
        ctx.dirty += 1
        notify(ctx, NOTIFY_SET, "sadd", dst_key)
    elif dst.add(member, intset_limit(ctx.server.config)):
        ctx.db.touch(dst_key)
        ctx.dirty += 1
        notify(ctx, NOTIFY_SET, "sadd", dst_key)
    return 1


# -- random members -------------------------------------------------------------

@command("spop", arity=-2, flags="write fast", keys=(1, 1, 1), group="set")
def spop(ctx, argv):
    if len(argv) > 3:
        raise CommandError(errors.SYNTAX_ERR)
    if len(argv) == 3:
        return _spop_with_count(ctx, argv[1], argv[2])
    key = argv[1]
    set_ = _write_set(ctx, key)
    if set_ is None:
        return None
    member = set_.pop_random()
    notify(ctx, NOTIFY_SET, "spop", key)
    _after_removal(ctx, key, set_)
    ctx.dirty += 1
    ctx.rewrite_propagation([b"SREM", key, member])   # the random choice is made here
    return member


def _spop_with_count(ctx, key: bytes, count_arg: bytes):
    count = parse_int(count_arg, errors.MUST_BE_POSITIVE)
    if count < 0:
        raise CommandError(errors.MUST_BE_POSITIVE)
    set_ = _write_set(ctx, key)
    if set_ is None or count == 0:
        return RespSet([])
    if count >= len(set_.members):
        # Redis replies with SUNION of the set (intset order when it would be one).
        popped = _union_order(set_.members, [set_], intset_limit(ctx.server.config))
        ctx.db.delete(key)
        ctx.dirty += len(popped)
        notify(ctx, NOTIFY_SET, "spop", key)
        notify(ctx, NOTIFY_GENERIC, "del", key)
        ctx.rewrite_propagation([b"DEL", key])
        return RespSet(popped)
    popped = set_.pop_many(count, intset_limit(ctx.server.config))
    ctx.db.touch(key)
    ctx.dirty += count
    notify(ctx, NOTIFY_SET, "spop", key)
    if ctx.propagating:         # one SREM per member, as Redis 7.0 writes them
        ctx.prevent_propagation()
        for member in popped:
            ctx.also_propagate([b"SREM", key, member])
    return RespSet(popped)


def _parse_random_count(data: bytes) -> int:
    """getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)."""
    count = parse_int(data)
    if count == LLONG_MIN:
        raise CommandError(errors.COUNT_RANGE)
    return count


@command("srandmember", arity=-2, flags="readonly", keys=(1, 1, 1), group="set")
def srandmember(ctx, argv):
    if len(argv) > 3:
        raise CommandError(errors.SYNTAX_ERR)
    if len(argv) == 2:
        set_ = _read_set(ctx, argv[1])
        return None if set_ is None else set_.random_member()
    count = _parse_random_count(argv[2])
    set_ = _read_set(ctx, argv[1])
    if set_ is None or count == 0:
        return []
    if count < 0:
        return set_.random_members(-count)
    if count == 1:
        return [set_.random_member()]
    if count >= len(set_.members):
        return set_.ordered()
    return set_.random_distinct(count)


# -- multi-key algebra ----------------------------------------------------------

def _lookup_sets(ctx, keys) -> list:
    """Each key's SetValue or None; WRONGTYPE if any key holds another type."""
    found = []
    for key in keys:
        value = ctx.read(key)
        if value is not None and type(value) is not SetValue:
            raise CommandError(errors.WRONGTYPE)
        found.append(value)
    return found


def _union_order(members, sources, limit: int) -> list:
    """Reply order of a set that Redis builds from scratch (SUNION, SDIFF, SPOP):
    ascending integers if the new set is an intset, else unspecified."""
    if fits_intset(members, limit, all(s.intset for s in sources)):
        return int_sorted(members)
    return list(members)


def _intersection(sets: list, limit: int = 0) -> list:
    """Members of every set, iterating the smallest one as Redis does (so its order
    decides the reply order). limit > 0 stops early (SINTERCARD LIMIT)."""
    sets = sorted(sets, key=len)
    first, others = sets[0], [s.members for s in sets[1:]]
    source = first.ordered() if first.intset else first.members
    result = []
    for member in source:
        for other in others:
            if member not in other:
                break
        else:
            result.append(member)
            if len(result) == limit:
                break
    return result


def _generic_inter(ctx, keys: list, store_key: bytes | None):
    sets = _lookup_sets(ctx, keys)
    if any(s is None for s in sets):
        return _store_result(ctx, store_key, []) if store_key is not None else RespSet([])
    members = _intersection(sets)
    if store_key is not None:
        return _store_result(ctx, store_key, members)
    return RespSet(members)


def _generic_union(ctx, keys: list, store_key: bytes | None):
    sets = [s for s in _lookup_sets(ctx, keys) if s is not None]
    union = set().union(*(s.members for s in sets))
    if store_key is not None:
        return _store_result(ctx, store_key, union)
    return RespSet(_union_order(union, sets, intset_limit(ctx.server.config)))


def _generic_diff(ctx, keys: list, store_key: bytes | None):
    sets = _lookup_sets(ctx, keys)
    first, others = sets[0], [s for s in sets[1:] if s is not None]
    limit = intset_limit(ctx.server.config)
    if first is None:
        diff, intset = set(), True
    else:
        diff = first.members.difference(*(s.members for s in others))
        intset = _diff_is_intset(first, others, diff, limit)
    if store_key is not None:
        return _store_result(ctx, store_key, diff, intset)
    return RespSet(int_sorted(diff) if intset else list(diff))


def _diff_is_intset(first: SetValue, others: list, diff: set, limit: int) -> bool:
    """The encoding Redis's SDIFF result gets. Its algorithm 2 (chosen when the
    other sets are small) adds all of the first set and then removes, so the
    result converts to a hashtable if the first set alone would have."""
    algo_one_work = (len(first.members) * (1 + len(others))) // 2
    algo_two_work = len(first.members) + sum(len(s.members) for s in others)
    if first.members and algo_one_work > algo_two_work:
        return fits_intset(first.members, limit, first.intset)
    return fits_intset(diff, limit, first.intset)


def _store_result(ctx, key: bytes, members, intset: bool | None = None) -> int:
    """*STORE: replace key with the result (any old type, TTL cleared), or delete
    it when the result is empty."""
    if not members:
        if ctx.db.delete(key):
            ctx.dirty += 1
            notify(ctx, NOTIFY_GENERIC, "del", key)
        return 0
    members = set(members)
    if intset is None:
        intset = fits_intset(members, intset_limit(ctx.server.config))
    ctx.db.set(key, SetValue(members, intset))
    ctx.dirty += 1
    notify(ctx, NOTIFY_SET, ctx.command.name, key)     # sinterstore / sunionstore / sdiffstore
    return len(members)


@command("sinter", arity=-2, flags="readonly", keys=(1, -1, 1), group="set")
def sinter(ctx, argv):
    return _generic_inter(ctx, argv[1:], None)


@command("sinterstore", arity=-3, flags="write denyoom", keys=(1, -1, 1), group="set")
def sinterstore(ctx, argv):
    return _generic_inter(ctx, argv[2:], argv[1])


@command("sunion", arity=-2, flags="readonly", keys=(1, -1, 1), group="set")
def sunion(ctx, argv):
    return _generic_union(ctx, argv[1:], None)


@command("sunionstore", arity=-3, flags="write denyoom", keys=(1, -1, 1), group="set")
def sunionstore(ctx, argv):
    return _generic_union(ctx, argv[2:], argv[1])


@command("sdiff", arity=-2, flags="readonly", keys=(1, -1, 1), group="set")
def sdiff(ctx, argv):
    return _generic_diff(ctx, argv[1:], None)


@command("sdiffstore", arity=-3, flags="write denyoom", keys=(1, -1, 1), group="set")
def sdiffstore(ctx, argv):
    return _generic_diff(ctx, argv[2:], argv[1])


def _sintercard_keys(argv: list) -> list:
    """Key positions for locking and COMMAND GETKEYS: argv[2 : 2+numkeys]."""
    try:
        numkeys = parse_int(argv[1])
    except CommandError:
        return []
    if numkeys < 1 or numkeys > len(argv) - 2:
        return []
    return list(range(2, 2 + numkeys))


@command("sintercard", arity=-3, flags="readonly movablekeys", keys=(0, 0, 0), group="set",
         getkeys=_sintercard_keys)
def sintercard(ctx, argv):
    numkeys = parse_int(argv[1], errors.NUMKEYS_NOT_POSITIVE)
    if numkeys < 1:
        raise CommandError(errors.NUMKEYS_NOT_POSITIVE)
    if numkeys > len(argv) - 2:
        raise CommandError(errors.NUMKEYS_TOO_MANY)
    limit = 0
    i = 2 + numkeys
    while i < len(argv):
        if c_option(argv[i]) == b"limit" and i + 1 < len(argv):
            limit = parse_int(argv[i + 1], errors.LIMIT_NEGATIVE)
            if limit < 0:
                raise CommandError(errors.LIMIT_NEGATIVE)
            i += 2
        else:
            raise CommandError(errors.SYNTAX_ERR)
    sets = _lookup_sets(ctx, argv[2:2 + numkeys])
    if any(s is None for s in sets):
        return 0
    return len(_intersection(sets, limit))


# -- SSCAN / HSCAN ----------------------------------------------------------------

_CURSOR_RE = re.compile(rb"([+-]?)([0-9]+)\Z")
_ULONG_MAX = (1 << 64) - 1


def parse_cursor(data: bytes) -> int:
    """parseScanCursorOrReply: strtoul, so "" is 0 and "-1" wraps around; no spaces,
    no trailing garbage, no overflow."""
    nul = data.find(b"\0")
    if nul >= 0:
        data = data[:nul]        # the C string ends there
    if not data:
        return 0
    match = _CURSOR_RE.match(data)
    if match is None:
        raise CommandError(errors.INVALID_CURSOR)
    value = int(match.group(2))
    if value > _ULONG_MAX:
        raise CommandError(errors.INVALID_CURSOR)
    return (-value) & _ULONG_MAX if match.group(1) == b"-" else value


def parse_scan_options(argv: list, start: int) -> tuple[int, bytes | None]:
    """COUNT and MATCH of scanGenericCommand: (count, pattern or None for all)."""
    count, pattern = 10, None
    i = start
    while i < len(argv):
        option = c_option(argv[i])
        if option == b"count" and i + 1 < len(argv):
            count = parse_int(argv[i + 1])
            if count < 1:
                raise CommandError(errors.SYNTAX_ERR)
        elif option == b"match" and i + 1 < len(argv):
            pattern = None if argv[i + 1] == b"*" else argv[i + 1]
        else:
            raise CommandError(errors.SYNTAX_ERR)
        i += 2
    return count, pattern


def generic_scan(argv: list, value, cursor: int, pairs_of=None) -> list:
    """One HSCAN/SSCAN reply for an existing value. value.scan(cursor, count) gives
    the elements; pairs_of(element) expands a hash field to [field, value]."""
    count, pattern = parse_scan_options(argv, 3)
    elements, next_cursor = value.scan(cursor, count)
    if pattern is not None:
        matches = glob_matcher(pattern)
        elements = [e for e in elements if matches(e)]
    if pairs_of is not None:
        flat = []
        for element in elements:
            flat.extend(pairs_of(element))
        elements = flat
    return [b"%d" % next_cursor, elements]


@command("sscan", arity=-3, flags="readonly", keys=(1, 1, 1), group="set")
def sscan(ctx, argv):
    cursor = parse_cursor(argv[2])
    set_ = _read_set(ctx, argv[1])
    if set_ is None:
        return [b"0", []]
    return generic_scan(argv, set_, cursor)
