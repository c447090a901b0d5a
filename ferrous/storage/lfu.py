"""Per-key access information for the maxmemory policies (evict.c).

Redis keeps 24 bits per object, read according to the policy: the LRU clock, or
for the LFU policies 16 bits of "last decrement time" in minutes and an 8-bit
logarithmic counter. Ferrous keeps the same thing in the keyspace's per-key
`atime` dicts: a float (time.monotonic() of the last access) under the LRU and
other policies, an int `(minutes << 8) | counter` under the LFU ones.

The LRU path is Database.lookup itself and costs nothing extra. Under an LFU
policy the databases are switched to `LFUDatabase`, whose lookup and set keep the
counter instead; the switch swaps the objects' class, so neither mode pays for
the other on the hot path.
"""
from __future__ import annotations

import random
import time

from ferrous.storage.keyspace import Database

LFU_INIT_VAL = 5        # the counter of a new key, so that it is not evicted at once
LFU_COUNTER_MAX = 255
_random = random.random


class LFUSettings:
    """lfu-log-factor and lfu-decay-time, shared by every database (server.lfu)."""
    log_factor = 10
    decay_time = 1


def minutes_now() -> int:
    """LFUGetTimeInMinutes: unix minutes, 16 bits."""
    return (int(time.time()) // 60) & 65535


def _elapsed_minutes(ldt: int) -> int:
    now = minutes_now()
    return now - ldt if now >= ldt else 65535 - ldt + now


def lfu_counter(info) -> int:
    """LFUDecrAndReturn: the counter after the decay due since it was last decremented.
    An access time left by the LRU mode reads as a new key's counter."""
    if type(info) is not int:
        return LFU_INIT_VAL
    counter = info & 255
    decay = LFUSettings.decay_time
    periods = _elapsed_minutes(info >> 8) // decay if decay else 0
    if periods:
        counter = 0 if periods > counter else counter - periods
    return counter


def lfu_log_incr(counter: int) -> int:
    """LFULogIncr: the more accesses already counted, the less likely one more is."""
    if counter == LFU_COUNTER_MAX:
        return counter
    base = counter - LFU_INIT_VAL
    if base < 0:
        base = 0
    if _random() < 1.0 / (base * LFUSettings.log_factor + 1):
        counter += 1
    return counter


def lfu_touched(info) -> int:
    """updateLFU: decay, count one access, stamp the time."""
    return (minutes_now() << 8) | lfu_log_incr(lfu_counter(info))


def lfu_new() -> int:
    return (minutes_now() << 8) | LFU_INIT_VAL


class LFUDatabase(Database):
    """A Database whose accesses update the LFU counter instead of the LRU clock."""
    __slots__ = ()

    def lookup(self, key: bytes, *args, **kwargs):
        atime = self.atime[hash(key) & self.mask]
        before = atime.get(key)
        value = Database.lookup(self, key, *args, **kwargs)
        if value is not None:
            # Readers under a shared shard lock may race here: one access may go
            # uncounted, which a probabilistic counter tolerates.
            atime[key] = lfu_touched(before)
        return value

    def set(self, key: bytes, value, *args, **kwargs) -> None:
        atime = self.atime[hash(key) & self.mask]
        before = atime.get(key)
        Database.set(self, key, value, *args, **kwargs)
        # setKey looks the key up (one access) and dbOverwrite keeps the old object's
        # counter; a new key starts at LFU_INIT_VAL.
        atime[key] = lfu_touched(before) if type(before) is int else lfu_new()


def set_lfu_mode(keyspace, lfu: bool) -> None:
    """Switch every database of keyspace to LFU (or back to LRU) access tracking."""
    cls = LFUDatabase if lfu else Database
    for db in keyspace.dbs:
        if type(db) is not cls:
            db.__class__ = cls


def idle_score(info, now: float) -> float:
    """Seconds since the last access (estimateObjectIdleTime); LFU data reads as 0."""
    return now - info if type(info) is float else 0.0
