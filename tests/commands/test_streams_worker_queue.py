"""A work queue on a consumer group, against Ferrous and real Redis 7.0: 5 producers,
3 consumers, one consumer crashing with entries in its PEL; the survivors reclaim
them with XAUTOCLAIM, and every entry is processed exactly once."""
from __future__ import annotations

import threading
import time

import redis

PRODUCERS = 5
PER_PRODUCER = 40
MIN_IDLE_MS = 1000      # long enough that a live consumer never loses an entry it holds
DEADLINE = 30.0


def _entries(reply):
    """[(id, fields), ...] from XREADGROUP (RESP2 list or RESP3 dict) or XAUTOCLAIM."""
    if not reply:
        return []
    if isinstance(reply, dict):       # redis-py over RESP3: {key: [[entries...]]}
        streams = [value[0] if value and isinstance(value[0], list) else value for value in reply.values()]
    else:
        streams = [entries for _key, entries in reply]
    out = []
    for entries in streams:
        for entry in entries:
            out.append((entry[0], _fields(entry[1])))
    return out


def _fields(fields):
    """redis-py gives a dict over RESP2 and a flat sequence over RESP3."""
    if fields is None or isinstance(fields, dict):
        return fields
    return dict(zip(fields[0::2], fields[1::2]))


def test_work_queue_every_entry_processed_exactly_once(server, protocol):
    def client():
        return redis.Redis(port=server.port, protocol=protocol, socket_timeout=20)

    admin = client()
    admin.flushall()
    admin.xgroup_create("jobs", "workers", id="0", mkstream=True)
    processed: dict = {}
    lock = threading.Lock()
    errors: list = []
    done = threading.Event()
    reclaimed = [0]

    def produce(p):
        c = client()
        for n in range(PER_PRODUCER):
            c.xadd("jobs", {"producer": p, "n": n})
        c.close()

    def process(name, c, entries):
        for entry_id, fields in entries:
            if fields is None:
                continue
            job = (fields[b"producer"], fields[b"n"])
            with lock:
                processed.setdefault(job, []).append(name)
            c.xack("jobs", "workers", entry_id)

    def crasher():
        c = client()
        got = _entries(c.xreadgroup("workers", "crasher", {"jobs": ">"}, count=5, block=5000))
        assert got, "the crasher read nothing"
        c.close()               # crashes: its entries stay pending, never processed

    def worker(name):
        c = client()
        try:
            while not done.is_set():
                batch = _entries(c.xreadgroup("workers", name, {"jobs": ">"}, count=10, block=50))
                process(name, c, batch)
                cursor = "0-0"
                while True:
                    cursor, claimed, _deleted = c.xautoclaim("jobs", "workers", name, MIN_IDLE_MS, cursor, count=10)
                    process(name, c, [(entry[0], _fields(entry[1])) for entry in claimed])
                    with lock:
                        reclaimed[0] += len(claimed)
                    if cursor in (b"0-0", "0-0"):
                        break
        except Exception as exc:   # reported by the main thread
            errors.append(exc)
        finally:
            c.close()

    crash = threading.Thread(target=crasher)
    crash.start()
    producers = [threading.Thread(target=produce, args=(str(p),)) for p in range(PRODUCERS)]
    for t in producers:
        t.start()
    crash.join()
    workers = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(2)]
    for t in workers:
        t.start()
    for t in producers:
        t.join()
    deadline = time.monotonic() + DEADLINE
    total = PRODUCERS * PER_PRODUCER
    while True:
        with lock:
            finished = len(processed) == total
        if finished and admin.xpending("jobs", "workers")["pending"] == 0:
            break
        assert not errors, errors
        assert time.monotonic() < deadline, f"only {len(processed)} of {total} processed"
        time.sleep(0.01)
    done.set()
    for t in workers:
        t.join()
    assert not errors, errors
    assert all(len(names) == 1 for names in processed.values()), "an entry was processed twice"
    assert sorted(processed) == sorted((str(p).encode(), str(n).encode())
                                      for p in range(PRODUCERS) for n in range(PER_PRODUCER))
    assert reclaimed[0] > 0, "the crashed consumer's entries were never reclaimed"
    assert all(c["pending"] == 0 for c in admin.xinfo_consumers("jobs", "workers"))
    info = admin.xinfo_groups("jobs")[0]
    assert info["lag"] == 0 and info["entries-read"] == total
    admin.close()
