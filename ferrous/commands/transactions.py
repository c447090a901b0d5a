"""Transactions group: MULTI, EXEC, DISCARD, WATCH, UNWATCH (multi.c).

Queueing happens in dispatch through `server.multi_hook` (installed by `install`).
EXEC takes the whole keyspace exclusively and runs the queued commands without
re-taking shard locks, so a transaction is atomic against every other worker.

WATCH keeps (db index, key) -> {conn} in a registry with its own lock; the
keyspace's `on_modified` hook marks watchers dirty. The hook is only installed while
at least one key is watched, so writes cost nothing extra otherwise.
"""
from __future__ import annotations

import dataclasses
import threading

from ferrous import errors
from ferrous.commands.connection import on_reset
from ferrous.commands.registry import TABLE, command
from ferrous.errors import CommandError
from ferrous.protocol import NULL_ARRAY
from ferrous.protocol.types import Raw
from ferrous.server import acl
from ferrous.server.dispatch import call, reject
from ferrous.storage.keyspace import now_ms

# processCommand queues everything in MULTI except these, which run at once.
_NOT_QUEUED = frozenset(("exec", "discard", "multi", "watch", "quit", "reset"))


def install(server) -> None:
    server.watches = WatchRegistry(server.keyspace)
    server.multi_hook = queue_command
    server.exec_abort = abort_exec
    server.exec_checked_as = exec_checked_as
    events = server.keyspace.events
    events.on_flushed = server.watches.on_flushed
    events.on_swapdb = server.watches.on_swapdb
    previous = getattr(server, "on_client_gone", None)

    def on_client_gone(conn):
        server.watches.unwatch_all(conn)
        if previous is not None:
            previous(conn)

    server.on_client_gone = on_client_gone


class WatchRegistry:
    """Watched keys: Redis's db->watched_keys plus each client's watched_keys list."""

    def __init__(self, keyspace):
        self.keyspace = keyspace
        self.lock = threading.Lock()
        self.by_db: dict = {}       # db index -> {key: {conn: None}}
        self.count = 0              # watched (conn, db, key) entries

    def watch(self, conn, db, key: bytes) -> None:
        """The caller holds key's shard lock (WATCH locks its keys)."""
        with self.lock:
            if conn.watched is None:
                conn.watched = {}
            if (db.id, key) in conn.watched:
                return
            # Redis 7.0 remembers whether the key was already expired at WATCH time:
            # a key that expires afterwards fails EXEC even if nobody deleted it.
            conn.watched[(db.id, key)] = _is_stale(db, key)
            self.by_db.setdefault(db.id, {}).setdefault(key, {})[conn] = None
            self.count += 1
            if self.count == 1:
                self.keyspace.events.on_modified = self.on_modified

    def unwatch_all(self, conn) -> None:
        with self.lock:
            watched = conn.watched
            conn.watched = None
            conn.watch_dirty = False
            if not watched:
                return
            for db_id, key in watched:
                keys = self.by_db[db_id]
                watchers = keys[key]
                del watchers[conn]
                if not watchers:
                    del keys[key]
                    if not keys:
                        del self.by_db[db_id]
            self.count -= len(watched)
            if self.count == 0:
                self.keyspace.events.on_modified = None

    # -- keyspace hooks (the caller holds the key's shard or the whole keyspace) ----
    def on_modified(self, db, key: bytes) -> None:
        """touchWatchedKey."""
        # Lock-free test first: WATCH of this very key holds its shard lock, as does
        # the writer calling us, so the answer cannot change under us; other keys'
        # updates only resize the dicts, which each dict operation is safe against.
        keys = self.by_db.get(db.id)
        if not keys or key not in keys:
            return
        with self.lock:
            keys = self.by_db.get(db.id)
            watchers = keys.get(key) if keys else None
            if not watchers:
                return
            watched_key = (db.id, key)
            for conn in watchers:
                if conn.watched[watched_key]:
                    # Stale when watched: its deletion is no logical change (and from
                    # now on it is watched as a missing key). Redis 7.0 stops at the
                    # first such watcher while the key still exists (the `break`).
                    if key not in db.data[hash(key) & db.mask]:
                        conn.watched[watched_key] = False
                        continue
                    break
                conn.watch_dirty = True

    def on_flushed(self, db) -> None:
        """touchAllWatchedKeysInDb(db, NULL), before the keys go."""
        self._touch_all_in_db(db.id, db, None)

    def on_swapdb(self, a: int, b: int) -> None:
        """touchAllWatchedKeysInDb(db1, db2) and (db2, db1). Called once the swap is
        done, so each index's former contents are now at the other index."""
        dbs = self.keyspace.dbs
        self._touch_all_in_db(a, dbs[b], dbs[a])
        self._touch_all_in_db(b, dbs[a], dbs[b])

    def _touch_all_in_db(self, db_id: int, emptied, replaced_with) -> None:
        """Flag the watchers of db_id's keys that emptied holds or replaced_with brings,
        except where a key stale when watched stays logically missing (multi.c)."""
        with self.lock:
            for key, watchers in (self.by_db.get(db_id) or {}).items():
                idx = hash(key) & emptied.mask
                exists_in_emptied = key in emptied.data[idx]
                exists_in_replacement = replaced_with is not None and key in replaced_with.data[idx]
                if not (exists_in_emptied or exists_in_replacement):
                    continue
                watched_key = (db_id, key)
                for conn in watchers:
                    if conn.watched[watched_key]:
                        if not exists_in_replacement:
                            conn.watched[watched_key] = False   # stale key now deleted
                            continue
                        if _is_stale(replaced_with, key):
                            continue                            # stale key stays stale
                    elif not exists_in_emptied and _is_stale(replaced_with, key):
                        conn.watched[watched_key] = True        # missing key becomes a stale one
                        continue
                    conn.watch_dirty = True

    def failed(self, conn, keyspace) -> bool:
        """isWatchedKeyExpired / CLIENT_DIRTY_CAS: must EXEC abort? (whole keyspace held)."""
        if getattr(conn, "watch_dirty", False):
            return True
        for (db_id, key), expired_at_watch in (conn.watched or {}).items():
            if not expired_at_watch and _is_stale(keyspace.dbs[db_id], key):
                return True
        return False


def _is_stale(db, key: bytes) -> bool:
    """keyIsExpired: past its deadline but not deleted yet (nothing expires while loading)."""
    deadline = db.get_expire(key)
    return 0 <= deadline <= now_ms() and not db.loading


def queue_command(ctx, conn, cmd, argv, out) -> bool:
    """server.multi_hook: queue cmd while conn is in MULTI; True when handled here."""
    if "no_multi" in cmd.flags:
        conn.multi_error = True
        reject(ctx, conn, errors.NOT_ALLOWED_IN_MULTI, out, cmd)
        return True
    name = cmd.parent.name if cmd.parent is not None else cmd.name
    if name in _NOT_QUEUED:
        return False
    conn.multi.append((cmd, argv))
    call_queued(ctx, conn, out)
    return True


def call_queued(ctx, conn, out) -> None:
    if conn.reply_mode == "on":
        out += b"+QUEUED\r\n"
    elif conn.reply_mode == "skip":
        conn.reply_mode = "on"
    elif conn.reply_mode == "skip_next":
        conn.reply_mode = "skip"


@command("multi", arity=1, flags="noscript loading stale fast allow_busy", group="transactions")
def multi(ctx, argv):
    conn = ctx.conn
    if conn.multi is not None:
        raise CommandError(errors.MULTI_NESTED)
    conn.multi = []
    conn.multi_error = False
    return "OK"


@command("discard", arity=1, flags="noscript loading stale fast allow_busy", group="transactions")
def discard(ctx, argv):
    conn = ctx.conn
    if conn.multi is None:
        raise CommandError(errors.DISCARD_WITHOUT_MULTI)
    _discard_transaction(ctx, conn)
    return "OK"


def exec_checked_as(conn, exec_cmd):
    """EXEC as processCommand's state checks see it: a write if a queued command
    writes (mstate.cmd_flags), not "stale"/"loading" if one queued is not
    (mstate.cmd_inv_flags), so a change of state since queueing refuses it."""
    queued = [cmd for cmd, _ in conn.multi]
    flags = set(exec_cmd.flags)
    for flag in ("stale", "loading"):
        if any(flag not in cmd.flags for cmd in queued):
            flags.discard(flag)
    is_write = any(cmd.is_write for cmd in queued)
    if is_write:
        flags.add("write")
    return dataclasses.replace(exec_cmd, flags=frozenset(flags), is_write=is_write)


def abort_exec(ctx, conn, error: str) -> str:
    """execCommandAbort: an EXEC refused before it runs (busy script, OOM, MISCONF ...)
    discards the transaction; returns the error text EXEC replies with instead."""
    _discard_transaction(ctx, conn)
    watch = ctx.server.watch
    if watch.monitors:  # MONITOR saw MULTI: it sees the EXEC that ends it too
        watch.feed_monitors(ctx, conn, ctx.argv, cmd=TABLE[b"exec"])
    return errors.EXECABORT_BECAUSE % error


def _discard_transaction(ctx, conn) -> None:
    conn.multi = None
    conn.multi_error = False
    ctx.server.watches.unwatch_all(conn)


@command("exec", arity=1, flags="noscript loading stale skip_slowlog", group="transactions")
def exec_(ctx, argv):
    conn = ctx.conn
    if conn.multi is None:
        raise CommandError(errors.EXEC_WITHOUT_MULTI)
    if conn.multi_error:
        _discard_transaction(ctx, conn)
        raise CommandError(errors.EXECABORT)
    keyspace = ctx.keyspace
    keyspace.lock_all()
    try:
        if ctx.server.watches.failed(conn, keyspace):
            _discard_transaction(ctx, conn)
            return NULL_ARRAY
        return _run_queued(ctx, conn)
    finally:
        keyspace.unlock_all()


def _run_queued(ctx, conn) -> Raw:
    """Run the queue under the whole-keyspace lock; each reply is one array element."""
    queued = conn.multi
    ctx.server.watches.unwatch_all(conn)    # unwatch ASAP, as Redis does
    ctx.prevent_propagation()   # the queued writes propagate, wrapped in MULTI/EXEC
    exec_cmd = ctx.command
    watch = ctx.server.watch
    body = bytearray()
    try:
        # conn.multi stays set while the commands run (CLIENT_MULTI): blocking
        # commands then behave as non-blocking, SUBSCRIBE replies stay inline.
        for cmd, argv in queued:
            if not conn.acl_user.unrestricted and acl.exec_denied(ctx, conn, cmd, argv, body):
                continue    # ACL rules changed since it was queued (ferrous/server/acl.py)
            if watch.monitors:  # EVAL/FCALL feed MONITOR themselves (server/introspection.py)
                watch.feed_script_call(ctx, conn, cmd, argv)
            call(ctx, conn, cmd, argv, body, lock=False)
    finally:
        conn.multi = None
        conn.multi_error = False
        ctx.command = exec_cmd
        ctx.conn = conn
        ctx.db = ctx.keyspace.dbs[conn.db]
    return Raw(b"*%d\r\n" % len(queued) + bytes(body))


@command("watch", arity=-2, flags="noscript loading stale fast allow_busy", keys=(1, -1, 1),
         group="transactions")
def watch(ctx, argv):
    conn = ctx.conn
    if conn.multi is not None:
        raise CommandError(errors.WATCH_INSIDE_MULTI)
    watches = ctx.server.watches
    for key in argv[1:]:
        watches.watch(conn, ctx.db, key)
    return "OK"


@command("unwatch", arity=1, flags="noscript loading stale fast allow_busy", group="transactions")
def unwatch(ctx, argv):
    ctx.server.watches.unwatch_all(ctx.conn)
    return "OK"


@on_reset
def _reset_transaction(ctx, conn) -> None:
    _discard_transaction(ctx, conn)
