"""processCommand: lookup → arity → auth → MULTI queueing → ACL → read-only replica
→ OOM → lock → call → propagate, in Redis's order (DESIGN.md §3)."""
from __future__ import annotations

import logging
import time

from ferrous import errors
from ferrous.commands.registry import LOCK_ALL, LOCK_KEYS, LOCK_NONE, TABLE
from ferrous.errors import CommandError
from ferrous.protocol import ErrorReply
from ferrous.protocol.encoder import encode_into
from ferrous.server import propagate

log = logging.getLogger("ferrous.dispatch")

# The commands a RESP2 client may send while subscribed (processCommand).
SUBSCRIBED_MODE_COMMANDS = frozenset((
    "ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe",
    "punsubscribe", "quit", "reset"))

_perf = time.perf_counter_ns
_time = time.time


def resolve(argv: list):
    """(command, None) or (None, CommandError) for argv, sub-commands included."""
    cmd = TABLE.get(argv[0].lower())
    if cmd is None:
        return None, errors.unknown_command(argv)
    if cmd.subcommands and (len(argv) >= 2 or cmd.handler is None):
        # A container with a handler of its own also runs bare (COMMAND); others need a sub-command.
        if len(argv) < 2:
            return None, errors.wrong_arity(cmd.name)
        sub = cmd.subcommands.get(argv[1].lower())
        if sub is None:
            return None, errors.unknown_subcommand(argv[1], cmd.name)
        cmd = sub
    arity = cmd.arity
    n = len(argv)
    if (arity > 0 and n != arity) or n < -arity:
        error = errors.wrong_arity(cmd.name)
        error.command = cmd     # counted in its rejected_calls (INFO commandstats)
        return None, error
    return cmd, None


def execute(ctx, conn, argv: list, out: bytearray) -> None:
    """Run one command for conn and append its encoded reply to out."""
    cmd, error = resolve(argv)
    conn.last_interaction = _time()  # CLIENT LIST idle=
    if error is not None:
        conn.last_command = _rejected_command_name(argv)
        if conn.multi is not None:
            conn.multi_error = True
        _reply_error(ctx, conn, error.message, out, rejected=getattr(error, "command", None))
        return
    conn.last_command = cmd.name  # CLIENT LIST cmd=
    if not conn.authenticated and not cmd.no_auth:
        _reply_error(ctx, conn, errors.NOAUTH, out, rejected=cmd)
        return
    if conn.subscribed and conn.resp == 2 and cmd.name not in SUBSCRIBED_MODE_COMMANDS:
        # A RESP2 subscriber can only read pushes (pubsub.c): most commands are refused.
        if conn.multi is not None:
            conn.multi_error = True
        _reply_error(ctx, conn, errors.PUBSUB_CONTEXT % cmd.name, out, rejected=cmd)
        return
    queue_hook = ctx.server.multi_hook
    if conn.multi is not None and queue_hook is not None:
        handled = queue_hook(ctx, conn, cmd, argv, out)
        if handled:
            return
    call(ctx, conn, cmd, argv, out)


def call(ctx, conn, cmd, argv: list, out: bytearray, lock: bool = True) -> None:
    """Lock the command's shards, run it, encode its reply, count it. lock=False
    when the caller already holds the whole keyspace (EXEC)."""
    ctx.conn = conn
    ctx.out = out       # replies so far; SUBSCRIBE sends them ahead of its own
    ctx.db = ctx.keyspace.dbs[conn.db]
    ctx.command = cmd
    ctx.argv = argv
    locks = None
    mode = cmd.lock if lock else LOCK_NONE
    keyspace = ctx.keyspace
    start = _perf()
    try:
        if mode == LOCK_KEYS:
            locks = _lock_keys(keyspace, cmd, argv)
        elif mode == LOCK_ALL:
            keyspace.lock_all()
        scoped = ctx.propagation_depth or ctx.server.propagator.active
        succeeded = False
        try:
            if scoped:
                outer_scope = propagate.begin(ctx, argv)
            reply = cmd.handler(ctx, argv)
            succeeded = True
        finally:
            if scoped:  # emitted before the locks go: per-key order is execution order
                propagate.end(ctx, outer_scope, succeeded)
            if locks is not None:
                write = cmd.is_write
                for lock in locks:
                    lock.release_write() if write else lock.release_read()
            elif mode == LOCK_ALL:
                keyspace.unlock_all()
    except CommandError as exc:
        _count(ctx, cmd, start, failed=True)
        _reply_error(ctx, conn, exc.message, out, rejected=None)
        return
    except Exception:
        log.exception("command %s raised", cmd.name)
        _count(ctx, cmd, start, failed=True)
        _reply_error(ctx, conn, "ERR internal error while running '%s'" % cmd.name, out, rejected=None)
        return
    _count(ctx, cmd, start, failed=False)
    if conn.reply_mode != "on":
        if conn.reply_mode == "skip":
            conn.reply_mode = "on"
        elif conn.reply_mode == "skip_next":  # CLIENT REPLY SKIP silences the next command
            conn.reply_mode = "skip"
        return
    if type(reply) is ErrorReply:
        _note_error(ctx, reply.text)
    encode_into(out, reply, conn.resp)


def reject(ctx, conn, text: str, out: bytearray, cmd) -> None:
    """rejectCommand for hooks (MULTI queueing): an error reply counted as rejected."""
    _reply_error(ctx, conn, text, out, rejected=cmd)


def _rejected_command_name(argv: list) -> str:
    """Redis's lastcmd after a rejected command: the command if lookup found it, else NULL."""
    cmd = TABLE.get(argv[0].lower())
    if cmd is not None and cmd.subcommands and len(argv) >= 2:
        cmd = cmd.subcommands.get(argv[1].lower())
    return cmd.name if cmd is not None else "NULL"


def _lock_keys(keyspace, cmd, argv):
    if cmd.getkeys is None and cmd.first_key == cmd.last_key:
        if len(argv) <= cmd.first_key:
            return []
        lock = keyspace.locks[hash(argv[cmd.first_key]) & keyspace.mask]
        locks = (lock,)
    else:
        mask = keyspace.mask
        shards = sorted({hash(argv[i]) & mask for i in cmd.key_indexes(argv)})
        locks = [keyspace.locks[i] for i in shards]
    if cmd.is_write:
        for lock in locks:
            lock.acquire_write()
    else:
        for lock in locks:
            lock.acquire_read()
    return locks


def _count(ctx, cmd, start: int, failed: bool) -> None:
    stats = ctx.command_stats.get(cmd.name)
    if stats is None:
        from ferrous.server.context import CommandStats
        stats = ctx.command_stats[cmd.name] = CommandStats()
    stats.calls += 1
    stats.usec += (_perf() - start) // 1000
    if failed:
        stats.failed_calls += 1
    ctx.commands_processed += 1


def _note_error(ctx, text: str) -> None:
    code = text.split(" ", 1)[0]
    ctx.error_stats[code] = ctx.error_stats.get(code, 0) + 1
    ctx.total_error_replies += 1


def _reply_error(ctx, conn, text: str, out: bytearray, rejected) -> None:
    _note_error(ctx, text)
    if rejected is not None:
        stats = ctx.command_stats.get(rejected.name)
        if stats is None:
            from ferrous.server.context import CommandStats
            stats = ctx.command_stats[rejected.name] = CommandStats()
        stats.rejected_calls += 1
    if conn.reply_mode != "on":
        if conn.reply_mode == "skip":
            conn.reply_mode = "on"
        return
    encode_into(out, ErrorReply(text), conn.resp)
