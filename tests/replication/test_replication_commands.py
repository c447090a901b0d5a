"""Every write command through a real replication link between the two kinds: a
Redis replica of a Ferrous primary and a Ferrous replica of a Redis primary end up
with the primary's data after each case of tests/persistence/test_aof_propagation.py
(blocking commands served late, scripts, functions, expiry, evictions, databases)."""
from __future__ import annotations

import os
import sys

import pytest
import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "persistence"))

from aof_helpers import Side, wait  # noqa: E402
from servers import ServerProcess  # noqa: E402
from test_aof_propagation import CASES, _run  # noqa: E402


class Link:
    """A primary (with its AOF and raw stream, as in the AOF tests) and a real replica
    of the other kind."""

    def __init__(self, primary_kind: str, replica_kind: str):
        self.primary = Side(primary_kind, ["--repl-diskless-sync-delay", "0"])
        self.replica = ServerProcess(replica_kind, ["--replicaof", "127.0.0.1", str(self.primary.port)])
        self.primary_client = redis.Redis(port=self.primary.port, socket_timeout=10)
        self.replica_client = redis.Redis(port=self.replica.port, socket_timeout=10)
        wait(lambda: self.replica_client.info("replication")["master_link_status"] == "up",
             timeout=30, what="replication link up")

    def in_sync(self) -> bool:
        primary = self.primary_client.info("replication")
        replica = self.replica_client.info("replication")
        return (replica.get("master_link_status") == "up"
                and replica["slave_repl_offset"] == primary["master_repl_offset"])

    def stop(self):
        self.primary_client.close()
        self.replica_client.close()
        self.replica.stop()
        self.primary.stop()


@pytest.fixture(scope="module", params=[("ferrous", "redis"), ("redis", "ferrous")],
                ids=["redis-replica-of-ferrous", "ferrous-replica-of-redis"])
def link(request):
    pair = Link(*request.param)
    yield pair
    pair.stop()


def _stream(client, key) -> tuple:
    entries = client.xrange(key)
    groups = []
    for group in client.xinfo_groups(key):
        name = group["name"]
        consumers = sorted((c["name"], c["pending"]) for c in client.xinfo_consumers(key, name))
        pending = client.xpending_range(key, name, "-", "+", 1000)
        # Not entries-read: XCLAIM ... LASTID doesn't carry it, a Redis replica of a
        # Redis primary reads nil there too.
        groups.append((name, group["last-delivered-id"], consumers,
                       [(p["message_id"], p["consumer"], p["times_delivered"]) for p in pending]))
    info = client.xinfo_stream(key)
    return entries, sorted(groups), info["last-generated-id"], info["entries-added"], \
        info["max-deleted-entry-id"]


def _value(client, key, kind: bytes):
    if kind == b"string":
        return client.get(key)
    if kind == b"list":
        return client.lrange(key, 0, -1)
    if kind == b"hash":
        return client.hgetall(key)
    if kind == b"set":
        return client.smembers(key)
    if kind == b"zset":
        return client.zrange(key, 0, -1, withscores=True)
    if kind == b"stream":
        return _stream(client, key)
    raise AssertionError(f"unexpected type {kind!r}")


def _dataset(port: int) -> dict:
    """Every key of every database with its type, value and absolute deadline, and
    the function libraries."""
    client = redis.Redis(port=port, socket_timeout=10)
    out = {"functions": client.function_dump()}
    databases = [int(name[2:]) for name in client.info("keyspace")]
    client.close()
    for db in databases:
        client = redis.Redis(port=port, db=db, socket_timeout=10)
        for key in sorted(client.keys("*")):
            kind = client.type(key)
            deadline = client.execute_command("PEXPIRETIME", key)
            out[(db, key)] = (kind, _value(client, key, kind), deadline)
        client.close()
    return out


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_replica_holds_what_the_primary_holds(link, case):
    link.primary.reset()
    _run(link.primary, case)
    link.primary.barrier()          # every effect (served blocked clients, expiry) written
    wait(lambda: link.in_sync(), timeout=20, what="replica offset caught up")
    primary = _dataset(link.primary.port)
    for key in case.primary_only:       # redis.set_repl kept these from the replicas
        assert primary.pop((0, key.encode())) is not None
    assert primary != {"functions": primary["functions"]} or case.name in _LEAVES_NOTHING, \
        "the case left no data to compare"
    assert _dataset(link.replica.port) == primary


# Cases whose writes all end up deleted (flushes, pops of everything, expiry, eviction).
_LEAVES_NOTHING = {"databases", "publish", "active_expiry", "lazy_expiry_in_script",
                   "spop_single", "eviction", "multi_exec_publish_and_empty"}
