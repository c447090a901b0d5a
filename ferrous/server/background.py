"""Background threads: the server cron (active expiry, ops/sec sampling).

Active expiry follows activeExpireCycle: each tick (1/hz s) samples
ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP volatile keys per shard, deletes the expired
ones, and repeats on a shard while more than ACCEPTABLE_STALE percent of the
sample had expired, within a time budget of 25% of the tick.
"""
from __future__ import annotations

import logging
import threading
import time

from ferrous.storage.keyspace import now_ms

log = logging.getLogger("ferrous.cron")

KEYS_PER_LOOP = 20
ACCEPTABLE_STALE = 10   # percent
SLOW_TIME_PERC = 25     # percent of each tick spent expiring at most


class Supervised(threading.Thread):
    """A background thread that logs a crash and restarts its body instead of dying."""

    def __init__(self, name: str, body, stop_event: threading.Event):
        super().__init__(name=name, daemon=True)
        self.body = body
        self.stop_event = stop_event

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.body()
                return
            except Exception:
                log.exception("background thread %s crashed; restarting it", self.name)
                self.stop_event.wait(0.1)


class Cron:
    def __init__(self, server):
        self.server = server
        self.stop_event = threading.Event()
        self.thread = Supervised("ferrous-cron", self._loop, self.stop_event)
        self.tasks: list = []   # more per-tick work (clientsCron: server/limits.py ...)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            hz = self.server.config.hz
            tick = 1.0 / hz
            started = time.monotonic()
            if getattr(self.server, "cron_paused", False):     # DEBUG PAUSE-CRON 1
                self.stop_event.wait(tick)
                continue
            # DEBUG SET-ACTIVE-EXPIRE; CLIENT PAUSE holds the dataset still (activeExpireCycle)
            if getattr(self.server, "active_expire_enabled", True) and not _paused(self.server):
                self.active_expire_cycle(tick * SLOW_TIME_PERC / 100)
                from ferrous.server.introspection import record_event
                record_event(self.server, "expire-cycle", started)     # LATENCY event
            self.sample_ops()
            for task in self.tasks:
                task()
            elapsed = time.monotonic() - started
            self.stop_event.wait(max(0.0, tick - elapsed))

    def active_expire_cycle(self, budget: float) -> None:
        keyspace = self.server.keyspace
        deadline = time.monotonic() + budget
        stats = self.server.stats
        total_sampled = total_expired = 0
        for idx, lock in enumerate(keyspace.locks):
            for db in keyspace.dbs:
                if not db.expires[idx].when:
                    continue
                while True:
                    lock.acquire_write()
                    try:
                        sampled, expired = db.active_expire_shard(idx, KEYS_PER_LOOP, now_ms())
                    finally:
                        lock.release_write()
                    total_sampled += sampled
                    total_expired += expired
                    if sampled == 0 or expired * 100 <= sampled * ACCEPTABLE_STALE:
                        break
                    if time.monotonic() > deadline:
                        stats.add("expired_time_cap_reached_count")
                        return
        if total_sampled:
            current = total_expired / total_sampled
            stats.expired_stale_perc = stats.expired_stale_perc * 0.95 + current * 0.05

    def sample_ops(self) -> None:
        stats = self.server.stats
        samples = stats.ops_samples
        samples.append((time.monotonic(), self.server.total_commands()))
        if len(samples) > 17:
            del samples[0]


def _paused(server) -> bool:
    """CLIENT PAUSE (WRITE or ALL) stops active expiry (server/introspection.py)."""
    watch = getattr(server, "watch", None)
    return watch is not None and watch.pause.freezes_dataset()
