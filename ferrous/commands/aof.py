"""BGREWRITEAOF (aof.c's bgrewriteaofCommand); the AOF itself is persistence/aof.py."""
from __future__ import annotations

from ferrous import errors
from ferrous.commands.registry import command
from ferrous.errors import CommandError
from ferrous.persistence.aof import bgsave_in_progress


@command("bgrewriteaof", arity=1, flags="admin noscript no_async_loading", group="server")
def bgrewriteaof(ctx, argv):
    aof = ctx.server.aof
    if aof.rewrite_in_progress:
        raise CommandError(errors.AOF_REWRITE_IN_PROGRESS)
    if ctx.conn.multi is not None or bgsave_in_progress(ctx.server):
        # Inside EXEC (or while a BGSAVE runs) the rewrite waits for serverCron.
        aof.rewrite_scheduled = True
        return "Background append only file rewriting scheduled"
    if not aof.rewrite_background():
        raise CommandError(errors.AOF_REWRITE_IN_PROGRESS)
    return "Background append only file rewriting started"
