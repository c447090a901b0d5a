"""The worker pool: takes WorkItems off the command queue and executes them."""
from __future__ import annotations

import logging
import queue
import threading

from ferrous.errors import CommandError
from ferrous.protocol import ErrorReply
from ferrous.protocol.encoder import encode_into
from ferrous.server.context import Context
from ferrous.server.dispatch import execute

log = logging.getLogger("ferrous.workers")

_STOP = object()


class WorkerPool:
    def __init__(self, server, count: int):
        self.server = server
        self.queue = queue.SimpleQueue()
        self.contexts: list[Context] = []
        self.threads: list[threading.Thread] = []
        for i in range(count):
            self._spawn(i)

    def _spawn(self, index: int) -> None:
        ctx = Context(self.server)
        self.contexts.append(ctx)
        thread = threading.Thread(target=self._run, args=(ctx,), name=f"ferrous-worker-{index}", daemon=True)
        self.threads.append(thread)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def submit(self, items: list) -> None:
        put = self.queue.put
        for item in items:
            put(item)

    def stop(self) -> None:
        for _ in self.threads:
            self.queue.put(_STOP)
        for thread in self.threads:
            thread.join(timeout=5)

    def _run(self, ctx: Context) -> None:
        get = self.queue.get
        while True:
            item = get()
            if item is _STOP:
                return
            try:
                self.run_item(ctx, item)
            except Exception:
                # Supervision: the item's client gets an error, the worker carries on.
                log.exception("worker crashed on an item; continuing")
                try:
                    out = bytearray()
                    encode_into(out, ErrorReply("ERR internal error"), item.conn.resp)
                    item.conn.io.deliver(item.conn, bytes(out))
                except Exception:
                    log.exception("could not report the failure to the client")

    def run_item(self, ctx: Context, item) -> None:
        conn = item.conn
        out = bytearray()
        action = None
        for argv in item.commands:
            if conn.closed or conn.close_after_reply:
                break
            execute(ctx, conn, argv, out)
            if conn.close_after_reply:
                action = "close"
                break
        if item.error is not None:
            encode_into(out, ErrorReply(item.error), conn.resp)
            action = "close"
        conn.io.deliver(conn, bytes(out), action)


def raise_error(text: str):
    raise CommandError(text)
