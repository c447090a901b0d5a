"""List group (t_list.c), blocking commands included.

The blocking variants (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) behave like their
plain twin when a key can serve them; otherwise they park the client through
server/blocking.py and hand it a serve callback (_serve_pop / _serve_move) that
runs when a push makes one of their keys ready. Every write that creates a list
signals the key ready, as dbAdd does in Redis.

Argument checks follow Redis's order exactly: some commands parse their numbers
before looking the key up (LRANGE, LTRIM, LREM, LPOP's count), others after
(LINDEX, LSET), which decides whether a missing key or a bad number wins.
"""
from __future__ import annotations

import re
from functools import partial

from ferrous import errors
from ferrous.commands.args import parse_int
from ferrous.commands.registry import command
from ferrous.errors import CommandError
from ferrous.protocol import NULL_ARRAY
from ferrous.server.blocking import NOT_READY, block, may_block, parse_timeout, signal_key_ready
from ferrous.storage.values.lists import LEFT, RIGHT, ListValue
from ferrous.server.notify import NOTIFY_GENERIC, NOTIFY_LIST, notify

_WHERE = {b"left": LEFT, b"right": RIGHT}


# -- lookups and bookkeeping ------------------------------------------------------------
def _read_list(ctx, key: bytes):
    """lookupKeyRead + checkType: the ListValue or None."""
    value = ctx.read(key)
    if value is None or type(value) is ListValue:
        return value
    raise CommandError(errors.WRONGTYPE)


def _write_list(ctx, key: bytes):
    """lookupKeyWrite + checkType: the ListValue or None."""
    value = ctx.db.lookup(key)
    if value is None or type(value) is ListValue:
        return value
    raise CommandError(errors.WRONGTYPE)


def _add_list(ctx, key: bytes, lst: ListValue) -> None:
    """dbAdd of a new list: it may serve clients blocked on key."""
    ctx.db.set(key, lst)
    signal_key_ready(ctx, key)


def _after_removal(ctx, key: bytes, lst: ListValue, removed: int) -> None:
    """listElementsRemoved: an emptied list is deleted; the change is signalled."""
    if lst.items:
        ctx.db.touch(key)
    else:
        ctx.db.delete(key)
        notify(ctx, NOTIFY_GENERIC, "del", key)
    ctx.dirty += removed


def _parse_where(arg: bytes) -> int:
    """getListPositionFromObjectOrReply: LEFT or RIGHT, any case."""
    where = _WHERE.get(arg.lower())
    if where is None:
        raise CommandError(errors.SYNTAX_ERR)
    return where


def _parse_at_least(arg: bytes, minimum: int, error: str) -> int:
    """getRangeLongFromObjectOrReply(min, LONG_MAX, msg): one text for both failures."""
    value = parse_int(arg, error)
    if value < minimum:
        raise CommandError(error)
    return value


# -- push ------------------------------------------------------------------------
def _generic_push(ctx, argv, where: int, only_existing: bool):
    """pushGenericCommand: LPUSH/RPUSH, and LPUSHX/RPUSHX (only_existing)."""
    key = argv[1]
    lst = _write_list(ctx, key)
    values = argv[2:]
    if lst is None:
        if only_existing:
            return 0
        lst = ListValue()
        length = lst.push(values, where)
        _add_list(ctx, key, lst)
    else:
        length = lst.push(values, where)
        ctx.db.touch(key)
    ctx.dirty += len(values)
    notify(ctx, NOTIFY_LIST, "lpush" if where == LEFT else "rpush", key)
    return length


@command("lpush", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), group="list")
def lpush(ctx, argv):
    return _generic_push(ctx, argv, LEFT, only_existing=False)


@command("rpush", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), group="list")
def rpush(ctx, argv):
    return _generic_push(ctx, argv, RIGHT, only_existing=False)


@command("lpushx", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), group="list")
def lpushx(ctx, argv):
    return _generic_push(ctx, argv, LEFT, only_existing=True)


@command("rpushx", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), group="list")
def rpushx(ctx, argv):
    return _generic_push(ctx, argv, RIGHT, only_existing=True)


@command("linsert", arity=5, flags="write denyoom", keys=(1, 1, 1), group="list")
def linsert(ctx, argv):
    position = argv[2].lower()
    if position not in (b"before", b"after"):
        raise CommandError(errors.SYNTAX_ERR)
    key = argv[1]
    lst = _write_list(ctx, key)
    if lst is None:
        return 0
    if not lst.insert(argv[3], argv[4], before=position == b"before"):
        return -1
    ctx.db.touch(key)
    ctx.dirty += 1
    notify(ctx, NOTIFY_LIST, "linsert", key)
    return len(lst)


# -- read ------------------------------------------------------------------------------
@command("llen", arity=2, flags="readonly fast", keys=(1, 1, 1), group="list")
def llen(ctx, argv):
    lst = _read_list(ctx, argv[1])
    return 0 if lst is None else len(lst)


@command("lindex", arity=3, flags="readonly", keys=(1, 1, 1), group="list")
def lindex(ctx, argv):
    lst = _read_list(ctx, argv[1])
    if lst is None:
        return None
    return lst.index(parse_int(argv[2]))


@command("lrange", arity=4, flags="readonly", keys=(1, 1, 1), group="list")
def lrange(ctx, argv):
    start, end = parse_int(argv[2]), parse_int(argv[3])
    lst = _read_list(ctx, argv[1])
    return [] if lst is None else lst.range(start, end)


@command("lpos", arity=-3, flags="readonly", keys=(1, 1, 1), group="list")
def lpos(ctx, argv):
    rank, count, maxlen = _parse_lpos_options(argv)
    lst = _read_list(ctx, argv[1])
    want_list = count != -1
    if lst is None:
        return [] if want_list else None
    return lst.positions(argv[2], rank, count, maxlen, want_list)


def _parse_lpos_options(argv) -> tuple[int, int, int]:
    """RANK / COUNT / MAXLEN, each may repeat (the last wins); count -1 = not given."""
    rank, count, maxlen = 1, -1, 0
    i = 3
    while i < len(argv):
        option = argv[i].lower()
        if i + 1 >= len(argv):
            raise CommandError(errors.SYNTAX_ERR)
        value = argv[i + 1]
        if option == b"rank":
            rank = parse_int(value)
            if rank == 0:
                raise CommandError(errors.LPOS_RANK_ZERO)
        elif option == b"count":
            count = _parse_at_least(value, 0, errors.LPOS_COUNT_NEGATIVE)
        elif option == b"maxlen":
            maxlen = _parse_at_least(value, 0, errors.LPOS_MAXLEN_NEGATIVE)
        else:
            raise CommandError(errors.SYNTAX_ERR)
        i += 2
    return rank, count, maxlen


# -- change in place ----------------------------------------------------------------------
@command("lset", arity=4, flags="write denyoom", keys=(1, 1, 1), group="list")
def lset(ctx, argv):
    key = argv[1]
    lst = _write_list(ctx, key)
    if lst is None:
        raise CommandError(errors.NO_SUCH_KEY)
    if not lst.set(parse_int(argv[2]), argv[3]):
        raise CommandError(errors.INDEX_OUT_OF_RANGE)
    ctx.db.touch(key)
    ctx.dirty += 1
    notify(ctx, NOTIFY_LIST, "lset", key)
    return "OK"


@command("ltrim", arity=4, flags="write", keys=(1, 1, 1), group="list")
def ltrim(ctx, argv):
    start, end = parse_int(argv[2]), parse_int(argv[3])
    key = argv[1]
    lst = _write_list(ctx, key)
    if lst is not None:
        removed = lst.trim(start, end)
        notify(ctx, NOTIFY_LIST, "ltrim", key)
        _after_removal(ctx, key, lst, removed)
    return "OK"


@command("lrem", arity=4, flags="write", keys=(1, 1, 1), group="list")
def lrem(ctx, argv):
    count = parse_int(argv[2])
    key = argv[1]
    lst = _write_list(ctx, key)
    if lst is None:
        return 0
    removed = lst.remove(argv[3], count)
    if removed:
        notify(ctx, NOTIFY_LIST, "lrem", key)
        _after_removal(ctx, key, lst, removed)
    return removed


# -- pop ------------------------------------------------------------------------------------
def _generic_pop(ctx, argv, where: int):
    """popGenericCommand: LPOP/RPOP key [count]."""
    if len(argv) > 3:
        raise errors.wrong_arity(ctx.command.name)
    has_count = len(argv) == 3
    count = _parse_at_least(argv[2], 0, errors.MUST_BE_POSITIVE) if has_count else 1
    key = argv[1]
    lst = _write_list(ctx, key)
    if lst is None:
        return NULL_ARRAY if has_count else None
    if not has_count:
        value = lst.pop(where)
        notify(ctx, NOTIFY_LIST, "lpop" if where == LEFT else "rpop", key)
        _after_removal(ctx, key, lst, 1)
        return value
    if count == 0:
        return []
    values = lst.pop_many(where, count)
    notify(ctx, NOTIFY_LIST, "lpop" if where == LEFT else "rpop", key)
    _after_removal(ctx, key, lst, len(values))
    return values


@command("lpop", arity=-2, flags="write fast", keys=(1, 1, 1), group="list")
def lpop(ctx, argv):
    return _generic_pop(ctx, argv, LEFT)


@command("rpop", arity=-2, flags="write fast", keys=(1, 1, 1), group="list")
def rpop(ctx, argv):
    return _generic_pop(ctx, argv, RIGHT)


def _pop_with_key(ctx, key: bytes, lst: ListValue, where: int, count: int) -> list:
    """[key, element] for BLPOP/BRPOP (count -1), [key, [elements]] for [B]LMPOP."""
    pop = b"LPOP" if where == LEFT else b"RPOP"
    if count == -1:
        value = lst.pop(where)
        notify(ctx, NOTIFY_LIST, "lpop" if where == LEFT else "rpop", key)
        _after_removal(ctx, key, lst, 1)
        ctx.rewrite_propagation([pop, key])     # replicas never block
        return [key, value]
    values = lst.pop_many(where, count)
    notify(ctx, NOTIFY_LIST, "lpop" if where == LEFT else "rpop", key)
    _after_removal(ctx, key, lst, len(values))
    ctx.rewrite_propagation([pop, key, b"%d" % len(values)])
    return [key, values]


def _first_list(ctx, keys):
    """The first of keys holding a list (WRONGTYPE on the way stops the search)."""
    for key in keys:
        lst = _write_list(ctx, key)
        if lst is not None:
            return key, lst
    return None, None


# -- LMPOP / BLMPOP ----------------------------------------------------------------------
def _atoi(data: bytes) -> int:
    match = re.match(rb"\s*([+-]?[0-9]+)", data)
    return int(match.group(1)) if match else 0


def _mpop_getkeys(numkeys_index: int):
    """lmpopGetKeys / blmpopGetKeys (genericGetKeys): none when numkeys is unusable."""
    def getkeys(argv):
        numkeys = _atoi(argv[numkeys_index]) if numkeys_index < len(argv) else 0
        first = numkeys_index + 1
        if numkeys < 1 or numkeys > len(argv) - first:
            return []
        return list(range(first, first + numkeys))
    return getkeys


def _parse_mpop(argv, numkeys_index: int) -> tuple[list, int, int]:
    """lmpopGenericCommand's parsing: (keys, where, count)."""
    numkeys = _parse_at_least(argv[numkeys_index], 1, errors.NUMKEYS_NOT_POSITIVE)
    where_index = numkeys_index + numkeys + 1
    if where_index >= len(argv):
        raise CommandError(errors.SYNTAX_ERR)
    where = _parse_where(argv[where_index])
    count = -1
    i = where_index + 1
    while i < len(argv):
        if count == -1 and argv[i].lower() == b"count" and i + 1 < len(argv):
            count = _parse_at_least(argv[i + 1], 1, errors.LMPOP_COUNT_NOT_POSITIVE)
            i += 2
        else:
            raise CommandError(errors.SYNTAX_ERR)
    return argv[numkeys_index + 1:where_index], where, 1 if count == -1 else count


@command("lmpop", arity=-4, flags="write movablekeys", group="list", getkeys=_mpop_getkeys(1))
def lmpop(ctx, argv):
    keys, where, count = _parse_mpop(argv, 1)
    key, lst = _first_list(ctx, keys)
    if lst is None:
        return NULL_ARRAY
    return _pop_with_key(ctx, key, lst, where, count)


@command("blmpop", arity=-5, flags="write blocking movablekeys", group="list",
         getkeys=_mpop_getkeys(2))
def blmpop(ctx, argv):
    keys, where, count = _parse_mpop(argv, 2)
    return _generic_blocking_pop(ctx, keys, where, argv[1], count)


# -- BLPOP / BRPOP ------------------------------------------------------------------------
def _generic_blocking_pop(ctx, keys, where: int, timeout_arg: bytes, count: int = -1):
    """blockingPopGenericCommand: pop from the first non-empty key, else block."""
    timeout = parse_timeout(timeout_arg)
    key, lst = _first_list(ctx, keys)
    if lst is not None:
        return _pop_with_key(ctx, key, lst, where, count)
    if not may_block(ctx):
        return NULL_ARRAY
    block(ctx, keys, timeout, partial(_serve_pop, where=where, count=count))


def _serve_pop(ctx, key: bytes, where: int, count: int):
    """A blocked BLPOP/BRPOP/BLMPOP client, now that key was signalled ready."""
    lst = ctx.db.lookup(key)
    if type(lst) is not ListValue:
        return NOT_READY        # gone again, or another type: keep waiting (as 7.0)
    return _pop_with_key(ctx, key, lst, where, count)


@command("blpop", arity=-3, flags="write noscript blocking", keys=(1, -2, 1), group="list")
def blpop(ctx, argv):
    return _generic_blocking_pop(ctx, argv[1:-1], LEFT, argv[-1])


@command("brpop", arity=-3, flags="write noscript blocking", keys=(1, -2, 1), group="list")
def brpop(ctx, argv):
    return _generic_blocking_pop(ctx, argv[1:-1], RIGHT, argv[-1])


# -- LMOVE family --------------------------------------------------------------------------
def _generic_move(ctx, source_key: bytes, target_key: bytes, wherefrom: int, whereto: int):
    """lmoveGenericCommand: pop from source, push on target (maybe the same list)."""
    source = _write_list(ctx, source_key)
    if source is None:
        return None
    target = _write_list(ctx, target_key)
    value = source.pop(wherefrom)
    if target is None:
        _add_list(ctx, target_key, ListValue((value,)))
    else:
        target.push((value,), whereto)
        ctx.db.touch(target_key)
    notify(ctx, NOTIFY_LIST, "lpush" if whereto == LEFT else "rpush", target_key)
    notify(ctx, NOTIFY_LIST, "lpop" if wherefrom == LEFT else "rpop", source_key)
    _after_removal(ctx, source_key, source, 1)
    return value


@command("lmove", arity=5, flags="write denyoom", keys=(1, 2, 1), group="list")
def lmove(ctx, argv):
    wherefrom, whereto = _parse_where(argv[3]), _parse_where(argv[4])
    return _generic_move(ctx, argv[1], argv[2], wherefrom, whereto)


@command("rpoplpush", arity=3, flags="write denyoom", keys=(1, 2, 1), group="list")
def rpoplpush(ctx, argv):
    return _generic_move(ctx, argv[1], argv[2], RIGHT, LEFT)


def _generic_blocking_move(ctx, argv, wherefrom: int, whereto: int, timeout: float):
    """blmoveGenericCommand: LMOVE when the source has elements, else block on it."""
    if _write_list(ctx, argv[1]) is None:
        if not may_block(ctx):
            return None
        block(ctx, [argv[1]], timeout, partial(_serve_move, wherefrom=wherefrom, whereto=whereto))
    if ctx.command.name == "blmove":
        ctx.rewrite_propagation([b"LMOVE", argv[1], argv[2], argv[3], argv[4]])
    else:
        ctx.rewrite_propagation([b"RPOPLPUSH", argv[1], argv[2]])
    return _generic_move(ctx, argv[1], argv[2], wherefrom, whereto)


def _serve_move(ctx, key: bytes, wherefrom: int, whereto: int):
    """A blocked BLMOVE/BRPOPLPUSH client. A destination of the wrong type ends the
    block with WRONGTYPE (serveClientBlockedOnList); its push may wake others."""
    if type(ctx.db.lookup(key)) is not ListValue:
        return NOT_READY
    if ctx.command.name == "blmove":
        ctx.rewrite_propagation([b"LMOVE", key, ctx.argv[2], _SIDE_NAMES[wherefrom], _SIDE_NAMES[whereto]])
    else:
        ctx.rewrite_propagation([b"RPOPLPUSH", key, ctx.argv[2]])
    return _generic_move(ctx, key, ctx.argv[2], wherefrom, whereto)


_SIDE_NAMES = {LEFT: b"left", RIGHT: b"right"}   # Redis's shared.left / shared.right


@command("blmove", arity=6, flags="write denyoom noscript blocking", keys=(1, 2, 1), group="list")
def blmove(ctx, argv):
    wherefrom, whereto = _parse_where(argv[3]), _parse_where(argv[4])
    return _generic_blocking_move(ctx, argv, wherefrom, whereto, parse_timeout(argv[5]))


@command("brpoplpush", arity=4, flags="write denyoom noscript blocking", keys=(1, 2, 1), group="list")
def brpoplpush(ctx, argv):
    return _generic_blocking_move(ctx, argv, RIGHT, LEFT, parse_timeout(argv[3]))
