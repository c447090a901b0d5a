"""Blocking commands: parking clients until a key is ready or a timeout fires.

This is Redis's blocked.c for Ferrous's threads (DESIGN.md §1: a blocked client is
parked, never a worker). BLPOP/BRPOP/BLMOVE/BRPOPLPUSH/BLMPOP use it, and so can
BZPOPMIN/BZPOPMAX/BZMPOP, XREAD/XREADGROUP BLOCK (keys) and WAIT (no keys).

The life of a blocked command
-----------------------------
1. Its handler finds nothing to serve and calls `block(ctx, keys, timeout, serve)`
   while the dispatcher still holds the command's shard locks, so no write can slip
   in between "the key is empty" and "the client is queued on the key". The client
   joins the FIFO of every key (per db + key) and `Blocked` is raised: it unwinds the
   handler (dispatch releases the locks) up to WorkerPool.run_item, which calls
   `park()`: the replies of the item's earlier commands are sent, the item's later
   (pipelined) commands are kept on the waiter, and the worker moves on. The I/O
   thread keeps the connection busy, so nothing else of that client runs meanwhile.
2. A write that creates a list/zset/stream key calls `signal_key_ready(ctx, key)`
   (Redis's signalKeyAsReady; costs one attribute test when nobody is blocked). If
   a client waits on that key, the key is recorded in `ctx.ready_keys`.
3. After every top-level command (so after EXEC or a script as a whole) the worker
   sees `ctx.ready_keys` and calls `serve_ready_keys(ctx)`: for each ready key, the
   clients waiting on it are taken in FIFO order and their `serve(ctx, key)` runs
   under their own command's shard locks, until the key is gone. A served client's
   reply is delivered and its kept commands go back to the queue as a new WorkItem.
   Serving can make more keys ready (BLMOVE pushes): the loop runs until none is.
4. A timer thread fires timeouts (`timeout_reply`, NULL_ARRAY by default);
   `unblock()` implements CLIENT UNBLOCK; a disconnect drops the waiter.

Waiter states. A waiter is owned by one worker while PENDING (blocked by the
handler, not yet parked: its pipelined rest is unknown) and while SERVING (a worker
runs its serve callback). Anyone else who wants it meanwhile (a timeout, CLIENT
UNBLOCK, a disconnect) leaves a `cancel` note, and a server that meets it on a
ready key stops serving that key and leaves a `missed` note; the owner applies the
notes when it lets go. That keeps replies in order and serving FIFO.

Lock order: shard locks (ascending), then the registry lock. The registry lock is
never held while a shard lock is taken, a serve callback runs, or a reply is sent.

Threads that run commands outside WorkerPool.run_item (a replication link applying
a primary's stream, ...) call `serve_ready_keys(ctx)` after each command too.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time

from ferrous import errors
from ferrous.commands.args import parse_int
from ferrous.errors import CommandError
from ferrous.protocol import NULL_ARRAY, ErrorReply
from ferrous.protocol.encoder import encode_into
from ferrous.server import propagate
from ferrous.server.background import Supervised
from ferrous.server.context import CommandStats
from ferrous.server.io_thread import WorkItem
from ferrous.storage.values.strings import _round_to_extended, parse_long_double

log = logging.getLogger("ferrous.blocking")

PENDING, WAITING, SERVING, DONE = range(4)
_LLONG_MAX = (1 << 63) - 1
_IDLE_WAIT = 1.0          # the timer thread's longest sleep (it re-checks for shutdown)


class _NotReady:
    """What a serve callback returns when the key cannot serve this client (yet)."""
    __slots__ = ()

    def __repr__(self):
        return "NOT_READY"


NOT_READY = _NotReady()
_GONE = object()          # a cancel note: the client disconnected, send nothing


class Blocked(BaseException):
    """Raised by block() to unwind a handler up to the worker.

    A BaseException, like GeneratorExit: it is control flow, and must pass through
    the `except Exception` guards of dispatch and supervision untouched."""

    def __init__(self, waiter):
        super().__init__()
        self.waiter = waiter


class Waiter:
    """One blocked client (Redis's client->bpop)."""
    __slots__ = ("conn", "db", "cmd", "argv", "keys", "serve", "timeout_reply", "timeout",
                 "state", "armed", "rest", "error", "cancel", "missed")

    def __init__(self, conn, db, cmd, argv, keys, serve, timeout_reply, timeout):
        self.conn = conn
        self.db = db                    # the db index the client had selected
        self.cmd = cmd
        self.argv = argv
        self.keys = keys                # distinct keys, in argument order
        self.serve = serve              # (ctx, key) -> reply | NOT_READY (may raise CommandError)
        self.timeout_reply = timeout_reply
        self.timeout = timeout          # time.monotonic() deadline, 0 = wait forever
        self.state = PENDING
        self.armed = False              # has an entry in the timer heap
        self.rest = []                  # the pipelined commands after the blocked one
        self.error = None               # the WorkItem's protocol error, sent after the rest
        self.cancel = None              # a reply to finish with when the owner lets go
        self.missed = {}                # (db, key) signalled while PENDING/SERVING


# -- API for command handlers -------------------------------------------------------------
def parse_timeout(data: bytes, seconds: bool = True) -> float:
    """getTimeoutFromObjectOrReply: a time.monotonic() deadline, or 0 for "forever".

    Seconds are a long double turned into whole milliseconds with ceill() ("0.0001"
    waits 1 ms, "-0.0001" forever); milliseconds (XREAD BLOCK, WAIT) are an integer.
    A value too large for a C long long after scaling is negative to Redis (an
    out-of-range cast), and a deadline that overflows never fires."""
    if seconds and data.isdigit() and len(data) < 10:
        millis = int(data) * 1000                     # the usual whole seconds
    elif seconds:
        value = parse_long_double(data)
        if value is None:
            raise CommandError(errors.TIMEOUT_NOT_FLOAT)
        if isinstance(value, float):                  # +/-inf: an out-of-range cast
            raise CommandError(errors.TIMEOUT_NEGATIVE)
        scaled = _round_to_extended(value * 1000)     # ftval * 1000.0 in long double
        if scaled is None or math.ceil(scaled) > _LLONG_MAX:
            raise CommandError(errors.TIMEOUT_NEGATIVE)
        millis = math.ceil(scaled)
    else:
        millis = parse_int(data, errors.TIMEOUT_NOT_INTEGER)
    if millis < 0:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    if millis == 0 or millis > _LLONG_MAX - int(time.time() * 1000):
        return 0
    return time.monotonic() + millis / 1000


def may_block(ctx) -> bool:
    """False inside MULTI/EXEC and scripts (Redis's CLIENT_DENY_BLOCKING): a blocking
    command then answers at once as if it had timed out. EXEC and the script runner
    keep conn.multi set, or set ctx.deny_blocking, while their commands run."""
    return ctx.conn.multi is None and not getattr(ctx, "deny_blocking", False)


def block(ctx, keys, timeout: float, serve, timeout_reply=NULL_ARRAY):
    """Block the current client on keys (none for WAIT); never returns.

    Call it from the handler with its shard locks still held. `serve(ctx, key)` runs
    later under the command's locks with ctx.conn/db/argv/command set to the blocked
    client's, when `key` was signalled ready; it returns the reply, or NOT_READY to
    keep waiting. `timeout_reply` (a value, or a callable returning one) is sent on
    timeout and on CLIENT UNBLOCK without ERROR."""
    conn = ctx.conn
    waiter = Waiter(conn, conn.db, ctx.command, ctx.argv, list(dict.fromkeys(keys)),
                    serve, timeout_reply, timeout)
    registry_of(ctx.server).add(waiter)
    raise Blocked(waiter)


def signal_key_ready(ctx, key: bytes, db: int | None = None) -> None:
    """signalKeyAsReady: key (in ctx.db, or db index `db`) may now serve blocked
    clients. Call it from any write that creates a list, zset or stream key (push,
    LMOVE destination, ZADD, XADD, RENAME, COPY, MOVE, RESTORE, SORT STORE ...)."""
    registry = getattr(ctx.server, "blocking_registry", None)
    if registry is None or not registry.by_key:
        return
    entry = (ctx.db.id if db is None else db, key)
    # Waiters on this key were queued under this key's shard lock, which the caller
    # holds: a plain dict read sees them.
    if entry in registry.by_key:
        ctx.ready_keys[entry] = None


def serve_ready_keys(ctx) -> None:
    """handleClientsBlockedOnKeys: serve the clients waiting on ctx.ready_keys."""
    registry = registry_of(ctx.server)
    saved = ctx.conn, ctx.db, ctx.command, ctx.argv
    ready = ctx.ready_keys
    try:
        while ready:
            entry = next(iter(ready))
            del ready[entry]
            registry.serve_key(ctx, entry)
    finally:
        ctx.conn, ctx.db, ctx.command, ctx.argv = saved


def park(ctx, item, argv, out: bytearray, waiter):
    """The worker's side of Blocked (argv raised it): send the replies before the
    blocked command, keep the commands after it, and make the waiter servable.
    Returns the (conn, data, action) triple WorkerPool.run_item returns."""
    conn = item.conn
    if out:
        # Straight to the I/O thread: a server may answer the waiter as soon as it
        # is active, and that answer must come after these replies.
        conn.io.deliver(conn, bytes(out), "more")
    commands = item.commands
    position = next(i for i, candidate in enumerate(commands) if candidate is argv)
    waiter.rest = commands[position + 1:]
    waiter.error = item.error
    _count_call(ctx, waiter.cmd)
    ctx.server.watch.blocked_call(ctx, waiter)     # MONITOR shows it now (introspection.py)
    registry_of(ctx.server).activate(ctx, waiter)
    if ctx.ready_keys:
        serve_ready_keys(ctx)
    return conn, b"", "more"


def unblock(ctx, client_id: int, error: bool) -> bool:
    """CLIENT UNBLOCK <id> [TIMEOUT|ERROR]: True if the client was blocked. It gets
    its timeout reply, or with error the -UNBLOCKED error (counted in ctx's stats)."""
    registry = getattr(ctx.server, "blocking_registry", None)
    if registry is None:
        return False
    return registry.cancel(client_id, ErrorReply(errors.UNBLOCKED_BY_CLIENT) if error else None, ctx,
                           failed=True)


def resume(server, client_id: int, reply) -> bool:
    """Unblock a client with `reply` (WAIT when enough replicas acknowledged)."""
    registry = getattr(server, "blocking_registry", None)
    if registry is None:
        return False
    return registry.cancel(client_id, reply, None)


def unblock_all(server, error_text: str = errors.UNBLOCKED_TURNED_REPLICA) -> None:
    """disconnectAllBlockedClients (a primary turning replica): every blocked client
    gets the error and is closed after it; its kept commands are dropped."""
    registry = getattr(server, "blocking_registry", None)
    if registry is not None:
        registry.cancel_all(ErrorReply(error_text))


_thread = threading.local()


def bind_context(ctx) -> None:
    """Make ctx this thread's context (a worker's, for its whole life): keyspace hooks
    that have no ctx at hand (a key deleted or overwritten) mark its ready_keys."""
    _thread.ctx = ctx


def signal_db_keys_ready(ctx, db: int) -> None:
    """scanDatabaseForReadyKeys, for SWAPDB: every key of db index `db` that clients
    wait on and that now exists may serve them. The caller holds every shard."""
    registry = getattr(ctx.server, "blocking_registry", None)
    if registry is None or not registry.by_key:
        return
    database = ctx.keyspace.dbs[db]
    with registry.lock:
        waited = [entry for entry in registry.by_key if entry[0] == db]
    for entry in waited:
        # dictFind, not a lookup: an expired key is still signalled, and the served
        # client's own lookup expires it (its DEL follows the SWAPDB, as in Redis).
        key = entry[1]
        if key in database.data[hash(key) & database.mask]:
            ctx.ready_keys[entry] = None


def blocked_clients(server) -> int:
    """INFO blocked_clients."""
    registry = getattr(server, "blocking_registry", None)
    return 0 if registry is None else registry.count(with_timeout=False)


def clients_in_timeout_table(server) -> int:
    """INFO clients_in_timeout_table."""
    registry = getattr(server, "blocking_registry", None)
    return 0 if registry is None else registry.count(with_timeout=True)


_registry_lock = threading.Lock()


def registry_of(server) -> "Registry":
    """The server's registry, created on first use (it chains Server.on_client_gone)."""
    registry = getattr(server, "blocking_registry", None)
    if registry is None:
        with _registry_lock:
            registry = getattr(server, "blocking_registry", None)
            if registry is None:
                registry = Registry(server)
                server.blocking_registry = registry
    return registry


# -- the registry ---------------------------------------------------------------------
class Registry:
    def __init__(self, server):
        self.server = server
        self.lock = threading.Lock()
        self.wakeup = threading.Condition(self.lock)    # the timer thread sleeps on it
        self.by_key: dict = {}          # (db, key) -> {waiter: None}, in blocking order
        self.by_client: dict = {}       # client id -> waiter
        self.timers: list = []          # heap of (deadline, seq, waiter); stale ones skipped
        self.stale_timers = 0
        self._seq = itertools.count()
        self.timer_thread = None
        self.group_readers = 0          # blocked XREADGROUP clients (they need on_removed)
        self.orphans: dict = {}         # keys removed off a worker (active expiry): the timer serves them
        self._timer_ctx = None
        previous = getattr(server, "on_client_gone", None)

        def on_client_gone(conn):
            self.client_gone(conn)
            if previous is not None:
                previous(conn)

        server.on_client_gone = on_client_gone

    # -- blocking and parking --------------------------------------------------
    def add(self, waiter) -> None:
        """Queue a PENDING waiter on its keys (the caller holds the keys' shard locks)."""
        entries = [(waiter.db, key) for key in waiter.keys]
        with self.lock:
            for entry in entries:
                fifo = self.by_key.get(entry)
                if fifo is None:
                    fifo = self.by_key[entry] = {}
                fifo[waiter] = None
            self.by_client[waiter.conn.id] = waiter
            if waiter.cmd.name == "xreadgroup":
                self._count_group_reader(1)

    def activate(self, ctx, waiter) -> None:
        """PENDING -> WAITING once parked; applies notes left meanwhile."""
        with self.lock:
            missed, waiter.missed = waiter.missed, {}
            final = waiter.cancel
            if final is not None:
                self._remove(waiter)
            else:
                waiter.state = WAITING
                waiter.conn.blocked = waiter
                if waiter.timeout:
                    self._arm(waiter)
        ctx.ready_keys.update(missed)
        if final is not None:
            self._finish(ctx, waiter, final)

    def _arm(self, waiter) -> None:
        waiter.armed = True
        heapq.heappush(self.timers, (waiter.timeout, next(self._seq), waiter))
        if self.timers[0][2] is waiter:
            self._wake_timer()

    def _wake_timer(self) -> None:
        """Start or wake the timer thread (registry lock held)."""
        if self.timer_thread is None:
            self.timer_thread = Supervised("ferrous-block-timer", self._timer_loop,
                                           self.server.shutdown_event)
            self.timer_thread.start()
        self.wakeup.notify()

    # -- keys deleted under blocked XREADGROUP clients ------------------------------
    def _count_group_reader(self, delta: int) -> None:
        """Install the keyspace's on_removed hook while XREADGROUP clients are blocked,
        so that nobody else pays for it (registry lock held)."""
        self.group_readers += delta
        events = self.server.keyspace.events
        if self.group_readers == 0:
            events.on_removed = None
        elif events.on_removed is None:
            events.on_removed = self.key_removed

    def key_removed(self, db, key) -> None:
        """signalDeletedKeyAsReady (key None: every key of db, for FLUSHDB/SWAPDB): the
        clients blocked on it get served, and a blocked XREADGROUP fails as in Redis.
        The caller holds the key's shard (or every shard)."""
        if key is None:
            with self.lock:
                entries = dict.fromkeys(entry for entry in self.by_key if entry[0] == db.id)
        else:
            entry = (db.id, key)
            if entry not in self.by_key:
                return
            entries = {entry: None}
        ctx = getattr(_thread, "ctx", None)
        if ctx is not None:
            ctx.ready_keys.update(entries)      # served after the running command
            return
        with self.lock:                         # active expiry: no command to follow
            self.orphans.update(entries)
            self._wake_timer()

    def _serve_orphans(self) -> None:
        """Serve the keys key_removed() left to the timer thread (registry lock held)."""
        orphans, self.orphans = self.orphans, {}
        ctx = self._timer_ctx
        if ctx is None:
            from ferrous.server.context import Context
            ctx = self._timer_ctx = Context(self.server)
            bind_context(ctx)
        ctx.ready_keys.update(orphans)
        self.lock.release()
        try:
            serve_ready_keys(ctx)
        finally:
            self.lock.acquire()

    def _remove(self, waiter) -> None:
        """Forget a waiter for good (registry lock held)."""
        if waiter.armed:
            self.stale_timers += 1      # its heap entry stays until popped or rebuilt
        if waiter.state != DONE and waiter.cmd.name == "xreadgroup":
            self._count_group_reader(-1)
        waiter.state = DONE
        for key in waiter.keys:
            entry = (waiter.db, key)
            fifo = self.by_key.get(entry)
            if fifo is not None:
                fifo.pop(waiter, None)
                if not fifo:
                    del self.by_key[entry]
        if self.by_client.get(waiter.conn.id) is waiter:
            del self.by_client[waiter.conn.id]
        waiter.conn.blocked = None

    # -- serving ----------------------------------------------------------------
    def serve_key(self, ctx, entry) -> None:
        """Serve the clients waiting on one ready key, first blocked first."""
        with self.lock:
            fifo = self.by_key.get(entry)
            waiters = list(fifo) if fifo else ()
        for waiter in waiters:
            verdict = self._check(waiter, entry)
            if verdict == "stop":
                return
            if verdict == "skip":
                continue
            if not self._attempt(ctx, waiter, entry):
                return

    def _check(self, waiter, entry) -> str:
        """'serve', 'skip' (done, or its client left), or 'stop' (busy: its owner
        re-signals the key when it lets go, so the line keeps its order)."""
        with self.lock:
            state = waiter.state
            if state == WAITING and waiter.conn.closed:
                self._remove(waiter)
                return "skip"
            if state == PENDING or state == SERVING:
                waiter.missed[entry] = None
                return "stop"
            return "serve" if state == WAITING else "skip"

    def _attempt(self, ctx, waiter, entry) -> bool:
        """Run the waiter's serve callback under its command's locks; returns
        whether the next waiter in line may be served from this key: not when
        serving deleted the key (Redis's `deleted`), nor when a missing key left
        this one waiting."""
        key = entry[1]
        ctx.conn = waiter.conn
        ctx.db = ctx.keyspace.dbs[waiter.db]
        ctx.command = waiter.cmd
        ctx.argv = waiter.argv
        locks = _lock_command_keys(ctx.keyspace, waiter.cmd, waiter.argv)
        try:
            with self.lock:
                state = waiter.state
                if state == WAITING:
                    waiter.state = SERVING
                elif state == SERVING:          # another worker got there first
                    waiter.missed[entry] = None
            if state != WAITING:
                return state == DONE            # DONE: on to the next; SERVING: stop
            existed = ctx.db.lookup(key) is not None
            started = time.perf_counter_ns()
            reply = _run_serve_propagating(ctx, waiter, key)
            elapsed = time.perf_counter_ns() - started
            go_on = ctx.db.lookup(key) is not None if existed else reply is not NOT_READY
            if waiter.cmd.group == "stream":
                # Reading a stream consumes nothing, and a deleted stream still has
                # XREADGROUP clients to fail (unblockDeletedStreamReadgroupClients).
                go_on = True
        finally:
            _unlock(locks, waiter.cmd.is_write)
        if reply is not NOT_READY:      # usec and slow log when served (introspection.py)
            ctx.server.watch.served_call(ctx, waiter, elapsed)
            if type(reply) is ErrorReply:   # updateStatsOnUnblock's had_errors (NOGROUP ...)
                _count_failed(ctx, waiter)
        self._settle(ctx, waiter, reply)
        return go_on

    def _settle(self, ctx, waiter, reply) -> None:
        """SERVING -> DONE (served) or back to WAITING (NOT_READY), applying notes."""
        with self.lock:
            missed, waiter.missed = waiter.missed, {}
            if reply is NOT_READY:
                reply = waiter.cancel           # a timeout or CLIENT UNBLOCK came meanwhile
            waiter.state = WAITING
            if reply is not None:
                self._remove(waiter)
        ctx.ready_keys.update(missed)
        if reply is not None:
            self._finish(ctx, waiter, reply)

    # -- ending a block from outside ---------------------------------------------
    def cancel(self, client_id: int, reply, ctx, failed: bool = False) -> bool:
        """Unblock a client with reply (None: its timeout reply). failed: count a
        failed call, as CLIENT UNBLOCK does in either mode (updateStatsOnUnblock)."""
        with self.lock:
            waiter = self.by_client.get(client_id)
            if waiter is None or waiter.state == DONE:
                return False
            if failed:
                _count_failed(ctx, waiter)
            if reply is None:
                reply = _timeout_reply(waiter)
            if waiter.state != WAITING:
                if waiter.cancel is None:
                    waiter.cancel = reply
                return True
            self._remove(waiter)
        self._finish(ctx, waiter, reply)
        return True

    def cancel_all(self, reply) -> None:
        """Every blocked client gets reply, then its connection closes; clients
        postponed by a pause stay (disconnectAllBlockedClients skips BLOCKED_POSTPONE)."""
        from ferrous.server.introspection import is_postponed
        removed = []
        with self.lock:
            for waiter in list(self.by_client.values()):
                if is_postponed(waiter):
                    continue    # a paused client's command runs afresh when the pause ends
                waiter.rest, waiter.error = [], None
                waiter.conn.close_after_reply = True
                if waiter.state == WAITING:
                    self._remove(waiter)
                    removed.append(waiter)
                elif waiter.cancel is None:     # its owner sends the reply
                    waiter.cancel = reply
        for waiter in removed:
            self._finish(None, waiter, reply, action="close")

    def client_gone(self, conn) -> None:
        with self.lock:
            waiter = self.by_client.get(conn.id)
            if waiter is None or waiter.conn is not conn:
                return
            if waiter.state == WAITING:
                self._remove(waiter)
            else:
                waiter.cancel = _GONE

    def count(self, with_timeout: bool) -> int:
        with self.lock:
            return sum(1 for w in self.by_client.values()
                       if w.state != PENDING and (w.timeout or not with_timeout))

    # -- timeouts ------------------------------------------------------------------
    def _timer_loop(self) -> None:
        shutdown = self.server.shutdown_event
        timers = self.timers
        with self.lock:
            while not shutdown.is_set():
                if self.orphans:
                    self._serve_orphans()
                    continue
                now = time.monotonic()
                expired = []
                while timers and timers[0][0] <= now:
                    waiter = heapq.heappop(timers)[2]
                    waiter.armed = False
                    if waiter.state == WAITING:
                        self._remove(waiter)
                        expired.append(waiter)
                    elif waiter.state == DONE:
                        self.stale_timers -= 1
                    elif waiter.cancel is None:        # SERVING: its owner finishes it
                        waiter.cancel = _timeout_reply(waiter)
                if expired:
                    self.lock.release()
                    try:
                        for waiter in expired:
                            self._finish(None, waiter, _timeout_reply(waiter))
                    finally:
                        self.lock.acquire()
                    continue
                self._drop_stale_timers()
                delay = timers[0][0] - now if timers else _IDLE_WAIT
                self.wakeup.wait(min(delay, _IDLE_WAIT))

    def _drop_stale_timers(self) -> None:
        """Served clients leave their heap entry behind; rebuild when they dominate."""
        if self.stale_timers > 64 and self.stale_timers * 2 > len(self.timers):
            self.timers[:] = [t for t in self.timers if t[2].state != DONE]
            heapq.heapify(self.timers)
            self.stale_timers = 0

    # -- replying --------------------------------------------------------------------
    def _finish(self, ctx, waiter, reply, action=None) -> None:
        """Send the blocked command's reply, then run the client's kept commands."""
        if reply is _GONE:
            return
        conn = waiter.conn
        out = bytearray()
        if conn.reply_mode == "on":
            encode_into(out, reply, conn.resp)
            if ctx is not None and type(reply) is ErrorReply:
                _note_error(ctx, reply.text)
        elif conn.reply_mode == "skip":
            conn.reply_mode = "on"
        elif conn.reply_mode == "skip_next":
            conn.reply_mode = "skip"
        if ctx is not None and ctx.tracking_pending:    # its invalidations follow its reply
            ctx.server.tracking.flush_pending(ctx, conn, out)
        if waiter.rest or waiter.error is not None:
            conn.io.deliver(conn, bytes(out), "more")
            self.server.submit([WorkItem(conn, waiter.rest, waiter.error)])
        else:
            conn.io.deliver(conn, bytes(out), action)


# -- helpers -----------------------------------------------------------------------------
def _timeout_reply(waiter):
    reply = waiter.timeout_reply
    return reply() if callable(reply) else reply


def _run_serve_propagating(ctx, waiter, key: bytes):
    """_run_serve inside a propagation scope, like any call(): the serve callback
    rewrites what is propagated (a served BLPOP propagates as LPOP)."""
    if not ctx.server.propagator.active:
        return _run_serve(ctx, waiter, key)
    outer = propagate.begin(ctx, waiter.argv)
    succeeded = False
    try:
        reply = _run_serve(ctx, waiter, key)
        succeeded = reply is not NOT_READY
        return reply
    finally:
        propagate.end(ctx, outer, succeeded)


def _run_serve(ctx, waiter, key):
    try:
        return waiter.serve(ctx, key)
    except CommandError as exc:
        return ErrorReply(exc.message)
    except Exception:
        log.exception("serving blocked command %s failed", waiter.cmd.name)
        return ErrorReply("ERR internal error while running '%s'" % waiter.cmd.name)


def _lock_command_keys(keyspace, cmd, argv) -> list:
    """The shard locks dispatch would take for this command, in ascending order."""
    mask = keyspace.mask
    locks = [keyspace.locks[i] for i in sorted({hash(argv[i]) & mask for i in cmd.key_indexes(argv)})]
    for lock in locks:
        lock.acquire_write() if cmd.is_write else lock.acquire_read()
    return locks


def _unlock(locks, write: bool) -> None:
    for lock in locks:
        lock.release_write() if write else lock.release_read()


def _count_call(ctx, cmd) -> None:
    """Redis counts a blocking command's call when it blocks (call() in 7.0)."""
    stats = ctx.command_stats.get(cmd.name)
    if stats is None:
        stats = ctx.command_stats[cmd.name] = CommandStats()
    stats.calls += 1
    ctx.commands_processed += 1


def _count_failed(ctx, waiter) -> None:
    """failed_calls of a blocked command that ended in an error; a client postponed
    by CLIENT PAUSE is counted when its command really runs."""
    from ferrous.server.introspection import is_postponed
    if is_postponed(waiter):
        return
    stats = ctx.command_stats.get(waiter.cmd.name)
    if stats is None:
        stats = ctx.command_stats[waiter.cmd.name] = CommandStats()
    stats.failed_calls += 1


def _note_error(ctx, text: str) -> None:
    code = text.split(" ", 1)[0]
    ctx.error_stats[code] = ctx.error_stats.get(code, 0) + 1
    ctx.total_error_replies += 1
