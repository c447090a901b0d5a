"""Lazy freeing (lazyfree.c): big values leave the keyspace at once and are freed by a
background thread, so UNLINK, DEL under lazyfree-lazy-user-del and FLUSHDB/FLUSHALL
ASYNC cost the worker O(1) whatever the value's size.

In Python "freeing" is dropping the last reference: the worker hands the value (or
a detached copy of a database's dicts) to the `ferrous-lazyfree` thread, which drops
it there, so the deallocation of millions of objects happens off the command path.
Which values go there follows lazyfreeGetFreeEffort and LAZYFREE_THRESHOLD, so INFO's
lazyfree_pending_objects / lazyfreed_objects count what Redis's count.
"""
from __future__ import annotations

import math
import queue
import threading

from ferrous.server.background import Supervised

LAZYFREE_THRESHOLD = 64

# list-max-listpack-size's negative forms: bytes per quicklist node.
_NODE_BYTES = {-1: 4096, -2: 8192, -3: 16384, -4: 32768, -5: 65536}


def free_effort(value, config) -> int:
    """lazyfreeGetFreeEffort: roughly the allocations freeing `value` takes."""
    kind = getattr(value, "type_name", "string")
    if kind == "list":
        return _quicklist_nodes(value, config)
    if kind in ("set", "zset", "hash"):
        # Only the hashtable / skiplist encodings are one allocation per element.
        return len(value) if value.encoding(config) in ("hashtable", "skiplist") else 1
    if kind == "stream":
        effort = value.radix_tree_nodes()
        if value.groups:
            first = next(iter(value.groups.values()))
            effort += len(value.groups) * (1 + len(first.pel))
        return effort
    return 1


def _quicklist_nodes(value, config) -> int:
    """How many quicklist nodes Redis would hold the list in (ql->len), estimated from
    the fill setting without walking the elements one by one in Python."""
    count = len(value)
    if count <= LAZYFREE_THRESHOLD:
        return count            # at most one node per element: never above the threshold
    fill = config.list_max_listpack_size
    if fill > 0:
        return math.ceil(count / fill)
    node_bytes = _NODE_BYTES.get(max(fill, -5), 8192)
    payload = sum(map(len, value.items)) + 2 * count     # entries with their headers
    return max(1, math.ceil(payload / node_bytes))


class LazyFree:
    """The background freeing thread and its two counters."""

    def __init__(self):
        self._lock = threading.Lock()
        self.pending = 0            # lazyfree_pending_objects
        self.freed = 0              # lazyfreed_objects (CONFIG RESETSTAT clears it)
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = None         # started by the first job

    def free_value(self, value, config) -> None:
        """freeObjAsync: hand a removed value over if it is big enough, else drop it here."""
        if free_effort(value, config) > LAZYFREE_THRESHOLD:
            self._submit(value, 1)

    def free_databases(self, detached: list, keys: int) -> None:
        """emptyDbAsync: the dicts detached from flushed databases, `keys` objects."""
        if keys:
            self._submit(detached, keys)

    def reset_stats(self) -> None:
        with self._lock:
            self.freed = 0

    def info(self) -> dict:
        with self._lock:
            return {"lazyfree_pending_objects": self.pending, "lazyfreed_objects": self.freed}

    def stop(self) -> None:
        self._stop.set()
        self._jobs.put(None)

    def _submit(self, obj, count: int) -> None:
        with self._lock:
            self.pending += count
            if self._thread is None:
                self._thread = Supervised("ferrous-lazyfree", self._run, self._stop)
                self._thread.start()
        self._jobs.put((obj, count))

    def _run(self) -> None:
        while not self._stop.is_set():
            job = self._jobs.get()
            if job is None:
                return
            count = job[1]
            del job         # the last reference to the value: it is freed here
            with self._lock:
                self.pending -= count
                self.freed += count
