"""The pub/sub subscription registry (Redis's server.pubsub_channels / pubsub_patterns
/ pubsub_shard_channels) and message delivery.

Delivery never waits for a subscriber: a message is encoded once per protocol and
appended to the subscriber's I/O thread response queue (`deliver_many(..., "more")`),
which enforces the pubsub output buffer limit. The registry's lock is held while
delivering so that every subscriber sees messages in one global order; it is never
held while taking shard locks (callers may hold shard locks when taking it).
"""
from __future__ import annotations

import threading

from ferrous.protocol import Push
from ferrous.protocol.encoder import encode_into
from ferrous.storage.glob import glob_match

CHANNELS, PATTERNS, SHARD = "pubsub_channels", "pubsub_patterns", "pubsub_shard_channels"


def registry_of(server) -> "PubSubRegistry":
    return server.pubsub


def install(server) -> None:
    server.pubsub = PubSubRegistry()
    server.pubsub_counts = server.pubsub.totals      # INFO stats pubsub_channels ...
    previous = getattr(server, "on_client_gone", None)

    def on_client_gone(conn):
        server.pubsub.drop_client(conn)
        if previous is not None:
            previous(conn)

    server.on_client_gone = on_client_gone


def encode(items: list, resp: int) -> bytes:
    out = bytearray()
    encode_into(out, Push(items), resp)
    return bytes(out)


def subscription_count(conn) -> int:
    """clientSubscriptionsCount: channels + patterns (shard channels count apart)."""
    return len(getattr(conn, CHANNELS, None) or ()) + len(getattr(conn, PATTERNS, None) or ())


def shard_count(conn) -> int:
    return len(getattr(conn, SHARD, None) or ())


def _update_mode(conn) -> None:
    # Redis's CLIENT_PUBSUB flag: set while any subscription of any kind exists.
    conn.subscribed = bool(subscription_count(conn) or shard_count(conn))


class PubSubRegistry:
    def __init__(self):
        self.lock = threading.Lock()
        # name -> {conn: None} (insertion ordered: delivery follows subscription order)
        self.tables = {CHANNELS: {}, PATTERNS: {}, SHARD: {}}

    # -- subscriptions (the caller holds self.lock) ---------------------------------
    def add(self, kind: str, conn, name: bytes) -> bool:
        """Subscribe conn to name; False if it already was."""
        mine = getattr(conn, kind, None)
        if mine is None:
            mine = {}
            setattr(conn, kind, mine)
        if name in mine:
            return False
        mine[name] = None
        if not conn.closed:     # closed before drop_client ran: never enter the tables
            self.tables[kind].setdefault(name, {})[conn] = None
        conn.subscribed = True
        return True

    def remove(self, kind: str, conn, name: bytes) -> bool:
        mine = getattr(conn, kind, None)
        if not mine or name not in mine:
            return False
        del mine[name]
        table = self.tables[kind]
        members = table.get(name)
        if members is not None:
            members.pop(conn, None)
            if not members:
                del table[name]
        _update_mode(conn)
        return True

    def drop_client(self, conn) -> None:
        """Forget every subscription of conn (disconnect, RESET)."""
        with self.lock:
            for kind in (CHANNELS, PATTERNS, SHARD):
                for name in list(getattr(conn, kind, None) or ()):
                    self.remove(kind, conn, name)
        conn.subscribed = False

    # -- publishing -------------------------------------------------------------------
    def publish(self, channel: bytes, message: bytes, shard: bool = False) -> int:
        """Send message to channel's subscribers and matching patterns; receivers."""
        batches: dict = {}      # io thread -> [(conn, data, "more")]
        encoded: dict = {}
        receivers = 0
        with self.lock:
            kind = b"smessage" if shard else b"message"
            members = self.tables[SHARD if shard else CHANNELS].get(channel)
            if members:
                for conn in members:
                    self._queue(batches, encoded, conn, (kind, channel, message))
                receivers += len(members)
            if not shard:
                for pattern, members in self.tables[PATTERNS].items():
                    if glob_match(pattern, channel):
                        for conn in members:
                            self._queue(batches, {}, conn, (b"pmessage", pattern, channel, message))
                        receivers += len(members)
            for io, replies in batches.items():
                io.deliver_many(replies)
        return receivers

    @staticmethod
    def _queue(batches: dict, encoded: dict, conn, items: tuple) -> None:
        if conn.closed:
            return
        data = encoded.get(conn.resp)
        if data is None:
            data = encoded[conn.resp] = encode(list(items), conn.resp)
        batches.setdefault(conn.io, []).append((conn, data, "more"))

    # -- introspection (PUBSUB) ---------------------------------------------------------
    def names(self, kind: str, pattern: bytes | None) -> list:
        with self.lock:
            names = list(self.tables[kind])
        return [n for n in names if pattern is None or glob_match(pattern, n)]

    def counts(self, kind: str, names: list) -> list:
        with self.lock:
            table = self.tables[kind]
            return [len(table.get(n, ())) for n in names]

    def totals(self) -> tuple[int, int, int]:
        """Channels, patterns and shard channels with at least one subscriber."""
        with self.lock:
            return tuple(len(self.tables[kind]) for kind in (CHANNELS, PATTERNS, SHARD))

    def pattern_count(self) -> int:
        with self.lock:
            return len(self.tables[PATTERNS])
