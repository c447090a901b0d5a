"""ACL and its sub-commands (acl.c aclCommand). The rules live in ferrous/acl.py,
the server side (AUTH, dispatch check, disconnections) in ferrous/server/acl.py."""
from __future__ import annotations

import os
import time

from ferrous import errors
from ferrous.acl import (DENIED_CMD, DENIED_KEY, OK, REASONS, RuleError,
                         check_user, commands_in_category, save_acl_file)
from ferrous.commands.args import parse_int
from ferrous.commands.registry import CATEGORY_ORDER, container, command
from ferrous.errors import CommandError
from ferrous.protocol import RespSet
from ferrous.server import acl as server_acl

ADMIN = "admin noscript loading stale"
container("acl", arity=-2, group="server")


def _acl(ctx):
    return ctx.server.acl


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


@command("acl|setuser", arity=-3, flags=ADMIN)
def acl_setuser(ctx, argv):
    name = argv[2]
    if b" " in name or b"\0" in name:
        raise CommandError(errors.ACL_USERNAME_SPACES)
    try:
        user, narrowed = _acl(ctx).set_user(_text(name), argv[3:])
    except RuleError as exc:
        text = exc.text if exc.text.startswith("ERR ") else "ERR " + exc.text
        raise CommandError(text.replace("\r", " ").replace("\n", " ")) from None
    if narrowed:
        server_acl.kill_lost_subscribers(ctx, user)
    return "OK"


@command("acl|getuser", arity=3, flags=ADMIN)
def acl_getuser(ctx, argv):
    acl = _acl(ctx)
    with acl.lock:
        user = acl.get(_text(argv[2]))
        if user is None:
            return None
        root = user.root
        reply = {b"flags": RespSet([f.encode() for f in user.flags()]),
                 b"passwords": [h.encode() for h in user.passwords]}
        reply.update(_selector_fields(root))
        reply[b"selectors"] = [_selector_fields(s) for s in user.selectors[1:]]
    return reply


def _selector_fields(selector) -> dict:
    from ferrous.acl import describe_commands
    return {b"commands": describe_commands(selector).encode(),
            b"keys": selector.describe_keys().encode("utf-8", "surrogateescape"),
            b"channels": selector.describe_channels(False).encode("utf-8", "surrogateescape")}


@command("acl|deluser", arity=-3, flags=ADMIN)
def acl_deluser(ctx, argv):
    names = [_text(a) for a in argv[2:]]
    if "default" in names:
        raise CommandError(errors.ACL_DELETE_DEFAULT)
    acl, deleted = _acl(ctx), []
    with acl.lock:
        for name in names:
            user = acl.users.pop(name, None)
            if user is not None:
                deleted.append(user)
    for user in deleted:
        server_acl.kill_user_clients(ctx, user)
    return len(deleted)


@command("acl|list", arity=2, flags=ADMIN)
def acl_list(ctx, argv):
    acl = _acl(ctx)
    with acl.lock:
        return [f"user {name} {acl.users[name].describe()}".encode("utf-8", "surrogateescape")
                for name in acl.names()]


@command("acl|users", arity=2, flags=ADMIN)
def acl_users(ctx, argv):
    acl = _acl(ctx)
    with acl.lock:
        return [name.encode("utf-8", "surrogateescape") for name in acl.names()]


@command("acl|whoami", arity=2, flags="noscript loading stale")
def acl_whoami(ctx, argv):
    return ctx.conn.user.encode("utf-8", "surrogateescape")


@command("acl|cat", arity=-2, flags="noscript loading stale")
def acl_cat(ctx, argv):
    if len(argv) > 3:
        raise CommandError(errors.SUBCOMMAND_SYNTAX % (_text(argv[1]), "ACL"))
    if len(argv) == 2:
        return [c.encode() for c in CATEGORY_ORDER]
    category = _text(argv[2]).lower()
    if category not in CATEGORY_ORDER:
        raise CommandError(errors.ACL_UNKNOWN_CATEGORY % _text(argv[2]))
    return [cmd.name.encode() for cmd in commands_in_category(category)]


@command("acl|genpass", arity=-2, flags="noscript loading stale")
def acl_genpass(ctx, argv):
    if len(argv) > 3:
        raise CommandError(errors.SUBCOMMAND_SYNTAX % (_text(argv[1]), "ACL"))
    bits = parse_int(argv[2]) if len(argv) == 3 else 256
    if bits <= 0 or bits > 4096:
        raise CommandError(errors.ACL_GENPASS_BITS)
    chars = (bits + 3) // 4
    return os.urandom((chars + 1) // 2).hex()[:chars].encode()


@command("acl|log", arity=-2, flags=ADMIN)
def acl_log(ctx, argv):
    acl = _acl(ctx)
    count = 10
    if len(argv) > 3:
        raise CommandError(errors.SUBCOMMAND_SYNTAX % (_text(argv[1]), "ACL"))
    if len(argv) == 3:
        if argv[2].lower() == b"reset":
            with acl.lock:
                acl.log.clear()
            return "OK"
        count = max(0, parse_int(argv[2]))
    now = int(time.time() * 1000)
    with acl.lock:
        return [_log_entry(entry, now) for entry in acl.log[:count]]


def _log_entry(entry, now: int) -> dict:
    return {
        b"count": entry.count,
        b"reason": REASONS[entry.reason].encode(),
        b"context": entry.context.encode(),
        b"object": entry.object.encode("utf-8", "surrogateescape"),
        b"username": entry.username.encode("utf-8", "surrogateescape"),
        b"age-seconds": (now - entry.ctime) / 1000.0,
        b"client-info": entry.cinfo.encode("utf-8", "surrogateescape"),
    }


@command("acl|dryrun", arity=-4, flags=ADMIN)
def acl_dryrun(ctx, argv):
    user = _acl(ctx).get(_text(argv[2]))
    if user is None:
        raise CommandError(errors.ACL_DRYRUN_NO_USER % _text(argv[2]))
    args = argv[3:]
    cmd = _dryrun_command(args)
    if cmd is None:
        raise CommandError(errors.ACL_DRYRUN_NO_COMMAND % _text(argv[3]))
    if (cmd.arity > 0 and cmd.arity != len(args)) or len(args) < -cmd.arity:
        raise errors.wrong_arity(cmd.name)
    result, pos = check_user(user, cmd, args)
    if result == OK:
        return "OK"
    if result == DENIED_CMD:
        return (errors.ACL_DRYRUN_COMMAND % cmd.name).encode()
    template = errors.ACL_DRYRUN_KEY if result == DENIED_KEY else errors.ACL_DRYRUN_CHANNEL
    return (template % _text(args[pos])).encode("utf-8", "surrogateescape")


def _dryrun_command(args: list):
    """lookupCommand: a container alone, or its sub-command (None when unknown)."""
    from ferrous.commands.registry import TABLE
    cmd = TABLE.get(args[0].lower())
    if cmd is None or len(args) == 1 or not cmd.subcommands:
        return cmd
    return cmd.subcommands.get(args[1].lower())


@command("acl|load", arity=2, flags=ADMIN)
def acl_load(ctx, argv):
    if not ctx.server.config.aclfile:
        raise CommandError(errors.ACL_NO_FILE)
    try:
        server_acl.load_acl_file(ctx)
    except RuleError as exc:
        raise CommandError("ERR " + exc.text) from None
    return "OK"


@command("acl|save", arity=2, flags=ADMIN)
def acl_save(ctx, argv):
    path = ctx.server.config.aclfile
    if not path:
        raise CommandError(errors.ACL_NO_FILE)
    try:
        save_acl_file(_acl(ctx), os.path.join(ctx.server.config.dir, path))   # relative: in `dir`
    except OSError:
        raise CommandError(errors.ACL_SAVE_FAILED) from None
    return "OK"


_HELP = [
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
]


@command("acl|help", arity=2, flags="loading stale")
def acl_help(ctx, argv):
    from ferrous.commands.server import help_reply
    return help_reply("ACL", _HELP)

