"""Hash group (t_hash.c)."""
from __future__ import annotations

from ferrous import errors
from ferrous.commands.args import LLONG_MAX, LLONG_MIN, parse_int
from ferrous.commands.registry import command
from ferrous.commands.sets import c_option, generic_scan, parse_cursor
from ferrous.errors import CommandError
from ferrous.storage.values.hashes import HashValue, listpack_limits
from ferrous.server.notify import NOTIFY_GENERIC, NOTIFY_HASH, notify
from ferrous.storage.values.strings import (
    add_long_double, format_long_double_human, parse_long_double,
)

_WITHVALUES_MAX = LLONG_MAX // 2   # larger counts would overflow the reply length


def _read_hash(ctx, key: bytes):
    """lookupKeyRead + checkType: the HashValue or None."""
    value = ctx.read(key)
    if value is None or type(value) is HashValue:
        return value
    raise CommandError(errors.WRONGTYPE)


def _write_hash(ctx, key: bytes):
    """lookupKeyWrite + checkType: the HashValue or None."""
    value = ctx.db.lookup(key)
    if value is None or type(value) is HashValue:
        return value
    raise CommandError(errors.WRONGTYPE)


def _store(ctx, key: bytes, hash_: HashValue, created: bool) -> None:
    """Publish a change: add the new key, or signal an in-place change."""
    if created:
        ctx.db.set(key, hash_)
    else:
        ctx.db.touch(key)


def _generic_set(ctx, argv, reply_ok: bool):
    """HSET / HMSET: field-value pairs from argv[2]."""
    if len(argv) % 2:
        raise errors.wrong_arity(argv[0].decode("latin-1"))    # "hset" or "hmset"
    key = argv[1]
    hash_ = _write_hash(ctx, key)
    created = hash_ is None
    if created:
        hash_ = HashValue()
    limits = listpack_limits(ctx.server.config)
    hash_.convert_if_long(argv[2:], limits[1])
    added = 0
    for i in range(2, len(argv), 2):
        added += hash_.set(argv[i], argv[i + 1], limits)
    _store(ctx, key, hash_, created)
    ctx.dirty += (len(argv) - 2) // 2
    notify(ctx, NOTIFY_HASH, "hset", key)
    return "OK" if reply_ok else added


@command("hset", arity=-4, flags="write denyoom fast", keys=(1, 1, 1), group="hash")
def hset(ctx, argv):
    return _generic_set(ctx, argv, reply_ok=False)


@command("hmset", arity=-4, flags="write denyoom fast", keys=(1, 1, 1), group="hash")
def hmset(ctx, argv):
    return _generic_set(ctx, argv, reply_ok=True)


@command("hsetnx", arity=4, flags="write denyoom fast", keys=(1, 1, 1), group="hash")
def hsetnx(ctx, argv):
    key, field, value = argv[1], argv[2], argv[3]
    hash_ = _write_hash(ctx, key)
    if hash_ is not None and field in hash_.fields:
        return 0
    created = hash_ is None
    if created:
        hash_ = HashValue()
    limits = listpack_limits(ctx.server.config)
    hash_.convert_if_long((field, value), limits[1])
    hash_.set(field, value, limits)
    _store(ctx, key, hash_, created)
    ctx.dirty += 1
    notify(ctx, NOTIFY_HASH, "hset", key)
    return 1


@command("hget", arity=3, flags="readonly fast", keys=(1, 1, 1), group="hash")
def hget(ctx, argv):
    hash_ = _read_hash(ctx, argv[1])
    return None if hash_ is None else hash_.fields.get(argv[2])


@command("hmget", arity=-3, flags="readonly fast", keys=(1, 1, 1), group="hash")
def hmget(ctx, argv):
    hash_ = _read_hash(ctx, argv[1])
    if hash_ is None:
        return [None] * (len(argv) - 2)
    get = hash_.fields.get
    return [get(field) for field in argv[2:]]


@command("hdel", arity=-3, flags="write fast", keys=(1, 1, 1), group="hash")
def hdel(ctx, argv):
    key = argv[1]
    hash_ = _write_hash(ctx, key)
    if hash_ is None:
        return 0
    deleted = 0
    for field in argv[2:]:
        if hash_.delete(field):
            deleted += 1
            if not hash_.fields:
                break
    if deleted:
        if hash_.fields:
            ctx.db.touch(key)
        else:
            ctx.db.delete(key)
        ctx.dirty += deleted
        notify(ctx, NOTIFY_HASH, "hdel", key)
        if not hash_.fields:
            notify(ctx, NOTIFY_GENERIC, "del", key)
    return deleted


@command("hlen", arity=2, flags="readonly fast", keys=(1, 1, 1), group="hash")
def hlen(ctx, argv):
    hash_ = _read_hash(ctx, argv[1])
    return 0 if hash_ is None else len(hash_.fields)


@command("hstrlen", arity=3, flags="readonly fast", keys=(1, 1, 1), group="hash")
def hstrlen(ctx, argv):
    hash_ = _read_hash(ctx, argv[1])
    value = None if hash_ is None else hash_.fields.get(argv[2])
    return 0 if value is None else len(value)


@command("hexists", arity=3, flags="readonly fast", keys=(1, 1, 1), group="hash")
def hexists(ctx, argv):
    hash_ = _read_hash(ctx, argv[1])
    return int(hash_ is not None and argv[2] in hash_.fields)


@command("hkeys", arity=2, flags="readonly", keys=(1, 1, 1), group="hash")
def hkeys(ctx, argv):
    hash_ = _read_hash(ctx, argv[1])
    return [] if hash_ is None else list(hash_.fields)


@command("hvals", arity=2, flags="readonly", keys=(1, 1, 1), group="hash")
def hvals(ctx, argv):
    hash_ = _read_hash(ctx, argv[1])
    return [] if hash_ is None else list(hash_.fields.values())


@command("hgetall", arity=2, flags="readonly", keys=(1, 1, 1), group="hash")
def hgetall(ctx, argv):
    hash_ = _read_hash(ctx, argv[1])
    return {} if hash_ is None else dict(hash_.fields)   # a map in RESP3


# -- increments ---------------------------------------------------------------

def _hash_for_update(ctx, key: bytes):
    """hashTypeLookupWriteOrCreate: (hash, created)."""
    hash_ = _write_hash(ctx, key)
    if hash_ is None:
        return HashValue(), True
    return hash_, False


def _finish_update(ctx, key, hash_, created, field, new_value: bytes) -> None:
    hash_.set(field, new_value, listpack_limits(ctx.server.config))
    _store(ctx, key, hash_, created)
    ctx.dirty += 1
    notify(ctx, NOTIFY_HASH, ctx.command.name, key)     # hincrby / hincrbyfloat


@command("hincrby", arity=4, flags="write denyoom fast", keys=(1, 1, 1), group="hash")
def hincrby(ctx, argv):
    key, field = argv[1], argv[2]
    increment = parse_int(argv[3])
    hash_, created = _hash_for_update(ctx, key)
    current = hash_.fields.get(field)
    value = 0 if current is None else parse_int(current, errors.HASH_VALUE_NOT_INT)
    result = value + increment
    if result < LLONG_MIN or result > LLONG_MAX:
        raise CommandError(errors.OVERFLOW)
    _finish_update(ctx, key, hash_, created, field, b"%d" % result)
    return result


@command("hincrbyfloat", arity=4, flags="write denyoom fast", keys=(1, 1, 1), group="hash")
def hincrbyfloat(ctx, argv):
    key, field = argv[1], argv[2]
    # Long double arithmetic and "%.17Lf" text, shared with INCRBYFLOAT.
    increment = parse_long_double(argv[3])
    if increment is None:
        raise CommandError(errors.NOT_FLOAT)
    if type(increment) is float:        # +/-inf: the only float parse_long_double returns
        raise CommandError(errors.INCR_ARG_NAN_OR_INF)
    hash_, created = _hash_for_update(ctx, key)
    current = hash_.fields.get(field)
    value = 0
    if current is not None:
        value = parse_long_double(current)
        if value is None:
            raise CommandError(errors.HASH_VALUE_NOT_FLOAT)
    result = add_long_double(value, increment)
    if result is None:
        raise CommandError(errors.INCR_NAN_OR_INF)
    text = format_long_double_human(result)
    _finish_update(ctx, key, hash_, created, field, text)
    ctx.rewrite_propagation([b"HSET", key, field, text])   # the result, not the arithmetic
    return text   # a bulk string in both protocols, as Redis replies


# -- HRANDFIELD ---------------------------------------------------------------

def _parse_random_count(data: bytes) -> int:
    """getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)."""
    count = parse_int(data)
    if count == LLONG_MIN:
        raise CommandError(errors.COUNT_RANGE)
    return count


@command("hrandfield", arity=-2, flags="readonly", keys=(1, 1, 1), group="hash")
def hrandfield(ctx, argv):
    if len(argv) == 2:
        hash_ = _read_hash(ctx, argv[1])
        return None if hash_ is None else hash_.random_field()
    count = _parse_random_count(argv[2])
    withvalues = False
    if len(argv) > 4 or (len(argv) == 4 and c_option(argv[3]) != b"withvalues"):
        raise CommandError(errors.SYNTAX_ERR)
    if len(argv) == 4:
        withvalues = True
        if count < -_WITHVALUES_MAX or count > _WITHVALUES_MAX:
            raise CommandError(errors.VALUE_OUT_OF_RANGE)
    hash_ = _read_hash(ctx, argv[1])
    if hash_ is None or count == 0:
        return []
    return _random_fields_reply(ctx, hash_, count, withvalues)


def _random_fields_reply(ctx, hash_: HashValue, count: int, withvalues: bool) -> list:
    if count < 0 or count == 1:
        fields = hash_.random_fields(-count if count < 0 else 1)
    elif count >= len(hash_.fields):
        fields = list(hash_.fields)
    else:
        fields = hash_.random_distinct(count)
    if not withvalues:
        return fields
    values = hash_.fields
    if ctx.conn.resp == 3:
        return [[f, values[f]] for f in fields]     # RESP3: an array of pairs
    flat = []
    for f in fields:
        flat.append(f)
        flat.append(values[f])
    return flat


# -- HSCAN --------------------------------------------------------------------

@command("hscan", arity=-3, flags="readonly", keys=(1, 1, 1), group="hash")
def hscan(ctx, argv):
    cursor = parse_cursor(argv[2])
    hash_ = _read_hash(ctx, argv[1])
    if hash_ is None:
        return [b"0", []]
    fields = hash_.fields
    return generic_scan(argv, hash_, cursor, lambda field: (field, fields[field]))
