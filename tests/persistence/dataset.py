"""A dataset of every value type, in the small (compact encodings) and large forms, and
a key-by-key reader to compare two servers that hold it."""
from __future__ import annotations

import os
import random
import shutil
import subprocess

import redis

DBS = (0, 3)
TTL_MS = 3_600_000

# Integers at the edges of the RDB, listpack and intset encodings, and strings at the
# edges of the listpack string encodings.
EDGE_INTS = [0, 1, -1, 12, 13, 127, 128, -128, -129, 4095, 4096, -4096, -4097, 32767, 32768,
             -32768, -32769, 8388607, 8388608, -8388608, -8388609, 2 ** 31 - 1, 2 ** 31, -2 ** 31,
             -2 ** 31 - 1, 2 ** 63 - 1, -2 ** 63]
EDGE_STRINGS = [b"", b"x" * 63, b"y" * 64, b"z" * 4095, b"w" * 4096, b"007", b"-0", b"+5",
                b"1e3", b"18446744073709551616", b"\x00\xff binary"]


def populate(port: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    r = redis.Redis(port=port)
    r.flushall()
    # strings: embstr, int, raw, LZF-compressible, incompressible, empty, HLL
    r.set("str:small", "hello")
    r.set("str:empty", "")
    for i, n in enumerate(EDGE_INTS):
        r.set(f"str:int:{i}", n)
    r.set("str:long", b"abc" * 500)
    r.set("str:random", rnd.randbytes(300))
    r.set("str:21", b"a" * 21)
    r.set("str:ttl", "v", px=TTL_MS)
    r.pfadd("hll:sparse", *range(100))
    r.pfadd("hll:dense", *range(3000))
    # lists: one node, many nodes, big elements
    r.rpush("list:small", *EDGE_INTS, *EDGE_STRINGS[:4])
    r.rpush("list:large", *[b"item-%d" % i * (i % 7 + 1) for i in range(3000)])
    r.rpush("list:big", b"q" * 20000, b"r" * 9000, b"s")
    # sets: intset, small, large, intset of wide ints
    r.sadd("set:intset", 1, 2, 3, -5, 700)
    r.sadd("set:intset64", 1, 2 ** 40, -2 ** 62)
    r.sadd("set:small", "a", "b", "c", "12")
    r.sadd("set:large", *range(1000))
    r.sadd("set:strings", *[rnd.randbytes(8).hex() for _ in range(200)])
    # hashes: listpack, long value, many fields
    r.hset("hash:small", mapping={"f1": "v1", "n": 42, "neg": -7, "big": 2 ** 62, "empty": ""})
    r.hset("hash:longval", mapping={"f": b"v" * 100})
    r.hset("hash:large", mapping={f"f{i}": i * 3 for i in range(1000)})
    r.expire("hash:small", TTL_MS // 1000)
    # sorted sets: listpack with every kind of score, skiplist, long member
    r.zadd("zset:small", {"a": 1, "b": 2.5, "c": -3, "d": 1e20, "e": float("inf"), "f": 0.1,
                          "g": -float("inf"), "h": 2 ** 53, "i": -0.0, "j": 1 / 3})
    r.zadd("zset:large", {f"m{i}": i / 3 for i in range(500)})
    r.zadd("zset:longmember", {"m" * 100: 1, "n": 2})
    r.pexpire("zset:large", TTL_MS)
    # streams: same-field and different-field entries, a tombstone, several nodes,
    # consumer groups with pending entries
    for i in range(1, 6):
        r.xadd("stream:small", {"a": i, "b": "x" * i}, id=f"{i}-1")
    r.xadd("stream:small", {"other": "fields"}, id="6-0")
    r.xdel("stream:small", "3-1")
    r.xgroup_create("stream:small", "g1", id="0")
    r.xreadgroup("g1", "alice", {"stream:small": ">"}, count=2)
    r.xreadgroup("g1", "bob", {"stream:small": ">"}, count=1)
    r.xack("stream:small", "g1", "1-1")
    r.xgroup_create("stream:small", "g2", id="$")
    for i in range(500):
        r.xadd("stream:large", {"n": i, "payload": b"p" * (i % 50)}, id=f"{1000 + i}-0")
    r.xtrim("stream:large", minid="1100-0")
    r.xadd("stream:empty", {"a": 1}, id="1-1")
    r.xdel("stream:empty", "1-1")
    # another database
    r3 = redis.Redis(port=port, db=3)
    r3.set("db3:str", "three")
    r3.rpush("db3:list", "x", "y")
    r3.hset("db3:hash", "k", "v")
    r.close()
    r3.close()


def read_all(port: int, dbs=DBS) -> dict:
    """{(db, key): (type, value, OBJECT ENCODING, has a TTL within bounds)}."""
    out = {}
    for db in dbs:
        r = redis.Redis(port=port, db=db)
        for key in r.keys("*"):
            out[(db, key)] = read_key(r, key)
        r.close()
    return out


def read_key(r, key: bytes) -> tuple:
    kind = r.type(key)
    if kind == b"string":
        # PFCOUNT first: it refreshes the cached cardinality inside the value
        count = r.pfcount(key) if key.startswith(b"hll:") else None
        value = (r.get(key), count)
    elif kind == b"list":
        value = r.lrange(key, 0, -1)
    elif kind == b"set":
        value = sorted(r.smembers(key))
    elif kind == b"hash":
        value = r.hgetall(key)
    elif kind == b"zset":
        value = r.zrange(key, 0, -1, withscores=True)
    elif kind == b"stream":
        groups = r.xinfo_groups(key)
        value = (r.xrange(key), r.xinfo_stream(key), groups,
                 [r.xpending(key, group["name"]) for group in groups])
    else:
        value = None
    ttl = r.pttl(key)
    return kind, value, r.object("encoding", key), -1 if ttl == -1 else _ttl_class(ttl)


def _ttl_class(ttl_ms: int):
    """A TTL compared loosely (the servers read it at slightly different times)."""
    return "dataset" if 0 < ttl_ms <= TTL_MS else ttl_ms // 10_000_000


def check_rdb(path: str) -> str:
    """redis-check-rdb's output; raises when it reports a problem."""
    tool = shutil.which("redis-check-rdb") or "redis-check-rdb"
    done = subprocess.run([tool, path], capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "RDB looks OK" in output, output
    return output


def dump_path(proc) -> str:
    return os.path.join(proc.dir, "dump.rdb")
