"""The ordered "propagate" step (DESIGN.md §1): writes leave the workers, in
execution order, to the AOF and the replication backlog.

How a command's effects become a stream (Redis's call() / alsoPropagate /
propagatePendingCommands in 7.0):
- dispatch.call() opens a scope around the handler; while it runs, effects collect
  on the worker's Context: lazily expired keys (`DEL key`) and anything the handler
  adds with `ctx.also_propagate(argv)`.
- When the handler returns, if it changed `ctx.dirty` its own argv is added (or the
  argv it gave to `ctx.rewrite_propagation`, e.g. SET EX -> SET PXAT) unless it called
  `ctx.prevent_propagation()` (EXEC and scripts, whose inner commands speak for them).
- Nested calls (EXEC's queued commands, a script's redis.call) add to the outermost
  scope. The outermost scope emits everything as one unit, wrapped in MULTI ... EXEC
  when it holds more than one command, while the command's shard locks are still
  held: two writes to one key reach every consumer in the order they ran.

Consumers register with `add_consumer(obj)` and get `obj.feed(entries)` with a list
of `(db index, argv, targets)` triples, under the propagator's lock (so in one global
order). `targets` is a bit mask of TO_AOF and TO_REPLICAS (PUBLISH goes to replicas
only, as Redis's forceCommandPropagation(c, PROPAGATE_REPL)); each consumer skips
entries not meant for it, tracks its own selected database and writes SELECT when
it changes.
When nobody consumes, `active` is False and the hot path does nothing at all.
"""
from __future__ import annotations

import threading

TO_AOF = 1
TO_REPLICAS = 2
TO_ALL = TO_AOF | TO_REPLICAS

_MULTI = [b"MULTI"]
# CMD_TOUCHES_ARBITRARY_KEYS in Redis 7.0: propagatePendingCommands skips the transaction.
_TOUCHES_ARBITRARY_KEYS = frozenset({b"scan", b"randomkey"})
_EXEC = [b"EXEC"]

# The Context of the command running on this thread, for effects that happen deep
# in the keyspace (lazy expiry) without a handle on it.
_current = threading.local()


class Propagator:
    def __init__(self):
        self._lock = threading.Lock()
        self._consumers: tuple = ()
        self.active = False

    def add_consumer(self, consumer) -> None:
        with self._lock:
            self._consumers = self._consumers + (consumer,)
            self.active = True

    def remove_consumer(self, consumer) -> None:
        with self._lock:
            self._consumers = tuple(c for c in self._consumers if c is not consumer)
            self.active = bool(self._consumers)

    def locked(self):
        """The lock that orders the stream, for a consumer writing outside emit()
        (a PING or REPLCONF GETACK into the replication stream)."""
        return self._lock

    def emit(self, entries: list, wrap_targets: int = TO_ALL) -> None:
        """Hand one unit of (db, argv, targets) to every consumer, in one global order."""
        if len(entries) > 1:
            # As propagatePendingCommands: MULTI/EXEC go everywhere (even around
            # replica-only PUBLISHes), MULTI in the first entry's db and EXEC in the
            # last one's, so no SELECT comes before EXEC.
            entries = [(entries[0][0], _MULTI, wrap_targets), *entries,
                       (entries[-1][0], _EXEC, wrap_targets)]
        with self._lock:
            for consumer in self._consumers:
                consumer.feed(entries)

    def key_expired(self, db, key: bytes) -> None:
        """A key was deleted by expiry (lazy or active): propagate DEL (Redis 7.0
        propagates DEL, or UNLINK with lazyfree-lazy-expire; DEL either way here)."""
        if not self.active:
            return
        ctx = getattr(_current, "ctx", None)
        entry = (db.id, [b"DEL", key], TO_ALL)
        if ctx is not None and ctx.propagation_depth:
            ctx.propagation.append(entry)  # inside a command: part of its unit
        else:
            self.emit([entry])


class Scope:
    """One command's propagation state, saved and restored around nested calls."""
    __slots__ = ("db_id", "dirty", "argv", "prevented")

    def __init__(self, db_id: int, dirty: int, argv: list):
        self.db_id = db_id
        self.dirty = dirty
        self.argv = argv
        self.prevented = False


def begin(ctx, argv: list) -> Scope | None:
    """Open a scope for a command about to run; returns the scope it nests in."""
    outer = ctx.propagation_scope
    ctx.propagation_scope = Scope(ctx.db.id, ctx.dirty, argv)
    # Set by a command that ran while nothing consumed the stream (no scope was open
    # to take it): it must not make this command propagate itself.
    ctx.force_propagation = False
    if ctx.propagation_depth == 0:
        _current.ctx = ctx
    ctx.propagation_depth += 1
    return outer


def end(ctx, outer: Scope | None, succeeded: bool) -> None:
    """Close the scope: add the command's own argv if it wrote, emit if outermost."""
    scope = ctx.propagation_scope
    forced = ctx.force_propagation      # forceCommandPropagation (FLUSHDB)
    if forced:
        ctx.force_propagation = False
    if succeeded and not scope.prevented and (ctx.dirty != scope.dirty or forced):
        ctx.propagation.append((scope.db_id, scope.argv, TO_ALL))
    ctx.propagation_scope = outer
    ctx.propagation_depth -= 1
    if ctx.propagation_depth == 0 and ctx.propagation:
        entries, ctx.propagation = ctx.propagation, []
        wrap_targets = TO_ALL
        if ctx.conn is not None and ctx.conn.is_master:
            # A replica applying its primary's stream: the AOF gets the effects, the
            # sub-replicas get the primary's own bytes (proxied by the link).
            entries = [(db, argv, targets & TO_AOF) for db, argv, targets in entries]
            wrap_targets = TO_AOF
        if scope.argv[0].lower() in _TOUCHES_ARBITRARY_KEYS:
            for entry in entries:   # no MULTI around what they expired, like active expiry
                ctx.server.propagator.emit([entry])
            return
        ctx.server.propagator.emit(entries, wrap_targets)
