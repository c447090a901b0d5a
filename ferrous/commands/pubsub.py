"""Pub/sub group: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB (pubsub.c).

Subscriptions live in the server's registry (server/pubsub.py) and on the
Connection (`pubsub_channels`, `pubsub_patterns`, `pubsub_shard_channels`).
Confirmations are Push values: `>` in RESP3, arrays in RESP2.
"""
from __future__ import annotations

from ferrous import errors
from ferrous.commands.connection import on_reset
from ferrous.commands.registry import LOCK_NONE, command, container
from ferrous.errors import CommandError
from ferrous.protocol import Push
from ferrous.protocol.encoder import encode_into
from ferrous.protocol.types import Raw
from ferrous.server.propagate import TO_REPLICAS
from ferrous.server.pubsub import CHANNELS, PATTERNS, SHARD, shard_count, subscription_count

_NO_REPLY = Raw(b"")

# kind -> (subscribe reply, unsubscribe reply, the count shown in confirmations)
_KINDS = {
    CHANNELS: (b"subscribe", b"unsubscribe", subscription_count),
    PATTERNS: (b"psubscribe", b"punsubscribe", subscription_count),
    SHARD: (b"ssubscribe", b"sunsubscribe", shard_count),
}


def _generic_subscribe(ctx, kind: str, names: list):
    conn = ctx.conn
    registry = ctx.server.pubsub
    reply_name, _, count = _KINDS[kind]
    out = bytearray()
    # Outside MULTI the confirmations go straight to the I/O thread while the
    # registry is locked, so they leave before any message published to these
    # channels afterwards (and after the replies already produced in this batch).
    with registry.lock:
        for name in names:
            registry.add(kind, conn, name)
            encode_into(out, Push([reply_name, name, count(conn)]), conn.resp)
        if conn.multi is None:
            return _push_now(ctx, conn, out)
    return Raw(bytes(out))


def _generic_unsubscribe(ctx, kind: str, names: list):
    conn = ctx.conn
    registry = ctx.server.pubsub
    _, reply_name, count = _KINDS[kind]
    out = bytearray()
    with registry.lock:
        if not names:
            names = list(getattr(conn, kind, None) or ())
            if not names:
                # Not subscribed to anything of this kind: one reply with a null name.
                encode_into(out, Push([reply_name, None, count(conn)]), conn.resp)
        for name in names:
            registry.remove(kind, conn, name)
            encode_into(out, Push([reply_name, name, count(conn)]), conn.resp)
    if conn.multi is None and conn.reply_mode != "on":
        return _push_now(ctx, conn, out)
    return Raw(bytes(out))


def _push_now(ctx, conn, out: bytearray):
    """Deliver confirmations now, with the replies already produced in this batch.
    They are pushes (CLIENT_PUSHING in pubsub.c): CLIENT REPLY OFF/SKIP never
    silences them, in RESP2 as in RESP3, so they bypass dispatch's reply gate."""
    pending = ctx.out
    conn.io.deliver(conn, bytes(pending) + bytes(out), "more")
    pending.clear()
    return _NO_REPLY


@command("subscribe", arity=-2, flags="pubsub noscript loading stale", group="pubsub")
def subscribe(ctx, argv):
    return _generic_subscribe(ctx, CHANNELS, argv[1:])


@command("psubscribe", arity=-2, flags="pubsub noscript loading stale", group="pubsub")
def psubscribe(ctx, argv):
    return _generic_subscribe(ctx, PATTERNS, argv[1:])


@command("ssubscribe", arity=-2, flags="pubsub noscript loading stale", keys=(1, -1, 1),
         group="pubsub", lock=LOCK_NONE)
def ssubscribe(ctx, argv):
    return _generic_subscribe(ctx, SHARD, argv[1:])


@command("unsubscribe", arity=-1, flags="pubsub noscript loading stale", group="pubsub")
def unsubscribe(ctx, argv):
    return _generic_unsubscribe(ctx, CHANNELS, argv[1:])


@command("punsubscribe", arity=-1, flags="pubsub noscript loading stale", group="pubsub")
def punsubscribe(ctx, argv):
    return _generic_unsubscribe(ctx, PATTERNS, argv[1:])


@command("sunsubscribe", arity=-1, flags="pubsub noscript loading stale", keys=(1, -1, 1),
         group="pubsub", lock=LOCK_NONE)
def sunsubscribe(ctx, argv):
    return _generic_unsubscribe(ctx, SHARD, argv[1:])


@command("publish", arity=3, flags="pubsub loading stale fast may_replicate", group="pubsub")
def publish(ctx, argv):
    _propagate_to_replicas(ctx, argv)
    return ctx.server.pubsub.publish(argv[1], argv[2])


@command("spublish", arity=3, flags="pubsub loading stale fast may_replicate", keys=(1, 1, 1), group="pubsub",
         lock=LOCK_NONE)
def spublish(ctx, argv):
    _propagate_to_replicas(ctx, argv)
    return ctx.server.pubsub.publish(argv[1], argv[2], shard=True)


def _propagate_to_replicas(ctx, argv) -> None:
    """forceCommandPropagation(c, PROPAGATE_REPL): replicas' subscribers hear it too,
    the AOF never gets it."""
    if ctx.propagating:
        ctx.also_propagate(list(argv), targets=TO_REPLICAS)


# -- PUBSUB ------------------------------------------------------------------------------
container("pubsub", arity=-2, group="pubsub")

_HELP = [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
]


@command("pubsub|help", arity=2, flags="loading stale", acl="-@pubsub")
def pubsub_help(ctx, argv):
    return list(_HELP)


def _optional_pattern(argv: list):
    if len(argv) > 3:
        name = argv[1].decode("utf-8", "surrogateescape")
        raise CommandError(errors.SUBCOMMAND_SYNTAX % (name, "PUBSUB"))
    return argv[2] if len(argv) == 3 else None


@command("pubsub|channels", arity=-2, flags="pubsub loading stale")
def pubsub_channels(ctx, argv):
    return ctx.server.pubsub.names(CHANNELS, _optional_pattern(argv))


@command("pubsub|shardchannels", arity=-2, flags="pubsub loading stale")
def pubsub_shardchannels(ctx, argv):
    return ctx.server.pubsub.names(SHARD, _optional_pattern(argv))


def _numsub(ctx, kind: str, names: list) -> list:
    reply = []
    for name, n in zip(names, ctx.server.pubsub.counts(kind, names)):
        reply += (name, n)
    return reply


@command("pubsub|numsub", arity=-2, flags="pubsub loading stale")
def pubsub_numsub(ctx, argv):
    return _numsub(ctx, CHANNELS, argv[2:])


@command("pubsub|shardnumsub", arity=-2, flags="pubsub loading stale")
def pubsub_shardnumsub(ctx, argv):
    return _numsub(ctx, SHARD, argv[2:])


@command("pubsub|numpat", arity=2, flags="pubsub loading stale")
def pubsub_numpat(ctx, argv):
    return ctx.server.pubsub.pattern_count()


@on_reset
def _reset_pubsub(ctx, conn) -> None:
    """RESET leaves every channel without sending unsubscribe messages."""
    ctx.server.pubsub.drop_client(conn)
