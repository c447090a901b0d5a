"""Stream group (t_stream.c): XADD, XRANGE, XREAD[GROUP] (blocking included), consumer
groups, XPENDING/XCLAIM/XAUTOCLAIM, XINFO, XSETID.

The data structure is storage/values/streams.py; this module parses arguments in
Redis's order (so the first error reported is Redis's), shapes replies, and
propagates what Redis propagates (XADD with its generated ID, XREADGROUP as XCLAIMs).
Blocked XREAD/XREADGROUP clients are parked through server/blocking.py and served
by `_serve_blocked_read` when XADD (or a deletion, or XGROUP DESTROY) signals the key.
"""
from __future__ import annotations

import re
from functools import partial
from itertools import islice

from ferrous import errors
from ferrous.commands.args import is_int, parse_int
from ferrous.commands.registry import command, container
from ferrous.commands.server import help_reply
from ferrous.errors import CommandError
from ferrous.protocol import NULL_ARRAY, ErrorReply
from ferrous.server.blocking import NOT_READY, block, may_block, parse_timeout, signal_key_ready
from ferrous.server.notify import NOTIFY_STREAM, notify
from ferrous.storage.keyspace import now_ms
from ferrous.storage.values.streams import (
    INVALID_ENTRIES_READ, MAX_ID, SEQ_MASK, PendingEntry, StreamValue, format_id, make_id,
)

U64_MAX = (1 << 64) - 1
XREAD_BLOCKED_DEFAULT_COUNT = 1000
XAUTOCLAIM_ATTEMPTS_FACTOR = 10
LONG_MAX = (1 << 63) - 1


# -- lookups and small helpers -----------------------------------------------------------
def _read_stream(ctx, key: bytes):
    """lookupKeyRead + checkType."""
    value = ctx.read(key)
    if value is None or type(value) is StreamValue:
        return value
    raise CommandError(errors.WRONGTYPE)


def _write_stream(ctx, key: bytes):
    """lookupKeyWrite + checkType."""
    value = ctx.db.lookup(key)
    if value is None or type(value) is StreamValue:
        return value
    raise CommandError(errors.WRONGTYPE)


def _text(data: bytes) -> str:
    """A key or name as C's %s prints it (up to the first NUL byte)."""
    return data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _node_limits(ctx) -> tuple:
    config = ctx.server.config
    return (getattr(config, "stream_node_max_bytes", 4096),
            getattr(config, "stream_node_max_entries", 100))


def _propagate(ctx, argv: list) -> None:
    also = getattr(ctx, "also_propagate", None)
    if also is not None:
        also(argv)


def _prevent_propagation(ctx) -> None:
    prevent = getattr(ctx, "prevent_propagation", None)
    if prevent is not None:
        prevent()


def _rewrite_propagation(ctx, argv: list) -> None:
    rewrite = getattr(ctx, "rewrite_propagation", None)
    if rewrite is not None:
        rewrite(argv)


def _entries_reply(entries) -> list:
    return [[format_id(stream_id), fields] for stream_id, fields in entries]


def _one_entry(stream: StreamValue, stream_id: int):
    """streamReplyWithRange(id, id, 1, RAWENTRIES): the entry, or None if deleted."""
    fields = stream.get(stream_id)
    return None if fields is None else [format_id(stream_id), fields]


# -- IDs ------------------------------------------------------------------------------------
_STRTOULL_RE = re.compile(rb"[ \t\n\v\f\r]*([+-]?)([0-9]+)\Z")


def _string2ull(data: bytes):
    """util.c string2ull: string2ll when it can, else strtoull's laxer syntax."""
    if is_int(data):
        value = int(data)
        return value if value >= 0 else None
    match = _STRTOULL_RE.match(data)
    if match is None:
        return None
    value = int(match.group(2))
    if value > U64_MAX:
        return None                                 # ERANGE
    return (-value) & U64_MAX if match.group(1) == b"-" else value


def parse_id(arg: bytes, missing_seq: int = 0, strict: bool = False, xadd: bool = False):
    """streamGenericParseIDOrReply: (id, seq_given). `xadd` allows the `<ms>-*` form."""
    if len(arg) > 127:
        raise CommandError(errors.STREAM_INVALID_ID)
    buf = arg.split(b"\0", 1)[0]
    if buf == b"-" or buf == b"+":
        if strict:
            raise CommandError(errors.STREAM_INVALID_ID)
        return (0 if buf == b"-" else MAX_ID), True
    ms_part, dash, seq_part = buf.partition(b"-")
    ms = _string2ull(ms_part)
    if ms is None:
        raise CommandError(errors.STREAM_INVALID_ID)
    if not dash:
        return make_id(ms, missing_seq), True
    if xadd and seq_part == b"*":
        return make_id(ms, 0), False
    seq = _string2ull(seq_part)
    if seq is None:
        raise CommandError(errors.STREAM_INVALID_ID)
    return make_id(ms, seq), True


def parse_strict_id(arg: bytes, missing_seq: int = 0) -> int:
    return parse_id(arg, missing_seq, strict=True)[0]


def parse_interval_start(arg: bytes) -> int:
    """streamParseIntervalIDOrReply for a range start, `(` meaning exclusive."""
    if len(arg) > 1 and arg[:1] == b"(":
        stream_id = parse_strict_id(arg[1:], 0)
        if stream_id == MAX_ID:
            raise CommandError(errors.STREAM_INVALID_START)
        return stream_id + 1
    return parse_id(arg, 0)[0]


def parse_interval_end(arg: bytes) -> int:
    if len(arg) > 1 and arg[:1] == b"(":
        stream_id = parse_strict_id(arg[1:], SEQ_MASK)
        if stream_id == 0:
            raise CommandError(errors.STREAM_INVALID_END)
        return stream_id - 1
    return parse_id(arg, SEQ_MASK)[0]


# -- XADD / XTRIM ------------------------------------------------------------------------
class TrimArgs:
    __slots__ = ("maxlen", "minid", "approx", "limit", "arg_index", "no_mkstream", "id",
                 "id_given", "seq_given")

    def __init__(self):
        self.maxlen = None
        self.minid = None
        self.approx = False
        self.limit = 0
        self.arg_index = 0
        self.no_mkstream = False
        self.id = 0
        self.id_given = False
        self.seq_given = True

    @property
    def strategy(self) -> bool:
        return self.maxlen is not None or self.minid is not None


def _parse_add_or_trim(ctx, argv: list, xadd: bool):
    """streamParseAddOrTrimArgsOrReply: (TrimArgs, index of the ID for XADD)."""
    args = TrimArgs()
    limit_given = False
    i = 2
    argc = len(argv)
    while i < argc:
        more = argc - 1 - i
        opt = argv[i].upper()
        if xadd and argv[i] == b"*":
            break
        if opt in (b"MAXLEN", b"MINID") and more:
            if args.strategy:
                raise CommandError(errors.STREAM_MAXLEN_AND_MINID)
            args.approx = False
            nxt = argv[i + 1]
            if more >= 2 and nxt in (b"~", b"="):
                args.approx = nxt == b"~"
                i += 1
            if opt == b"MAXLEN":
                maxlen = parse_int(argv[i + 1])
                if maxlen < 0:
                    raise CommandError(errors.STREAM_MAXLEN_NEGATIVE)
                args.maxlen = maxlen
            else:
                args.minid = parse_strict_id(argv[i + 1])
            i += 1
            args.arg_index = i
        elif opt == b"LIMIT" and more:
            args.limit = parse_int(argv[i + 1])
            if args.limit < 0:
                raise CommandError(errors.STREAM_LIMIT_NEGATIVE)
            limit_given = True
            i += 1
        elif xadd and opt == b"NOMKSTREAM":
            args.no_mkstream = True
        elif xadd:
            args.id, args.seq_given = parse_id(argv[i], 0, strict=True, xadd=True)
            args.id_given = True
            break
        else:
            raise CommandError(errors.SYNTAX_ERR)
        i += 1
    if args.limit and not args.strategy:
        raise CommandError(errors.STREAM_LIMIT_WITHOUT_STRATEGY)
    if not xadd and not args.strategy:
        raise CommandError(errors.XTRIM_WITHOUT_STRATEGY)
    if getattr(ctx.conn, "is_master", False) or getattr(ctx.conn, "is_aof", False):
        args.limit = 0              # mustObeyClient: the primary or the AOF, rewritten to be exact
    elif limit_given:
        if not args.approx:
            raise CommandError(errors.STREAM_LIMIT_WITHOUT_APPROX)
    elif args.approx:
        args.limit = 100 * _node_limits(ctx)[1]
        if args.limit <= 0:
            args.limit = 10000
    else:
        args.limit = 0
    return args, i


def _trim(stream: StreamValue, args: TrimArgs) -> int:
    return stream.trim(maxlen=args.maxlen, minid=args.minid, approx=args.approx, limit=args.limit)


def _rewrite_trim(stream: StreamValue, args: TrimArgs, argv: list) -> None:
    """streamRewriteApproxSpecifier + streamRewriteTrimArgument, so replicas and the
    AOF trim exactly what this trim removed."""
    if argv[args.arg_index - 1] == b"~":
        argv[args.arg_index - 1] = b"="
    if args.maxlen is not None:
        argv[args.arg_index] = b"%d" % stream.length
    else:
        # streamGetEdgeID(first, skip_tombstones=0): the first ID stored, deleted or
        # not; an emptied stream's is the maximum one.
        argv[args.arg_index] = format_id(stream.nodes[0].ids[0] if stream.nodes else MAX_ID)


def _next_id(stream: StreamValue, args: TrimArgs) -> int:
    """streamAppendItem's ID choice; raises the ID-too-small error."""
    last = stream.last_id
    if not args.id_given:
        ms = now_ms()
        new = make_id(ms, 0) if ms > last >> 64 else last + 1
    elif args.seq_given:
        new = args.id
    elif args.id >> 64 == last >> 64:
        if last & SEQ_MASK == SEQ_MASK:
            raise CommandError(errors.XADD_ID_TOO_SMALL)
        new = last + 1
    else:
        new = args.id
    if new <= last:
        raise CommandError(errors.XADD_ID_TOO_SMALL)
    return new


@command("xadd", arity=-5, flags="write denyoom fast", keys=(1, 1, 1), group="stream")
def xadd(ctx, argv):
    args, id_pos = _parse_add_or_trim(ctx, argv, xadd=True)
    field_count = len(argv) - id_pos - 1
    if field_count < 2 or field_count % 2:
        raise errors.wrong_arity("xadd")
    if args.id_given and args.seq_given and args.id == 0:
        raise CommandError(errors.XADD_ID_ZERO)
    key = argv[1]
    stream = _write_stream(ctx, key)
    if stream is None:
        if args.no_mkstream:
            return None
        stream = StreamValue()
        ctx.db.set(key, stream)
    if stream.last_id == MAX_ID:
        raise CommandError(errors.XADD_EXHAUSTED)
    new_id = _next_id(stream, args)
    stream.append(new_id, argv[id_pos + 1:], *_node_limits(ctx))
    reply = format_id(new_id)
    ctx.db.touch(key)
    notify(ctx, NOTIFY_STREAM, "xadd", key)
    ctx.dirty += 1
    signal_key_ready(ctx, key)
    propagated = None
    if not args.id_given or not args.seq_given:
        propagated = list(argv)
        propagated[id_pos] = reply
    if args.strategy:
        if _trim(stream, args):
            notify(ctx, NOTIFY_STREAM, "xtrim", key)
        if args.approx:
            propagated = propagated or list(argv)
            _rewrite_trim(stream, args, propagated)
    if propagated is not None:
        _rewrite_propagation(ctx, propagated)
    return reply


@command("xtrim", arity=-4, flags="write", keys=(1, 1, 1), group="stream")
def xtrim(ctx, argv):
    args, _ = _parse_add_or_trim(ctx, argv, xadd=False)
    key = argv[1]
    stream = _write_stream(ctx, key)
    if stream is None:
        return 0
    deleted = _trim(stream, args)
    if deleted:
        notify(ctx, NOTIFY_STREAM, "xtrim", key)
        if args.approx:
            propagated = list(argv)
            _rewrite_trim(stream, args, propagated)
            _rewrite_propagation(ctx, propagated)
        ctx.db.touch(key)
        ctx.dirty += deleted
    return deleted


@command("xdel", arity=-3, flags="write fast", keys=(1, 1, 1), group="stream")
def xdel(ctx, argv):
    key = argv[1]
    stream = _write_stream(ctx, key)
    if stream is None:
        return 0
    ids = [parse_strict_id(arg) for arg in argv[2:]]   # all or nothing
    deleted = 0
    first_entry = False
    for stream_id in ids:
        if stream.delete(stream_id):
            if stream_id == stream.first_id:
                first_entry = True
            deleted += 1
            if stream_id > stream.max_deleted_id:
                stream.max_deleted_id = stream_id
    if deleted:
        if stream.length == 0:
            stream.first_id = 0
        elif first_entry:
            stream.first_id = stream.first_entry_id()
        ctx.db.touch(key)
        notify(ctx, NOTIFY_STREAM, "xdel", key)
        ctx.dirty += deleted
    return deleted


@command("xlen", arity=2, flags="readonly fast", keys=(1, 1, 1), group="stream")
def xlen(ctx, argv):
    stream = _read_stream(ctx, argv[1])
    return 0 if stream is None else stream.length


# -- XRANGE / XREVRANGE -----------------------------------------------------------------
def _generic_range(ctx, argv, rev: bool):
    start_arg, end_arg = (argv[3], argv[2]) if rev else (argv[2], argv[3])
    start = parse_interval_start(start_arg)
    end = parse_interval_end(end_arg)
    count = -1
    i = 4
    while i < len(argv):
        if argv[i].upper() == b"COUNT" and i + 1 < len(argv):
            count = max(parse_int(argv[i + 1]), 0)
            i += 2
        else:
            raise CommandError(errors.SYNTAX_ERR)
    stream = _read_stream(ctx, argv[1])
    if stream is None:
        return []
    if count == 0:
        return NULL_ARRAY
    return _entries_reply(stream.range(start, end, max(count, 0), rev))


@command("xrange", arity=-4, flags="readonly", keys=(1, 1, 1), group="stream")
def xrange(ctx, argv):
    return _generic_range(ctx, argv, rev=False)


@command("xrevrange", arity=-4, flags="readonly", keys=(1, 1, 1), group="stream")
def xrevrange(ctx, argv):
    return _generic_range(ctx, argv, rev=True)


# -- XREAD / XREADGROUP ----------------------------------------------------------------
def _xread_keys(argv: list) -> list:
    """xreadGetKeys: the stream keys after STREAMS (none on a syntax error)."""
    i = 1
    streams_pos = -1
    while i < len(argv):
        arg = argv[i].upper()
        if arg in (b"BLOCK", b"COUNT"):
            i += 2
        elif arg == b"GROUP":
            i += 3
        elif arg == b"NOACK":
            i += 1
        elif arg == b"STREAMS":
            streams_pos = i
            break
        else:
            break
    num = len(argv) - streams_pos - 1
    if streams_pos == -1 or num == 0 or num % 2:
        return []
    return list(range(streams_pos + 1, streams_pos + 1 + num // 2))


class ReadRequest:
    __slots__ = ("timeout", "count", "keys", "ids", "group", "consumer", "noack", "is_group")

    def __init__(self, is_group: bool):
        self.timeout = None
        self.count = 0
        self.keys = []
        self.ids = []
        self.group = None
        self.consumer = None
        self.noack = False
        self.is_group = is_group


def _parse_read(ctx, argv: list, is_group: bool) -> ReadRequest:
    req = ReadRequest(is_group)
    argc = len(argv)
    i = 1
    streams_arg = 0
    while i < argc:
        more = argc - i - 1
        opt = argv[i].upper()
        if opt == b"BLOCK" and more:
            i += 1
            req.timeout = parse_timeout(argv[i], seconds=False)
        elif opt == b"COUNT" and more:
            i += 1
            req.count = max(parse_int(argv[i]), 0)
        elif opt == b"STREAMS" and more:
            streams_arg = i + 1
            if (argc - streams_arg) % 2:
                raise CommandError(errors.XREAD_UNBALANCED)     # the same text for XREADGROUP
            break
        elif opt == b"GROUP" and more >= 2:
            if not is_group:
                raise CommandError(errors.XREAD_GROUP_OPTION)
            req.group, req.consumer = argv[i + 1], argv[i + 2]
            i += 2
        elif opt == b"NOACK":
            if not is_group:
                raise CommandError(errors.XREAD_NOACK_OPTION)
            req.noack = True
        else:
            raise CommandError(errors.SYNTAX_ERR)
        i += 1
    if streams_arg == 0:
        raise CommandError(errors.SYNTAX_ERR)
    if is_group and req.group is None:
        raise CommandError(errors.XREADGROUP_NO_GROUP)
    half = (argc - streams_arg) // 2
    req.keys = argv[streams_arg:streams_arg + half]
    req.ids = [_parse_read_id(ctx, req, key, arg) for key, arg in zip(req.keys, argv[streams_arg + half:])]
    return req


def _parse_read_id(ctx, req: ReadRequest, key: bytes, arg: bytes):
    """The ID to read after, for one key: MAX_ID stands for '>'."""
    stream = _read_stream(ctx, key)
    if req.is_group and (stream is None or req.group not in stream.groups):
        raise CommandError(errors.NOGROUP_XREADGROUP % (_text(key), _text(req.group)))
    if arg == b"$":
        if req.is_group:
            raise CommandError(errors.XREADGROUP_DOLLAR)
        return 0 if stream is None else stream.last_id
    if arg == b">":
        if not req.is_group:
            raise CommandError(errors.XREAD_GREATER_ID)
        return MAX_ID
    return parse_strict_id(arg)


def _keyed_reply(ctx, pairs: list):
    """XREAD's reply: a map key -> entries in RESP3, [[key, entries], ...] in RESP2."""
    if ctx.conn.resp == 2:
        return [[key, entries] for key, entries in pairs]
    return dict(pairs)


def _lookup_or_create_consumer(ctx, group, key: bytes, group_name: bytes, name: bytes, now: int,
                               noack: bool):
    """streamLookupConsumer(SLC_DEFAULT) or streamCreateConsumer: refreshes seen-time.
    Without NOACK the XCLAIMs that follow create the consumer on replicas."""
    consumer = group.consumer(name)
    if consumer is None:
        consumer = group.create_consumer(name, now)
        ctx.dirty += 1
        notify(ctx, NOTIFY_STREAM, "xgroup-createconsumer", key)
        if noack:
            _propagate(ctx, [b"XGROUP", b"CREATECONSUMER", key, group_name, name])
    else:
        consumer.seen_time = now
    return consumer


def _group_read_new(ctx, key, stream, group, group_name, consumer, after: int, count: int, noack: bool):
    """streamReplyWithRange with a group: new entries, added to the PEL unless NOACK."""
    entries = stream.range(after + 1, MAX_ID, count) if after < MAX_ID else []
    now = now_ms()
    moved_last_id = False
    for stream_id, _fields in entries:
        if stream_id > group.last_id:
            stream.advance_group(group, stream_id)
            moved_last_id = noack
        if not noack:
            nack = group.add_pending(stream_id, consumer, now)
            _propagate_claim(ctx, key, group, group_name, stream_id, nack)
    if moved_last_id:
        _propagate_group_id(ctx, key, group, group_name)
    return _entries_reply(entries)


def _group_read_history(stream, consumer, after: int, count: int) -> list:
    """streamReplyWithRangeFromConsumerPEL: the consumer's own pending entries."""
    out = []
    if after == MAX_ID:
        return out
    now = now_ms()
    for stream_id in consumer.pel.irange(after + 1):
        if count and len(out) >= count:
            break
        fields = stream.get(stream_id)
        if fields is None:
            out.append([format_id(stream_id), NULL_ARRAY])
        else:
            nack = consumer.pel[stream_id]
            nack.delivery_time = now
            nack.delivery_count += 1
            out.append([format_id(stream_id), fields])
    return out


def _propagate_claim(ctx, key, group, group_name, stream_id, nack) -> None:
    """streamPropagateXCLAIM."""
    if getattr(ctx, "propagation_depth", 0):
        _propagate(ctx, [b"XCLAIM", key, group_name, nack.consumer.name, b"0", format_id(stream_id),
                         b"TIME", b"%d" % nack.delivery_time, b"RETRYCOUNT", b"%d" % nack.delivery_count,
                         b"FORCE", b"JUSTID", b"LASTID", format_id(group.last_id)])


def _propagate_group_id(ctx, key, group, group_name) -> None:
    """streamPropagateGroupID."""
    if getattr(ctx, "propagation_depth", 0):
        _propagate(ctx, [b"XGROUP", b"SETID", key, group_name, format_id(group.last_id),
                         b"ENTRIESREAD", b"%d" % group.entries_read])


def _generic_read(ctx, argv, is_group: bool):
    req = _parse_read(ctx, argv, is_group)
    _prevent_propagation(ctx)       # XREADGROUP propagates as XCLAIMs
    served = []
    now = now_ms()
    for key, after in zip(req.keys, req.ids):
        stream = _read_stream(ctx, key)
        if stream is None:
            continue
        if is_group:
            reply = _serve_group_sync(ctx, req, key, stream, after, now)
        else:
            reply = None
            if stream.length and stream.last_entry_id() > after:
                reply = _entries_reply(stream.range(after + 1, MAX_ID, req.count))
        if reply is not None:
            served.append((key, reply))
    if served:
        return _keyed_reply(ctx, served)
    if req.timeout is None or not may_block(ctx):
        return NULL_ARRAY
    after_by_key = {}
    for key, after in zip(req.keys, req.ids):
        after_by_key.setdefault(key, after)
    block(ctx, list(after_by_key), req.timeout,
          partial(_serve_blocked_read, after_by_key=after_by_key, count=req.count or XREAD_BLOCKED_DEFAULT_COUNT,
                  group_name=req.group, consumer_name=req.consumer, noack=req.noack))


def _serve_group_sync(ctx, req: ReadRequest, key, stream, after: int, now: int):
    """One key of a synchronous XREADGROUP: its reply, or None to leave it for blocking."""
    group = stream.groups[req.group]
    history = after != MAX_ID
    serve = history
    if not history and stream.length and stream.last_entry_id() > group.last_id:
        serve = True
        after = group.last_id
    if not serve:
        return None         # not even a consumer lookup: blocking creates no consumer
    consumer = _lookup_or_create_consumer(ctx, group, key, req.group, req.consumer, now, req.noack)
    ctx.dirty += 1
    if history:
        return _group_read_history(stream, consumer, after, req.count)
    return _group_read_new(ctx, key, stream, group, req.group, consumer, after, req.count, req.noack)


def _serve_blocked_read(ctx, key: bytes, after_by_key: dict, count: int, group_name, consumer_name, noack: bool):
    """serveClientsBlockedOnStreamKey for one parked XREAD/XREADGROUP client."""
    stream = ctx.db.lookup(key)
    if group_name is not None:
        if type(stream) is not StreamValue:
            return ErrorReply(errors.STREAM_UNBLOCKED_KEY_GONE)
        group = stream.groups.get(group_name)
        if group is None:
            return ErrorReply(errors.STREAM_UNBLOCKED_GROUP_GONE)
        after = group.last_id
    else:
        if type(stream) is not StreamValue:
            return NOT_READY
        after = after_by_key[key]
    if stream.last_id <= after:
        return NOT_READY
    if group_name is None:
        entries = _entries_reply(stream.range(after + 1, MAX_ID, count))
    else:
        consumer = _lookup_or_create_consumer(ctx, group, key, group_name, consumer_name, now_ms(), noack)
        entries = _group_read_new(ctx, key, stream, group, group_name, consumer, after, count, noack)
        _prevent_propagation(ctx)
    return _keyed_reply(ctx, [(key, entries)])


@command("xread", arity=-4, flags="readonly blocking", group="stream", getkeys=_xread_keys)
def xread(ctx, argv):
    return _generic_read(ctx, argv, is_group=False)


@command("xreadgroup", arity=-7, flags="write blocking", group="stream", getkeys=_xread_keys)
def xreadgroup(ctx, argv):
    return _generic_read(ctx, argv, is_group=True)


# -- XGROUP ----------------------------------------------------------------------------
container("xgroup", arity=-2, group="stream")

_XGROUP_HELP = [
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
]


def _subcommand_syntax_error(argv: list, container_name: str) -> CommandError:
    return CommandError(errors.SUBCOMMAND_SYNTAX % (_text(argv[1][:128]), container_name))


def _xgroup_prelude(ctx, argv: list):
    """xgroupCommand's common part: (stream, group, mkstream, entries_read)."""
    sub = argv[1].upper()
    mkstream = False
    entries_read = INVALID_ENTRIES_READ
    i = 5
    while i < len(argv):
        opt = argv[i].upper()
        if sub == b"CREATE" and opt == b"MKSTREAM":
            mkstream = True
            i += 1
        elif sub in (b"CREATE", b"SETID") and opt == b"ENTRIESREAD" and i + 1 < len(argv):
            entries_read = parse_int(argv[i + 1])
            if entries_read < 0 and entries_read != INVALID_ENTRIES_READ:
                raise CommandError(errors.ENTRIESREAD_INVALID)
            i += 2
        else:
            raise _subcommand_syntax_error(argv, "XGROUP")
    stream = _write_stream(ctx, argv[2])
    if stream is None and not (sub == b"CREATE" and mkstream):
        raise CommandError(errors.XGROUP_KEY_MISSING)
    group = stream.groups.get(argv[3]) if stream is not None else None
    if group is None and sub in (b"SETID", b"CREATECONSUMER", b"DELCONSUMER"):
        raise CommandError(errors.NOGROUP_FOR_KEY % (_text(argv[3]), _text(argv[2])))
    return stream, group, mkstream, entries_read


@command("xgroup|create", arity=-5, flags="write denyoom", keys=(2, 2, 1))
def xgroup_create(ctx, argv):
    stream, _group, _mkstream, entries_read = _xgroup_prelude(ctx, argv)
    if len(argv) > 8:
        raise _subcommand_syntax_error(argv, "XGROUP")
    key = argv[2]
    if argv[4] == b"$":
        last_id = stream.last_id if stream is not None else 0
    else:
        last_id = parse_strict_id(argv[4])
    if stream is None:
        stream = StreamValue()
        ctx.db.set(key, stream)
        signal_key_ready(ctx, key)
    if stream.create_group(argv[3], last_id, entries_read) is None:
        raise CommandError(errors.BUSYGROUP)
    ctx.dirty += 1
    notify(ctx, NOTIFY_STREAM, "xgroup-create", key)
    return "OK"


@command("xgroup|setid", arity=-5, flags="write", keys=(2, 2, 1))
def xgroup_setid(ctx, argv):
    stream, group, _mkstream, entries_read = _xgroup_prelude(ctx, argv)
    if len(argv) not in (5, 7):
        raise _subcommand_syntax_error(argv, "XGROUP")
    group.last_id = stream.last_id if argv[4] == b"$" else parse_id(argv[4], 0)[0]
    group.entries_read = entries_read
    ctx.dirty += 1
    notify(ctx, NOTIFY_STREAM, "xgroup-setid", argv[2])
    return "OK"


@command("xgroup|destroy", arity=4, flags="write", keys=(2, 2, 1))
def xgroup_destroy(ctx, argv):
    stream, group, _mkstream, _entries_read = _xgroup_prelude(ctx, argv)
    if group is None:
        return 0
    del stream.groups[argv[3]]
    ctx.dirty += 1
    notify(ctx, NOTIFY_STREAM, "xgroup-destroy", argv[2])
    signal_key_ready(ctx, argv[2])      # blocked XREADGROUP clients get -NOGROUP
    return 1


@command("xgroup|createconsumer", arity=5, flags="write denyoom", keys=(2, 2, 1))
def xgroup_createconsumer(ctx, argv):
    _stream, group, _mkstream, _entries_read = _xgroup_prelude(ctx, argv)
    if group.create_consumer(argv[4], now_ms()) is None:
        return 0
    ctx.dirty += 1
    notify(ctx, NOTIFY_STREAM, "xgroup-createconsumer", argv[2])
    return 1


@command("xgroup|delconsumer", arity=5, flags="write", keys=(2, 2, 1))
def xgroup_delconsumer(ctx, argv):
    _stream, group, _mkstream, _entries_read = _xgroup_prelude(ctx, argv)
    if group.consumer(argv[4]) is None:
        return 0
    pending = group.delete_consumer(argv[4])
    ctx.dirty += 1
    notify(ctx, NOTIFY_STREAM, "xgroup-delconsumer", argv[2])
    return pending


@command("xgroup|help", arity=2, flags="loading stale")
def xgroup_help(ctx, argv):
    return help_reply("XGROUP", _XGROUP_HELP)


# -- XSETID ----------------------------------------------------------------------------
@command("xsetid", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), group="stream")
def xsetid(ctx, argv):
    new_id = parse_strict_id(argv[2])
    entries_added = -1
    max_deleted = 0
    i = 3
    while i < len(argv):
        more = len(argv) - 1 - i
        opt = argv[i].upper()
        if opt == b"ENTRIESADDED" and more:
            entries_added = parse_int(argv[i + 1])
            if entries_added < 0:
                raise CommandError(errors.XSETID_ENTRIES_ADDED_NEGATIVE)
        elif opt == b"MAXDELETEDID" and more:
            max_deleted = parse_strict_id(argv[i + 1])
            if new_id < max_deleted:
                raise CommandError(errors.XSETID_BELOW_GIVEN_MAX_DELETED)
        else:
            raise CommandError(errors.SYNTAX_ERR)
        i += 2
    stream = _write_stream(ctx, argv[1])
    if stream is None:
        raise CommandError(errors.NO_SUCH_KEY)
    if stream.length:
        if new_id < stream.last_entry_id():
            raise CommandError(errors.XSETID_BELOW_TOP)
        if entries_added != -1 and stream.length > entries_added:
            raise CommandError(errors.XSETID_ENTRIES_ADDED_SMALL)
    stream.last_id = new_id
    if entries_added != -1:
        stream.entries_added = entries_added
    if max_deleted:
        stream.max_deleted_id = max_deleted
    ctx.db.touch(argv[1])
    notify(ctx, NOTIFY_STREAM, "xsetid", argv[1])
    ctx.dirty += 1
    return "OK"


# -- XACK / XPENDING ----------------------------------------------------------------------
@command("xack", arity=-4, flags="write fast", keys=(1, 1, 1), group="stream")
def xack(ctx, argv):
    stream = _read_stream(ctx, argv[1])
    group = stream.groups.get(argv[2]) if stream is not None else None
    if group is None:
        return 0
    ids = [parse_strict_id(arg) for arg in argv[3:]]
    acknowledged = 0
    for stream_id in ids:
        if group.ack(stream_id):
            acknowledged += 1
            ctx.dirty += 1
    return acknowledged


@command("xpending", arity=-3, flags="readonly", keys=(1, 1, 1), group="stream")
def xpending(ctx, argv):
    argc = len(argv)
    if argc != 3 and (argc < 6 or argc > 9):
        raise CommandError(errors.SYNTAX_ERR)
    min_idle = count = 0
    consumer_name = None
    if argc >= 6:
        start_idx = 3
        if argv[3].upper() == b"IDLE":
            min_idle = parse_int(argv[4])
            if argc < 8:
                raise CommandError(errors.SYNTAX_ERR)
            start_idx += 2
        count = max(parse_int(argv[start_idx + 2]), 0)
        start = parse_interval_start(argv[start_idx])
        end = parse_interval_end(argv[start_idx + 1])
        if start_idx + 3 < argc:
            consumer_name = argv[start_idx + 3]
    stream = _read_stream(ctx, argv[1])
    group = stream.groups.get(argv[2]) if stream is not None else None
    if group is None:
        raise CommandError(errors.NOGROUP_KEY_OR_GROUP % (_text(argv[1]), _text(argv[2])))
    if argc == 3:
        return _pending_summary(group)
    return _pending_range(group, start, end, count, min_idle, consumer_name)


def _pending_summary(group) -> list:
    if not group.pel:
        return [0, None, None, NULL_ARRAY]
    owners = [[c.name, b"%d" % len(c.pel)] for c in group.sorted_consumers() if c.pel]
    return [len(group.pel), format_id(group.pel.keys()[0]), format_id(group.pel.keys()[-1]), owners]


def _pending_range(group, start, end, count, min_idle, consumer_name) -> list:
    if consumer_name is not None:
        consumer = group.consumer(consumer_name)
        if consumer is None:
            return []
        pel = consumer.pel
    else:
        pel = group.pel
    out = []
    now = now_ms()
    if not count or start > end:
        return out
    for stream_id in pel.irange(start, end):
        nack = pel[stream_id]
        if min_idle and now - nack.delivery_time < min_idle:
            continue
        out.append([format_id(stream_id), nack.consumer.name, max(now - nack.delivery_time, 0),
                    nack.delivery_count])
        if len(out) == count:
            break
    return out


# -- XCLAIM / XAUTOCLAIM -----------------------------------------------------------------
def _group_or_nogroup(ctx, argv):
    stream = _read_stream(ctx, argv[1])
    group = stream.groups.get(argv[2]) if stream is not None else None
    if group is None:
        raise CommandError(errors.NOGROUP_KEY_OR_GROUP % (_text(argv[1]), _text(argv[2])))
    return stream, group


def _is_strict_id(arg: bytes) -> bool:
    try:
        parse_strict_id(arg)
    except CommandError:
        return False
    return True


class ClaimOptions:
    __slots__ = ("force", "justid", "delivery_time", "retrycount", "last_id")

    def __init__(self):
        self.force = self.justid = False
        self.delivery_time = -1
        self.retrycount = -1
        self.last_id = 0


def _parse_claim_options(argv: list, j: int, now: int) -> ClaimOptions:
    opts = ClaimOptions()
    while j < len(argv):
        more = len(argv) - 1 - j
        opt = argv[j].upper()
        if opt == b"FORCE":
            opts.force = True
        elif opt == b"JUSTID":
            opts.justid = True
        elif opt == b"IDLE" and more:
            j += 1
            opts.delivery_time = now - parse_int(argv[j], errors.XCLAIM_IDLE)
        elif opt == b"TIME" and more:
            j += 1
            opts.delivery_time = parse_int(argv[j], errors.XCLAIM_TIME)
        elif opt == b"RETRYCOUNT" and more:
            j += 1
            opts.retrycount = parse_int(argv[j], errors.XCLAIM_RETRYCOUNT)
        elif opt == b"LASTID" and more:
            j += 1
            opts.last_id = parse_strict_id(argv[j])
        else:
            raise CommandError(errors.XCLAIM_UNKNOWN_OPTION % _text(argv[j]))
        j += 1
    return opts


@command("xclaim", arity=-6, flags="write fast", keys=(1, 1, 1), group="stream")
def xclaim(ctx, argv):
    stream, group = _group_or_nogroup(ctx, argv)
    min_idle = max(parse_int(argv[4], errors.XCLAIM_MIN_IDLE), 0)
    j = 5
    while j < len(argv) and _is_strict_id(argv[j]):
        j += 1
    ids = [parse_strict_id(arg) for arg in argv[5:j]]
    now = now_ms()
    opts = _parse_claim_options(argv, j, now)
    _prevent_propagation(ctx)
    key, group_name = argv[1], argv[2]
    propagate_last_id = False
    if opts.last_id > group.last_id:
        group.last_id = opts.last_id
        propagate_last_id = True
    delivery_time = opts.delivery_time
    if delivery_time == -1 or delivery_time < 0 or delivery_time > now:
        delivery_time = now
    consumer = None
    out = []
    for stream_id in ids:
        nack = group.pel.get(stream_id)
        if not stream.exists(stream_id):
            if nack is not None:
                _drop_vanished(ctx, key, group, group_name, stream_id, nack)
                propagate_last_id = False
            continue
        if opts.force and nack is None:
            nack = group.pel[stream_id] = PendingEntry(None, now)   # streamCreateNACK(NULL)
        if nack is None:
            continue
        if nack.consumer is not None and min_idle and now - nack.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = _lookup_or_create_consumer_quiet(ctx, group, key, argv[3], now)
        out.append(_claim(ctx, key, stream, group, group_name, stream_id, nack, consumer,
                          delivery_time, opts.retrycount, opts.justid))
        propagate_last_id = False
    if propagate_last_id:
        _propagate_group_id(ctx, key, group, group_name)
        ctx.dirty += 1
    return out


def _drop_vanished(ctx, key, group, group_name, stream_id, nack) -> None:
    """A pending entry whose stream entry was deleted leaves the PEL (XCLAIM/XAUTOCLAIM)."""
    _propagate_claim(ctx, key, group, group_name, stream_id, nack)
    ctx.dirty += 1
    group.ack(stream_id)


def _claim(ctx, key, stream, group, group_name, stream_id, nack, consumer, delivery_time: int,
           retrycount: int, justid: bool):
    """Give a pending entry to consumer; returns its reply item."""
    group.move_pending(stream_id, nack, consumer)
    nack.delivery_time = delivery_time
    if retrycount >= 0:
        nack.delivery_count = retrycount
    elif not justid:
        nack.delivery_count += 1
    _propagate_claim(ctx, key, group, group_name, stream_id, nack)
    ctx.dirty += 1
    return format_id(stream_id) if justid else _one_entry(stream, stream_id)


def _lookup_or_create_consumer_quiet(ctx, group, key: bytes, name: bytes, now: int):
    """XCLAIM/XAUTOCLAIM's consumer: created (and notified) on the first claim."""
    consumer = group.consumer(name)
    if consumer is None:
        consumer = group.create_consumer(name, now)
        ctx.dirty += 1
        notify(ctx, NOTIFY_STREAM, "xgroup-createconsumer", key)
    else:
        consumer.seen_time = now
    return consumer


@command("xautoclaim", arity=-6, flags="write fast", keys=(1, 1, 1), group="stream")
def xautoclaim(ctx, argv):
    min_idle = max(parse_int(argv[4], errors.XAUTOCLAIM_MIN_IDLE), 0)
    start = parse_interval_start(argv[5])
    count = 100
    justid = False
    j = 6
    max_count = LONG_MAX // 16
    while j < len(argv):
        more = len(argv) - 1 - j
        opt = argv[j].upper()
        if opt == b"COUNT" and more:
            count = parse_int(argv[j + 1], errors.XAUTOCLAIM_COUNT)
            if count < 1 or count > max_count:
                raise CommandError(errors.XAUTOCLAIM_COUNT)
            j += 1
        elif opt == b"JUSTID":
            justid = True
        else:
            raise CommandError(errors.SYNTAX_ERR)
        j += 1
    stream, group = _group_or_nogroup(ctx, argv)
    _prevent_propagation(ctx)
    return _autoclaim(ctx, argv, stream, group, min_idle, start, count, justid)


def _autoclaim(ctx, argv, stream, group, min_idle, start, count, justid) -> list:
    key, group_name = argv[1], argv[2]
    attempts = count * XAUTOCLAIM_ATTEMPTS_FACTOR
    now = now_ms()
    consumer = None
    claimed, deleted = [], []
    cursor = 0                      # 0-0: the PEL was scanned to its end
    # A copy (the loop removes entries), of no more than the loop can look at.
    for stream_id in list(islice(group.pel.irange(start), attempts + 1)):
        if not attempts or not count:
            cursor = stream_id          # where the next call should start
            break
        attempts -= 1
        nack = group.pel[stream_id]
        if not stream.exists(stream_id):
            _drop_vanished(ctx, key, group, group_name, stream_id, nack)
            deleted.append(format_id(stream_id))
            count -= 1
            continue
        if min_idle and now - nack.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = _lookup_or_create_consumer_quiet(ctx, group, key, argv[3], now)
        claimed.append(_claim(ctx, key, stream, group, group_name, stream_id, nack, consumer, now, -1, justid))
        count -= 1
    return [format_id(cursor), claimed, deleted]


# -- XINFO -----------------------------------------------------------------------------
container("xinfo", arity=-2, group="stream")

_XINFO_HELP = [
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
]


@command("xinfo|help", arity=2, flags="loading stale")
def xinfo_help(ctx, argv):
    return help_reply("XINFO", _XINFO_HELP)


def _xinfo_stream_value(ctx, key: bytes) -> StreamValue:
    stream = _read_stream(ctx, key)
    if stream is None:
        raise CommandError(errors.NO_SUCH_KEY)
    return stream


@command("xinfo|consumers", arity=4, flags="readonly", keys=(2, 2, 1))
def xinfo_consumers(ctx, argv):
    stream = _xinfo_stream_value(ctx, argv[2])
    group = stream.groups.get(argv[3])
    if group is None:
        raise CommandError(errors.NOGROUP_FOR_KEY % (_text(argv[3]), _text(argv[2])))
    now = now_ms()
    return [{b"name": c.name, b"pending": len(c.pel), b"idle": max(now - c.seen_time, 0)}
            for c in group.sorted_consumers()]


@command("xinfo|groups", arity=3, flags="readonly", keys=(2, 2, 1))
def xinfo_groups(ctx, argv):
    stream = _xinfo_stream_value(ctx, argv[2])
    return [{b"name": name, b"consumers": len(group.consumers), b"pending": len(group.pel),
             b"last-delivered-id": format_id(group.last_id),
             b"entries-read": _entries_read(group), b"lag": stream.group_lag(group)}
            for name, group in stream.sorted_groups()]


def _entries_read(group):
    return None if group.entries_read == INVALID_ENTRIES_READ else group.entries_read


@command("xinfo|stream", arity=-3, flags="readonly", keys=(2, 2, 1))
def xinfo_stream(ctx, argv):
    stream = _xinfo_stream_value(ctx, argv[2])
    options = argv[3:]
    full = bool(options)
    count = 10
    if options:
        if len(options) not in (1, 3) or options[0].upper() != b"FULL":
            raise _subcommand_syntax_error(argv, "XINFO")
        if len(options) == 3:
            if options[1].upper() != b"COUNT":
                raise _subcommand_syntax_error(argv, "XINFO")
            count = max(parse_int(options[2]), 0)
    reply = {
        b"length": stream.length,
        b"radix-tree-keys": len(stream.nodes),
        b"radix-tree-nodes": stream.radix_tree_nodes(),
        b"last-generated-id": format_id(stream.last_id),
        b"max-deleted-entry-id": format_id(stream.max_deleted_id),
        b"entries-added": stream.entries_added,
        b"recorded-first-entry-id": format_id(stream.first_id),
    }
    if not full:
        first = stream.range(0, MAX_ID, 1)
        last = stream.range(0, MAX_ID, 1, rev=True)
        reply[b"groups"] = len(stream.groups)
        reply[b"first-entry"] = _entries_reply(first)[0] if first else None
        reply[b"last-entry"] = _entries_reply(last)[0] if last else None
        return reply
    reply[b"entries"] = _entries_reply(stream.range(0, MAX_ID, count))
    reply[b"groups"] = [_full_group_info(stream, name, group, count) for name, group in stream.sorted_groups()]
    return reply


def _full_group_info(stream, name, group, count) -> dict:
    pending = []
    for stream_id, nack in group.pel.items():
        if count and len(pending) >= count:
            break
        pending.append([format_id(stream_id), nack.consumer.name, nack.delivery_time, nack.delivery_count])
    consumers = []
    for consumer in group.sorted_consumers():
        own = []
        for stream_id, nack in consumer.pel.items():
            if count and len(own) >= count:
                break
            own.append([format_id(stream_id), nack.delivery_time, nack.delivery_count])
        consumers.append({b"name": consumer.name, b"seen-time": consumer.seen_time,
                          b"pel-count": len(consumer.pel), b"pending": own})
    return {b"name": name, b"last-delivered-id": format_id(group.last_id),
            b"entries-read": _entries_read(group), b"lag": stream.group_lag(group),
            b"pel-count": len(group.pel), b"pending": pending, b"consumers": consumers}
