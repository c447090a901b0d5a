"""Answering clients while a script runs past busy-reply-threshold.

Redis serves events from inside the script's hook and replies BUSY to everything
but the allow-busy commands. Here the I/O thread does it before handing work to
the workers: the workers may all be waiting on the keyspace lock the script
holds, so the reply must not need one. Commands that take no lock (SCRIPT KILL,
FUNCTION KILL/STATS, SHUTDOWN NOSAVE, AUTH, HELLO, MULTI...) run right here; a
command needing a lock (WATCH) and the rest of its batch go to the workers.
"""
from __future__ import annotations

import threading

from ferrous.commands.registry import LOCK_NONE
from ferrous.protocol import ErrorReply
from ferrous.protocol.encoder import encode_into

_contexts = threading.local()


def _context(server):
    ctx = getattr(_contexts, "ctx", None)
    if ctx is None or ctx.server is not server:
        from ferrous.server.context import Context
        ctx = _contexts.ctx = Context(server)
    return ctx


def serve_while_busy(server, items: list) -> list:
    """Answer what can be answered now; return the WorkItems still for the workers."""
    remaining = []
    for item in items:
        rest = _serve_item(server, item)
        if rest is not None:
            remaining.append(rest)
    return remaining


def _serve_item(server, item):
    from ferrous.server.dispatch import execute, reject, resolve
    conn = item.conn
    out = bytearray()
    ctx = _context(server)
    for index, argv in enumerate(item.commands):
        run = server.busy_script
        if run is None or conn.closed:
            return _hand_over(item, index, conn, out)
        cmd, error = resolve(argv)
        if error is None and "allow_busy" not in cmd.flags and (conn.authenticated or cmd.no_auth):
            # The BUSY reply itself, without execute(): the script may end meanwhile,
            # and this thread must never run a command that takes locks or blocks.
            if conn.multi is not None:
                conn.multi_error = True
            reject(ctx, conn, run.busy_error, out, cmd)
            continue
        if error is None and cmd.lock != LOCK_NONE:
            return _hand_over(item, index, conn, out)
        if error is None and cmd.name == "shutdown" and not _nosave(argv):
            # shutdownCommand: while a script is busy only SHUTDOWN NOSAVE may proceed.
            encode_into(out, ErrorReply(run.busy_error), conn.resp)
            continue
        execute(ctx, conn, argv, out)   # a lookup/arity/auth error, or a lock-free allow-busy command
        if conn.close_after_reply:
            conn.io.deliver(conn, bytes(out), "close")
            return None
    action = None
    if item.error is not None:
        encode_into(out, ErrorReply("ERR " + item.error), conn.resp)
        action = "close"
    conn.io.deliver(conn, bytes(out), action)
    return None


def _hand_over(item, index: int, conn, out: bytearray):
    """Send the replies so far (the connection stays busy) and queue the rest."""
    if index == 0:
        return item
    conn.io.deliver(conn, bytes(out), "more")
    item.commands = item.commands[index:]
    return item


def _nosave(argv: list) -> bool:
    return any(arg.lower() == b"nosave" for arg in argv[1:])


def hand_off_batch(ctx, caller) -> None:
    """A script just went busy: the WorkItems queued behind it in this worker's
    batch go back to the queue, so other workers answer them (BUSY) now rather
    than after the script."""
    batch = getattr(ctx, "batch", None)
    workers = ctx.server.workers
    if not batch or workers is None:
        return
    replies = getattr(ctx, "batch_replies", None)
    if replies:
        # Replies of the items that ran before the script leave now, not after it.
        for io, ready in replies.items():
            io.deliver_many(ready)
        replies.clear()
    for index, item in enumerate(batch):
        if item.conn is caller:
            rest = batch[index + 1:]
            if rest:
                del batch[index + 1:]
                workers.queue.put(rest)
            return
