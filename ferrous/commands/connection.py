"""Connection group: PING, ECHO, QUIT, SELECT, HELLO, AUTH, RESET, CLIENT ..."""
from __future__ import annotations

from ferrous import REDIS_VERSION, errors
from ferrous.commands.args import parse_int
from ferrous.commands.registry import command
from ferrous.errors import CommandError
from ferrous.protocol import Push


@command("ping", arity=-1, flags="fast sentinel", group="connection")
def ping(ctx, argv):
    if len(argv) > 2:
        raise errors.wrong_arity("ping")
    if ctx.conn.subscriptions_count() if hasattr(ctx.conn, "subscriptions_count") else False:
        return Push([b"pong", argv[1] if len(argv) > 1 else b""])
    return argv[1] if len(argv) > 1 else "PONG"


@command("echo", arity=2, flags="fast", group="connection")
def echo(ctx, argv):
    return argv[1]


@command("quit", arity=-1, flags="noscript loading stale fast no_auth allow_busy", group="connection")
def quit_(ctx, argv):
    ctx.conn.close_after_reply = True
    return "OK"


@command("select", arity=2, flags="loading stale fast", group="connection")
def select(ctx, argv):
    index = parse_int(argv[1], errors.NOT_INTEGER)
    if index < 0 or index >= len(ctx.keyspace.dbs):
        raise CommandError(errors.INVALID_DB_INDEX)
    ctx.conn.db = index
    return "OK"


@command("hello", arity=-1, flags="noscript loading stale fast no_auth sentinel allow_busy", group="connection")
def hello(ctx, argv):
    conn = ctx.conn
    version = None
    if len(argv) >= 2:
        try:
            version = parse_int(argv[1])
        except CommandError:
            raise CommandError(errors.PROTOCOL_VERSION_NOT_INT) from None
        if version < 2 or version > 3:
            raise CommandError(errors.NOPROTO)
    i = 2
    name = None
    while i < len(argv):
        opt = argv[i].upper()
        more = len(argv) - i - 1
        if opt == b"AUTH" and more >= 2:
            _authenticate(ctx, argv[i + 1], argv[i + 2])
            i += 3
        elif opt == b"SETNAME" and more >= 1:
            name = argv[i + 1]
            _check_client_name(name)
            i += 2
        else:
            raise CommandError("ERR Syntax error in HELLO option '%s'" % argv[i].decode("utf-8", "surrogateescape"))
    if not conn.authenticated:
        raise CommandError("NOAUTH HELLO must be called with the client already authenticated, "
                           "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                           "authenticate the client and select the RESP protocol version at the same time")
    if name is not None:
        conn.name = name or None
    if version is not None:
        conn.resp = version
    return {
        b"server": b"redis",
        b"version": REDIS_VERSION.encode(),
        b"proto": conn.resp,
        b"id": conn.id,
        b"mode": b"standalone",
        b"role": b"replica" if getattr(ctx.server, "is_replica", False) else b"master",
        b"modules": [],
    }


def _check_client_name(name: bytes) -> None:
    if any(c < 0x21 or c > 0x7E for c in name):
        raise CommandError(errors.CLIENT_NAME_SPACES)


def _authenticate(ctx, user: bytes, password: bytes) -> None:
    checker = getattr(ctx.server, "check_credentials", None)
    if checker is not None:
        ok = checker(user, password)
    else:
        required = ctx.server.config.requirepass
        ok = user == b"default" and (not required or password == required.encode())
    if not ok:
        raise CommandError(errors.WRONGPASS)
    ctx.conn.authenticated = True
    ctx.conn.parser.auth_required = False
    ctx.conn.user = user.decode("utf-8", "surrogateescape")
