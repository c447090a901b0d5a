"""Lazy freeing: UNLINK, DEL under lazyfree-lazy-user-del and FLUSHDB/FLUSHALL ASYNC
hand big values to a background thread; INFO's lazyfree_pending_objects and
lazyfreed_objects count them as Redis does (lazyfreeGetFreeEffort > 64)."""
from __future__ import annotations

import time

import pytest


def _lazyfreed(r) -> int:
    """lazyfreed_objects once nothing is pending any more."""
    deadline = time.monotonic() + 10
    while r.info("memory")["lazyfree_pending_objects"] and time.monotonic() < deadline:
        time.sleep(0.02)
    return r.info("memory")["lazyfreed_objects"]


@pytest.fixture
def lr(r):
    r.config_resetstat()
    yield r
    r.config_set("lazyfree-lazy-user-del", "no")
    r.config_set("list-max-listpack-size", "-2")
    r.config_set("stream-node-max-entries", "100")


def test_unlink_frees_a_big_hashtable_set_in_the_background(lr):
    lr.sadd("big", *range(1000))
    lr.sadd("small", *range(10))
    assert lr.unlink("big", "small", "missing") == 2
    assert _lazyfreed(lr) == 1
    assert lr.exists("big", "small") == 0


def test_small_and_compact_values_are_freed_at_once(lr):
    lr.hset("hash", mapping={f"f{i}": i for i in range(100)})       # listpack: one allocation
    lr.zadd("zset", {f"m{i}": i for i in range(64)})               # skiplist of exactly 64
    lr.config_set("zset-max-listpack-entries", "16")
    lr.zadd("zset2", {f"m{i}": i for i in range(64)})
    lr.config_set("zset-max-listpack-entries", "128")
    lr.set("string", "x" * 100000)
    assert lr.unlink("hash", "zset", "zset2", "string") == 4
    assert _lazyfreed(lr) == 0


def test_del_is_lazy_only_under_lazyfree_lazy_user_del(lr):
    lr.sadd("a", *range(1000))
    lr.delete("a")
    assert _lazyfreed(lr) == 0
    lr.config_set("lazyfree-lazy-user-del", "yes")
    lr.sadd("a", *range(1000))
    lr.delete("a")
    assert _lazyfreed(lr) == 1


def test_lists_count_their_quicklist_nodes(lr):
    lr.config_set("list-max-listpack-size", "5")
    lr.rpush("long", *range(1000))          # 200 nodes
    lr.rpush("short", *range(300))          # 60 nodes: not above the threshold
    assert lr.unlink("long", "short") == 2
    assert _lazyfreed(lr) == 1


def test_streams_count_nodes_groups_and_pending(lr):
    lr.config_set("stream-node-max-entries", "5")
    for i in range(1000):
        lr.xadd("stream", {"f": i})
    lr.xgroup_create("stream", "g", "0")
    lr.xreadgroup("g", "alice", {"stream": ">"}, count=2)
    lr.xadd("small", {"f": 1})
    assert lr.unlink("stream", "small") == 2
    assert _lazyfreed(lr) == 1


def test_flush_async_counts_every_key(lr):
    lr.mset({f"k{i}": i for i in range(50)})
    lr.flushdb(asynchronous=True)
    assert _lazyfreed(lr) == 50
    lr.mset({f"k{i}": i for i in range(7)})
    lr.flushall(asynchronous=False)
    assert _lazyfreed(lr) == 50
    lr.mset({f"k{i}": i for i in range(7)})
    lr.flushall(asynchronous=True)
    assert _lazyfreed(lr) == 57
    assert lr.dbsize() == 0
