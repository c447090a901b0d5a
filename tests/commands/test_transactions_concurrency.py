"""A WATCH-based optimistic counter hammered by 20 concurrent clients loses no
increment (the pattern redis-py's pipeline/WATCH docs teach), on Ferrous and Redis."""
from __future__ import annotations

import threading

import redis

CLIENTS = 20
INCREMENTS = 25


def _optimistic_increment(client: redis.Redis, key: str) -> int:
    """GET under WATCH, SET in MULTI; retry when another client got there first."""
    retries = 0
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(key)
                value = int(pipe.get(key) or 0)
                pipe.multi()
                pipe.set(key, value + 1)
                pipe.execute()
                return retries
            except redis.WatchError:
                retries += 1


def test_watch_counter_loses_no_increment(r, server, protocol):
    r.set("counter", 0)
    errors, retries = [], []
    start = threading.Barrier(CLIENTS)

    def client_loop():
        client = redis.Redis(port=server.port, protocol=protocol, socket_timeout=30)
        try:
            start.wait()
            for _ in range(INCREMENTS):
                retries.append(_optimistic_increment(client, "counter"))
        except Exception as exc:  # pragma: no cover - reported by the assertion
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=client_loop) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert int(r.get("counter")) == CLIENTS * INCREMENTS
    assert len(retries) == CLIENTS * INCREMENTS
