"""The worker pool: takes WorkItems off the command queue and executes them."""
from __future__ import annotations

import logging
import queue
import threading

from ferrous.protocol import ErrorReply
from ferrous.protocol.encoder import encode_into
from ferrous.scripting.gil import gil_enabled
from ferrous.server.blocking import Blocked, bind_context, park, serve_ready_keys
from ferrous.server.context import Context
from ferrous.server.dispatch import execute

log = logging.getLogger("ferrous.workers")

_STOP = object()
_RETIRE = object()     # one worker leaves the pool (CONFIG SET worker-threads)


class WorkerPool:
    def __init__(self, server, count: int):
        self.server = server
        self.queue = queue.SimpleQueue()
        self.contexts: list[Context] = []
        self.threads: list[threading.Thread] = []
        self.gil_enabled = gil_enabled()
        # CONFIG SET worker-threads resizes the pool (resize()). A retired worker's
        # context is kept, unused, so INFO's per-worker counters keep their totals,
        # and is handed to the next worker spawned.
        self._resize_lock = threading.Lock()
        self._target = count
        self._spawned = 0
        self._spare_contexts: list[Context] = []
        for _ in range(count):
            self._spawn()
        server.config.on_change("worker-threads", self.resize)

    def _spawn(self) -> threading.Thread:
        if self._spare_contexts:
            ctx = self._spare_contexts.pop()
        else:
            ctx = Context(self.server)
            self.contexts.append(ctx)
        thread = threading.Thread(target=self._run, args=(ctx,), name=f"ferrous-worker-{self._spawned}",
                                  daemon=True)
        self._spawned += 1
        self.threads.append(thread)
        return thread

    def resize(self, count: int) -> None:
        """Grow the pool at once; shrink it by queueing stop marks, so each retiring
        worker first finishes what it holds and the queue ahead of the mark."""
        with self._resize_lock:
            delta = count - self._target
            self._target = count
            if delta > 0:
                for thread in [self._spawn() for _ in range(delta)]:
                    thread.start()
            for _ in range(-delta):
                self.queue.put(_RETIRE)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def submit(self, items: list) -> None:
        """Queue the WorkItems of one select pass.

        Each queue hop costs a thread wake-up (and, with a GIL, a GIL hand-off), so a
        pass travels as few batches as will keep the workers busy: one batch when
        the GIL serialises the workers anyway, one per worker when threads really
        run in parallel (DESIGN.md §7).
        """
        n = len(items)
        parts = 1 if self.gil_enabled else min(n, len(self.threads))
        if parts <= 1:
            self.queue.put(items)
            return
        size = -(-n // parts)
        for i in range(0, n, size):
            self.queue.put(items[i:i + size])

    def stop(self) -> None:
        threads = list(self.threads)
        for _ in threads:
            self.queue.put(_STOP)
        for thread in threads:
            thread.join(timeout=5)

    def _run(self, ctx: Context) -> None:
        bind_context(ctx)   # keyspace hooks signal this worker's ready keys (blocking.py)
        # Supervision: whatever escapes a batch is logged and the worker carries on.
        while True:
            try:
                if self._serve(ctx) is _RETIRE:
                    self._retire(ctx)
                return
            except Exception:
                log.exception("worker %s failed; carrying on", threading.current_thread().name)
                self.server.thread_health.crashed()

    def _serve(self, ctx: Context) -> None:
        get = self.queue.get
        while True:
            batch = get()
            if batch is _STOP or batch is _RETIRE:
                return batch
            replies: dict = {}
            ctx.batch, ctx.batch_replies = batch, replies   # for a busy script (scripting/busy.py)
            for item in batch:
                try:
                    conn, data, action = self.run_item(ctx, item)
                except Exception:
                    # Supervision: the item's client gets an error, the worker carries on.
                    log.exception("worker failed on a work item; continuing")
                    self.server.thread_health.crashed()
                    conn, data, action = item.conn, _internal_error(item.conn), None
                replies.setdefault(conn.io, []).append((conn, data, action))
            for io, batch_replies in replies.items():
                io.deliver_many(batch_replies)
            tracking = self.server.tracking     # server/tracking.py, after the batch's replies
            if tracking.broadcast_pending or ctx.tracking_inflight:
                tracking.batch_done(ctx)

    def _retire(self, ctx: Context) -> None:
        with self._resize_lock:
            self.threads.remove(threading.current_thread())
            self._spare_contexts.append(ctx)

    def run_item(self, ctx: Context, item):
        """Execute one connection's commands; returns (conn, reply bytes, action)."""
        conn = item.conn
        out = bytearray()
        action = None
        argv = None
        ctx.requests = item.commands
        try:
            for argv in item.commands:
                if conn.closed:
                    break
                execute(ctx, conn, argv, out)
                if ctx.tracking_pending or conn.tracking is not None:
                    self.server.tracking.after_command(ctx, conn, out)    # server/tracking.py
                if ctx.ready_keys:
                    # This write made keys ready that clients are blocked on: serve
                    # them now, before this client's next command, as Redis does
                    # after each call() (server/blocking.py).
                    serve_ready_keys(ctx)
                if conn.close_after_reply:
                    action = "close"
                    break
        except Blocked as blocked:
            # argv blocked (BLPOP on an empty list...): the client is parked, not the
            # worker; earlier replies go out, later commands wait with the client.
            return park(ctx, item, argv, out, blocked.waiter)
        if item.error is not None:
            encode_into(out, ErrorReply("ERR " + item.error), conn.resp)
            action = "close"
        return conn, bytes(out), action


def _internal_error(conn) -> bytes:
    out = bytearray()
    encode_into(out, ErrorReply("ERR internal error"), conn.resp)
    return bytes(out)
