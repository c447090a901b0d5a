"""The server side of access control: start-up users, the dispatch check, AUTH,
protected mode, rename-command, and disconnecting clients that lose access.

The rules themselves live in ferrous/acl.py.
"""
from __future__ import annotations

import ipaddress
import logging
import time

from ferrous import errors
from ferrous.acl import (DENIED_AUTH, DENIED_CHANNEL, DENIED_CMD, DENIED_KEY, OK, Acl,
                         RuleError, channels_all_allowed, check_user, default_user,
                         merge_selector_args, parse_acl_file)
from ferrous import acl as acl_core
from ferrous.commands import registry
from ferrous.config import ConfigError

log = logging.getLogger("ferrous.acl")

_NOPERM = {DENIED_KEY: errors.NOPERM_KEY, DENIED_CHANNEL: errors.NOPERM_CHANNEL}


def install(server) -> None:
    """ACLInit + ACLLoadUsersAtStartup: the default user (with requirepass), `user`
    directives of the config file, then the aclfile. Errors stop the server like Redis."""
    config = server.config
    acl = server.acl = Acl(config)
    server.acl_users = acl.users        # CLIENT KILL USER checks names here
    server.acl_rewrite_lines = lambda: rewrite_lines(server)
    config.on_change("requirepass", acl.apply_requirepass)
    if config.aclfile and config.acl_users:
        _fatal("Configuring Redis with users defined in redis.conf and at the same setting an ACL "
               "file path is invalid. This setup is very likely to lead to configuration errors "
               "and security holes, please define either an ACL file or declare users directly in "
               "your redis.conf, but not both.")
    _load_config_users(acl, config.acl_users)
    if config.aclfile:
        try:
            _swap_users(server, parse_acl_file(acl, config.aclfile, config.dir))
        except RuleError as exc:
            _fatal(f"Aborting Redis startup because of ACL errors: {exc.text}")


def _fatal(*lines: str) -> None:
    for line in lines:
        log.warning(line)
    raise SystemExit(1)


def _load_config_users(acl: Acl, lines: list) -> None:
    """ACLLoadConfiguredUsers: `user <name> <rules...>`; 'default' starts from reset."""
    for line in lines:
        name, rules = line[0], [r.encode("utf-8", "surrogateescape") for r in line[1:]]
        if " " in name or "\0" in name:
            _fatal("Spaces not allowed in ACL usernames", "Critical error while loading ACLs. Exiting.")
        try:
            rules = merge_selector_args(rules)
        except RuleError as exc:
            _fatal(exc.text[4:], "Critical error while loading ACLs. Exiting.")
        for rule in ([b"reset"] if name == "default" else []) + rules:
            try:
                acl.set_user(name, [rule])
            except RuleError as exc:
                reason = exc.text.rsplit("': ", 1)[-1]
                _fatal(f"Error loading ACL rule '{rule.decode('utf-8', 'surrogateescape')}' for the user "
                       f"named '{name}': {reason}", "Critical error while loading ACLs. Exiting.")


def rewrite_lines(server) -> list:
    """CONFIG REWRITE's `user` lines; none when users live in an aclfile."""
    if server.config.aclfile:
        return []
    acl = server.acl
    with acl.lock:
        return [f"user {name} {acl.users[name].describe()}" for name in acl.names()]


# -- ACL LOAD ------------------------------------------------------------------------
def load_acl_file(ctx) -> None:
    """ACL LOAD: replace every user at once (raises RuleError on any error)."""
    server = ctx.server
    config = server.config
    _swap_users(server, parse_acl_file(server.acl, config.aclfile, config.dir), ctx.conn)


def _swap_users(server, users: dict, me=None) -> None:
    acl = server.acl
    with acl.lock:
        old = dict(acl.users)
        new_default = users.pop("default", None) or default_user()
        acl.default.assign(new_default)        # connections keep the same default object
        for user in users.values():
            user.refresh()
        users["default"] = acl.default
        acl.users.clear()
        acl.users.update(users)                # same dict object: server.acl_users stays valid
    # ACLFreeUsersSet: every old user object is dropped and its clients disconnected,
    # even when a user of the same name was loaded again.
    dropped = {id(user) for name, user in old.items() if name != "default"}
    _kill_clients(server, me, lambda conn: id(conn.acl_user) in dropped)


# -- checks --------------------------------------------------------------------------
def deny(ctx, conn, cmd, argv: list) -> str | None:
    """ACLCheckAllPerm for dispatch: the NOPERM text (and an ACL LOG entry), or None."""
    result, pos = check_user(conn.acl_user, cmd, argv)
    if result == OK:
        return None
    obj = cmd.name if result == DENIED_CMD else argv[pos].decode("utf-8", "surrogateescape")
    ctx.argv = argv     # the CLIENT LIST line counts this command's arguments
    log_denial(ctx, conn, result, obj, conn.user)
    if result == DENIED_CMD:
        return errors.NOPERM_COMMAND % cmd.name
    return _NOPERM[result]


def exec_denied(ctx, conn, cmd, argv: list, out: bytearray) -> bool:
    """execCommand re-checks each queued command: the rules may have changed since
    it was queued. A refused command gets its NOPERM error in the EXEC array."""
    result, pos = check_user(conn.acl_user, cmd, argv)
    if result == OK:
        return False
    obj = cmd.name if result == DENIED_CMD else argv[pos].decode("utf-8", "surrogateescape")
    ctx.argv = argv
    log_denial(ctx, conn, result, obj, conn.user)
    from ferrous.server.dispatch import _reply_error
    _reply_error(ctx, conn, errors.NOPERM_EXEC % errors.NOPERM_EXEC_REASONS[result], out, rejected=None)
    return True


def script_denied(ctx, conn, cmd, argv: list) -> str | None:
    """scriptVerifyACL, for redis.call: the error text (logged with context 'lua') or None."""
    if conn.acl_user.unrestricted:
        return None
    result, pos = check_user(conn.acl_user, cmd, argv)
    if result == OK:
        return None
    obj = cmd.name if result == DENIED_CMD else argv[pos].decode("utf-8", "surrogateescape")
    saved, ctx.argv = ctx.argv, argv
    try:
        log_denial(ctx, conn, result, obj, conn.user, context="lua")
    finally:
        ctx.argv = saved
    return errors.NOPERM_SCRIPT % errors.NOPERM_SCRIPT_REASONS[result]


def log_denial(ctx, conn, result: int, obj: str, username: str, context: str | None = None) -> None:
    """addACLLogEntry: the client's CLIENT LIST line as it is right now."""
    from ferrous.commands.client import client_info
    if context is None:
        context = "multi" if conn.multi is not None else "toplevel"
    saved = ctx.conn
    ctx.conn = conn     # client_info counts the arguments of the context's own client
    try:
        info = client_info(ctx, conn, time.time())
    finally:
        ctx.conn = saved
    ctx.server.acl.add_log(result, context, obj, username, info)


def authenticate(ctx, conn, username: bytes, password: bytes) -> bool:
    """ACLAuthenticateUser: on success the client runs as that user; a failure is logged."""
    acl = ctx.server.acl
    name = username.decode("utf-8", "surrogateescape")
    user = acl.get(name)
    if user is not None and user.check_password(password):
        conn.acl_user = user
        conn.user = user.name
        conn.authenticated = True
        conn.parser.auth_required = False
        return True
    log_denial(ctx, conn, DENIED_AUTH, ctx.argv[0].decode("utf-8", "surrogateescape"), name)
    return False


# -- disconnecting clients ----------------------------------------------------------
def kill_lost_subscribers(ctx, user) -> None:
    """ACLKillPubsubClientsIfNeeded: subscribers of channels the user may no longer use."""
    _kill_clients(ctx.server, ctx.conn, lambda conn: conn.acl_user is user and conn.subscribed
                  and not channels_all_allowed(user, conn))


def kill_user_clients(ctx, user) -> None:
    """ACLFreeUserAndKillClients: a deleted user's clients are closed."""
    def owned(conn):
        if conn.acl_user is not user:
            return False
        conn.acl_user = ctx.server.acl.default
        conn.user = "default"
        conn.authenticated = False
        return True
    _kill_clients(ctx.server, ctx.conn, owned)


def _kill_clients(server, me, predicate) -> None:
    for conn in server.client_list():
        if conn.closed or not predicate(conn):
            continue
        if conn is me:
            conn.close_after_reply = True      # after this command's reply
            continue
        conn.kill_requested = True
        if conn.io is not None:
            conn.io.deliver(conn, b"", "kill")


# -- connections -----------------------------------------------------------------------
def protected_mode_denies(server, addr) -> bool:
    """clientAcceptHandler: protected mode refuses non-loopback clients while the
    default user has no password (explicit `bind` addresses do not matter in 7.0)."""
    if not server.config.protected_mode or not server.acl.default.nopass:
        return False
    return not is_loopback(addr)


def is_loopback(addr) -> bool:
    if not isinstance(addr, tuple) or not addr:
        return True                             # a unix socket
    host = addr[0]
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def rename_command(old: str, new: str) -> None:
    """rename-command in the config file; an empty new name removes the command."""
    registry.load_all()
    table = registry.TABLE
    key = old.lower().encode("utf-8", "surrogateescape")
    cmd = table.get(key)
    if cmd is None:
        raise ConfigError("No such command in rename-command")
    del table[key]
    acl_core.RENAMED[cmd.name] = cmd    # ACL rules keep using the original name
    if new:
        target = new.lower().encode("utf-8", "surrogateescape")
        if target in table:
            raise ConfigError("Target command name already exists")
        table[target] = cmd

