"""String group (t_string.c)."""
from __future__ import annotations

from ferrous import errors
from ferrous.commands.registry import command
from ferrous.errors import CommandError


def _get_string(ctx, key):
    value = ctx.read(key)
    if value is None or type(value) is bytes:
        return value
    raise CommandError(errors.WRONGTYPE)


@command("get", arity=2, flags="readonly fast", keys=(1, 1, 1), group="string")
def get(ctx, argv):
    return _get_string(ctx, argv[1])


@command("set", arity=-3, flags="write denyoom", keys=(1, 1, 1), group="string")
def set_(ctx, argv):
    ctx.db.set(argv[1], argv[2])
    ctx.dirty += 1
    return "OK"
