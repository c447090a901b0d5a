"""Sorted set group (t_zset.c). BZPOPMIN/BZPOPMAX/BZMPOP block through
server/blocking.py (as the list group does) and reuse generic_zpop() and parse_zmpop()."""
from __future__ import annotations

from functools import partial

from ferrous import errors
from ferrous.commands.args import LLONG_MAX, parse_int
from ferrous.commands.registry import command
from ferrous.commands.sets import c_option, generic_scan, parse_cursor
from ferrous.errors import CommandError
from ferrous.protocol import NULL_ARRAY
from ferrous.protocol.encoder import format_double
from ferrous.storage.values import zsets as zs
from ferrous.storage.values.zsets import ZSetValue, listpack_limits
from ferrous.server.blocking import NOT_READY, block, may_block, parse_timeout, signal_key_ready
from ferrous.server.notify import NOTIFY_GENERIC, NOTIFY_ZSET, notify, store_event

RANK, SCORE, LEX = "rank", "score", "lex"


# -- lookups and shared helpers ------------------------------------------------------------
def read_zset(ctx, key: bytes):
    """lookupKeyRead + checkType: the ZSetValue or None."""
    value = ctx.read(key)
    if value is None or type(value) is ZSetValue:
        return value
    raise CommandError(errors.WRONGTYPE)


def write_zset(ctx, key: bytes):
    """lookupKeyWrite + checkType: the ZSetValue or None."""
    value = ctx.db.lookup(key)
    if value is None or type(value) is ZSetValue:
        return value
    raise CommandError(errors.WRONGTYPE)


def parse_double(data: bytes, error: str = errors.NOT_FLOAT) -> float:
    """getDoubleFromObjectOrReply: strtod over the whole argument, no NaN, no overflow."""
    value = zs.parse_double(data)
    if value is None:
        raise CommandError(error)
    return value


def _parse_positive(data: bytes, error: str, minimum: int = 0) -> int:
    """getRangeLongFromObjectOrReply(minimum, LONG_MAX) with one message for every failure."""
    value = parse_int(data, error)
    if value < minimum:
        raise CommandError(error)
    return value


def scored_reply(ctx, pairs, withscores: bool) -> list:
    """Members, or member/score pairs: a flat array in RESP2, [member, score] arrays in RESP3."""
    if not withscores:
        return [member for member, _ in pairs]
    if ctx.conn.resp == 2:
        flat = []
        for member, score in pairs:
            flat.append(member)
            flat.append(score)
        return flat
    return [[member, score] for member, score in pairs]


def store_result(ctx, key: bytes, zset: ZSetValue | None) -> int:
    """setKey for a non-empty result, else delete the destination (Redis's *STORE)."""
    if zset:
        ctx.db.set(key, zset)
        signal_key_ready(ctx, key)      # a new zset may serve BZPOP*/BZMPOP clients
        ctx.dirty += 1
        notify(ctx, NOTIFY_ZSET, store_event(ctx), key)
        return len(zset)
    if ctx.db.delete(key):
        ctx.dirty += 1
        notify(ctx, NOTIFY_GENERIC, "del", key)
    return 0


def _after_removal(ctx, key: bytes, zset: ZSetValue, removed: int) -> int:
    """Publish a removal: delete an emptied set, else signal the in-place change."""
    if removed:
        if zset:
            ctx.db.touch(key)
        else:
            ctx.db.delete(key)
            notify(ctx, NOTIFY_GENERIC, "del", key)
        ctx.dirty += removed
    return removed


def _score_range(low: bytes, high: bytes) -> zs.ScoreRange:
    spec = zs.parse_score_range(low, high)
    if spec is None:
        raise CommandError(errors.ZSET_MIN_MAX_NOT_FLOAT)
    return spec


def _lex_range(low: bytes, high: bytes) -> zs.LexRange:
    spec = zs.parse_lex_range(low, high)
    if spec is None:
        raise CommandError(errors.ZSET_LEX_RANGE_INVALID)
    return spec


# -- ZADD / ZINCRBY ----------------------------------------------------------------------
_ZADD_OPTIONS = {b"nx", b"xx", b"ch", b"incr", b"gt", b"lt"}


def apply_zadd(ctx, key: bytes, pairs: list, nx=False, xx=False, gt=False, lt=False,
               ch=False, incr=False):
    """The part of zaddGenericCommand after argument checks (GEOADD calls it too).
    pairs are (score, member); the reply is the count, or the new score with INCR."""
    zset = write_zset(ctx, key)
    created = zset is None
    if created:
        if xx:
            return None if incr else 0
        zset = ZSetValue()
    limits = listpack_limits(ctx.server.config)
    added = updated = processed = 0
    score = None
    try:
        for score, member in pairs:
            outcome, score = zset.add(member, score, limits, nx, xx, gt, lt, incr)
            if outcome is zs.NAN:
                raise CommandError(errors.ZSET_SCORE_NAN)
            added += outcome is zs.ADDED
            updated += outcome is zs.UPDATED
            processed += outcome is not zs.SKIPPED
    finally:
        if added or updated:
            if created:
                ctx.db.set(key, zset)
                signal_key_ready(ctx, key)      # dbAdd of a zset serves blocked clients
            else:
                ctx.db.touch(key)
            ctx.dirty += added + updated
            notify(ctx, NOTIFY_ZSET, "zincr" if incr else "zadd", key)
    if incr:
        return score if processed else None
    return added + updated if ch else added


def _generic_zadd(ctx, argv, incr: bool):
    """ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member ...; ZINCRBY parses the same way."""
    flags = set()
    index = 2
    while index < len(argv) and c_option(argv[index]) in _ZADD_OPTIONS:
        flags.add(c_option(argv[index]))
        index += 1
    incr = incr or b"incr" in flags
    nx, xx, gt, lt = (flag in flags for flag in (b"nx", b"xx", b"gt", b"lt"))
    rest = argv[index:]
    if not rest or len(rest) % 2:
        raise CommandError(errors.SYNTAX_ERR)
    if nx and xx:
        raise CommandError(errors.ZADD_XX_AND_NX)
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError(errors.ZADD_GT_LT_NX)
    if incr and len(rest) > 2:
        raise CommandError(errors.ZADD_INCR_ONE_PAIR)
    pairs = [(parse_double(rest[i]), rest[i + 1]) for i in range(0, len(rest), 2)]
    return apply_zadd(ctx, argv[1], pairs, nx, xx, gt, lt, b"ch" in flags, incr)


@command("zadd", arity=-4, flags="write denyoom fast", keys=(1, 1, 1), group="sorted-set")
def zadd(ctx, argv):
    return _generic_zadd(ctx, argv, incr=False)


@command("zincrby", arity=4, flags="write denyoom fast", keys=(1, 1, 1), group="sorted-set")
def zincrby(ctx, argv):
    return _generic_zadd(ctx, argv, incr=True)


# -- simple reads ------------------------------------------------------------------------
@command("zcard", arity=2, flags="readonly fast", keys=(1, 1, 1), group="sorted-set")
def zcard(ctx, argv):
    zset = read_zset(ctx, argv[1])
    return len(zset) if zset is not None else 0


@command("zscore", arity=3, flags="readonly fast", keys=(1, 1, 1), group="sorted-set")
def zscore(ctx, argv):
    zset = read_zset(ctx, argv[1])
    return zset.score(argv[2]) if zset is not None else None


@command("zmscore", arity=-3, flags="readonly fast", keys=(1, 1, 1), group="sorted-set")
def zmscore(ctx, argv):
    zset = read_zset(ctx, argv[1])
    if zset is None:
        return [None] * (len(argv) - 2)
    return [zset.score(member) for member in argv[2:]]


def _generic_rank(ctx, argv, reverse: bool):
    zset = read_zset(ctx, argv[1])
    return zset.rank(argv[2], reverse) if zset is not None else None


@command("zrank", arity=3, flags="readonly fast", keys=(1, 1, 1), group="sorted-set")
def zrank(ctx, argv):
    return _generic_rank(ctx, argv, reverse=False)


@command("zrevrank", arity=3, flags="readonly fast", keys=(1, 1, 1), group="sorted-set")
def zrevrank(ctx, argv):
    return _generic_rank(ctx, argv, reverse=True)


@command("zcount", arity=4, flags="readonly fast", keys=(1, 1, 1), group="sorted-set")
def zcount(ctx, argv):
    spec = _score_range(argv[2], argv[3])
    zset = read_zset(ctx, argv[1])
    if zset is None:
        return 0
    start, stop = zset.score_positions(spec)
    return stop - start


@command("zlexcount", arity=4, flags="readonly fast", keys=(1, 1, 1), group="sorted-set")
def zlexcount(ctx, argv):
    spec = _lex_range(argv[2], argv[3])
    zset = read_zset(ctx, argv[1])
    if zset is None:
        return 0
    start, stop = zset.lex_positions(spec)
    return stop - start


# -- ZRANGE and friends (zrangeGenericCommand) -------------------------------------------
def _parse_zrange_options(argv, first: int, store: bool, rangetype, reverse):
    """Options after <src> <min> <max>: returns (rangetype, reverse, withscores, offset, limit)."""
    withscores, offset, limit = False, 0, -1
    index = first
    while index < len(argv):
        option = c_option(argv[index])
        left = len(argv) - index - 1
        if not store and option == b"withscores":
            withscores = True
        elif option == b"limit" and left >= 2:
            offset = parse_int(argv[index + 1])
            limit = parse_int(argv[index + 2])
            index += 2
        elif reverse is None and option == b"rev":
            reverse = True
        elif rangetype is None and option == b"bylex":
            rangetype = LEX
        elif rangetype is None and option == b"byscore":
            rangetype = SCORE
        else:
            raise CommandError(errors.SYNTAX_ERR)
        index += 1
    return rangetype or RANK, bool(reverse), withscores, offset, limit


def _generic_zrange(ctx, argv, src_index: int, dest: bytes | None, rangetype=None, reverse=None):
    """ZRANGE, ZRANGESTORE, ZREVRANGE, Z[REV]RANGEBYSCORE, Z[REV]RANGEBYLEX."""
    rangetype, reverse, withscores, offset, limit = _parse_zrange_options(
        argv, src_index + 3, dest is not None, rangetype, reverse)
    if limit != -1 and rangetype is RANK:
        raise CommandError(errors.ZRANGE_LIMIT_NEEDS_BY)
    if withscores and rangetype is LEX:
        raise CommandError(errors.ZRANGE_WITHSCORES_BYLEX)
    low, high = argv[src_index + 1], argv[src_index + 2]
    if reverse and rangetype is not RANK:
        low, high = high, low   # given as max, min
    if rangetype is RANK:
        bounds = (parse_int(low), parse_int(high))
    elif rangetype is SCORE:
        bounds = _score_range(low, high)
    else:
        bounds = _lex_range(low, high)
    zset = read_zset(ctx, argv[src_index])
    pairs, length_hint = _zrange_pairs(zset, rangetype, bounds, reverse, offset, limit)
    if dest is None:
        return scored_reply(ctx, pairs, withscores)
    return _store_range(ctx, dest, pairs, length_hint)


def _zrange_pairs(zset, rangetype, bounds, reverse: bool, offset: int, limit: int):
    """The (member, score) pairs selected, and the size Redis announces up front
    (only a rank range knows it; -1 otherwise)."""
    if zset is None:
        return [], -1
    if rangetype is RANK:
        sane = zset.rank_bounds(*bounds)
        if sane is None:
            return [], 0
        return zset.range_by_rank(sane[0], sane[1], reverse), sane[1] - sane[0] + 1
    if rangetype is SCORE:
        if offset > 0 and offset >= len(zset):
            return [], -1
        start, stop = zset.score_positions(bounds)
    else:
        start, stop = zset.lex_positions(bounds, reverse)
    return zset.window(start, stop, offset, limit, reverse), -1


def _store_range(ctx, dest: bytes, pairs: list, length_hint: int) -> int:
    """zrangeResultBeginStore/EmitForStore: a listpack unless the announced size is too
    big, then every member goes in through zsetAdd (which converts as needed)."""
    zset = None
    if pairs:
        limits = listpack_limits(ctx.server.config)
        zset = ZSetValue(listpack=length_hint <= limits[0])
        for member, score in pairs:
            zset.add(member, score, limits)
    return store_result(ctx, dest, zset)


@command("zrange", arity=-4, flags="readonly", keys=(1, 1, 1), group="sorted-set")
def zrange(ctx, argv):
    return _generic_zrange(ctx, argv, 1, None)


@command("zrangestore", arity=-5, flags="write denyoom", keys=(1, 2, 1), group="sorted-set")
def zrangestore(ctx, argv):
    return _generic_zrange(ctx, argv, 2, argv[1])


@command("zrevrange", arity=-4, flags="readonly", keys=(1, 1, 1), group="sorted-set")
def zrevrange(ctx, argv):
    return _generic_zrange(ctx, argv, 1, None, RANK, True)


@command("zrangebyscore", arity=-4, flags="readonly", keys=(1, 1, 1), group="sorted-set")
def zrangebyscore(ctx, argv):
    return _generic_zrange(ctx, argv, 1, None, SCORE, False)


@command("zrevrangebyscore", arity=-4, flags="readonly", keys=(1, 1, 1), group="sorted-set")
def zrevrangebyscore(ctx, argv):
    return _generic_zrange(ctx, argv, 1, None, SCORE, True)


@command("zrangebylex", arity=-4, flags="readonly", keys=(1, 1, 1), group="sorted-set")
def zrangebylex(ctx, argv):
    return _generic_zrange(ctx, argv, 1, None, LEX, False)


@command("zrevrangebylex", arity=-4, flags="readonly", keys=(1, 1, 1), group="sorted-set")
def zrevrangebylex(ctx, argv):
    return _generic_zrange(ctx, argv, 1, None, LEX, True)


# -- removals ------------------------------------------------------------------------------
@command("zrem", arity=-3, flags="write fast", keys=(1, 1, 1), group="sorted-set")
def zrem(ctx, argv):
    key = argv[1]
    zset = write_zset(ctx, key)
    if zset is None:
        return 0
    removed = 0
    for member in argv[2:]:
        removed += zset.remove(member)
        if not zset:
            break
    if removed:
        notify(ctx, NOTIFY_ZSET, "zrem", key)
    return _after_removal(ctx, key, zset, removed)


def _generic_zremrange(ctx, argv, rangetype):
    """ZREMRANGEBYRANK / BYSCORE / BYLEX: parse the range first, then look the key up."""
    if rangetype is RANK:
        bounds = (parse_int(argv[2]), parse_int(argv[3]))
    elif rangetype is SCORE:
        bounds = _score_range(argv[2], argv[3])
    else:
        bounds = _lex_range(argv[2], argv[3])
    key = argv[1]
    zset = write_zset(ctx, key)
    if zset is None:
        return 0
    if rangetype is RANK:
        sane = zset.rank_bounds(*bounds)
        if sane is None:
            return 0
        start, stop = sane[0], sane[1] + 1
    elif rangetype is SCORE:
        start, stop = zset.score_positions(bounds)
    else:
        start, stop = zset.lex_positions(bounds)
    removed = zset.remove_positions(start, stop)
    if removed:
        notify(ctx, NOTIFY_ZSET, ctx.command.name, key)    # zremrangebyrank / byscore / bylex
    return _after_removal(ctx, key, zset, removed)


@command("zremrangebyrank", arity=4, flags="write", keys=(1, 1, 1), group="sorted-set")
def zremrangebyrank(ctx, argv):
    return _generic_zremrange(ctx, argv, RANK)


@command("zremrangebyscore", arity=4, flags="write", keys=(1, 1, 1), group="sorted-set")
def zremrangebyscore(ctx, argv):
    return _generic_zremrange(ctx, argv, SCORE)


@command("zremrangebylex", arity=4, flags="write", keys=(1, 1, 1), group="sorted-set")
def zremrangebylex(ctx, argv):
    return _generic_zremrange(ctx, argv, LEX)


# -- pops (genericZpopCommand) --------------------------------------------------------------
def generic_zpop(ctx, keys, maximum: bool, count: int, emit_key: bool, nested: bool,
                 nil_when_empty: bool):
    """Pop from the first existing key of keys. count -1 is a plain single pop.
    Reply shapes: flat [m, s, ...]; nested [[m, s], ...]; with emit_key the key name
    leads ([key, m, s] flat, or [key, [[m, s], ...]] nested). Used by ZPOPMIN/ZPOPMAX/
    ZMPOP and, from the blocking code, by BZPOPMIN/BZPOPMAX/BZMPOP."""
    for key in keys:
        zset = write_zset(ctx, key)
        if zset is not None:
            break
    else:
        return NULL_ARRAY if nil_when_empty else []
    if count == 0:
        return []
    popped = zset.pop(1 if count == -1 else count, maximum)
    notify(ctx, NOTIFY_ZSET, "zpopmax" if maximum else "zpopmin", key)
    _after_removal(ctx, key, zset, len(popped))
    if emit_key:    # ZMPOP and the blocking pops propagate as the plain pop of one key
        pop = b"ZPOPMAX" if maximum else b"ZPOPMIN"
        ctx.rewrite_propagation([pop, key] if count == -1 else [pop, key, b"%d" % len(popped)])
    if nested:
        pairs = [[member, score] for member, score in popped]
        return [key, pairs] if emit_key else pairs
    flat = [key] if emit_key else []
    for member, score in popped:
        flat.append(member)
        flat.append(score)
    return flat


def _zpop_min_max(ctx, argv, maximum: bool):
    if len(argv) > 3:
        raise CommandError(errors.SYNTAX_ERR)
    count = _parse_positive(argv[2], errors.MUST_BE_POSITIVE) if len(argv) == 3 else -1
    nested = ctx.conn.resp > 2 and count != -1
    return generic_zpop(ctx, [argv[1]], maximum, count, emit_key=False, nested=nested,
                        nil_when_empty=False)


@command("zpopmin", arity=-2, flags="write fast", keys=(1, 1, 1), group="sorted-set")
def zpopmin(ctx, argv):
    return _zpop_min_max(ctx, argv, maximum=False)


@command("zpopmax", arity=-2, flags="write fast", keys=(1, 1, 1), group="sorted-set")
def zpopmax(ctx, argv):
    return _zpop_min_max(ctx, argv, maximum=True)


def parse_zmpop(argv, numkeys_index: int) -> tuple[list, bool, int]:
    """[B]ZMPOP arguments from numkeys on: (keys, maximum, count)."""
    numkeys = _parse_positive(argv[numkeys_index], errors.NUMKEYS_NOT_POSITIVE, minimum=1)
    where_index = numkeys_index + numkeys + 1
    if where_index >= len(argv):
        raise CommandError(errors.SYNTAX_ERR)
    where = c_option(argv[where_index])
    if where not in (b"min", b"max"):
        raise CommandError(errors.SYNTAX_ERR)
    count = -1
    index = where_index + 1
    while index < len(argv):
        if count == -1 and c_option(argv[index]) == b"count" and index + 1 < len(argv):
            count = _parse_positive(argv[index + 1], errors.ZMPOP_COUNT_NOT_POSITIVE, minimum=1)
            index += 2
        else:
            raise CommandError(errors.SYNTAX_ERR)
    keys = argv[numkeys_index + 1:where_index]
    return keys, where == b"max", 1 if count == -1 else count


def numkeys_getkeys(numkeys_index: int, dest_index: int = 0):
    """getkeys for commands with a numkeys argument (and maybe a destination key first)."""
    def getkeys(argv):
        try:
            numkeys = int(argv[numkeys_index])
        except (IndexError, ValueError):
            numkeys = 0
        first = numkeys_index + 1
        keys = list(range(first, min(first + max(numkeys, 0), len(argv))))
        return ([dest_index] if dest_index else []) + keys
    return getkeys


@command("zmpop", arity=-4, flags="write movablekeys", group="sorted-set",
         getkeys=numkeys_getkeys(1))
def zmpop(ctx, argv):
    keys, maximum, count = parse_zmpop(argv, 1)
    return generic_zpop(ctx, keys, maximum, count, emit_key=True, nested=True, nil_when_empty=True)


# -- BZPOPMIN / BZPOPMAX / BZMPOP (blockingGenericZpopCommand) ----------------------------
def _generic_blocking_zpop(ctx, keys, timeout: float, maximum: bool, count: int, nested: bool):
    """Pop from the first existing zset of keys like ZPOP*/ZMPOP, else block on keys."""
    for key in keys:
        if write_zset(ctx, key) is not None:
            return generic_zpop(ctx, [key], maximum, count, emit_key=True, nested=nested,
                                nil_when_empty=True)
    if not may_block(ctx):
        return NULL_ARRAY       # MULTI/scripts: answered as a timeout at once
    block(ctx, keys, timeout, partial(_serve_zpop, maximum=maximum, count=count, nested=nested))


def _serve_zpop(ctx, key: bytes, maximum: bool, count: int, nested: bool):
    """A blocked BZPOPMIN/BZPOPMAX/BZMPOP client, now that key was signalled ready."""
    if type(ctx.db.lookup(key)) is not ZSetValue:
        return NOT_READY        # gone again, or another type: keep waiting (as 7.0)
    return generic_zpop(ctx, [key], maximum, count, emit_key=True, nested=nested,
                        nil_when_empty=True)


@command("bzpopmin", arity=-3, flags="write noscript blocking fast", keys=(1, -2, 1),
         group="sorted-set")
def bzpopmin(ctx, argv):
    timeout = parse_timeout(argv[-1])
    return _generic_blocking_zpop(ctx, argv[1:-1], timeout, False, -1, nested=False)


@command("bzpopmax", arity=-3, flags="write noscript blocking fast", keys=(1, -2, 1),
         group="sorted-set")
def bzpopmax(ctx, argv):
    timeout = parse_timeout(argv[-1])
    return _generic_blocking_zpop(ctx, argv[1:-1], timeout, True, -1, nested=False)


@command("bzmpop", arity=-5, flags="write blocking movablekeys", group="sorted-set",
         getkeys=numkeys_getkeys(2))
def bzmpop(ctx, argv):
    keys, maximum, count = parse_zmpop(argv, 2)     # Redis checks the options first
    timeout = parse_timeout(argv[1])
    return _generic_blocking_zpop(ctx, keys, timeout, maximum, count, nested=True)


# -- ZRANDMEMBER -----------------------------------------------------------------------------
@command("zrandmember", arity=-2, flags="readonly", keys=(1, 1, 1), group="sorted-set")
def zrandmember(ctx, argv):
    if len(argv) == 2:
        zset = read_zset(ctx, argv[1])
        return zset.random_member() if zset is not None else None
    count = parse_int(argv[2])
    if count < -LLONG_MAX:
        raise CommandError(errors.COUNT_RANGE)
    if len(argv) > 4 or (len(argv) == 4 and c_option(argv[3]) != b"withscores"):
        raise CommandError(errors.SYNTAX_ERR)
    if len(argv) == 4 and abs(count) > LLONG_MAX // 2:
        raise CommandError(errors.VALUE_OUT_OF_RANGE)   # the reply length would overflow
    zset = read_zset(ctx, argv[1])
    if zset is None or count == 0:
        return []
    return scored_reply(ctx, _random_pairs(zset, count), len(argv) == 4)


def _random_pairs(zset: ZSetValue, count: int) -> list:
    """zrandmemberWithCountCommand's cases: repetitions for a negative count (or 1),
    the whole set when count covers it (Redis's zset iterator walks from the top),
    distinct members otherwise."""
    if count < 0 or count == 1:
        return zset.random_pairs(abs(count))
    if count >= len(zset):
        return zset.items(reverse=True)
    return zset.random_distinct(count)


# -- ZUNION / ZINTER / ZDIFF (zunionInterDiffGenericCommand) ----------------------------------
UNION, INTER, DIFF = "union", "inter", "diff"


class _Source:
    """One input of a set operation: a sorted set, or a plain set (every score 1.0)."""
    __slots__ = ("scores", "weight", "identity")

    def __init__(self, value):
        self.weight = 1.0
        self.identity = value
        if value is None:
            self.scores = {}
        elif type(value) is ZSetValue:
            self.scores = value.scores
        else:
            self.scores = dict.fromkeys(value.members, 1.0)

    def __len__(self) -> int:
        return len(self.scores)


def _read_source(ctx, key: bytes) -> _Source:
    value = ctx.read(key)
    if value is not None and type(value) is not ZSetValue and getattr(value, "type_name", None) != "set":
        raise CommandError(errors.WRONGTYPE)
    return _Source(value)


def _aggregate(target: float, value: float, how: bytes) -> float:
    if how == b"sum":
        total = target + value
        return 0.0 if total != total else total   # inf + -inf counts as 0
    if how == b"min":
        return value if value < target else target
    return value if value > target else target


def _parse_setop_options(argv, index: int, sources: list, op, store: bool, card_only: bool):
    """WEIGHTS / AGGREGATE / WITHSCORES / LIMIT; returns (aggregate, withscores, limit)."""
    aggregate, withscores, limit = b"sum", False, 0
    while index < len(argv):
        option, remaining = c_option(argv[index]), len(argv) - index
        if op is not DIFF and not card_only and remaining >= len(sources) + 1 and option == b"weights":
            for i, source in enumerate(sources):
                source.weight = parse_double(argv[index + 1 + i], errors.ZSET_WEIGHT_NOT_FLOAT)
            index += len(sources) + 1
        elif op is not DIFF and not card_only and remaining >= 2 and option == b"aggregate":
            aggregate = c_option(argv[index + 1])
            if aggregate not in (b"sum", b"min", b"max"):
                raise CommandError(errors.SYNTAX_ERR)
            index += 2
        elif not store and not card_only and option == b"withscores":
            withscores = True
            index += 1
        elif card_only and remaining >= 2 and option == b"limit":
            limit = _parse_positive(argv[index + 1], errors.LIMIT_NEGATIVE)
            index += 2
        else:
            raise CommandError(errors.SYNTAX_ERR)
    return aggregate, withscores, limit


def _inter(sources: list, aggregate: bytes, limit: int, card_only: bool):
    first, others = sources[0], sources[1:]
    result, found = {}, 0
    for member, base in first.scores.items():
        score = first.weight * base
        if score != score:
            score = 0.0
        for other in others:
            value = other.scores.get(member)
            if value is None:
                break
            score = _aggregate(score, value * other.weight, aggregate)
        else:
            found += 1
            if card_only:
                if limit and found >= limit:
                    break
            else:
                result[member] = score
    return found if card_only else result


def _union(sources: list, aggregate: bytes) -> dict:
    result: dict = {}
    for source in sources:
        weight = source.weight
        for member, base in source.scores.items():
            score = weight * base
            if score != score:
                score = 0.0
            current = result.get(member)
            result[member] = score if current is None else _aggregate(current, score, aggregate)
    return result


def _diff(sources: list) -> dict:
    first, others = sources[0], sources[1:]
    if any(other.identity is first.identity and other.identity is not None for other in others):
        return {}
    return {member: score for member, score in first.scores.items()
            if not any(member in other.scores for other in others)}


def _generic_setop(ctx, argv, dest: bytes | None, numkeys_index: int, op, card_only=False):
    numkeys = parse_int(argv[numkeys_index])
    if numkeys < 1:
        raise CommandError(errors.ZSETOP_NEEDS_KEYS % ctx.command.name)
    first = numkeys_index + 1
    if numkeys > len(argv) - first:
        raise CommandError(errors.SYNTAX_ERR)
    sources = [_read_source(ctx, key) for key in argv[first:first + numkeys]]
    aggregate, withscores, limit = _parse_setop_options(
        argv, first + numkeys, sources, op, dest is not None, card_only)
    if op is not DIFF:
        sources.sort(key=len)   # smallest first, stable like glibc's merge-sort qsort
    if op is INTER:
        result = _inter(sources, aggregate, limit, card_only)
    elif op is UNION:
        result = _union(sources, aggregate)
    else:
        result = _diff(sources)
    if card_only:
        return result
    if dest is not None:
        zset = ZSetValue.from_pairs(result.items(), ctx.server.config) if result else None
        return store_result(ctx, dest, zset)
    ordered = sorted((score, member) for member, score in result.items())
    return scored_reply(ctx, [(member, score) for score, member in ordered], withscores)


_SETOP_FLAGS = "readonly movablekeys"
_SETOP_STORE_FLAGS = "write denyoom movablekeys"


@command("zunion", arity=-3, flags=_SETOP_FLAGS, group="sorted-set", getkeys=numkeys_getkeys(1))
def zunion(ctx, argv):
    return _generic_setop(ctx, argv, None, 1, UNION)


@command("zinter", arity=-3, flags=_SETOP_FLAGS, group="sorted-set", getkeys=numkeys_getkeys(1))
def zinter(ctx, argv):
    return _generic_setop(ctx, argv, None, 1, INTER)


@command("zdiff", arity=-3, flags=_SETOP_FLAGS, group="sorted-set", getkeys=numkeys_getkeys(1))
def zdiff(ctx, argv):
    return _generic_setop(ctx, argv, None, 1, DIFF)


@command("zintercard", arity=-3, flags=_SETOP_FLAGS, group="sorted-set", getkeys=numkeys_getkeys(1))
def zintercard(ctx, argv):
    return _generic_setop(ctx, argv, None, 1, INTER, card_only=True)


@command("zunionstore", arity=-4, flags=_SETOP_STORE_FLAGS, keys=(1, 1, 1), group="sorted-set",
         getkeys=numkeys_getkeys(2, dest_index=1))
def zunionstore(ctx, argv):
    return _generic_setop(ctx, argv, argv[1], 2, UNION)


@command("zinterstore", arity=-4, flags=_SETOP_STORE_FLAGS, keys=(1, 1, 1), group="sorted-set",
         getkeys=numkeys_getkeys(2, dest_index=1))
def zinterstore(ctx, argv):
    return _generic_setop(ctx, argv, argv[1], 2, INTER)


@command("zdiffstore", arity=-4, flags=_SETOP_STORE_FLAGS, keys=(1, 1, 1), group="sorted-set",
         getkeys=numkeys_getkeys(2, dest_index=1))
def zdiffstore(ctx, argv):
    return _generic_setop(ctx, argv, argv[1], 2, DIFF)


# -- ZSCAN ------------------------------------------------------------------------------------
@command("zscan", arity=-3, flags="readonly", keys=(1, 1, 1), group="sorted-set")
def zscan(ctx, argv):
    cursor = parse_cursor(argv[2])
    zset = read_zset(ctx, argv[1])
    if zset is None:
        return [b"0", []]
    # A listpack shows each score as it stores it; a skiplist's come from d2string.
    show = _listpack_score if zset.listpack else format_double
    scores = zset.scores
    return generic_scan(argv, zset, cursor, lambda member: (member, show(scores[member])))


def _listpack_score(score: float) -> bytes:
    return zs.listpack_score_text(score, format_double)
