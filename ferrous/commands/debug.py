"""DEBUG (debug.c): the subcommands Redis's own test suite and tools use.

DEBUG takes the whole keyspace, so DEBUG SLEEP stops every command that touches keys
(as it stops Redis's single thread) and DIGEST, RELOAD and LOADAOF see and replace a
dataset nobody else is changing.

Digests (DIGEST, DIGEST-VALUE) are computed exactly as computeDatasetDigest and
xorObjectDigest do, over SHA1, so they equal Redis's for the same data whatever the
encoding. Ferrous keeps no C dictionaries, quicklists or listpacks: HTSTATS, LISTPACK
and QUICKLIST describe the structures Redis would build for the same content.
"""
from __future__ import annotations

import logging
import math
import os
import random
import struct
import time
from hashlib import sha1

from ferrous import errors
from ferrous.commands.registry import LOCK_ALL, command
from ferrous.commands.server import help_reply
from ferrous.config import ConfigError, parse_memory, string2ll
from ferrous.errors import CommandError
from ferrous.persistence import aof, aof_format
from ferrous.protocol import BigNumber, ErrorReply, Push, Raw, RespSet, Simple, Verbatim, encode
from ferrous.protocol.types import Attribute
from ferrous.server.propagate import TO_REPLICAS, Scope

log = logging.getLogger("ferrous")

_DEBUG_HELP = [
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "ASSERT",
    "    Crash by assertion failed.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "CRASH-AND-RECOVER [<milliseconds>]",
    "    Hard crash and restart after a <milliseconds> delay (default 0).",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LEAK <string>",
    "    Create a memory leak of the input string.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "MALLCTL <key> [<val>]",
    "    Get or set a malloc tuning integer.",
    "MALLCTL-STR <key> [<val>]",
    "    Get or set a malloc tuning string.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "DROP-CLUSTER-PACKET-FILTER <packet-type>",
    "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    "OOM",
    "    Crash the server simulating an out-of-memory error.",
    "PANIC",
    "    Crash the server simulating a panic.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "RESTART [<milliseconds>]",
    "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
    "SDSLEN <key>",
    "    Show low level SDS string info representing `key` and value.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "STRUCTSIZE",
    "    Return the size of different Redis core C structures.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "CLIENT-EVICTION",
    "    Show low level client eviction pools info (maxmemory-clients).",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
    "CLUSTERLINK KILL <to|from|all> <node-id>",
    "    Kills the link based on the direction to/from (both) with the provided node.",
]


@command("debug", arity=-2, flags="admin noscript loading stale", group="server", lock=LOCK_ALL)
def debug(ctx, argv):
    _check_debug_allowed(ctx)
    entry = _DEBUG_SUBCOMMANDS.get(argv[1].lower())
    if entry is None or not entry[1](len(argv)):
        raise _subcommand_syntax(argv)
    return entry[0](ctx, argv)


def _subcommand_syntax(argv) -> CommandError:
    return CommandError(errors.SUBCOMMAND_SYNTAX % (argv[1].decode("utf-8", "surrogateescape"), "DEBUG"))


def _check_debug_allowed(ctx) -> None:
    """enable-debug-command: no (the default), yes, or local (loopback/unix clients)."""
    setting = ctx.server.config.enable_debug_command
    if setting == "yes":
        return
    if setting == "local":
        from ferrous.commands.server import _is_local_client
        if _is_local_client(ctx.conn):
            return
    raise CommandError(errors.DEBUG_NOT_ALLOWED)


# ---------------------------------------------------------------------------------
# C number parsing, as debug.c calls it
# ---------------------------------------------------------------------------------
def _atof(data: bytes) -> float:
    """C atof/strtod: the longest leading number, 0 when there is none."""
    text = data.decode("latin-1").strip()
    for end in range(len(text), 0, -1):
        try:
            value = float(text[:end])
        except ValueError:
            continue
        return value if math.isfinite(value) else 0.0
    return 0.0


def _atoi(data: bytes) -> int:
    """C atoi: optional spaces and sign, then the leading digits (32-bit wrap)."""
    digits = data.lstrip(b" \t\n\v\f\r")
    sign = -1 if digits[:1] == b"-" else 1
    if digits[:1] in (b"-", b"+"):
        digits = digits[1:]
    number = 0
    for byte in digits:
        if not 48 <= byte <= 57:
            break
        number = number * 10 + byte - 48
    number = (sign * number) & 0xFFFFFFFF
    return number - (1 << 32) if number >= 1 << 31 else number


def _long(data: bytes) -> int:
    """getLongFromObjectOrReply."""
    value = string2ll(data)
    if value is None:
        raise CommandError(errors.NOT_INTEGER)
    return value


def _positive_long(data: bytes) -> int:
    """getPositiveLongFromObjectOrReply."""
    value = string2ll(data)
    if value is None or value < 0:
        raise CommandError(errors.DEBUG_POPULATE_COUNT)
    return value


# ---------------------------------------------------------------------------------
# DIGEST and DIGEST-VALUE: computeDatasetDigest / xorObjectDigest
# ---------------------------------------------------------------------------------
# Digests are 160-bit ints here; xorDigest and mixDigest work on them as on 20 bytes.
_OBJ_TYPES = {"string": 0, "list": 1, "set": 2, "zset": 3, "hash": 4, "stream": 6}


def _sha1_int(data) -> int:
    return int.from_bytes(sha1(data).digest(), "big")


_EXPIRE_MARK = _sha1_int(b"!!expire!!")


def _mix(digest: int, data) -> int:
    """mixDigest: digest = SHA1(digest xor SHA1(data)); order matters."""
    return _sha1_int((digest ^ _sha1_int(data)).to_bytes(20, "big"))


def _digest_string(digest: int, value) -> int:
    return _mix(digest, value)


def _digest_list(digest: int, value) -> int:
    for element in value.items:
        digest = _mix(digest, element)
    return digest


def _digest_set(digest: int, value) -> int:
    for member in value.members:
        digest ^= _sha1_int(member)
    return digest


def _xor_pair(digest: int, first, second) -> int:
    """An unordered element of two parts: xorDigest of the 20 bytes of
    mixDigest(mixDigest(0, first), second)."""
    return digest ^ _sha1_int(_mix(_mix(0, first), second).to_bytes(20, "big"))


def _digest_zset(digest: int, value) -> int:
    # Both encodings digest member then "%.17g" score; a listpack's -0 score is 0.
    for member, score in value.scores.items():
        digest = _xor_pair(digest, member, b"%.17g" % score)
    return digest


def _digest_hash(digest: int, value) -> int:
    for field, data in value.fields.items():
        digest = _xor_pair(digest, field, data)
    return digest


def _digest_stream(digest: int, value) -> int:
    from ferrous.storage.values.streams import SEQ_BITS, SEQ_MASK
    for stream_id, fields in value.iter_entries():
        digest = _mix(digest, b"%d.%d" % (stream_id >> SEQ_BITS, stream_id & SEQ_MASK))
        for item in fields:
            digest = _mix(digest, item)
    return digest


_DIGESTERS = {"string": _digest_string, "list": _digest_list, "set": _digest_set,
              "zset": _digest_zset, "hash": _digest_hash, "stream": _digest_stream}


def object_digest(value, has_expire: bool, digest: int = 0) -> int:
    """xorObjectDigest: the type, the content, and a mark when the key has a TTL."""
    kind = "string" if isinstance(value, (bytes, bytearray)) else value.type_name
    digest = _mix(digest, _OBJ_TYPES[kind].to_bytes(4, "big"))
    digest = _DIGESTERS[kind](digest, value)
    if has_expire:
        digest ^= _EXPIRE_MARK
    return digest


def dataset_digest(keyspace) -> int:
    """computeDatasetDigest: per database (id mixed in), the xor of every key's
    digest, logically expired keys included (Redis iterates the dict itself)."""
    final = 0
    for db_index, db in enumerate(keyspace.dbs):
        if db.size() == 0:
            continue
        final = _mix(final, db_index.to_bytes(4, "big"))
        for shard, expires in zip(db.data, db.expires):
            deadlines = expires.when
            for key, value in shard.items():
                key_digest = object_digest(value, key in deadlines, _mix(0, key))
                final ^= _sha1_int(key_digest.to_bytes(20, "big"))     # xorDigest
    return final


def _hex(digest: int) -> Simple:
    return Simple("%040x" % digest)


def _stored(db, key: bytes):
    """dictFind: the value even when it has logically expired."""
    return db.data[hash(key) & db.mask].get(key)


def _debug_digest(ctx, argv):
    return _hex(dataset_digest(ctx.keyspace))


def _debug_digest_value(ctx, argv):
    db = ctx.db
    replies = []
    for key in argv[2:]:
        value = _stored(db, key)
        digest = 0 if value is None else object_digest(value, db.get_expire(key) != -1)
        replies.append(_hex(digest))
    return replies


# ---------------------------------------------------------------------------------
# PROTOCOL: one reply of each RESP type
# ---------------------------------------------------------------------------------
_ATTRIB_REPLY = b"Some real reply following the attribute"
_PUSH_REPLY = b"Some real reply following the push reply"


def _protocol_push(ctx):
    if ctx.conn.resp < 3:
        raise CommandError(errors.DEBUG_PUSH_RESP2)
    # Push replies are not synchronous: a normal reply follows for the caller to read.
    return Raw(encode(Push([b"server-cpu-usage", 42]), 3) + encode(_PUSH_REPLY, 3))


_PROTOCOL_REPLIES = {
    b"string": lambda ctx: b"Hello World",
    b"integer": lambda ctx: 12345,
    b"double": lambda ctx: 3.141,
    b"bignum": lambda ctx: BigNumber("1234567999999999999999999999999999999"),
    b"null": lambda ctx: None,
    b"array": lambda ctx: [0, 1, 2],
    b"set": lambda ctx: RespSet([0, 1, 2]),
    b"map": lambda ctx: {0: False, 1: True, 2: False},
    b"attrib": lambda ctx: Attribute({b"key-popularity": [b"key:123", 90]}, _ATTRIB_REPLY),
    b"push": _protocol_push,
    b"verbatim": lambda ctx: Verbatim(b"This is a verbatim\nstring"),
    b"true": lambda ctx: True,
    b"false": lambda ctx: False,
}


def _debug_protocol(ctx, argv):
    make = _PROTOCOL_REPLIES.get(argv[2].lower())
    if make is None:
        raise CommandError(errors.DEBUG_PROTOCOL_TYPE)
    return make(ctx)


# ---------------------------------------------------------------------------------
# OBJECT, LISTPACK, QUICKLIST, QUICKLIST-PACKED-THRESHOLD
# ---------------------------------------------------------------------------------
PACKED_THRESHOLD_DEFAULT = 1 << 30
_PACKED_THRESHOLD_MAX = (1 << 32) - (1 << 20)
_FILL_MAX = (1 << 15) - 1


def packed_threshold(server) -> int:
    """quicklist.c's packed_threshold: elements this long get a plain node of their own.
    Kept on the config object, where the RDB writer (persistence/rdb.py) reads it."""
    return getattr(server.config, "quicklist_packed_threshold", PACKED_THRESHOLD_DEFAULT)


def _debug_quicklist_packed_threshold(ctx, argv):
    """memtoull, then quicklistisSetPackedThreshold (0 restores the 1gb default)."""
    try:
        size = parse_memory(argv[2]) if len(argv[2]) < 128 else None
    except ConfigError:
        size = None
    if size is None or size > _PACKED_THRESHOLD_MAX:
        raise CommandError(errors.DEBUG_PACKED_THRESHOLD)
    ctx.server.config.quicklist_packed_threshold = size or PACKED_THRESHOLD_DEFAULT
    return "OK"


def quicklist_nodes(items, fill: int, threshold: int) -> list:
    """The nodes a quicklist holds after the items were pushed at the tail one by one:
    [(entries, listpack or plain bytes, plain?)] (_quicklistNodeAllowInsert)."""
    from ferrous.persistence.encodings import lp_entry
    from ferrous.persistence.rdb import _node_fits
    fill = max(-5, min(fill, _FILL_MAX))
    nodes = []
    count = size = 0
    for element in items:
        if len(element) >= threshold:       # a plain node of its own, between packed ones
            if count:
                nodes.append((count, size, False))
                count = 0
            nodes.append((1, len(element), True))
            continue
        if count and not _node_fits(size, count, len(element), fill):
            nodes.append((count, size, False))
            count = 0
        if not count:
            size = 7                        # an empty listpack: header and end byte
        size += len(lp_entry(element))
        count += 1
    if count:
        nodes.append((count, size, False))
    return nodes


def _encoding(ctx, key: bytes, value) -> str:
    if type(value) is bytes:
        from ferrous.commands.keys import _string_encoding
        return _string_encoding(value, ctx.db.encoding_mark(key))
    return value.encoding(ctx.server.config)


def _serialized_length(ctx, value) -> int:
    """rdbSavedObjectLen: the value's RDB serialization without its type byte."""
    from ferrous.persistence.rdb import serialize_value
    config = ctx.server.config
    return len(serialize_value(value, config, bool(getattr(config, "rdbcompression", True)))) - 1


def _debug_object(ctx, argv):
    key = argv[2]
    value = _stored(ctx.db, key)
    if value is None:
        raise CommandError(errors.DEBUG_NO_SUCH_KEY)
    encoding = _encoding(ctx, key, value)
    idle = ctx.db.idle_seconds(key)
    lru = (int(time.time()) - idle) & ((1 << 24) - 1)
    text = (f"Value at:0x{id(value):012x} refcount:1 encoding:{encoding} "
            f"serializedlength:{_serialized_length(ctx, value)} lru:{lru} lru_seconds_idle:{idle}")
    if encoding == "quicklist":
        text += _quicklist_fields(ctx, value)
    return Simple(text)


def _quicklist_fields(ctx, value) -> str:
    config = ctx.server.config
    fill = max(-5, min(config.list_max_listpack_size, _FILL_MAX))
    nodes = quicklist_nodes(value.items, fill, packed_threshold(ctx.server)) or [(0, 0, False)]
    average = len(value) / len(nodes)
    return (f" ql_nodes:{len(nodes)} ql_avg_node:{average:.2f} ql_listpack_max:{fill}"
            f" ql_compressed:{int(config.list_compress_depth != 0)}"
            f" ql_uncompressed_size:{sum(size for _, size, _ in nodes)}")


def _lookup_notouch(ctx, key: bytes):
    """objectCommandLookupOrReply: a live key, or 'no such key'."""
    value = ctx.db.peek(key)
    if value is None:
        raise CommandError(errors.DEBUG_NO_SUCH_KEY)
    return value


def _debug_listpack(ctx, argv):
    key = argv[2]
    value = _lookup_notouch(ctx, key)
    if _encoding(ctx, key, value) != "listpack":
        raise CommandError(errors.DEBUG_NOT_LISTPACK)
    entries = _listpack_entries(value)
    # lpRepr prints to stdout; Ferrous writes the same facts to its log.
    log.info("DEBUG LISTPACK %s: {num entries %d}\n%s", key.decode("utf-8", "replace"), len(entries),
             "\n".join("{index: %d, payload: %r}" % pair for pair in enumerate(entries)))
    return Simple("Listpack structure printed on stdout")


def _listpack_entries(value) -> list:
    if value.type_name == "hash":
        return [item for pair in value.fields.items() for item in pair]
    return [item for score, member in value.ordered for item in (member, score)]


def _debug_quicklist(ctx, argv):
    key = argv[2]
    value = _lookup_notouch(ctx, key)
    full = _atoi(argv[3]) if len(argv) == 4 else 0
    if _encoding(ctx, key, value) != "quicklist":
        raise CommandError(errors.DEBUG_NOT_QUICKLIST)
    config = ctx.server.config
    fill = max(-5, min(config.list_max_listpack_size, _FILL_MAX))
    nodes = quicklist_nodes(value.items, fill, packed_threshold(ctx.server))
    lines = [f"{{count : {len(value)}}}", f"{{len : {len(nodes)}}}", f"{{fill : {fill}}}",
             f"{{compress : {config.list_compress_depth}}}", "{bookmark_count : 0}"]
    for number, (count, size, plain) in enumerate(nodes):
        lines.append(f"{{quicklist node({number})")
        lines.append(f"{{container : {'PLAIN' if plain else 'PACKED'}, sz: {size}, count: {count}}}")
    if full:
        lines.append("elements: %r" % list(value.items))
    log.info("DEBUG QUICKLIST %s:\n%s", key.decode("utf-8", "replace"), "\n".join(lines))
    return Simple("Quicklist structure printed on stdout")


# ---------------------------------------------------------------------------------
# HTSTATS, HTSTATS-KEY: dictGetStats for the table Redis would hold
# ---------------------------------------------------------------------------------
_DICT_STATS_VECTLEN = 50


def _f32(value: float) -> float:
    """A C float: dictGetStats computes its ratios in single precision."""
    return struct.unpack("f", struct.pack("f", value))[0]


def dict_table_size(used: int) -> int:
    """The size a dict reaches holding `used` entries added one at a time:
    4 at first, doubled whenever it is full (_dictExpandIfNeeded)."""
    size = 4
    while size < used:
        size *= 2
    return size


def dict_stats(elements, used: int) -> str:
    """_dictGetStatsHt for the main table. Ferrous has no buckets of its own, so the
    chains are those of a table of Redis's size under a (seeded) hash of each element."""
    if used == 0:
        return ("Hash table 0 stats (main hash table):\n"
                "No stats available for empty dictionaries\n")
    size = dict_table_size(used)
    chains = [0] * size
    mask = size - 1
    for element in elements:
        chains[hash(element) & mask] += 1
    vector = [0] * _DICT_STATS_VECTLEN
    for length in chains:
        vector[min(length, _DICT_STATS_VECTLEN - 1)] += 1
    slots = size - vector[0]
    text = ("Hash table 0 stats (main hash table):\n"
            f" table size: {size}\n"
            f" number of elements: {used}\n"
            f" different slots: {slots}\n"
            f" max chain length: {max(chains)}\n"
            f" avg chain length (counted): {_f32(_f32(used) / _f32(slots)):.2f}\n"
            f" avg chain length (computed): {_f32(_f32(used) / _f32(slots)):.2f}\n"
            " Chain length distribution:\n")
    for length, count in enumerate(vector[:-1]):
        if count:
            share = _f32(_f32(_f32(count) / _f32(size)) * 100)
            text += f"   {length}: {count} ({share:.2f}%)\n"
    return text


def _debug_htstats(ctx, argv):
    dbid = _long(argv[2])
    if not 0 <= dbid < len(ctx.keyspace.dbs):
        raise CommandError(errors.DEBUG_OUT_OF_RANGE_DB)
    db = ctx.keyspace.dbs[dbid]
    keys = [key for shard in db.data for key in shard]
    volatile = [key for expires in db.expires for key in expires.when]
    text = ("[Dictionary HT]\n" + dict_stats(keys, len(keys))
            + "[Expires HT]\n" + dict_stats(volatile, len(volatile)))
    return Verbatim(text.encode())


def _debug_htstats_key(ctx, argv):
    key = argv[2]
    value = _lookup_notouch(ctx, key)
    encoding = _encoding(ctx, key, value)
    if encoding not in ("hashtable", "skiplist"):
        raise CommandError(errors.DEBUG_NOT_HASHTABLE)
    elements = value.scores if encoding == "skiplist" else (
        value.members if value.type_name == "set" else value.fields)
    return Verbatim(dict_stats(elements, len(elements)).encode())


# ---------------------------------------------------------------------------------
# Server switches: SLEEP, SET-ACTIVE-EXPIRE, PAUSE-CRON, checksums, scripts ...
# ---------------------------------------------------------------------------------
def _debug_help(ctx, argv):
    return help_reply("DEBUG", _DEBUG_HELP)


def _debug_sleep(ctx, argv):
    seconds = _atof(argv[2])
    if seconds > 0:
        time.sleep(seconds)
    return "OK"


def _debug_set_active_expire(ctx, argv):
    ctx.server.active_expire_enabled = _atoi(argv[2]) != 0
    return "OK"


def _debug_pause_cron(ctx, argv):
    """The server cron (server/background.py) skips its ticks while set."""
    ctx.server.cron_paused = _atoi(argv[2]) != 0
    return "OK"


def _debug_set_skip_checksum_validation(ctx, argv):
    """RESTORE payloads and RDB files load without checking their CRC64."""
    ctx.server.config.skip_checksum_validation = _atoi(argv[2]) != 0
    return "OK"


def _debug_set_disable_deny_scripts(ctx, argv):
    """Scripts may call commands flagged noscript (scripting/runner.py)."""
    ctx.server.script_disable_deny_script = _atoi(argv[2]) != 0
    return "OK"


def _debug_aof_flush_sleep(ctx, argv):
    ctx.server.aof_flush_sleep = _atoi(argv[2])
    return "OK"


REPLY_BUFFER_DEFAULT_PEAK_RESET_TIME = 5000


def _debug_replybuffer(ctx, argv):
    """Ferrous's output buffers are not resized by a cron: the settings are kept for
    what reads them, as Redis keeps server.reply_buffer_*."""
    option, value = argv[2].lower(), argv[3]
    if option == b"peak-reset-time":
        lowered = value.lower()
        if lowered == b"never":
            ctx.server.reply_buffer_peak_reset_time = -1
        elif lowered == b"reset":
            ctx.server.reply_buffer_peak_reset_time = REPLY_BUFFER_DEFAULT_PEAK_RESET_TIME
        else:
            ctx.server.reply_buffer_peak_reset_time = _long(value)
    elif option == b"resizing":
        ctx.server.reply_buffer_resizing_enabled = _atoi(value) != 0
    else:
        raise _subcommand_syntax(argv)
    return "OK"


def _debug_change_repl_id(ctx, argv):
    """changeReplicationId + clearReplicationId2."""
    from ferrous.replication.primary import new_replid
    log.warning("Changing replication IDs after receiving DEBUG change-repl-id")
    repl = ctx.server.replication
    with repl.lock:
        repl.replid = new_replid()
        repl.replid2 = "0" * 40
        repl.second_offset = -1
    return "OK"


def _debug_replicate(ctx, argv):
    """replicationFeedSlaves: the arguments reach the replicas only, as a command."""
    ctx.also_propagate(list(argv[2:]), targets=TO_REPLICAS)
    return "OK"


def _debug_stringmatch_test(ctx, argv):
    """stringmatchlen_fuzz_test: random patterns against random strings must not crash
    the matcher (fewer rounds than Redis's ten million: this is Python)."""
    from ferrous.storage.glob import glob_match
    rng = random.Random()
    for _ in range(20000):
        text = bytes(rng.randrange(128) for _ in range(rng.randrange(32)))
        pattern = bytes(rng.randrange(128) for _ in range(rng.randrange(32)))
        glob_match(pattern, text)
    return Simple("Apparently Redis did not crash: test passed")


def _debug_mallctl(ctx, argv):
    """Ferrous has no jemalloc: every key is unknown, as je_mallctl answers ENOENT."""
    raise CommandError(errors.DEBUG_MALLCTL_ENOENT)


def _debug_drop_cluster_packet_filter(ctx, argv):
    _long(argv[2])      # no cluster bus here: nothing to filter
    return "OK"


def _debug_clusterlink(ctx, argv):
    if argv[2].lower() != b"kill" or len(argv) != 5:
        raise _subcommand_syntax(argv)
    raise CommandError(errors.DEBUG_CLUSTER_ONLY)


def _debug_error(ctx, argv):
    return ErrorReply(argv[2].decode("utf-8", "surrogateescape"))


def _debug_log(ctx, argv):
    log.warning("DEBUG LOG: %s", argv[2].split(b"\0", 1)[0].decode("utf-8", "replace"))
    return "OK"


def _debug_leak(ctx, argv):
    return "OK"         # nothing to leak in a garbage-collected server


def _debug_config_rewrite_force_all(ctx, argv):
    """rewriteConfig(force_all): every parameter is written, defaults included."""
    config = ctx.server.config
    if config.config_file is None:
        raise CommandError(errors.DEBUG_CONFIG_REWRITE_FAILED % "Bad address")  # fopen(NULL)
    describe_users = getattr(ctx.server, "acl_rewrite_lines", None)
    try:
        config.rewrite(user_lines=describe_users() if describe_users else None, force_all=True)
    except ConfigError as exc:
        reason = exc.reason.split(": ", 1)[-1]
        raise CommandError(errors.DEBUG_CONFIG_REWRITE_FAILED % reason) from None
    except OSError as exc:
        raise CommandError(errors.DEBUG_CONFIG_REWRITE_FAILED % os.strerror(exc.errno or 0)) from None
    return "OK"


# ---------------------------------------------------------------------------------
# POPULATE
# ---------------------------------------------------------------------------------
def _debug_populate(ctx, argv):
    count = _positive_long(argv[2])
    size = _positive_long(argv[4]) if len(argv) == 5 else 0
    prefix = argv[3].split(b"\0", 1)[0] if len(argv) > 3 else b"key"
    db = ctx.db
    for i in range(count):
        key = (b"%s:%d" % (prefix, i))[:127]        # snprintf into a 128-byte buffer
        if db.lookup(key) is not None:
            continue
        value = b"value:%d" % i
        if size:
            value = value[:size].ljust(size, b"\x00")
        db.set(key, value)
    return "OK"


# ---------------------------------------------------------------------------------
# RELOAD and LOADAOF
# ---------------------------------------------------------------------------------
def _debug_reload(ctx, argv):
    """DEBUG RELOAD [NOSAVE] [NOFLUSH] [MERGE]: save the RDB, empty the keyspace and load
    the file back (debug.c), with the whole keyspace held. MERGE and NOFLUSH load over
    the data in place, a loaded key replacing a key of the same name."""
    from ferrous.commands.server import _generic_flush
    from ferrous.persistence.saving import load_into_keyspace
    state = getattr(ctx.server, "rdb", None)
    if state is None:
        raise _subcommand_syntax(argv)
    options = set()
    for arg in argv[2:]:
        option = arg.lower()
        if option not in (b"merge", b"noflush", b"nosave"):
            raise CommandError(errors.DEBUG_RELOAD_OPTIONS)
        options.add(option)
    if b"nosave" not in options:
        try:
            state.save()
        except Exception:
            raise CommandError("ERR") from None
    try:
        with open(state.path(), "rb") as fh:
            data = fh.read()
    except OSError:
        raise CommandError(errors.DEBUG_RELOAD_LOAD) from None
    if b"noflush" not in options:
        _generic_flush(ctx, ctx.keyspace.dbs)
        ctx.force_propagation = False       # emptyData here is not FLUSHALL: DEBUG is never propagated
    elif b"merge" in options:
        _drop_keys_in_file(ctx, data)
    # Functions are emptied with the data; NOFLUSH keeps them, and then only MERGE
    # lets the file's libraries replace same-named ones (RDBFLAGS_ALLOW_DUP).
    functions = "flush" if b"noflush" not in options else "replace" if b"merge" in options else "add"
    try:
        load_into_keyspace(ctx.server, data, aof_preamble=False, functions=functions)
    except Exception:
        raise CommandError(errors.DEBUG_RELOAD_LOAD) from None
    log.warning("DB reloaded by DEBUG RELOAD")
    return "OK"


def _drop_keys_in_file(ctx, data: bytes) -> None:
    """MERGE: keys present in the file replace the ones in memory."""
    from ferrous.persistence import rdb
    keyspace = ctx.keyspace

    def on_key(item):
        if item.db < len(keyspace.dbs):
            keyspace.dbs[item.db].delete(item.key)

    rdb.RdbReader(data, ctx.server.config).load(on_key, verify_checksum=False)


def _debug_loadaof(ctx, argv):
    """Flush the AOF to disk, empty the dataset and replay the AOF named by the manifest
    on disk. As Redis does, the server exits when the files cannot be loaded (no AOF at
    all included). Nothing of the reload is propagated (server.dirty = 0)."""
    from ferrous.commands.server import _generic_flush
    server = ctx.server
    dirty = ctx.dirty
    if server.aof.enabled:
        server.aof.fsync_now()
    _generic_flush(ctx, ctx.keyspace.dbs)
    ctx.force_propagation = False           # emptyData here is not FLUSHALL: DEBUG is never propagated
    manifest = aof.read_manifest(server.config)
    try:
        if manifest is None or (manifest.base is None and not manifest.incrs):
            raise aof.AofError("The AOF files do not exist")
        _replay_aof(server, manifest)
    except Exception as exc:
        log.warning("DEBUG LOADAOF could not load the AOF: %s", exc)
        for handler in logging.getLogger().handlers + log.handlers:
            handler.flush()
        os._exit(1)
    ctx.dirty = dirty
    log.warning("Append Only File loaded by DEBUG LOADAOF")
    return "OK"


def _replay_aof(server, manifest) -> None:
    """aof.load, with the keyspace already held by this command: the commands run
    without taking locks, and what they write is not propagated again."""
    directory = os.path.join(server.config.dir, server.config.appenddirname)
    files = ([manifest.base[0]] if manifest.base else []) + [name for name, _ in manifest.incrs]
    replayer = _HeldKeyspaceReplayer(server)
    server.keyspace.set_loading(True)
    try:
        for number, name in enumerate(files):
            path = os.path.join(directory, name)
            if not os.path.exists(path):
                raise aof.AofError("The AOF file %s doesn't exist" % name)
            aof._load_file(server, replayer, path, name, number == len(files) - 1)
    finally:
        server.keyspace.set_loading(False)


class _HeldKeyspaceReplayer(aof._Replayer):
    """The AOF's fake client for a keyspace this thread already holds: each command is
    called with lock=False, a MULTI block runs as EXEC would run it, and the replay
    stays inside one open propagation scope whose effects are dropped, so nothing
    reaches the AOF or the replicas again."""

    def __init__(self, server):
        super().__init__(server)
        self.ctx.propagation_scope = Scope(0, 0, [b"debug"])
        self.ctx.propagation_depth = 1
        self.queued = None

    def run(self, data: bytes) -> int:
        from ferrous.commands.registry import lookup
        offset = 0
        for argv, end in aof_format.read_commands(data):
            cmd = lookup(argv)
            if cmd is not None and cmd.subcommands and len(argv) >= 2:    # FUNCTION LOAD
                cmd = cmd.subcommands.get(argv[1].lower(), cmd)
            if cmd is None:
                raise aof.AofError("Unknown command '%s' reading the append only file"
                                   % argv[0].decode("latin-1"))
            self._run_one(cmd, argv, offset)
            self.count += 1
            offset = end
        if self.in_multi:
            self.queued = None      # a torn transaction is left unexecuted
        return offset

    def _run_one(self, cmd, argv, offset: int) -> None:
        from ferrous.server.dispatch import call
        name = argv[0].lower()
        out = bytearray()
        if name == b"multi":
            self.in_multi, self.multi_start, self.queued = True, offset, []
        elif name == b"exec":
            queued, self.queued, self.in_multi = self.queued or [], None, False
            for queued_cmd, queued_argv in queued:
                call(self.ctx, self.conn, queued_cmd, queued_argv, out, lock=False)
        elif self.queued is not None:
            self.queued.append((cmd, argv))
        else:
            call(self.ctx, self.conn, cmd, argv, out, lock=False)
        self.ctx.propagation.clear()


# ---------------------------------------------------------------------------------
# The table: name -> (handler, accepted argument counts), in debug.c's terms
# ---------------------------------------------------------------------------------
_DEBUG_SUBCOMMANDS = {
    b"help": (_debug_help, lambda n: n == 2),
    b"log": (_debug_log, lambda n: n == 3),
    b"leak": (_debug_leak, lambda n: n == 3),
    b"reload": (_debug_reload, lambda n: n >= 2),
    b"loadaof": (_debug_loadaof, lambda n: n >= 2),
    b"drop-cluster-packet-filter": (_debug_drop_cluster_packet_filter, lambda n: n == 3),
    b"object": (_debug_object, lambda n: n == 3),
    b"listpack": (_debug_listpack, lambda n: n == 3),
    b"quicklist": (_debug_quicklist, lambda n: n in (3, 4)),
    b"populate": (_debug_populate, lambda n: 3 <= n <= 5),
    b"digest": (_debug_digest, lambda n: n == 2),
    b"digest-value": (_debug_digest_value, lambda n: n >= 2),
    b"protocol": (_debug_protocol, lambda n: n == 3),
    b"sleep": (_debug_sleep, lambda n: n == 3),
    b"set-active-expire": (_debug_set_active_expire, lambda n: n == 3),
    b"quicklist-packed-threshold": (_debug_quicklist_packed_threshold, lambda n: n == 3),
    b"set-skip-checksum-validation": (_debug_set_skip_checksum_validation, lambda n: n == 3),
    b"aof-flush-sleep": (_debug_aof_flush_sleep, lambda n: n == 3),
    b"replicate": (_debug_replicate, lambda n: n >= 3),
    b"error": (_debug_error, lambda n: n == 3),
    b"htstats": (_debug_htstats, lambda n: n == 3),
    b"htstats-key": (_debug_htstats_key, lambda n: n == 3),
    b"change-repl-id": (_debug_change_repl_id, lambda n: n == 2),
    b"stringmatch-test": (_debug_stringmatch_test, lambda n: n == 2),
    b"set-disable-deny-scripts": (_debug_set_disable_deny_scripts, lambda n: n == 3),
    b"config-rewrite-force-all": (_debug_config_rewrite_force_all, lambda n: n == 2),
    b"mallctl": (_debug_mallctl, lambda n: n >= 3),
    b"mallctl-str": (_debug_mallctl, lambda n: n >= 3),
    b"pause-cron": (_debug_pause_cron, lambda n: n == 3),
    b"replybuffer": (_debug_replybuffer, lambda n: n == 4),
    b"clusterlink": (_debug_clusterlink, lambda n: n >= 3),
}
