"""maxmemory: key eviction under the eight maxmemory-policy values (evict.c).

When used memory is over `maxmemory`, `perform()` deletes keys until it is not:
- *-lru, *-lfu and volatile-ttl keep Redis's eviction pool: each round samples
  `maxmemory-samples` keys of every database (all keys, or only those with a TTL),
  scores them (idle time, 255 - LFU counter, or how soon they expire), keeps the
  best 16 candidates across rounds and evicts the best one that still exists;
- *-random pick a random key, visiting the databases round robin;
- noeviction (or nothing left to evict) fails, and dispatch answers a `denyoom`
  command with Redis's OOM error.
Each evicted key counts in INFO evicted_keys, publishes the `evicted` keyspace
event, invalidates WATCH and propagates as DEL.

Cost: nothing unless maxmemory is set. Then memory is measured before each
command that may grow it (dispatch), and in the server cron, which also carries on
an eviction that ran out of its time budget (Redis's evictionTimeProc). A pass
holds the whole keyspace, as Redis's single thread would; it never runs while the
worker holds shard locks (dispatch calls it before locking).
"""
from __future__ import annotations

import itertools
import logging
import random
import sys
import threading
import time

from ferrous import errors
from ferrous.config import NOTIFY_EVICTED
from ferrous.storage import lfu
from ferrous.storage.lfu import LFU_COUNTER_MAX, LFUSettings, idle_score, lfu_counter

log = logging.getLogger("ferrous.eviction")

EVPOOL_SIZE = 16
EVICT_OK, EVICT_RUNNING, EVICT_FAIL = 0, 1, 2
CHECK_EVERY = 16    # keys evicted between two looks at the clock and at used memory
MEASURE_INTERVAL = 0.001    # seconds a measurement under the limit stays valid
RELAXED_INTERVAL = 0.01     # ... when far below it:
FAR_BELOW_MARGIN = 0.05     # more than 5% of maxmemory
FAR_BELOW_MIN_BYTES = 4 << 20   # and more than 4 MB left
PYTHON_SLOWDOWN = 20        # an eviction here takes about this many times Redis's time
_NEVER_REJECTED_IN_MULTI = frozenset(("exec", "discard", "quit", "reset"))


def install(server) -> None:
    server.evictor = Evictor(server)
    config = server.config
    server.lfu_settings = LFUSettings
    _apply_policy(server, config.maxmemory_policy)
    _apply_lfu_settings(config)
    config.on_change("maxmemory-policy", lambda value: _apply_policy(server, value))
    config.on_change("lfu-log-factor", lambda value: _apply_lfu_settings(config))
    config.on_change("lfu-decay-time", lambda value: _apply_lfu_settings(config))
    config.on_change("maxmemory", lambda value: _warn_if_below_usage(server, value))
    server.cron.tasks.append(server.evictor.cron)
    from ferrous.server.limits import chain_info
    chain_info(server, "info_stats", server.evictor.info)


def _apply_policy(server, policy: str) -> None:
    lfu.set_lfu_mode(server.keyspace, policy.endswith("-lfu"))
    server.evictor.forget_candidates()  # their scores mean something else now


def _apply_lfu_settings(config) -> None:
    LFUSettings.log_factor = config.lfu_log_factor
    LFUSettings.decay_time = config.lfu_decay_time


def _warn_if_below_usage(server, value: int) -> None:
    # updateMaxmemory: the eviction itself follows in the server cron.
    server.evictor.drift.reset()
    used = used_memory(server)
    if value and value < used:
        log.warning("WARNING: the new maxmemory value set via CONFIG SET (%d) is smaller than the current "
                    "memory usage (%d). This will result in key eviction and/or the inability to accept "
                    "new write commands depending on the maxmemory-policy.", value, used)


def used_memory(server) -> int:
    """The figure maxmemory is compared with: the server's one used-memory figure
    (INFO used_memory, measured from the allocators) wherever it sees memory being
    freed. Where it cannot (free-threaded builds: mimalloc keeps no totals, so it is
    the RSS, which deleting keys does not lower), the figure at the moment the limit
    was set plus how much the dataset grew since (DatasetDrift)."""
    from ferrous.commands.server import used_memory as measure
    if _allocator_sees_frees():
        return measure(server)
    return server.evictor.drift.used(server, measure)


def _allocator_sees_frees() -> bool:
    try:
        from ferrous.server import memory
        return memory.allocator_name() == "pymalloc+libc"
    except (ImportError, AttributeError):
        return False


class DatasetDrift:
    """A used-memory figure for allocators without totals: an anchor (the shared
    figure, taken once) moved by the change of a sampled dataset estimate."""

    SAMPLES_PER_SHARD = 4

    def __init__(self):
        self.anchor = None      # (shared figure, dataset estimate) when taken

    def reset(self) -> None:
        self.anchor = None

    def used(self, server, measure) -> int:
        dataset = self.dataset_estimate(server.keyspace)
        anchor = self.anchor
        if anchor is None:
            anchor = self.anchor = (measure(server), dataset)
        return anchor[0] + dataset - anchor[1]

    def dataset_estimate(self, keyspace) -> int:
        """Per shard: its table plus the mean size of a few entries times its length.
        Racy reads of dicts other threads change are fine for an estimate."""
        total = 0
        for db in keyspace.dbs:
            for shard in db.data:
                count = len(shard)
                if not count:
                    continue
                total += sys.getsizeof(shard)
                try:
                    sample = list(itertools.islice(shard.items(), self.SAMPLES_PER_SHARD))
                except RuntimeError:    # changed size during iteration
                    continue
                if sample:
                    total += sum(approximate_size(k, v) for k, v in sample) * count // len(sample)
        return total


def over_limit(server, limit: int) -> bool:
    """used_memory > limit. Measuring costs tens of microseconds, more than most
    commands, so a figure under the limit is reused for MEASURE_INTERVAL, or for
    RELAXED_INTERVAL while more than FAR_BELOW_MARGIN of headroom was left."""
    evictor = server.evictor
    now = time.monotonic()
    measured_at, used = evictor.last_measure
    far_below = limit - used > max(limit * FAR_BELOW_MARGIN, FAR_BELOW_MIN_BYTES)
    if used > limit or now - measured_at > (RELAXED_INTERVAL if far_below else MEASURE_INTERVAL):
        used = used_memory(server)
        evictor.last_measure = (now, used)
    return used > limit


# -- the check in processCommand ---------------------------------------------------
def rejects(ctx, conn, cmd) -> bool:
    """processCommand's maxmemory step, for a server with maxmemory set: evict if
    needed; True when cmd must get the OOM error. Only commands that may be
    refused measure memory here (the cron evicts in the background otherwise)."""
    in_multi = conn.multi is not None and cmd.name not in _NEVER_REJECTED_IN_MULTI
    if not (cmd.denyoom or in_multi or cmd.name == "exec"):
        return False
    if getattr(ctx.server, "busy_script", None) is not None:
        # isInsideYieldingLongCommand: the busy script holds the keyspace; no eviction now.
        return False
    if ctx.server.evictor.perform() != EVICT_FAIL:
        return False
    return cmd.denyoom or in_multi or _queued_denyoom(conn)


def oom_rejection(ctx, conn, cmd) -> str:
    """rejectCommand(c, shared.oomerr): the error text; a refused EXEC discards the
    transaction (execCommandAbort), any other command flags it."""
    if conn.multi is not None and cmd.name != "exec":
        conn.multi_error = True
    return errors.OOM   # a refused EXEC: dispatch._reply_error aborts the transaction


def _queued_denyoom(conn) -> bool:
    """EXEC is refused when a queued command is denyoom (mstate.cmd_flags)."""
    from ferrous.server.dispatch import resolve
    for entry in list(conn.multi or ()):
        argv = entry[-1] if isinstance(entry, tuple) else entry
        cmd, _ = resolve(argv)
        if cmd is not None and cmd.denyoom:
            return True
    return False


# -- eviction ------------------------------------------------------------------------
class Evictor:
    def __init__(self, server):
        self.server = server
        self.pool: list = []        # (score, db index, key), ascending; best last
        self.next_db = 0            # round robin of the random policies
        self.running = False        # the last pass ran out of time (EVICT_RUNNING)
        self.last_measure = (0.0, 0)    # (monotonic time, used memory)
        self.drift = DatasetDrift()
        # INFO total/current_eviction_exceeded_time: time spent with memory still over
        # the limit after an eviction pass (EVICT_RUNNING or EVICT_FAIL).
        self.exceeded_since = None
        self.exceeded_total = 0.0
        self._lock = threading.Lock()   # one pass at a time; the pool is its state

    def forget_candidates(self) -> None:
        with self._lock:
            self.pool = []

    def cron(self) -> None:
        """evictionTimeProc and then some: keep memory under the limit between commands."""
        config = self.server.config
        # Databases replaced wholesale (a loaded RDB, a full resync) start in LRU mode.
        lfu.set_lfu_mode(self.server.keyspace, config.maxmemory_policy.endswith("-lfu"))
        if config.maxmemory:
            self.perform()

    def perform(self) -> int:
        """performEvictions: EVICT_OK, EVICT_RUNNING (out of time, more to do) or EVICT_FAIL."""
        result = self._perform()
        now = time.monotonic()
        since = self.exceeded_since
        if result != EVICT_OK:
            if since is None:
                self.exceeded_since = now
        elif since is not None:
            self.exceeded_total += now - since
            self.exceeded_since = None
        return result

    def info(self) -> dict:
        since = self.exceeded_since
        current = time.monotonic() - since if since is not None else 0.0
        return {"total_eviction_exceeded_time": int((self.exceeded_total + current) * 1000),
                "current_eviction_exceeded_time": int(current * 1000)}

    def _perform(self) -> int:
        server = self.server
        config = server.config
        limit = config.maxmemory
        if not limit or not _safe_to_evict(server):
            return EVICT_OK
        if not over_limit(server, limit):
            return EVICT_OK
        if config.maxmemory_policy == "noeviction":
            return EVICT_FAIL
        with self._lock:
            keyspace = server.keyspace
            keyspace.lock_all()
            try:
                result = self._evict_until(limit, config)
            finally:
                keyspace.unlock_all()
            self.last_measure = (0.0, 0)
        self.running = result == EVICT_RUNNING
        return result

    def _evict_until(self, limit: int, config) -> int:
        deadline = time.monotonic() + time_limit_us(config.maxmemory_eviction_tenacity) / 1e6
        policy = config.maxmemory_policy
        to_free = used_memory(self.server) - limit
        freed = evicted = 0
        while to_free > 0:
            victim = self._pick(policy, config.maxmemory_samples)
            if victim is None:
                return EVICT_FAIL
            db, key = victim
            freed += self._evict(db, key)
            evicted += 1
            if freed >= to_free or evicted % CHECK_EVERY == 0:
                # Sizes are estimates: measure again rather than trust their sum.
                to_free = used_memory(self.server) - limit
                freed = 0
                if to_free > 0 and evicted % CHECK_EVERY == 0 and time.monotonic() > deadline:
                    return EVICT_RUNNING
        return EVICT_OK

    def _evict(self, db, key: bytes) -> int:
        """Delete one key as Redis evicts it; returns its approximate size."""
        server = self.server
        size = approximate_size(key, db.data[hash(key) & db.mask].get(key))
        if not db.delete(key):
            return 0
        server.stats.add("evicted_keys")
        propagator = getattr(server, "propagator", None)
        if propagator is not None:
            propagator.key_expired(db, key)     # propagates DEL, as an eviction does
        from ferrous.server.notify import notify_db
        notify_db(server, NOTIFY_EVICTED, "evicted", key, db.id)
        return size

    # -- choosing the key -------------------------------------------------------------
    def _pick(self, policy: str, samples: int):
        """(db, key) to evict next, or None when there is nothing to evict."""
        volatile = policy.startswith("volatile")
        dbs = self.server.keyspace.dbs
        if policy.endswith("random"):
            return self._pick_random(dbs, volatile)
        scorer = _SCORERS[policy.split("-", 1)[1]]
        while True:
            populated = False
            for db in dbs:
                if (db.volatile_count() if volatile else db.size()):
                    self._populate(db, volatile, samples, scorer)
                    populated = True
            if not populated:
                return None
            while self.pool:
                _, db_index, key = self.pool.pop()
                db = dbs[db_index]
                idx = hash(key) & db.mask
                present = key in db.expires[idx].when if volatile else key in db.data[idx]
                if present:
                    return db, key
            # Every candidate was a ghost (deleted since it was pooled): sample again.

    def _populate(self, db, volatile: bool, samples: int, scorer) -> None:
        """evictionPoolPopulate: add db's sampled keys that beat the pool's worst."""
        pool = self.pool
        now = time.monotonic()
        for key in sample_keys(db, volatile, samples):
            idx = hash(key) & db.mask
            score = scorer(db, idx, key, now)
            if len(pool) >= EVPOOL_SIZE and score <= pool[0][0]:
                continue
            entry = (score, db.id, key)
            if any(e[1] == db.id and e[2] == key for e in pool):
                continue
            pool.append(entry)
            pool.sort(key=_score_of)
            if len(pool) > EVPOOL_SIZE:
                del pool[0]

    def _pick_random(self, dbs: list, volatile: bool):
        for _ in range(len(dbs)):
            db = dbs[self.next_db % len(dbs)]
            self.next_db += 1
            keys = sample_keys(db, volatile, 1)
            if keys:
                return db, keys[0]
        return None


def _score_of(entry) -> float:
    return entry[0]


def _lru_score(db, idx, key, now) -> float:
    return idle_score(db.atime[idx].get(key), now)


def _lfu_score(db, idx, key, now) -> float:
    return LFU_COUNTER_MAX - lfu_counter(db.atime[idx].get(key))


def _ttl_score(db, idx, key, now) -> float:
    # The sooner it expires, the better a candidate.
    return -db.expires[idx].when.get(key, 0)


_SCORERS = {"lru": _lru_score, "lfu": _lfu_score, "ttl": _ttl_score}


def sample_keys(db, volatile: bool, count: int) -> list:
    """About `count` random keys of db (dictGetSomeKeys), from random shards; the
    caller holds the whole keyspace."""
    nshards = len(db.data)
    sizes = [len(e) for e in db.expires] if volatile else [len(d) for d in db.data]
    if not any(sizes):
        return []
    indexes = None if volatile else db.scan_indexes()
    keys = []
    for idx in random.choices(range(nshards), weights=sizes, k=count):
        key = _random_key(db, idx, volatile, indexes)
        if key is not None:
            keys.append(key)
    return keys


def _random_key(db, idx: int, volatile: bool, indexes):
    if volatile:
        picked = db.expires[idx].sample(1)
        return picked[0] if picked else None
    shard = db.data[idx]
    index = indexes[idx]
    for _ in range(8):
        key = index.random_item()
        if key is None:
            break
        if key in shard:
            return key
        index.remove(key)   # a stale entry left by a racing lazy expiry
    return next(iter(shard), None)


def approximate_size(key: bytes, value) -> int:
    """Bytes a key and its value take, roughly (MEMORY USAGE's sampling estimate)."""
    if value is None:
        return 0
    if type(value) is bytes:
        return sys.getsizeof(key) + sys.getsizeof(value)
    try:
        from ferrous.server.memory import value_size
        return sys.getsizeof(key) + value_size(value, 5)
    except Exception:   # an estimate: never let it stop an eviction
        return sys.getsizeof(key) + sys.getsizeof(value)


def time_limit_us(tenacity: int) -> float:
    """evictionTimeLimitUs: how long one pass may run, from maxmemory-eviction-tenacity,
    scaled by how much slower than C an eviction is here, so that a pass evicts about
    as many keys as Redis's would."""
    if tenacity <= 10:
        return 50.0 * tenacity * PYTHON_SLOWDOWN
    if tenacity < 100:
        return 500.0 * 1.15 ** (tenacity - 10) * PYTHON_SLOWDOWN
    return float("inf")


def _safe_to_evict(server) -> bool:
    """isSafeToPerformEvictions: a replica that ignores maxmemory leaves it to its
    primary; nothing is evicted while clients are paused (the dataset holds still)."""
    dbs = server.keyspace.dbs
    if dbs and dbs[0].is_replica and server.config.replica_ignore_maxmemory:
        return False
    watch = getattr(server, "watch", None)
    return watch is None or not watch.pause.freezes_dataset()
