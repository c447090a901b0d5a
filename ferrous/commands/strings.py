"""String group (t_string.c): GET/SET and friends, counters, ranges, LCS.

Strings are stored as `bytes`; any other stored value is another type (WRONGTYPE).
Reads that Redis does with lookupKeyRead (GET, GETRANGE, STRLEN, MGET, LCS, the GET
part of SET/GETSET/GETDEL/GETEX) go through ctx.read so hits and misses are counted;
read-modify-write commands use ctx.db.lookup (lookupKeyWrite), as Redis does.
"""
from __future__ import annotations

from ferrous import errors
from ferrous.commands.args import LLONG_MAX, LLONG_MIN, is_int, parse_int
from ferrous.commands.registry import command
from ferrous.errors import CommandError
from ferrous.storage.keyspace import now_ms
from ferrous.storage.values import strings as values
from ferrous.server.notify import NOTIFY_GENERIC, NOTIFY_STRING, notify

# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------


def _check_string(value):
    if value is not None and type(value) is not bytes:
        raise CommandError(errors.WRONGTYPE)
    return value


def _get_string(ctx, key):
    """getGenericCommand's lookup: the string at key or None, WRONGTYPE otherwise."""
    value = ctx.read(key)           # inlined type check: GET is the hottest command
    if value is None or type(value) is bytes:
        return value
    raise CommandError(errors.WRONGTYPE)


def _lookup_string_for_write(ctx, key):
    return _check_string(ctx.db.lookup(key))


def _check_length(ctx, size: int, append: int) -> None:
    """checkStringLength: a string may not grow past proto-max-bulk-len."""
    if size + append > ctx.server.config.proto_max_bulk_len:
        raise CommandError(errors.STRING_TOO_LONG)


def _c_string(arg: bytes) -> bytes:
    """An option as C's strcasecmp sees it: upper-cased, cut at the first NUL byte."""
    nul = arg.find(b"\0")
    return (arg if nul < 0 else arg[:nul]).upper()


# ---------------------------------------------------------------------------
# Expire options shared by SET, SETEX, PSETEX and GETEX
# ---------------------------------------------------------------------------

# Expire units: (multiplier to ms, relative to now?)
_UNITS = {b"EX": (1000, True), b"PX": (1, True), b"EXAT": (1000, False), b"PXAT": (1, False)}
_SET_ONLY = {b"NX", b"XX", b"GET", b"KEEPTTL"}


def _expire_at_ms(raw: bytes, unit: bytes, command_name: str) -> int:
    """getExpireMillisecondsOrReply: the absolute unix-ms deadline an option asks for."""
    amount = parse_int(raw)
    multiplier, relative = _UNITS[unit]
    if amount <= 0 or amount > LLONG_MAX // multiplier:
        raise CommandError(errors.INVALID_EXPIRE % command_name)
    when = amount * multiplier + (now_ms() if relative else 0)
    if when > LLONG_MAX:        # Redis detects the signed overflow as a negative time
        raise CommandError(errors.INVALID_EXPIRE % command_name)
    return when


def _parse_extended_options(argv: list, start: int, for_set: bool):
    """parseExtendedStringArgumentsOrReply: (flags, expire unit, expire argument).

    Mirrors Redis's conflict rules: NX/XX exclude each other, KEEPTTL and PERSIST
    exclude any expire, two different expire units conflict, and repeating the same
    option is allowed (the last expire wins). Everything else is a syntax error.
    """
    flags: set = set()
    unit = expire = None
    i = start
    while i < len(argv):
        opt = _c_string(argv[i])
        has_next = i + 1 < len(argv)
        if opt in _SET_ONLY and for_set and not _conflicts(opt, flags, unit):
            flags.add(opt)
        elif opt == b"PERSIST" and not for_set and unit is None:
            flags.add(opt)
        elif opt in _UNITS and has_next and not (flags & {b"KEEPTTL", b"PERSIST"}) \
                and unit in (None, opt):
            unit, expire = opt, argv[i + 1]
            i += 1
        else:
            raise CommandError(errors.SYNTAX_ERR)
        i += 1
    return flags, unit, expire


def _conflicts(opt: bytes, flags: set, unit) -> bool:
    if opt == b"NX":
        return b"XX" in flags
    if opt == b"XX":
        return b"NX" in flags
    if opt == b"KEEPTTL":
        return unit is not None
    return False


# ---------------------------------------------------------------------------
# SET family
# ---------------------------------------------------------------------------


def _generic_set(ctx, key, value, flags=frozenset(), unit=None, expire=None,
                 command_name="set", ok_reply="OK", abort_reply=None):
    """setGenericCommand: validate the expire, GET the old value, honour NX/XX, store."""
    when = _expire_at_ms(expire, unit, command_name) if unit is not None else None
    want_old = b"GET" in flags
    old = _get_string(ctx, key) if want_old else None
    found = ctx.db.lookup(key) is not None
    if (b"NX" in flags and found) or (b"XX" in flags and not found):
        return old if want_old else abort_reply
    ctx.db.set(key, value, keep_ttl=b"KEEPTTL" in flags)
    ctx.dirty += 1
    notify(ctx, NOTIFY_STRING, "set", key)
    if when is not None:
        # A deadline already in the past is stored as is, like Redis 7.0: the key
        # then expires on its next access (SET does not delete it at once).
        ctx.db.set_expire(key, when)
        notify(ctx, NOTIFY_GENERIC, "expire", key)
        # Replicas and the AOF get an absolute deadline (even for PXAT, as 7.0 does).
        ctx.rewrite_propagation([b"SET", key, value, b"PXAT", b"%d" % when])
    elif want_old and ctx.propagating:
        # Propagated without its GET arguments (however many), as setGenericCommand.
        ctx.rewrite_propagation([arg for i, arg in enumerate(ctx.argv)
                                 if i < 3 or arg.lower() != b"get"])
    return old if want_old else ok_reply


@command("set", arity=-3, flags="write denyoom", keys=(1, 1, 1), group="string")
def set_(ctx, argv):
    if len(argv) == 3:
        ctx.db.set(argv[1], argv[2])
        ctx.dirty += 1
        notify(ctx, NOTIFY_STRING, "set", argv[1])
        return "OK"
    flags, unit, expire = _parse_extended_options(argv, 3, for_set=True)
    return _generic_set(ctx, argv[1], argv[2], flags, unit, expire)


@command("setnx", arity=3, flags="write denyoom fast", keys=(1, 1, 1), group="string")
def setnx(ctx, argv):
    return _generic_set(ctx, argv[1], argv[2], {b"NX"}, ok_reply=1, abort_reply=0)


@command("setex", arity=4, flags="write denyoom", keys=(1, 1, 1), group="string")
def setex(ctx, argv):
    return _generic_set(ctx, argv[1], argv[3], unit=b"EX", expire=argv[2], command_name="setex")


@command("psetex", arity=4, flags="write denyoom", keys=(1, 1, 1), group="string")
def psetex(ctx, argv):
    return _generic_set(ctx, argv[1], argv[3], unit=b"PX", expire=argv[2], command_name="psetex")


@command("get", arity=2, flags="readonly fast", keys=(1, 1, 1), group="string")
def get(ctx, argv):
    return _get_string(ctx, argv[1])


@command("getex", arity=-2, flags="write fast", keys=(1, 1, 1), group="string")
def getex(ctx, argv):
    key = argv[1]
    flags, unit, expire = _parse_extended_options(argv, 2, for_set=False)
    value = _get_string(ctx, key)
    if value is None:
        return None
    if unit is not None:
        when = _expire_at_ms(expire, unit, "getex")
        absolute = unit in (b"EXAT", b"PXAT")
        if absolute and when <= now_ms() and not ctx.db.is_replica:
            # An absolute time already past deletes the key at once (checkAlreadyExpired).
            ctx.db.delete(key)
            notify(ctx, NOTIFY_GENERIC, "del", key)
            ctx.rewrite_propagation([b"DEL", key])
        else:
            ctx.db.set_expire(key, when)
            ctx.db.touch(key)       # signalModifiedKey: WATCH, CLIENT TRACKING
            notify(ctx, NOTIFY_GENERIC, "expire", key)
            ctx.rewrite_propagation([b"PEXPIREAT", key, b"%d" % when])
        ctx.dirty += 1
    elif b"PERSIST" in flags and ctx.db.persist(key):
        ctx.dirty += 1
        ctx.db.touch(key)
        notify(ctx, NOTIFY_GENERIC, "persist", key)
        ctx.rewrite_propagation([b"PERSIST", key])
    return value


@command("getdel", arity=2, flags="write fast", keys=(1, 1, 1), group="string")
def getdel(ctx, argv):
    value = _get_string(ctx, argv[1])
    if value is not None and ctx.db.delete(argv[1]):
        ctx.dirty += 1
        notify(ctx, NOTIFY_GENERIC, "del", argv[1])
        ctx.rewrite_propagation([b"DEL", argv[1]])
    return value


@command("getset", arity=3, flags="write denyoom fast", keys=(1, 1, 1), group="string")
def getset(ctx, argv):
    old = _get_string(ctx, argv[1])
    ctx.db.set(argv[1], argv[2])
    ctx.dirty += 1
    notify(ctx, NOTIFY_STRING, "set", argv[1])
    ctx.rewrite_propagation([b"SET", argv[1], argv[2]])    # as getsetCommand
    return old


@command("mget", arity=-2, flags="readonly fast", keys=(1, -1, 1), group="string")
def mget(ctx, argv):
    # Unlike GET, a key of another type reads as nil instead of an error.
    replies = []
    for key in argv[1:]:
        value = ctx.read(key)
        replies.append(value if type(value) is bytes else None)
    return replies


def _generic_mset(ctx, argv, only_if_none_exist: bool):
    """msetGenericCommand; MSETNX sets all the keys or none of them."""
    if len(argv) % 2 == 0:
        raise errors.wrong_arity(ctx.command.name)
    pairs = range(1, len(argv), 2)
    if only_if_none_exist and any(ctx.db.lookup(argv[i]) is not None for i in pairs):
        return 0
    for i in pairs:
        ctx.db.set(argv[i], argv[i + 1])
        notify(ctx, NOTIFY_STRING, "set", argv[i])
    ctx.dirty += len(pairs)
    return 1 if only_if_none_exist else "OK"


@command("mset", arity=-3, flags="write denyoom", keys=(1, -1, 2), group="string")
def mset(ctx, argv):
    return _generic_mset(ctx, argv, only_if_none_exist=False)


@command("msetnx", arity=-3, flags="write denyoom", keys=(1, -1, 2), group="string")
def msetnx(ctx, argv):
    return _generic_mset(ctx, argv, only_if_none_exist=True)


# ---------------------------------------------------------------------------
# Counters
# ---------------------------------------------------------------------------


def _generic_incr(ctx, key, delta: int) -> int:
    """incrDecrCommand: the stored integer plus delta; the TTL is kept."""
    current = _lookup_string_for_write(ctx, key)
    value = 0 if current is None else parse_int(current)
    result = value + delta
    if result < LLONG_MIN or result > LLONG_MAX:
        raise CommandError(errors.OVERFLOW)
    ctx.db.set(key, b"%d" % result, keep_ttl=True)
    ctx.dirty += 1
    notify(ctx, NOTIFY_STRING, "incrby", key)
    return result


@command("incr", arity=2, flags="write denyoom fast", keys=(1, 1, 1), group="string")
def incr(ctx, argv):
    return _generic_incr(ctx, argv[1], 1)


@command("decr", arity=2, flags="write denyoom fast", keys=(1, 1, 1), group="string")
def decr(ctx, argv):
    return _generic_incr(ctx, argv[1], -1)


@command("incrby", arity=3, flags="write denyoom fast", keys=(1, 1, 1), group="string")
def incrby(ctx, argv):
    return _generic_incr(ctx, argv[1], parse_int(argv[2]))


@command("decrby", arity=3, flags="write denyoom fast", keys=(1, 1, 1), group="string")
def decrby(ctx, argv):
    delta = parse_int(argv[2])
    if delta == LLONG_MIN:      # -LLONG_MIN does not fit in a long long
        raise CommandError(errors.DECREMENT_OVERFLOW)
    return _generic_incr(ctx, argv[1], -delta)


@command("incrbyfloat", arity=3, flags="write denyoom fast", keys=(1, 1, 1), group="string")
def incrbyfloat(ctx, argv):
    # Exact x87 long double emulation: see storage/values/strings.py.
    key = argv[1]
    current = _lookup_string_for_write(ctx, key)
    value = 0 if current is None else values.parse_long_double(current)
    increment = values.parse_long_double(argv[2])
    if value is None or increment is None:
        raise CommandError(errors.NOT_FLOAT)
    result = values.add_long_double(value, increment)
    if result is None:
        raise CommandError(errors.INCR_NAN_OR_INF)
    text = values.format_long_double_human(result)
    ctx.db.set(key, text, keep_ttl=True)
    if is_int(text):
        # createStringObjectFromLongDouble makes an embstr, never an int ("2" too).
        ctx.db.mark_encoding(key, "embstr")
    ctx.dirty += 1
    notify(ctx, NOTIFY_STRING, "incrbyfloat", key)
    # Float formatting may differ elsewhere: replicas and the AOF get the result.
    ctx.rewrite_propagation([b"SET", key, text, b"KEEPTTL"])
    return text                 # a bulk string in both protocols, as in Redis


# ---------------------------------------------------------------------------
# Lengths and ranges
# ---------------------------------------------------------------------------


@command("strlen", arity=2, flags="readonly fast", keys=(1, 1, 1), group="string")
def strlen(ctx, argv):
    value = _get_string(ctx, argv[1])
    return 0 if value is None else len(value)


@command("append", arity=3, flags="write denyoom fast", keys=(1, 1, 1), group="string")
def append(ctx, argv):
    key, tail = argv[1], argv[2]
    current = _lookup_string_for_write(ctx, key)
    if current is None:
        value = tail            # APPEND of "" to a missing key still creates it
        ctx.db.set(key, value)
    else:
        _check_length(ctx, len(current), len(tail))
        value = current + tail
        ctx.db.set(key, value, keep_ttl=True)
        ctx.db.mark_raw(key, value)     # dbUnshareStringValue, even for an empty tail
    ctx.dirty += 1
    notify(ctx, NOTIFY_STRING, "append", key)
    return len(value)


@command("setrange", arity=4, flags="write denyoom", keys=(1, 1, 1), group="string")
def setrange(ctx, argv):
    key, patch = argv[1], argv[3]
    offset = parse_int(argv[2])
    if offset < 0:
        raise CommandError(errors.OUT_OF_RANGE_OFFSET)
    current = _lookup_string_for_write(ctx, key)
    if not patch:               # nothing to write: no key is created, nothing changes
        return 0 if current is None else len(current)
    _check_length(ctx, offset, len(patch))
    value = values.overwrite_at(current or b"", offset, patch)
    ctx.db.set(key, value, keep_ttl=True)
    ctx.db.mark_raw(key, value)     # edited in place, or created raw when missing
    ctx.dirty += 1
    notify(ctx, NOTIFY_STRING, "setrange", key)
    return len(value)


def _generic_getrange(ctx, argv):
    start, end = parse_int(argv[2]), parse_int(argv[3])
    value = _get_string(ctx, argv[1])
    return b"" if value is None else values.byte_range(value, start, end)


@command("getrange", arity=4, flags="readonly", keys=(1, 1, 1), group="string")
def getrange(ctx, argv):
    return _generic_getrange(ctx, argv)


@command("substr", arity=4, flags="readonly", keys=(1, 1, 1), group="string")
def substr(ctx, argv):
    return _generic_getrange(ctx, argv)


# ---------------------------------------------------------------------------
# LCS
# ---------------------------------------------------------------------------


def _parse_lcs_options(argv):
    """(want_len, want_idx, with_match_len, min_match_len), errors as lcsCommand."""
    want_len = want_idx = with_match_len = False
    min_match_len = 0
    i = 3
    while i < len(argv):
        opt = _c_string(argv[i])
        if opt == b"IDX":
            want_idx = True
        elif opt == b"LEN":
            want_len = True
        elif opt == b"WITHMATCHLEN":
            with_match_len = True
        elif opt == b"MINMATCHLEN" and i + 1 < len(argv):
            min_match_len = max(parse_int(argv[i + 1]), 0)
            i += 1
        else:
            raise CommandError(errors.SYNTAX_ERR)
        i += 1
    if want_idx and want_len:
        raise CommandError(errors.LCS_LEN_AND_IDX)
    return want_len, want_idx, with_match_len, min_match_len


def _lcs_idx_reply(table, min_match_len: int, with_match_len: bool) -> dict:
    _, ranges = values.lcs_matches(table, min_match_len)
    matches = []
    for a_start, a_end, b_start, b_end, length in ranges:
        match = [[a_start, a_end], [b_start, b_end]]
        if with_match_len:
            match.append(length)
        matches.append(match)
    return {b"matches": matches, b"len": table.length()}


@command("lcs", arity=-3, flags="readonly", keys=(1, 2, 1), group="string")
def lcs(ctx, argv):
    a, b = ctx.read(argv[1]), ctx.read(argv[2])
    if (a is not None and type(a) is not bytes) or (b is not None and type(b) is not bytes):
        raise CommandError(errors.LCS_NOT_STRINGS)
    a, b = a or b"", b or b""
    want_len, want_idx, with_match_len, min_match_len = _parse_lcs_options(argv)
    # Redis refuses when its (len(a)+1) x (len(b)+1) table of uint32 would be too big.
    if (len(a) + 1) * (len(b) + 1) * 4 > ctx.server.config.proto_max_bulk_len:
        raise CommandError(errors.LCS_TOO_BIG)
    if want_len:
        return values.LcsTable(a, b, keep_rows=False).length()
    table = values.LcsTable(a, b)
    if want_idx:
        return _lcs_idx_reply(table, min_match_len, with_match_len)
    return values.lcs_matches(table, 0)[0]
