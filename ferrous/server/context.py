"""Per-worker execution context handed to every command handler.

One Context per worker thread, reused for every command it runs: the handler
reads `ctx.conn`, `ctx.db`, `ctx.server`; counters live here so that workers never
write to shared statistics (INFO sums the contexts).
"""
from __future__ import annotations

from ferrous.server.propagate import TO_ALL


class CommandStats:
    __slots__ = ("calls", "usec", "rejected_calls", "failed_calls", "histogram")

    def __init__(self):
        self.calls = 0
        self.usec = 0
        self.rejected_calls = 0
        self.failed_calls = 0
        self.histogram = {}     # whole usec -> calls (server/introspection.py)


class Context:
    def __init__(self, server):
        self.server = server
        self.keyspace = server.keyspace
        self.conn = None
        self.db = None
        self.command = None
        self.argv = None
        # The requests of the connection's current read (WorkItem.commands): Redis's
        # query buffer still holds them while they run (CLIENT LIST qbuf=).
        self.requests = ()
        # Keys that writes made ready for blocked clients, served after the command
        # (server/blocking.py); an ordered set, empty unless someone is blocked.
        self.ready_keys: dict = {}
        # The propagate step (server/propagate.py): effects of the running command
        # and its nested calls, emitted when the outermost call ends. Only used
        # while someone consumes the stream (AOF, replicas).
        self.propagation: list = []
        self.propagation_depth = 0
        self.propagation_scope = None
        self.force_propagation = False  # forceCommandPropagation: FLUSHALL/FLUSHDB set it
        # The MONITOR line of a monitoring client's own command, sent after its reply
        # (server/introspection.py feeds it, dispatch.call appends it).
        self.monitor_echo = None
        # CLIENT TRACKING messages for the running client, sent after its reply
        # (server/tracking.py; Redis's tracking_pending_keys).
        self.tracking_pending: list = []
        self.tracking_inflight: list = []   # clients whose read this batch remembered
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

    # -- propagation (Redis's alsoPropagate / preventCommandPropagation) ---------
    @property
    def propagating(self) -> bool:
        """Whether effects are being recorded: check it before building argv lists."""
        return self.propagation_depth > 0

    def prevent_propagation(self) -> None:
        """Don't propagate this command's own argv (EXEC, scripts, SPOP -> SREMs)."""
        if self.propagation_scope is not None:
            self.propagation_scope.prevented = True

    def rewrite_propagation(self, argv: list) -> None:
        """Propagate argv instead of the command as received (SET EX -> SET PXAT)."""
        if self.propagation_scope is not None:
            self.propagation_scope.argv = argv

    def also_propagate(self, argv: list, targets: int = TO_ALL) -> None:
        """Add a command to this command's propagated unit, in the current db."""
        if self.propagation_depth:
            self.propagation.append((self.db.id, argv, targets))

    def select_db(self, index: int):
        return self.keyspace.dbs[index]
