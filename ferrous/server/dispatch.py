"""processCommand: lookup → arity → auth → MULTI queueing → ACL → read-only replica
→ OOM → lock → call → propagate, in Redis's order (DESIGN.md §3)."""
from __future__ import annotations

import logging
import time

from ferrous import errors
from ferrous.commands.registry import LOCK_ALL, LOCK_KEYS, LOCK_NONE, TABLE
from ferrous.errors import CommandError
from ferrous.protocol import ErrorReply
from ferrous.protocol.encoder import _BULK_HEADERS, encode_into
from ferrous.server import acl, eviction, propagate

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
    if _lean_execute(ctx, conn, argv, out):     # the common case, decided at once
        return
    cmd, error = resolve(argv)
    conn.last_interaction = _time()  # CLIENT LIST idle=
    if error is not None:
        conn.last_command = _rejected_command_name(argv)
        if conn.multi is not None:
            conn.multi_error = True
        _reply_error(ctx, conn, error.message, out, rejected=getattr(error, "command", None))
        return
    conn.last_command = cmd.name  # CLIENT LIST cmd=
    ctx.argv = argv     # what a rejection shows (execCommandAbort feeds MONITOR)
    if not conn.authenticated and not cmd.no_auth:
        _reply_error(ctx, conn, errors.NOAUTH, out, rejected=cmd)
        return
    if not conn.acl_user.unrestricted:  # ACL check (ferrous/server/acl.py); flags MULTI
        denied = acl.deny(ctx, conn, cmd, argv)
        if denied is not None:
            if conn.multi is not None:
                conn.multi_error = True
            _reply_error(ctx, conn, denied, out, rejected=cmd)
            return
    ctx.conn = conn     # server.current_client, for what evictions invalidate
    if ctx.server.config.maxmemory and eviction.rejects(ctx, conn, cmd):
        _reply_error(ctx, conn, eviction.oom_rejection(ctx, conn, cmd), out, rejected=cmd)
        return
    tracking = ctx.server.tracking
    if tracking.clients:    # CLIENT TRACKING: table limit, invalidations before the reply
        tracking.before_command(ctx, conn, cmd, out)
    checked = cmd   # EXEC is checked with its queued commands' flags (mstate.cmd_flags)
    if conn.multi and cmd.name == "exec":
        checked = ctx.server.exec_checked_as(conn, cmd)
    disk_check = ctx.server.disk_error_check    # MISCONF after a failed save (persistence/saving.py)
    if disk_check is not None and (checked.is_write or cmd.name == "ping") and disk_check() is not None:
        if conn.multi is not None:
            conn.multi_error = True
        _reply_error(ctx, conn, disk_check(), out, rejected=cmd)
        return
    repl_check = ctx.server.replication_check  # NOREPLICAS, READONLY, MASTERDOWN (replication/)
    if repl_check is not None and not conn.is_master:
        refused = repl_check(checked)
        if refused is not None:
            if conn.multi is not None:
                conn.multi_error = True
            _reply_error(ctx, conn, refused, out, rejected=cmd)
            return
    if conn.subscribed and conn.resp == 2 and cmd.name not in SUBSCRIBED_MODE_COMMANDS:
        # A RESP2 subscriber can only read pushes (pubsub.c): most commands are refused.
        if conn.multi is not None:
            conn.multi_error = True
        _reply_error(ctx, conn, errors.PUBSUB_CONTEXT % cmd.name, out, rejected=cmd)
        return
    busy = ctx.server.busy_script   # a script past busy-reply-threshold (scripting/runner.py)
    if busy is not None and busy.refuses(cmd):
        if conn.multi is not None:
            conn.multi_error = True
        _reply_error(ctx, conn, busy.busy_error, out, rejected=cmd)
        return
    watch = ctx.server.watch
    if watch.gated and watch.gate(ctx, conn, cmd, argv, out):  # CLIENT PAUSE, MONITOR clients
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
            if cmd.is_readonly and ctx.server.tracking.clients:    # under the keys' locks
                ctx.server.tracking.remember(ctx, conn, cmd, argv)
            if locks is not None:
                write = cmd.is_write
                for lock in locks:
                    lock.release_write() if write else lock.release_read()
            elif mode == LOCK_ALL:
                keyspace.unlock_all()
    except CommandError as exc:
        _count(ctx, cmd, start, failed=True, conn=conn, argv=argv)
        # A script's error that its inner command already counted is not counted twice.
        _reply_error(ctx, conn, exc.message, out, rejected=None, note=not getattr(exc, "counted", False))
    except Exception:
        log.exception("command %s raised", cmd.name)
        _count(ctx, cmd, start, failed=True, conn=conn, argv=argv)
        _reply_error(ctx, conn, "ERR internal error while running '%s'" % cmd.name, out, rejected=None)
    else:
        _count(ctx, cmd, start, failed=False, conn=conn, argv=argv)
        if conn.reply_mode != "on":
            if conn.reply_mode == "skip":
                conn.reply_mode = "on"
            elif conn.reply_mode == "skip_next":  # CLIENT REPLY SKIP silences the next command
                conn.reply_mode = "skip"
        else:
            if type(reply) is ErrorReply:
                _note_error(ctx, reply.text)
            encode_into(out, reply, conn.resp)
    if ctx.monitor_echo is not None:    # a MONITOR client's own command: after its reply
        out += ctx.monitor_echo
        ctx.monitor_echo = None


# -- the lean path -----------------------------------------------------------
# A single-key command from a plain client while no server-wide check is armed
# skips straight to lock -> handler -> count -> encode, with the same effects as
# execute() -> call() in that case. Commands are cached by their name exactly as
# received (b"GET", b"get"); False marks a name that always takes the full path.
_LEAN_COMMANDS: dict = {}


def _lean_command(name: bytes):
    cmd = TABLE.get(name.lower()) if type(name) is bytes else None
    if (cmd is None or cmd.subcommands or cmd.handler is None or cmd.lock != LOCK_KEYS
            or cmd.getkeys is not None or cmd.first_key <= 0 or cmd.first_key != cmd.last_key):
        cmd = False
    if len(_LEAN_COMMANDS) < 4096:
        _LEAN_COMMANDS[name] = cmd
    return cmd


def _lean_execute(ctx, conn, argv: list, out: bytearray) -> bool:
    """Run argv on the lean path and return True, or return False having done nothing.

    Every call here costs on each command of every benchmark, so the server-wide
    checks of execute(), _count and the encoder's commonest cases are written out
    inline; their effects are the same as execute() -> call() in this case.
    """
    cmd = _LEAN_COMMANDS.get(argv[0])
    if cmd is None:
        cmd = _lean_command(argv[0])
    if not cmd:
        return False
    arity = cmd.arity
    n = len(argv)
    if ((arity > 0 and n != arity) or n < -arity or n <= cmd.first_key
            or not conn.authenticated or conn.multi is not None or conn.subscribed
            or conn.reply_mode != "on" or not conn.acl_user.unrestricted
            or conn.tracking is not None):
        return False
    server = ctx.server
    if (server.config.maxmemory or server.disk_error_check is not None
            or server.replication_check is not None or server.busy_script is not None
            or server.watch.gated):
        return False
    keyspace = ctx.keyspace
    lock = keyspace.locks[hash(argv[cmd.first_key]) & keyspace.mask]
    write = cmd.is_write
    lock.acquire_write() if write else lock.acquire_read()
    if ctx.propagation_depth or server.propagator.active:
        # Read under the lock, as call() does: the full path opens the propagate scope.
        lock.release_write() if write else lock.release_read()
        return False
    # CLIENT LIST idle= counts from the read that brought the command (io_thread),
    # as Redis's lastinteraction does.
    conn.last_command = cmd.name
    ctx.conn = conn
    ctx.out = out
    ctx.db = keyspace.dbs[conn.db]
    ctx.command = cmd
    ctx.argv = argv
    start = _perf()
    try:
        try:
            reply = cmd.handler(ctx, argv)
        finally:
            lock.release_write() if write else lock.release_read()
    except CommandError as exc:
        _count(ctx, cmd, start, True, conn, argv)
        _reply_error(ctx, conn, exc.message, out, rejected=None)
        return True
    except Exception:
        log.exception("command %s raised", cmd.name)
        _count(ctx, cmd, start, True, conn, argv)
        _reply_error(ctx, conn, "ERR internal error while running '%s'" % cmd.name, out, rejected=None)
        return True
    # _count(ctx, cmd, start, False, conn, argv), inline
    elapsed = _perf() - start
    stats = ctx.command_stats.get(cmd.name)
    if stats is None:
        from ferrous.server.context import CommandStats
        stats = ctx.command_stats[cmd.name] = CommandStats()
    usec = elapsed // 1000
    stats.calls += 1
    stats.usec += usec
    ctx.commands_processed += 1
    watch = server.watch
    if watch.track_latency:
        histogram = stats.histogram
        histogram[usec] = histogram.get(usec, 0) + 1
    if elapsed >= watch.slow_ns or watch.monitors:
        watch.after_call(ctx, conn, cmd, argv, elapsed)
    # encode_into(out, reply, conn.resp) for its two commonest replies, inline
    t = type(reply)
    if t is bytes:
        size = len(reply)
        out += _BULK_HEADERS[size] if size <= 1024 else b"$%d\r\n" % size
        out += reply
        out += b"\r\n"
    elif t is str and reply == "OK":
        out += b"+OK\r\n"
    else:
        if t is ErrorReply:
            _note_error(ctx, reply.text)
        encode_into(out, reply, conn.resp)
    return True


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


def _count(ctx, cmd, start: int, failed: bool, conn=None, argv=None) -> None:
    stats = ctx.command_stats.get(cmd.name)
    if stats is None:
        from ferrous.server.context import CommandStats
        stats = ctx.command_stats[cmd.name] = CommandStats()
    elapsed = _perf() - start
    usec = elapsed // 1000
    stats.calls += 1
    stats.usec += usec
    if failed:
        stats.failed_calls += 1
    ctx.commands_processed += 1
    watch = ctx.server.watch    # server/introspection.py: latency histogram, slow log, MONITOR
    if watch.track_latency:     # calls per whole usec, as Redis records them (INFO latencystats)
        histogram = stats.histogram
        histogram[usec] = histogram.get(usec, 0) + 1
    if elapsed >= watch.slow_ns or watch.monitors:
        watch.after_call(ctx, conn, cmd, argv, elapsed)   # ctx.argv may be an inner command's


def _note_error(ctx, text: str) -> None:
    code = text.split(" ", 1)[0]
    ctx.error_stats[code] = ctx.error_stats.get(code, 0) + 1
    ctx.total_error_replies += 1


def _reply_error(ctx, conn, text: str, out: bytearray, rejected, note: bool = True) -> None:
    if rejected is not None and rejected.name == "exec" and conn.multi is not None:
        text = ctx.server.exec_abort(ctx, conn, text)   # execCommandAbort (commands/transactions.py)
    if note:
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
