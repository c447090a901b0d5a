"""Keyspace notifications (notify.c): `__keyspace@<db>__:<key>` and
`__keyevent@<db>__:<event>` messages published through the pub/sub registry.

`notify()` is called by write commands after each change; with the default
`notify-keyspace-events ""` it costs one attribute check.
"""
from __future__ import annotations

from ferrous.config import (
    NOTIFY_EXPIRED, NOTIFY_GENERIC, NOTIFY_HASH, NOTIFY_KEY_MISS, NOTIFY_KEYEVENT,
    NOTIFY_KEYSPACE, NOTIFY_LIST, NOTIFY_NEW, NOTIFY_SET, NOTIFY_STRING, NOTIFY_ZSET,
    NOTIFY_EVICTED, NOTIFY_STREAM,
)

__all__ = [
    "notify", "notify_db", "NOTIFY_GENERIC", "NOTIFY_STRING", "NOTIFY_LIST", "NOTIFY_SET",
    "NOTIFY_HASH", "NOTIFY_ZSET", "NOTIFY_EXPIRED", "NOTIFY_EVICTED", "NOTIFY_STREAM",
    "NOTIFY_KEY_MISS", "NOTIFY_NEW",
]


def notify(ctx, class_flag: int, event: str, key: bytes) -> None:
    """notifyKeyspaceEvent for the command running in ctx (its selected database)."""
    flags = ctx.server.config.notify_keyspace_events
    if flags and flags & class_flag:
        _publish(ctx.server, flags, event, key, ctx.db.id)


def notify_db(server, class_flag: int, event: str, key: bytes, db_id: int) -> None:
    """notify() for callers without a Context (active expiry, MOVE's target db)."""
    flags = server.config.notify_keyspace_events
    if flags and flags & class_flag:
        _publish(server, flags, event, key, db_id)


def _publish(server, flags: int, event: str, key: bytes, db_id: int) -> None:
    registry = server.pubsub
    event_bytes = event.encode()
    if flags & NOTIFY_KEYSPACE:
        registry.publish(b"__keyspace@%d__:%s" % (db_id, key), event_bytes)
    if flags & NOTIFY_KEYEVENT:
        registry.publish(b"__keyevent@%d__:%s" % (db_id, event_bytes), key)


def install(server) -> None:
    """Publish `expired` for keys removed by lazy or active expiry."""
    previous = server.keyspace.events.on_expired

    def on_expired(db, key):
        if previous is not None:
            previous(db, key)
        notify_db(server, NOTIFY_EXPIRED, "expired", key, db.id)

    server.keyspace.events.on_expired = on_expired

    # The "new" event (class n) needs a check in every Database.set: the hook is only
    # installed while the class is enabled.
    def on_added(db, key):
        notify_db(server, NOTIFY_NEW, "new", key, db.id)

    def on_flags_changed(flags):
        server.keyspace.events.on_added = on_added if flags & NOTIFY_NEW else None

    on_flags_changed(server.config.notify_keyspace_events)
    server.config.on_change("notify-keyspace-events", on_flags_changed)


def store_event(ctx) -> str:
    """The event of a *STORE command: its name (zunionstore, geosearchstore...), except
    GEORADIUS[BYMEMBER] ... STORE, which Redis reports as georadiusstore."""
    name = ctx.command.name
    return "georadiusstore" if name.startswith("georadius") else name
