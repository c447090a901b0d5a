"""Connection group: PING, ECHO, QUIT, SELECT, AUTH, HELLO, RESET.

CLIENT and its sub-commands live in client.py.
"""
from __future__ import annotations

from ferrous import REDIS_VERSION, errors
from ferrous.commands.args import parse_int
from ferrous.commands.registry import command
from ferrous.errors import CommandError
from ferrous.server import acl as server_acl

INT_MIN, INT_MAX = -(2**31), 2**31 - 1

# Functions (ctx, conn) that drop per-client state owned by other groups when the
# client sends RESET: transactions (unwatch), pubsub (unsubscribe without messages),
# MONITOR, tracking. Each group appends its own with `on_reset`.
RESET_HOOKS: list = []


def on_reset(hook):
    """Decorator: call hook(ctx, conn) when a client sends RESET."""
    RESET_HOOKS.append(hook)
    return hook


def pubsub_counts(conn) -> tuple[int, int, int]:
    """Channels, patterns and shard channels conn is subscribed to.

    The pubsub group keeps them on the Connection under Redis's names; until it
    lands a connection has none.
    """
    return (len(getattr(conn, "pubsub_channels", None) or ()),
            len(getattr(conn, "pubsub_patterns", None) or ()),
            len(getattr(conn, "pubsub_shard_channels", None) or ()))


def is_subscribed(conn) -> bool:
    return any(pubsub_counts(conn))


def check_client_name(name: bytes, error: str = errors.CLIENT_NAME_SPACES) -> None:
    """Names are printable ASCII without spaces, so CLIENT LIST splits on spaces."""
    if any(c < 0x21 or c > 0x7E for c in name):
        raise CommandError(error)


@command("ping", arity=-1, flags="fast", group="connection")
def ping(ctx, argv):
    if len(argv) > 2:
        raise errors.wrong_arity("ping")
    message = argv[1] if len(argv) > 1 else None
    if ctx.conn.resp == 2 and is_subscribed(ctx.conn):
        # A RESP2 subscriber only reads arrays, so Redis answers ["pong", message].
        return [b"pong", b"" if message is None else message]
    return "PONG" if message is None else message


@command("echo", arity=2, flags="loading stale fast", group="connection")
def echo(ctx, argv):
    return argv[1]


@command("quit", arity=-1, flags="noscript loading stale fast no_auth allow_busy", group="connection")
def quit_(ctx, argv):
    ctx.conn.close_after_reply = True
    return "OK"


@command("select", arity=2, flags="loading stale fast", group="connection")
def select(ctx, argv):
    index = _parse_c_int(argv[1])
    if index < 0 or index >= len(ctx.keyspace.dbs):
        raise CommandError(errors.INVALID_DB_INDEX)
    ctx.conn.db = index
    return "OK"


def _parse_c_int(data: bytes) -> int:
    """getIntFromObjectOrReply: a long long first, then the range of a C int."""
    value = parse_int(data)
    if value < INT_MIN or value > INT_MAX:
        raise CommandError(errors.INT_OUT_OF_RANGE % (INT_MIN, INT_MAX))
    return value


@command("auth", arity=-2, flags="noscript loading stale fast no_auth allow_busy", group="connection")
def auth(ctx, argv):
    if len(argv) > 3:
        raise CommandError(errors.SYNTAX_ERR)
    if len(argv) == 2:
        # The one-argument form is an error while the default user needs no password.
        if ctx.server.acl.default.nopass:
            raise CommandError(errors.AUTH_NOT_CONFIGURED)
        user, password = b"default", argv[1]
    else:
        user, password = argv[1], argv[2]
    _authenticate(ctx, user, password)
    return "OK"


@command("hello", arity=-1, flags="noscript loading stale fast no_auth allow_busy", group="connection")
def hello(ctx, argv):
    conn = ctx.conn
    version = _hello_version(argv)
    credentials, name = _hello_options(argv)
    if credentials is not None:
        _authenticate(ctx, *credentials)
    if not conn.authenticated:
        raise CommandError(errors.HELLO_NOAUTH)
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


def _hello_version(argv: list) -> int | None:
    if len(argv) < 2:
        return None
    version = parse_int(argv[1], errors.PROTOCOL_VERSION_NOT_INT)
    if version < 2 or version > 3:
        raise CommandError(errors.NOPROTO)
    return version


def _hello_options(argv: list) -> tuple:
    """(user, password) or None, and the new name or None; nothing is applied yet."""
    credentials = name = None
    i = 2
    while i < len(argv):
        opt = argv[i].upper()
        more = len(argv) - i - 1
        if opt == b"AUTH" and more >= 2:
            credentials = (argv[i + 1], argv[i + 2])
            i += 3
        elif opt == b"SETNAME" and more >= 1:
            name = argv[i + 1]
            check_client_name(name)  # Redis checks the name while parsing, before AUTH
            i += 2
        else:
            raise CommandError(errors.HELLO_SYNTAX % argv[i].decode("utf-8", "surrogateescape"))
    return credentials, name


def _authenticate(ctx, user: bytes, password: bytes) -> None:
    """ACLAuthenticateUser: on success the client is that user; a failure changes nothing
    but the ACL LOG (ferrous/server/acl.py)."""
    if not server_acl.authenticate(ctx, ctx.conn, user, password):
        raise CommandError(errors.WRONGPASS)


@command("reset", arity=1, flags="noscript loading stale fast no_auth allow_busy", group="connection")
def reset(ctx, argv):
    conn = ctx.conn
    if "S" in conn.flags or "M" in conn.flags:
        raise CommandError(errors.RESET_NOT_NORMAL)
    for hook in RESET_HOOKS:
        hook(ctx, conn)
    _clear_connection_state(ctx, conn)
    return "RESET"


def _clear_connection_state(ctx, conn) -> None:
    """clearClientConnectionState: a client as if it had just connected (id, address,
    NO-EVICT and statistics stay)."""
    conn.db = 0
    conn.resp = 2
    conn.user = "default"
    conn.acl_user = ctx.server.acl.default
    conn.authenticated = not ctx.server.auth_required()
    conn.parser.auth_required = not conn.authenticated
    conn.multi = None
    conn.multi_error = False
    conn.watched = None
    conn.name = None
    conn.reply_mode = "on"   # so that +RESET itself is sent even after CLIENT REPLY OFF
    conn.flags.discard("r")  # READONLY (cluster)
