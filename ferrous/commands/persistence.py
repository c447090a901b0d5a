"""DUMP / RESTORE (cluster.c) and SAVE / BGSAVE / LASTSAVE (rdb.c).

The RDB work itself lives in ferrous/persistence/: rdb.py (format), snapshot.py
(point-in-time copies), saving.py (the server's save state, installed as server.rdb).
"""
from __future__ import annotations

import logging
import time

from ferrous import errors
from ferrous.commands.args import parse_int
from ferrous.commands.registry import LOCK_ALL, command
from ferrous.errors import CommandError
from ferrous.persistence import rdb
from ferrous.server.notify import NOTIFY_GENERIC, notify
from ferrous.storage.keyspace import now_ms

log = logging.getLogger("ferrous.rdb")


# ---------------------------------------------------------------------------------
# DUMP / RESTORE
# ---------------------------------------------------------------------------------
@command("dump", arity=2, flags="readonly", keys=(1, 1, 1), group="generic")
def dump(ctx, argv):
    value = ctx.read(argv[1])
    if value is None:
        return None
    return rdb.dump_payload(value, ctx.server.config)


def _restore_options(argv) -> tuple:
    """(replace, absttl, idle seconds or None, freq or None), checked in Redis's order."""
    replace = absttl = False
    idle = freq = None
    i = 4
    while i < len(argv):
        option = argv[i].lower()
        more = len(argv) - i - 1
        if option == b"replace":
            replace = True
        elif option == b"absttl":
            absttl = True
        elif option == b"idletime" and more >= 1 and freq is None:
            idle = parse_int(argv[i + 1])
            if idle < 0:
                raise CommandError(errors.RESTORE_INVALID_IDLETIME)
            i += 1
        elif option == b"freq" and more >= 1 and idle is None:
            freq = parse_int(argv[i + 1])
            if freq < 0 or freq > 255:
                raise CommandError(errors.RESTORE_INVALID_FREQ)
            i += 1
        else:
            raise CommandError(errors.SYNTAX_ERR)
        i += 1
    return replace, absttl, idle, freq


def _deep_sanitization(ctx) -> bool:
    """restoreCommand's deep_integrity_validation: sanitize-dump-payload yes, or
    `clients` for a client that is neither our primary, the AOF, nor a user with
    skip-sanitize-payload."""
    mode = ctx.server.config.sanitize_dump_payload
    if mode != "clients":
        return mode == "yes"
    conn = ctx.conn
    user = getattr(conn, "acl_user", None)
    trusted = (conn is None or getattr(conn, "is_master", False) or getattr(conn, "is_aof", False)
               or getattr(user, "sanitize", None) == "skip-sanitize-payload")
    return not trusted


@command("restore", arity=-4, flags="write denyoom", keys=(1, 1, 1), group="generic",
         acl="@dangerous")
def restore(ctx, argv):
    replace, absttl, idle, freq = _restore_options(argv)
    db, key = ctx.db, argv[1]
    if not replace and db.lookup(key) is not None:
        raise CommandError(errors.BUSYKEY)
    ttl = parse_int(argv[2])
    if ttl < 0:
        raise CommandError(errors.RESTORE_INVALID_TTL)
    config = ctx.server.config
    payload = argv[3]
    if not rdb.verify_dump_payload(payload, check_crc=not getattr(config, "skip_checksum_validation", False)):
        raise CommandError(errors.DUMP_PAYLOAD_INVALID)
    try:
        value = rdb.load_dump_payload(payload, config, _deep_sanitization(ctx))
    except (rdb.RDBError, ValueError, IndexError, OverflowError) as exc:
        # rdbReportError in a RESTORE context: logged at verbose, the client gets the error.
        log.info("Internal error in RDB reading offset 0, function at rdb.c:0 -> %s",
                 str(exc) or type(exc).__name__)
        value = None
    if value is None:
        raise CommandError(errors.BAD_DATA_FORMAT)
    deleted = db.delete(key) if replace else False
    if ttl and not absttl:
        ttl += now_ms()
    if ttl and ttl <= now_ms() and not db.is_replica:
        # checkAlreadyExpired: the key is not created (and a replaced one is just gone).
        if deleted:
            _propagate_as(ctx, [b"DEL", key])
            notify(ctx, NOTIFY_GENERIC, "del", key)
            ctx.dirty += 1
        return "OK"
    _generic_store_restored(ctx, key, value, ttl, idle, freq)
    if ttl and not absttl:
        _propagate_as(ctx, [argv[0], key, b"%d" % ttl, *argv[3:], b"ABSTTL"])
    notify(ctx, NOTIFY_GENERIC, "restore", key)
    ctx.dirty += 1
    return "OK"


@command("restore-asking", arity=-4, flags="write denyoom asking", keys=(1, 1, 1), group="server",
         acl="@keyspace @dangerous")
def restore_asking(ctx, argv):
    """MIGRATE's target command in a cluster; outside one it is RESTORE (restoreCommand)."""
    return restore(ctx, argv)


def _generic_store_restored(ctx, key: bytes, value, ttl: int, idle, freq) -> None:
    """dbAdd + setExpire + objectSetLRUOrLFU."""
    db = ctx.db
    db.set(key, value)
    if ttl:
        db.set_expire(key, ttl)
    atime = db.atime[hash(key) & db.mask]
    if idle is not None and type(atime.get(key)) is float:
        atime[key] = time.monotonic() - idle
    elif freq is not None and type(atime.get(key)) is int:
        from ferrous.storage.lfu import minutes_now
        atime[key] = (minutes_now() << 8) | freq


def _propagate_as(ctx, argv: list) -> None:
    rewrite = getattr(ctx, "rewrite_propagation", None)
    if rewrite is not None:
        rewrite(argv)


# ---------------------------------------------------------------------------------
# SAVE / BGSAVE / LASTSAVE
# ---------------------------------------------------------------------------------
@command("save", arity=1, flags="admin noscript no_async_loading no_multi", group="server",
         lock=LOCK_ALL)
def save(ctx, argv):
    state = ctx.server.rdb
    if state.in_progress():
        raise CommandError(errors.BGSAVE_IN_PROGRESS)
    try:
        state.save()
    except Exception:
        raise CommandError(errors.SAVE_FAILED) from None
    return "OK"


@command("bgsave", arity=-1, flags="admin noscript no_async_loading", group="server", lock=LOCK_ALL)
def bgsave(ctx, argv):
    schedule = False
    if len(argv) > 1:
        if len(argv) == 2 and argv[1].lower() == b"schedule":
            schedule = True
        else:
            raise CommandError(errors.SYNTAX_ERR)
    server = ctx.server
    state = server.rdb
    if state.in_progress():
        raise CommandError(errors.BGSAVE_IN_PROGRESS)
    in_exec = ctx.conn is not None and ctx.conn.multi is not None
    if _other_child_active(server) or in_exec:
        if schedule or in_exec:
            state.bgsave_scheduled = True
            return "Background saving scheduled"
        raise CommandError(errors.BGSAVE_CHILD_ACTIVE)
    if not state.start_background(holding_keyspace=True):
        raise CommandError(errors.BGSAVE_IN_PROGRESS)
    return "Background saving started"


def _other_child_active(server) -> bool:
    """hasActiveChildProcess besides an RDB save: an AOF rewrite."""
    aof = getattr(server, "aof", None)
    return bool(aof is not None and getattr(aof, "rewrite_in_progress", False))


@command("lastsave", arity=1, flags="loading stale fast", group="server", acl="@admin @dangerous")
def lastsave(ctx, argv):
    return ctx.server.rdb.lastsave
