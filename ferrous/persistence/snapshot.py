"""Point-in-time snapshots of the keyspace without stopping the server (DESIGN.md §5).

Redis forks and lets the kernel copy pages on write. Ferrous copies on write at the
level of keys and values:

1. `Snapshot(keyspace, config)` is created while the caller holds the whole keyspace:
   that instant is the snapshot's. It only installs itself as `db.cow` on every
   database; nothing is copied then.
2. Keys. Until the writer thread has copied a shard, the first change to each key of
   that shard records the key's state (its value object or MISSING, its deadline):
   Database.set, delete, expiry, set_expire and persist call `writing()` first, and
   every lookup calls `reached()`, which does the same. The writer thread copies a
   shard with two `dict.copy()` calls, each atomic (one C call under the GIL; the
   dict's own lock on free-threaded builds), and no shard lock, then puts every
   recorded key back as it was. A command never copies a shard and never waits for
   one; the longest stall anyone sees is one shard's dict.copy() holding the GIL.
   FLUSHDB copies its database's shards first (Redis's FLUSHALL stops the save).
3. Values. Strings are immutable `bytes`, but lists, hashes, sets and sorted sets are
   changed in place after a lookup. `reached()` serializes such a value aside the
   first time a command reaches it, before the command can change it; the writer
   thread serializes the values it gets to first under the same lock and marks them
   done, so each value is serialized exactly once, before any change. Values are
   tracked by identity, so a value that moved (RENAME, MOVE, SWAPDB) stays protected.
   Every value of the snapshot stays referenced (by a live dict, a record or a copy)
   for the whole snapshot, so no other object can take its id meanwhile.

`write_snapshot(fileobj, snapshot)` then streams the RDB file. When no snapshot runs,
the hot path pays the `db.cow is not None` test in those Database methods.
Known gap: PFCOUNT stores its refreshed cardinality cache straight into the shard dict
(commands/hyperloglog.py); the snapshot may then hold the HLL with its cache filled in,
which is the same HyperLogLog.
"""
from __future__ import annotations

import threading
import time

from ferrous.persistence import rdb


_YIELD_EVERY = 63            # keys written between two voluntary GIL releases


MISSING = object()           # a key that did not exist at the snapshot instant


class SnapshotBusy(RuntimeError):
    """Another snapshot is running (one at a time, as Redis has one child at a time)."""


class Snapshot:
    def __init__(self, keyspace, config, foreground: bool = False):
        """Start a snapshot of keyspace now; the caller holds every shard. (foreground is
        accepted for SAVE, which keeps holding them; the writer takes no shard lock.)"""
        if any(db.cow is not None for db in keyspace.dbs):
            raise SnapshotBusy("a snapshot is already running")
        self.keyspace = keyspace
        self.config = config
        self.compress = bool(getattr(config, "rdbcompression", True))
        self.lock = threading.Lock()            # guards done and aside
        # One lock per shard index, for the shard's copy and records (in every db).
        self.copy_locks = [threading.Lock() for _ in range(keyspace.nshards)]
        self.done: set = set()          # ids of values serialized already
        self.aside: dict = {}           # id -> serialized value (a command got there first)
        nshards = keyspace.nshards
        # Per database (by its index at the snapshot instant): the database object, its
        # shards' copies ((data, expiry) or None until made) and, until then, the
        # snapshot-time state of every key changed since: key -> (value or MISSING,
        # deadline or -1).
        self.dbs = [(db, [None] * nshards, [{} for _ in range(nshards)]) for db in keyspace.dbs]
        self._state = {id(db): (copies, records) for db, copies, records in self.dbs}
        # The function libraries as of this instant: FUNCTION LOAD/DELETE/FLUSH/RESTORE
        # hold the whole keyspace too (scripting/state.py sets the hook).
        codes = getattr(keyspace, "library_codes", None)
        self.functions = codes() if codes is not None else []
        # rdbPopulateSaveInfo at this instant: (stream db, replid, offset) or None
        # (replication/__init__.py sets the hook).
        repl_info = getattr(keyspace, "repl_info", None)
        self.repl_info = repl_info() if repl_info is not None else None
        self.keys_total = sum(db.size() for db in keyspace.dbs)
        self.keys_done = 0
        self.active = True
        for db in keyspace.dbs:
            db.cow = self

    # -- called by Database methods while the snapshot runs ----------------------------
    def writing(self, db, idx: int, key: bytes) -> None:
        """key of shard idx is about to change (the caller holds the shard): until the
        shard is copied, remember the key's state as of the snapshot instant."""
        state = self._state.get(id(db))
        if state is None or state[0][idx] is not None:
            return
        with self.copy_locks[idx]:
            copies, records = state
            if copies[idx] is None:
                shard_records = records[idx]
                if key not in shard_records:
                    shard_records[key] = (db.data[idx].get(key, MISSING),
                                          db.expires[idx].when.get(key, -1))

    def writing_all(self, db) -> None:
        """FLUSHDB / FLUSHALL: every shard of db is about to be emptied; copy them now."""
        state = self._state.get(id(db))
        if state is not None:
            for idx in range(len(db.data)):
                self._copy_shard(db, state, idx)

    def reached(self, db, idx: int, key: bytes, value) -> None:
        """A command got key's value from shard idx and may change it in place."""
        self.writing(db, idx, key)
        if type(value) is bytes:
            return
        ident = id(value)
        with self.lock:
            if ident in self.done:
                return
            self.done.add(ident)
            self.aside[ident] = rdb.serialize_value(value, self.config, self.compress)

    # -- used by the writer thread --------------------------------------------------------
    def _copy_shard(self, db, state, idx: int) -> tuple:
        """The shard as of the snapshot instant: a copy of the live dicts (each
        dict.copy() is atomic: one C call under the GIL, or the dict's own lock on
        free-threaded builds), with every key changed since put back as it was. A key
        changed after the copy never matters; one changed before it was recorded before
        the change, under the same lock this overlay takes."""
        copies, records = state
        if copies[idx] is not None:
            return copies[idx]
        data = db.data[idx].copy()
        when = db.expires[idx].when.copy()
        with self.copy_locks[idx]:
            if copies[idx] is None:
                for key, (value, deadline) in records[idx].items():
                    if value is MISSING:
                        data.pop(key, None)
                    else:
                        data[key] = value
                    if deadline == -1:
                        when.pop(key, None)
                    else:
                        when[key] = deadline
                copies[idx] = (data, when)
                records[idx] = None
        return copies[idx]

    def shard(self, db, idx: int) -> tuple:
        """(data, expiry) of shard idx of db as of the snapshot instant."""
        return self._copy_shard(db, self._state[id(db)], idx)

    def serialized(self, value) -> rdb.Serialized:
        """The snapshot-time serialization of a non-string value."""
        ident = id(value)
        with self.lock:
            data = self.aside.pop(ident, None)
            if data is None:
                self.done.add(ident)
                data = rdb.serialize_value(value, self.config, self.compress)
        return rdb.Serialized(data)

    def databases(self):
        """(index at the snapshot instant, db) per database."""
        for index, (db, _, _) in enumerate(self.dbs):
            yield index, db

    def release(self) -> None:
        """Stop recording; safe to call more than once."""
        if not self.active:
            return
        self.active = False
        for db, _, _ in self.dbs:
            if db.cow is self:
                db.cow = None
        self.aside.clear()
        self.done.clear()
        self.dbs = []
        self._state = {}


class SaveCancelled(Exception):
    """A background save was stopped (killRDBChild: FLUSHALL, SHUTDOWN, a new rewrite)."""


def write_snapshot(fileobj, snapshot: Snapshot, aof_base: bool = False,
                   used_memory: int = 0, key_delay_us: int = 0, lru_idle: bool = False,
                   cancelled: threading.Event | None = None) -> int:
    """Write the whole snapshot as an RDB file; returns the number of keys written.
    `cancelled` interrupts rdb-key-save-delay's pauses (raising SaveCancelled)."""
    config = snapshot.config
    writer = rdb.RdbWriter(fileobj, config, checksum=bool(getattr(config, "rdbchecksum", True)))
    writer.header(rdb.aux_fields(used_memory, aof_base, None if aof_base else snapshot.repl_info))
    writer.functions(snapshot.functions)
    count = 0
    now = time.monotonic()
    for index, db in snapshot.databases():
        shards = []
        for idx in range(len(db.data)):
            shards.append(snapshot.shard(db, idx))
            time.sleep(0)       # let the clients waiting for the GIL run between copies
        size = sum(len(data) for data, _ in shards)
        if not size:
            continue
        writer.select_db(index, size, sum(len(when) for _, when in shards))
        for idx, (data, when) in enumerate(shards):
            atime = db.atime[idx] if lru_idle else None
            for key, value in data.items():
                if type(value) is not bytes:
                    value = snapshot.serialized(value)
                idle = None
                if atime is not None:
                    seen = atime.get(key)
                    idle = int(now - seen) if type(seen) is float and seen <= now else 0
                writer.key(key, value, when.get(key, -1), idle)
                count += 1
                snapshot.keys_done = count
                if key_delay_us:
                    if cancelled is None:
                        time.sleep(key_delay_us / 1e6)
                    elif cancelled.wait(key_delay_us / 1e6):
                        raise SaveCancelled()
                elif not count & _YIELD_EVERY:
                    # Hand the GIL over: a thread waiting for it otherwise waits for the
                    # switch interval at each of its request's hops (DESIGN.md §7).
                    time.sleep(0)
    writer.finish()
    return count
