"""Helpers shared by the persistence tests."""
from __future__ import annotations

import time

import redis

from ferrous.config import Config
from ferrous.persistence import rdb
from servers import redis_available

KINDS = ["ferrous", "redis"] if redis_available() else ["ferrous"]


def poll(condition, timeout: float = 15.0, what: str = "condition"):
    """Wait for condition() to be true, up to timeout seconds (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def client(port: int) -> redis.Redis:
    """A client that leaves BGSAVE's status reply as it is (redis-py makes it True)."""
    c = redis.Redis(port=port)
    c.set_response_callback("BGSAVE", lambda response, **options: response)
    return c


def info(c) -> dict:
    return c.info("persistence")


def bgsave_done(c) -> bool:
    return info(c)["rdb_bgsave_in_progress"] == 0


def load_file(path: str) -> dict:
    """{(db, key): value} of an RDB file, read with Ferrous's reader."""
    with open(path, "rb") as fh:
        data = fh.read()
    out = {}
    rdb.RdbReader(data, Config()).load(lambda item: out.__setitem__((item.db, item.key), item.value))
    return out
