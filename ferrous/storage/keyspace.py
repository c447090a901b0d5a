"""The keyspace: `databases` databases, each split into shards.

Shard i of every database is guarded by the same reader-writer lock, so a command
that names keys in two databases (MOVE, COPY ... DB) still locks by key alone.
Callers hold the right shard locks before calling any Database method; the
methods themselves take no locks (DESIGN.md §1).
"""
from __future__ import annotations

import threading
import time

from ferrous.storage.expiry import ExpireTable
from ferrous.storage.rwlock import RWLock
from ferrous.storage.scan import ScanIndex

DEFAULT_SHARDS = 16
EMBSTR_SIZE_LIMIT = 44           # OBJ_ENCODING_EMBSTR_SIZE_LIMIT
_monotonic = time.monotonic

# Set on the thread applying our primary's stream (replication/replica.py): its
# commands see keys past their deadline as live, as Redis's expireIfNeeded does for
# server.master, so its DEL deletes them and MULTI/DEL/INCR/EXEC replays exactly.
primary_stream = threading.local()


def now_ms() -> int:
    return int(time.time() * 1000)


# Set by a running script on its worker thread (commands/scripting.py): keys expire
# as of the script's start, as keyIsExpired uses scriptTimeSnapshot(), so a script
# sees one instant (a key it set with PX 1 is still there after DEBUG SLEEP).
script_time = threading.local()


def expiry_now_ms() -> int:
    frozen = getattr(script_time, "ms", None)
    return frozen if frozen is not None else int(time.time() * 1000)


class KeyspaceEvents:
    """What the keyspace tells the rest of the server; each hook may be replaced.

    Kept as plain attributes (not a list of listeners) so the hot path pays one
    attribute lookup and a call only when something is registered.
    """

    def __init__(self):
        self.on_expired = None      # (db, key) -> None: stats, notifications, propagation
        self.on_modified = None     # (db, key) -> None: WATCH invalidation; None when unused
        self.on_added = None        # (db, key) -> None: the "new" keyspace event; None when unused
        # (db, key) -> None when a key is deleted, expired or overwritten; key None: every
        # key of db (FLUSHDB, SWAPDB). Installed only while XREADGROUP clients are blocked
        # (server/blocking.py: signalDeletedKeyAsReady).
        self.on_removed = None
        # (db, key, by_client) -> None: CLIENT TRACKING invalidation (server/tracking.py);
        # by_client False for expiry. None while no client tracks.
        self.on_tracked = None


class Database:
    __slots__ = ("id", "data", "expires", "mask", "events", "stats", "is_replica", "loading", "scan", "atime",
                 "_expire_lock", "cow", "expiry_paused", "str_encoding", "replica_expires")

    def __init__(self, db_id: int, nshards: int, events: KeyspaceEvents, stats):
        self.id = db_id
        self.data = [dict() for _ in range(nshards)]
        self.expires = [ExpireTable() for _ in range(nshards)]
        self.mask = nshards - 1
        self.events = events
        self.stats = stats
        self.is_replica = False
        # Keys a writable replica's own clients gave a TTL (rememberSlaveKeyWithExpire):
        # the replica expires those itself (replication/primary.py expire_replica_keys).
        self.replica_expires: set = set()
        self.loading = False    # set while an AOF or RDB loads: keys don't expire then
        # Set during CLIENT PAUSE (server/introspection.py): expired keys read as gone
        # but stay, so the dataset holds still (expireIfNeeded).
        self.expiry_paused = False
        self.scan = None        # per-shard ScanIndex, built by the first SCAN/RANDOMKEY
        # Last access per key (time.monotonic()), Redis's per-object LRU clock:
        # set on creation and by every lookup except peek() (OBJECT IDLETIME).
        self.atime = [dict() for _ in range(nshards)]
        # Lazy expiry also happens under a shard's *read* lock (GET of an expired key),
        # where two readers may try to delete the same key: this lock makes the
        # deletion happen once. Writers hold the shard exclusively and never contend.
        self._expire_lock = threading.Lock()
        # The running snapshot (persistence/snapshot.py) while a BGSAVE or AOF rewrite
        # writes: a shard is copied for it before its first change, and every value a
        # command reaches is preserved before it can be changed in place.
        self.cow = None
        # Per shard, key -> "raw" or "embstr" for the strings whose Redis encoding is
        # not the one tryObjectEncoding gives their content: APPEND, SETRANGE, SETBIT,
        # BITFIELD, PFADD ... edit the object in place ("raw"); INCRBYFLOAT stores an
        # embstr even when it reads as an integer. Values stay plain bytes; setting,
        # deleting, expiring or flushing a key drops its mark.
        self.str_encoding = [dict() for _ in range(nshards)]

    # -- lookups ----------------------------------------------------------
    def lookup(self, key: bytes):
        """The live value of key, or None; deletes it first if it has expired."""
        idx = hash(key) & self.mask
        value = self.data[idx].get(key)
        if value is None:
            return None
        exp = self.expires[idx]
        if exp.when:
            deadline = exp.when.get(key)
            if deadline is not None and deadline <= expiry_now_ms() and self._expire(idx, key):
                return None
        self.atime[idx][key] = _monotonic()
        if self.cow is not None:
            self.cow.reached(self, idx, key, value)
        return value

    def peek(self, key: bytes):
        """lookup() that leaves the access clock alone (Redis's LOOKUP_NOTOUCH, used
        by TTL, TYPE, EXISTS, OBJECT)."""
        idx = hash(key) & self.mask
        value = self.data[idx].get(key)
        if value is not None and self.expires[idx].when:
            deadline = self.expires[idx].when.get(key)
            if deadline is not None and deadline <= expiry_now_ms() and self._expire(idx, key):
                return None
        if self.cow is not None and value is not None:
            self.cow.reached(self, idx, key, value)
        return value

    def idle_seconds(self, key: bytes) -> int:
        """Whole seconds since key was last accessed (OBJECT IDLETIME)."""
        now = _monotonic()
        return int(now - self.atime[hash(key) & self.mask].get(key, now))

    def lookup_read(self, key: bytes):
        """lookup() that counts keyspace_hits / keyspace_misses as lookupKeyRead does."""
        value = self.lookup(key)
        if value is None:
            self.stats.keyspace_misses += 1
        else:
            self.stats.keyspace_hits += 1
        return value

    def exists(self, key: bytes) -> bool:
        return self.lookup(key) is not None

    def _expire(self, idx: int, key: bytes, for_write: bool = False) -> bool:
        """Delete a key past its deadline; False if it must be treated as live.

        for_write: a write replaces the key (setKey after lookupKeyWrite), which on a
        writable replica deletes it first as expireIfNeeded(force_delete_expired) does.
        """
        if self.loading:
            return False    # keyIsExpired: nothing expires while loading
        if self.is_replica:
            if getattr(primary_stream, "applying", False):
                return False    # the primary's commands see its keys as live
            if not for_write:
                return True     # replicas never delete on their own; the primary sends the DEL
        if self.expiry_paused:
            return True     # CLIENT PAUSE: expired to readers, deleted once it ends
        if self.cow is not None:
            self.cow.writing(self, idx, key)
        with self._expire_lock:
            if self.data[idx].pop(key, None) is None:
                return True  # another reader expired it first
            self.expires[idx].remove(key)
            self.atime[idx].pop(key, None)
            if self.str_encoding[idx]:
                self.str_encoding[idx].pop(key, None)
            if self.scan is not None:
                self.scan[idx].remove(key)
        hook = self.events.on_expired
        if hook is not None:
            hook(self, key)
        removed = self.events.on_removed
        if removed is not None:
            removed(self, key)
        modified = self.events.on_modified
        if modified is not None:
            modified(self, key)
        tracked = self.events.on_tracked
        if tracked is not None:
            tracked(self, key, False)
        return True

    # -- writes -----------------------------------------------------------
    def set(self, key: bytes, value, keep_ttl: bool = False) -> None:
        """setKey: overwrite or create; clears the TTL unless keep_ttl."""
        idx = hash(key) & self.mask
        if self.cow is not None:
            self.cow.writing(self, idx, key)
        exp = self.expires[idx]
        if exp.when:
            # Redis's setKey always follows a lookupKeyWrite: an expired key is
            # deleted first (the "expired" event, expired_keys, a propagated DEL).
            deadline = exp.when.get(key)
            if deadline is not None and deadline <= expiry_now_ms():
                self._expire(idx, key, for_write=True)
        added = self.events.on_added
        if added is not None and key not in self.data[idx]:
            added(self, key)
        removed = self.events.on_removed
        if removed is not None and key in self.data[idx]:
            removed(self, key)
        self.data[idx][key] = value
        self.atime[idx][key] = _monotonic()
        if self.str_encoding[idx]:
            self.str_encoding[idx].pop(key, None)
        if self.scan is not None:
            self.scan[idx].add(key)
        if not keep_ttl and exp.when:
            exp.remove(key)
        modified = self.events.on_modified
        if modified is not None:
            modified(self, key)
        tracked = self.events.on_tracked
        if tracked is not None:
            tracked(self, key, True)

    def delete(self, key: bytes) -> bool:
        idx = hash(key) & self.mask
        if self.lookup(key) is None:
            return False
        del self.data[idx][key]
        exp = self.expires[idx]
        if exp.when:
            exp.remove(key)
        self.atime[idx].pop(key, None)
        if self.str_encoding[idx]:
            self.str_encoding[idx].pop(key, None)
        if self.scan is not None:
            self.scan[idx].remove(key)
        removed = self.events.on_removed
        if removed is not None:
            removed(self, key)
        modified = self.events.on_modified
        if modified is not None:
            modified(self, key)
        tracked = self.events.on_tracked
        if tracked is not None:
            tracked(self, key, True)
        return True

    def touch(self, key: bytes) -> None:
        """signalModifiedKey for in-place changes of a value (APPEND, LPUSH, ...)."""
        modified = self.events.on_modified
        if modified is not None:
            modified(self, key)
        tracked = self.events.on_tracked
        if tracked is not None:
            tracked(self, key, True)

    def mark_raw(self, key: bytes, value: bytes) -> None:
        """key's string value was edited in place: Redis now reports it "raw" (the
        dbUnshareStringValue of APPEND, SETRANGE, SETBIT, BITFIELD, PFADD ...)."""
        if len(value) <= EMBSTR_SIZE_LIMIT:     # longer ones read as raw anyway
            self.str_encoding[hash(key) & self.mask][key] = "raw"

    def mark_encoding(self, key: bytes, encoding) -> None:
        """Give key's string the encoding mark encoding ("raw", "embstr"; None: none),
        e.g. the one its object had before RENAME, MOVE or COPY."""
        marks = self.str_encoding[hash(key) & self.mask]
        if encoding is None:
            marks.pop(key, None)
        else:
            marks[key] = encoding

    def encoding_mark(self, key: bytes):
        """key's encoding mark ("raw", "embstr"), or None: the content decides."""
        marks = self.str_encoding[hash(key) & self.mask]
        return marks.get(key) if marks else None

    # -- expiry -----------------------------------------------------------
    def get_expire(self, key: bytes) -> int:
        """Absolute unix-ms deadline, or -1 when the key has none."""
        idx = hash(key) & self.mask
        return self.expires[idx].when.get(key, -1)

    def set_expire(self, key: bytes, when_ms: int) -> None:
        idx = hash(key) & self.mask
        if self.cow is not None:
            self.cow.writing(self, idx, key)
        self.expires[idx].set(key, when_ms)
        if self.is_replica and not self.loading and not getattr(primary_stream, "applying", False):
            self.replica_expires.add(key)

    def persist(self, key: bytes) -> bool:
        idx = hash(key) & self.mask
        if self.cow is not None:
            self.cow.writing(self, idx, key)
        return self.expires[idx].remove(key)

    # -- whole-database operations (caller holds every shard) ---------------
    def size(self) -> int:
        return sum(len(d) for d in self.data)

    def volatile_count(self) -> int:
        return sum(len(e) for e in self.expires)

    def iter_keys(self):
        for shard in self.data:
            yield from shard

    def flush(self, detach: list | None = None) -> int:
        """Empty the database; with `detach`, its key dicts are copied there first so
        the values are freed wherever that list is dropped (FLUSHDB ASYNC)."""
        if self.cow is not None:
            self.cow.writing_all(self)
        removed = self.size()
        if detach is not None:
            detach.extend(d.copy() for d in self.data if d)
        for d in self.data:
            d.clear()
        for e in self.expires:
            e.clear()
        for a in self.atime:
            a.clear()
        for marks in self.str_encoding:
            marks.clear()
        self.scan = None
        if self.events.on_removed is not None:
            self.events.on_removed(self, None)
        return removed

    def scan_indexes(self) -> list:
        """One ScanIndex per shard (storage/scan.py), built on first use; the
        caller holds every shard. Keys added or removed through this class's
        methods keep it current from then on."""
        if self.scan is None:
            shift = self.mask.bit_length()
            self.scan = [ScanIndex(shard, shift) for shard in self.data]
        return self.scan

    def active_expire_shard(self, idx: int, sample_size: int, now: int) -> tuple[int, int]:
        """Sample volatile keys of one shard, delete the expired ones: (sampled, expired)."""
        exp = self.expires[idx]
        if not exp.when:
            return 0, 0
        sampled = exp.sample(sample_size)
        expired = 0
        for key in sampled:
            deadline = exp.when.get(key)
            if deadline is not None and deadline <= now:
                self._expire(idx, key)
                expired += 1
        return len(sampled), expired


class Keyspace:
    def __init__(self, databases: int = 16, nshards: int = DEFAULT_SHARDS, stats=None):
        if nshards & (nshards - 1):
            raise ValueError("shard count must be a power of two")
        self.nshards = nshards
        self.mask = nshards - 1
        self.locks = [RWLock() for _ in range(nshards)]
        self.events = KeyspaceEvents()
        self.stats = stats
        self.dbs = [Database(i, nshards, self.events, stats) for i in range(databases)]

    def shard_of(self, key: bytes) -> int:
        return hash(key) & self.mask

    def lock_all(self) -> None:
        for lock in self.locks:
            lock.acquire_write()

    def unlock_all(self) -> None:
        for lock in reversed(self.locks):
            lock.release_write()

    def swap(self, a: int, b: int) -> None:
        """SWAPDB; the caller holds the whole keyspace."""
        dbs = self.dbs
        dbs[a], dbs[b] = dbs[b], dbs[a]
        dbs[a].id, dbs[b].id = a, b
        removed = self.events.on_removed
        if removed is not None:
            removed(dbs[a], None)
            removed(dbs[b], None)

    def set_loading(self, flag: bool) -> None:
        for db in self.dbs:
            db.loading = flag

    def set_replica(self, flag: bool) -> None:
        for db in self.dbs:
            db.is_replica = flag
