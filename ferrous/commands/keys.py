"""Generic keyspace group (Redis's db.c, expire.c, object.c): DEL, EXISTS, the EXPIRE
and TTL families, KEYS, SCAN, RANDOMKEY, RENAME, COPY, MOVE, OBJECT, TYPE, TOUCH.

Lookups follow Redis: reads count keyspace hits/misses (ctx.read, or _read_notouch
for the LOOKUP_NOTOUCH reads of EXISTS, TYPE, TTL and OBJECT, which leave the key's
access clock alone); write paths use ctx.db.lookup (lookupKeyWrite). KEYS, SCAN and
RANDOMKEY hold the whole keyspace (LOCK_ALL). MOVE and COPY ... DB touch a second
database, which is safe with key locks alone: every database shares the shard locks.

Also used by the other *SCAN commands: parse_scan_cursor, parse_scan_options and
scan_reply.
"""
from __future__ import annotations

import copy as _copy
import random

from ferrous import errors
from ferrous.commands.args import LLONG_MAX, is_int, parse_int
from ferrous.commands.registry import LOCK_ALL, command, container
from ferrous.errors import CommandError
from ferrous.server.blocking import signal_key_ready
from ferrous.storage.glob import glob_matcher
from ferrous.storage.keyspace import EMBSTR_SIZE_LIMIT, now_ms
from ferrous.storage.scan import scan_sharded
from ferrous.server.notify import NOTIFY_GENERIC, notify, notify_db

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
ULLONG_MAX = 2**64 - 1
SHARED_REFCOUNT = INT_MAX        # OBJ_SHARED_REFCOUNT: the shared integers 0..9999
SHARED_INTEGERS = 10000          # OBJ_SHARED_INTEGERS
RANDOMKEY_REPLICA_TRIES = 100    # dbRandomKey's maxtries on an all-volatile replica
LFU_INIT_VAL = 5                 # the LFU counter of a new key
BLOCKABLE_TYPES = frozenset(("list", "zset", "stream"))  # what BLPOP, BZPOPMIN, XREAD wait for


def _option(arg: bytes) -> bytes:
    """An option as C's strcasecmp sees it: upper-cased, cut at the first NUL byte."""
    nul = arg.find(b"\0")
    return (arg if nul < 0 else arg[:nul]).upper()


def _type_name(value) -> str:
    if value is None:
        return "none"
    if type(value) is bytes:
        return "string"
    return value.type_name


def _read_notouch(ctx, key: bytes):
    """lookupKeyReadWithFlags(LOOKUP_NOTOUCH): counted, but not an access."""
    value = ctx.db.peek(key)
    if value is None:
        ctx.keyspace_misses += 1
    else:
        ctx.keyspace_hits += 1
    return value


def _duplicate(value):
    """A deep copy for COPY (strings are immutable bytes and can be shared)."""
    if type(value) is bytes:
        return value
    duplicate = getattr(value, "copy", None)
    return duplicate() if duplicate is not None else _copy.deepcopy(value)


def _db_index(ctx, raw: bytes, parse):
    """The Database selected by a DB argument (COPY ... DB, MOVE)."""
    index = parse(raw)
    if index < 0 or index >= len(ctx.keyspace.dbs):
        raise CommandError(errors.INVALID_DB_INDEX)
    return ctx.keyspace.dbs[index]


def _parse_int32(raw: bytes) -> int:
    """getIntFromObjectOrReply: a long long that must also fit a C int."""
    value = parse_int(raw)
    if value < INT_MIN or value > INT_MAX:
        raise CommandError(errors.INT_OUT_OF_RANGE % (INT_MIN, INT_MAX))
    return value


# ---------------------------------------------------------------------------
# DEL, UNLINK, EXISTS, TOUCH, TYPE
# ---------------------------------------------------------------------------

def _generic_delete(ctx, keys: list, lazy: bool = False) -> int:
    """delGenericCommand: lazy hands big values to the lazyfree thread (UNLINK)."""
    deleted = 0
    for key in keys:
        value = ctx.db.lookup(key) if lazy else None
        if ctx.db.delete(key):
            if value is not None:
                ctx.server.lazyfree.free_value(value, ctx.server.config)
            deleted += 1
            notify(ctx, NOTIFY_GENERIC, "del", key)
            signal_key_ready(ctx, key)  # signalDeletedKeyAsReady: blocked XREADGROUP fails
    ctx.dirty += deleted
    return deleted


@command("del", arity=-2, flags="write", keys=(1, -1, 1), group="generic")
def del_(ctx, argv):
    return _generic_delete(ctx, argv[1:], ctx.server.config.lazyfree_lazy_user_del)


@command("unlink", arity=-2, flags="write fast", keys=(1, -1, 1), group="generic")
def unlink(ctx, argv):
    return _generic_delete(ctx, argv[1:], lazy=True)


@command("exists", arity=-2, flags="readonly fast", keys=(1, -1, 1), group="generic")
def exists(ctx, argv):
    # A key named twice counts twice, as in Redis.
    return sum(1 for key in argv[1:] if _read_notouch(ctx, key) is not None)


@command("touch", arity=-2, flags="readonly fast", keys=(1, -1, 1), group="generic")
def touch(ctx, argv):
    # Unlike EXISTS, a real read: it resets the keys' idle time.
    return sum(1 for key in argv[1:] if ctx.read(key) is not None)


@command("type", arity=2, flags="readonly fast", keys=(1, 1, 1), group="generic")
def type_(ctx, argv):
    return _type_name(_read_notouch(ctx, argv[1]))


# ---------------------------------------------------------------------------
# EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, PERSIST
# ---------------------------------------------------------------------------

_EXPIRE_FLAGS = (b"NX", b"XX", b"GT", b"LT")


def _parse_expire_flags(argv: list) -> frozenset:
    """parseExtendedExpireArgumentsOrReply: NX | XX | GT | LT after the time."""
    flags = set()
    for arg in argv[3:]:
        flag = _option(arg)
        if flag not in _EXPIRE_FLAGS:
            shown = arg.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            raise CommandError(errors.UNSUPPORTED_OPTION % shown)
        flags.add(flag)
    if b"NX" in flags and len(flags) > 1:
        raise CommandError(errors.EXPIRE_NX_INCOMPATIBLE)
    if b"GT" in flags and b"LT" in flags:
        raise CommandError(errors.EXPIRE_GT_LT_INCOMPATIBLE)
    return frozenset(flags)


def _expire_deadline(ctx, raw: bytes, unit_ms: int, basetime: int) -> int:
    """The absolute unix-ms deadline, rejecting what would overflow a long long."""
    when = parse_int(raw)
    invalid = CommandError(errors.INVALID_EXPIRE % ctx.command.name)
    if unit_ms == 1000:
        # C division truncates toward zero: LLONG_MIN / 1000 == -(LLONG_MAX // 1000).
        if when > LLONG_MAX // 1000 or when < -(LLONG_MAX // 1000):
            raise invalid
        when *= 1000
    if when > LLONG_MAX - basetime:
        raise invalid
    return when + basetime


def _expire_condition_holds(flags: frozenset, when: int, current: int) -> bool:
    """NX/XX/GT/LT against the current deadline (-1 = none, i.e. infinite TTL)."""
    if b"NX" in flags and current != -1:
        return False
    if b"XX" in flags and current == -1:
        return False
    if b"GT" in flags and (current == -1 or when <= current):
        return False
    if b"LT" in flags and current != -1 and when >= current:
        return False
    return True


def _generic_expire(ctx, argv, unit_ms: int, relative: bool) -> int:
    """expireGenericCommand: flags, then the time, then the key."""
    flags = _parse_expire_flags(argv)
    now = now_ms()      # one clock reading: "+1 ms" is never already past, as in Redis
    when = _expire_deadline(ctx, argv[2], unit_ms, now if relative else 0)
    db, key = ctx.db, argv[1]
    if db.lookup(key) is None:
        return 0
    if flags and not _expire_condition_holds(flags, when, db.get_expire(key)):
        return 0
    # Replicas and the AOF get DEL (deadline passed) or PEXPIREAT <absolute ms>
    # (options kept), so that they agree on the deadline.
    if when <= now and not db.is_replica and not db.loading:
        # A deadline in the past deletes the key (replicas wait for the primary's DEL;
        # an AOF being loaded keeps the key with its deadline: checkAlreadyExpired).
        db.delete(key)
        notify(ctx, NOTIFY_GENERIC, "del", key)
        ctx.rewrite_propagation([b"DEL", key])
    else:
        db.set_expire(key, when)
        db.touch(key)
        notify(ctx, NOTIFY_GENERIC, "expire", key)
        if relative or unit_ms != 1:
            ctx.rewrite_propagation([b"PEXPIREAT", key, b"%d" % when, *argv[3:]])
    ctx.dirty += 1
    return 1


@command("expire", arity=-3, flags="write fast", keys=(1, 1, 1), group="generic")
def expire(ctx, argv):
    return _generic_expire(ctx, argv, 1000, relative=True)


@command("pexpire", arity=-3, flags="write fast", keys=(1, 1, 1), group="generic")
def pexpire(ctx, argv):
    return _generic_expire(ctx, argv, 1, relative=True)


@command("expireat", arity=-3, flags="write fast", keys=(1, 1, 1), group="generic")
def expireat(ctx, argv):
    return _generic_expire(ctx, argv, 1000, relative=False)


@command("pexpireat", arity=-3, flags="write fast", keys=(1, 1, 1), group="generic")
def pexpireat(ctx, argv):
    return _generic_expire(ctx, argv, 1, relative=False)


@command("persist", arity=2, flags="write fast", keys=(1, 1, 1), group="generic")
def persist(ctx, argv):
    db, key = ctx.db, argv[1]
    if db.lookup(key) is None or not db.persist(key):
        return 0
    db.touch(key)
    ctx.dirty += 1
    notify(ctx, NOTIFY_GENERIC, "persist", key)
    return 1


# ---------------------------------------------------------------------------
# TTL, PTTL, EXPIRETIME, PEXPIRETIME
# ---------------------------------------------------------------------------

def _generic_ttl(ctx, key: bytes, in_ms: bool, absolute: bool) -> int:
    """ttlGenericCommand: -2 missing key, -1 no deadline, else the (remaining) time."""
    if _read_notouch(ctx, key) is None:
        return -2
    when = ctx.db.get_expire(key)
    if when == -1:
        return -1
    ttl = max(when if absolute else when - now_ms(), 0)
    return ttl if in_ms else (ttl + 500) // 1000


@command("ttl", arity=2, flags="readonly fast", keys=(1, 1, 1), group="generic")
def ttl(ctx, argv):
    return _generic_ttl(ctx, argv[1], in_ms=False, absolute=False)


@command("pttl", arity=2, flags="readonly fast", keys=(1, 1, 1), group="generic")
def pttl(ctx, argv):
    return _generic_ttl(ctx, argv[1], in_ms=True, absolute=False)


@command("expiretime", arity=2, flags="readonly fast", keys=(1, 1, 1), group="generic")
def expiretime(ctx, argv):
    return _generic_ttl(ctx, argv[1], in_ms=False, absolute=True)


@command("pexpiretime", arity=2, flags="readonly fast", keys=(1, 1, 1), group="generic")
def pexpiretime(ctx, argv):
    return _generic_ttl(ctx, argv[1], in_ms=True, absolute=True)


# ---------------------------------------------------------------------------
# RENAME, RENAMENX, MOVE, COPY
# ---------------------------------------------------------------------------

def _generic_rename(ctx, argv, nx: bool):
    """renameGenericCommand: the value moves with its TTL; the target's TTL goes."""
    db, source, target = ctx.db, argv[1], argv[2]
    value = db.lookup(source)
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    if source == target:
        return 0 if nx else "OK"
    if nx and db.lookup(target) is not None:
        return 0
    deadline = db.get_expire(source)
    encoding = db.encoding_mark(source)
    db.delete(source)
    _store(ctx, db, target, value, deadline, encoding)
    ctx.dirty += 1
    notify(ctx, NOTIFY_GENERIC, "rename_from", source)
    notify(ctx, NOTIFY_GENERIC, "rename_to", target)
    return 1 if nx else "OK"


def _store(ctx, db, key: bytes, value, deadline: int, encoding=None) -> None:
    """dbAdd + setExpire: the key takes value and deadline (-1 = none), and a string
    the encoding mark of the object it came from (Redis moves or dups the object)."""
    db.set(key, value)
    if encoding is not None:
        db.mark_encoding(key, encoding)
    if deadline != -1:
        db.set_expire(key, deadline)
    if type(value) is not bytes and value.type_name in BLOCKABLE_TYPES:
        # dbAdd's signalKeyAsReady: clients blocked on this key may now be served.
        signal_key_ready(ctx, key, db.id)


@command("rename", arity=3, flags="write", keys=(1, 2, 1), group="generic")
def rename(ctx, argv):
    return _generic_rename(ctx, argv, nx=False)


@command("renamenx", arity=3, flags="write fast", keys=(1, 2, 1), group="generic")
def renamenx(ctx, argv):
    return _generic_rename(ctx, argv, nx=True)


@command("move", arity=3, flags="write fast", keys=(1, 1, 1), group="generic")
def move(ctx, argv):
    source_db, key = ctx.db, argv[1]
    target_db = _db_index(ctx, argv[2], _parse_int32)
    if target_db is source_db:
        raise CommandError(errors.SAME_OBJECT)
    value = source_db.lookup(key)
    if value is None or target_db.lookup(key) is not None:
        return 0
    deadline = source_db.get_expire(key)
    encoding = source_db.encoding_mark(key)
    source_db.delete(key)
    _store(ctx, target_db, key, value, deadline, encoding)
    ctx.dirty += 1
    notify(ctx, NOTIFY_GENERIC, "move_from", key)
    notify_db(ctx.server, NOTIFY_GENERIC, "move_to", key, target_db.id)
    return 1


def _parse_copy_options(ctx, argv) -> tuple:
    """COPY source destination [DB destination-db] [REPLACE]: (target db, replace)."""
    target_db, replace = ctx.db, False
    i = 3
    while i < len(argv):
        option = _option(argv[i])
        if option == b"REPLACE":
            replace = True
        elif option == b"DB" and i + 1 < len(argv):
            i += 1
            target_db = _db_index(ctx, argv[i], parse_int)
        else:
            raise CommandError(errors.SYNTAX_ERR)
        i += 1
    return target_db, replace


@command("copy", arity=-3, flags="write denyoom", keys=(1, 2, 1), group="generic")
def copy(ctx, argv):
    source, target = argv[1], argv[2]
    target_db, replace = _parse_copy_options(ctx, argv)
    if target_db is ctx.db and source == target:
        raise CommandError(errors.SAME_OBJECT)
    value = ctx.read(source)
    if value is None:
        return 0
    if target_db.lookup(target) is not None:
        if not replace:
            return 0
        target_db.delete(target)
    _store(ctx, target_db, target, _duplicate(value), ctx.db.get_expire(source),
           ctx.db.encoding_mark(source))
    ctx.dirty += 1
    notify_db(ctx.server, NOTIFY_GENERIC, "copy_to", target, target_db.id)
    return 1


# ---------------------------------------------------------------------------
# KEYS, SCAN, RANDOMKEY
# ---------------------------------------------------------------------------

def _is_live(db, idx: int, key: bytes, now: int) -> bool:
    """keyIsExpired's negation, without deleting anything (KEYS only reads)."""
    deadline = db.expires[idx].when.get(key)
    return deadline is None or deadline > now


@command("keys", arity=2, flags="readonly", group="generic", acl="@dangerous", lock=LOCK_ALL)
def keys(ctx, argv):
    pattern = argv[1]
    match = None if pattern == b"*" else glob_matcher(pattern)
    db, now = ctx.db, now_ms()
    found = []
    for idx, shard in enumerate(db.data):
        candidates = shard if match is None else filter(match, shard)
        if db.expires[idx].when:
            candidates = [key for key in candidates if _is_live(db, idx, key, now)]
        found.extend(candidates)
    return found


def parse_scan_cursor(raw: bytes) -> int:
    """parseScanCursorOrReply, i.e. C's strtoul: an optional sign (a negative number
    wraps around 2**64), no leading space, nothing after the digits, within 64 bits;
    the empty string is cursor 0."""
    digits = raw[1:] if raw[:1] in (b"+", b"-") else raw
    if raw and not (digits.isdigit() and digits.isascii()):
        raise CommandError(errors.INVALID_CURSOR)
    value = int(digits) if digits else 0
    if value > ULLONG_MAX:
        raise CommandError(errors.INVALID_CURSOR)
    return (-value) & ULLONG_MAX if raw[:1] == b"-" else value


def parse_scan_options(argv: list, start: int, allow_type: bool) -> tuple:
    """scanGenericCommand's options: (count, match function or None, type or None).
    TYPE is only accepted by SCAN itself (allow_type)."""
    count, match, type_name = 10, None, None
    i = start
    while i < len(argv):
        option = _option(argv[i])
        has_value = i + 1 < len(argv)
        if option == b"COUNT" and has_value:
            count = parse_int(argv[i + 1])
            if count < 1:
                raise CommandError(errors.SYNTAX_ERR)
        elif option == b"MATCH" and has_value:
            pattern = argv[i + 1]
            match = None if pattern == b"*" else glob_matcher(pattern)
        elif option == b"TYPE" and allow_type and has_value:
            # strcasecmp against the type names; a C string ends at its first NUL.
            type_name = argv[i + 1].split(b"\0", 1)[0].decode("latin-1").lower()
        else:
            raise CommandError(errors.SYNTAX_ERR)
        i += 2
    return count, match, type_name


def scan_reply(cursor: int, items: list) -> list:
    return [b"%d" % cursor, items]


def _live_scanned_keys(ctx, keys: list, match, type_name) -> list:
    """SCAN's filters in Redis's order: pattern, type (a counted lookup), expiry.
    Keys that no longer exist (expired now, or stale in the index) are dropped."""
    if match is not None:
        keys = [key for key in keys if match(key)]
    live = []
    for key in keys:
        value = _read_notouch(ctx, key) if type_name is not None else ctx.db.peek(key)
        if value is None:
            continue
        if type_name is not None and _type_name(value) != type_name:
            continue
        live.append(key)
    return live


@command("scan", arity=-2, flags="readonly", group="generic", lock=LOCK_ALL)
def scan(ctx, argv):
    cursor = parse_scan_cursor(argv[1])
    count, match, type_name = parse_scan_options(argv, 2, allow_type=True)
    cursor, keys = scan_sharded(ctx.db.scan_indexes(), cursor, count)
    return scan_reply(cursor, _live_scanned_keys(ctx, keys, match, type_name))


def _random_candidate(db):
    """A random key: a shard chosen by its size, then a random key of its index."""
    sizes = [len(shard) for shard in db.data]
    idx = random.choices(range(len(sizes)), weights=sizes)[0]
    index = db.scan_indexes()[idx]
    while True:
        key = index.random_item()
        if key is None:
            # The index lost this shard's keys (changed behind Database's back):
            # have it rebuilt, and answer from the shard itself meanwhile.
            db.scan = None
            return next(iter(db.data[idx]))
        if key in db.data[idx]:
            return key
        index.remove(key)  # a stale entry left by a racing lazy expiry


@command("randomkey", arity=1, flags="readonly", group="generic", lock=LOCK_ALL)
def randomkey(ctx, argv):
    """dbRandomKey: retry while the pick has expired (lookup deletes it)."""
    db = ctx.db
    tries = 0
    while db.size():
        key = _random_candidate(db)
        if db.peek(key) is not None:
            return key
        tries += 1
        all_volatile = db.size() == db.volatile_count()
        if db.is_replica and all_volatile and tries >= RANDOMKEY_REPLICA_TRIES:
            # A replica never deletes expired keys itself: give up and return one.
            return key
    return None


# ---------------------------------------------------------------------------
# OBJECT
# ---------------------------------------------------------------------------

container("object", arity=-2, group="generic", acl="-@keyspace")

OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
]


def _maxmemory_policy(ctx) -> str:
    return getattr(ctx.server.config, "maxmemory_policy", "noeviction")


def _shares_integers(ctx) -> bool:
    """Redis shares the objects for 0..9999 unless maxmemory with an LRU/LFU policy."""
    policy = _maxmemory_policy(ctx)
    return ctx.server.config.maxmemory == 0 or not policy.endswith(("-lru", "-lfu"))


def _string_encoding(value: bytes, mark=None) -> str:
    """tryObjectEncoding for a value stored by SET: int, embstr or raw; mark, the
    key's Database.encoding_mark, overrides it (edited in place, INCRBYFLOAT)."""
    if mark is not None:
        return mark
    if len(value) <= 20 and is_int(value):
        return "int"
    return "embstr" if len(value) <= EMBSTR_SIZE_LIMIT else "raw"


@command("object|freq", arity=3, flags="readonly", keys=(2, 2, 1))
def object_freq(ctx, argv):
    if _read_notouch(ctx, argv[2]) is None:
        return None
    if not _maxmemory_policy(ctx).endswith("-lfu"):
        raise CommandError(errors.OBJECT_FREQ_NOT_LFU)
    from ferrous.storage.lfu import lfu_counter     # LFUDecrAndReturn
    return lfu_counter(ctx.db.atime[hash(argv[2]) & ctx.db.mask].get(argv[2]))


@command("object|encoding", arity=3, flags="readonly", keys=(2, 2, 1))
def object_encoding(ctx, argv):
    value = _read_notouch(ctx, argv[2])
    if value is None:
        return None
    if type(value) is bytes:
        return _string_encoding(value, ctx.db.encoding_mark(argv[2])).encode()
    return value.encoding(ctx.server.config).encode()


@command("object|help", arity=2, flags="loading stale")
def object_help(ctx, argv):
    return OBJECT_HELP


@command("object|idletime", arity=3, flags="readonly", keys=(2, 2, 1))
def object_idletime(ctx, argv):
    if _read_notouch(ctx, argv[2]) is None:
        return None
    if _maxmemory_policy(ctx).endswith("-lfu"):
        raise CommandError(errors.OBJECT_IDLETIME_LFU)
    return ctx.db.idle_seconds(argv[2])


@command("object|refcount", arity=3, flags="readonly", keys=(2, 2, 1))
def object_refcount(ctx, argv):
    value = _read_notouch(ctx, argv[2])
    if value is None:
        return None
    if (type(value) is bytes and _string_encoding(value, ctx.db.encoding_mark(argv[2])) == "int"
            and 0 <= int(value) < SHARED_INTEGERS and _shares_integers(ctx)):
        return SHARED_REFCOUNT
    return 1
