"""Per-worker execution context handed to every command handler.

One Context per worker thread, reused for every command it runs: the handler
reads `ctx.conn`, `ctx.db`, `ctx.server`; counters live here so that workers never
write to shared statistics (INFO sums the contexts).
"""
from __future__ import annotations


class CommandStats:
    __slots__ = ("calls", "usec", "rejected_calls", "failed_calls")

    def __init__(self):
        self.calls = 0
        self.usec = 0
        self.rejected_calls = 0
        self.failed_calls = 0


class Context:
    def __init__(self, server):
        self.server = server
        self.keyspace = server.keyspace
        self.conn = None
        self.db = None
        self.command = None
        self.argv = None
        # Keys that writes made ready for blocked clients, served after the command
        # (server/blocking.py); an ordered set, empty unless someone is blocked.
        self.ready_keys: dict = {}
        # Counters private to this worker; INFO adds up every worker's.
        self.commands_processed = 0
        self.keyspace_hits = 0
        self.keyspace_misses = 0
        self.dirty = 0
        self.command_stats: dict = {}
        self.error_stats: dict = {}
        self.total_error_replies = 0

    def read(self, key: bytes):
        """lookupKeyRead: the live value or None, counting hits and misses."""
        value = self.db.lookup(key)
        if value is None:
            self.keyspace_misses += 1
        else:
            self.keyspace_hits += 1
        return value

    def select_db(self, index: int):
        return self.keyspace.dbs[index]
