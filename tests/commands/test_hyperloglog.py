"""The HyperLogLog group (hyperloglog.c) against Ferrous and real Redis 7.0.

HLLs are string values in Redis's exact layout, so besides the replies the tests
check the stored bytes (GET) and exchange values between Ferrous and real Redis.
"""
from __future__ import annotations

import random

import pytest
import redis
from resp_client import Error, Simple

WRONGTYPE = Error("WRONGTYPE Operation against a key holding the wrong kind of value")
NOT_HLL = Error("WRONGTYPE Key is not a valid HyperLogLog string value.")
CORRUPTED = Error("INVALIDOBJ Corrupted HLL object detected")
HEADER_SPARSE = b"HYLL\x01\x00\x00\x00"
EMPTY_SPARSE = HEADER_SPARSE + bytes(8) + b"\x7f\xff"


def elements(prefix: str, count: int, start: int = 0) -> list:
    return [f"{prefix}{i}".encode() for i in range(start, start + count)]


# -- PFADD / PFCOUNT -------------------------------------------------------------------

def test_pfadd_value_is_byte_exact(raw):
    assert raw.call("PFADD", "h", "a", "b", "c") == 1
    sparse = bytes.fromhex("60f38050b1844bfb80425a")
    # The cache is flagged invalid by the top bit of the last header byte...
    assert raw.call("GET", "h") == HEADER_SPARSE + bytes(7) + b"\x80" + sparse
    assert raw.call("PFCOUNT", "h") == 3
    # ... and PFCOUNT stores the cardinality there, little endian.
    assert raw.call("GET", "h") == HEADER_SPARSE + b"\x03" + bytes(7) + sparse
    assert raw.call("PFADD", "h", "a", "b") == 0
    assert raw.call("PFCOUNT", "h") == 3


def test_pfadd_without_elements_creates_an_empty_hll(raw):
    assert raw.call("PFADD", "h") == 1
    assert raw.call("GET", "h") == HEADER_SPARSE + bytes(7) + b"\x80\x7f\xff"
    assert raw.call("PFADD", "h") == 0
    assert raw.call("PFCOUNT", "h") == 0
    assert raw.call("GET", "h") == EMPTY_SPARSE


def test_pfcount_of_missing_keys(raw):
    assert raw.call("PFCOUNT", "missing") == 0
    assert raw.call("PFCOUNT", "m1", "m2") == 0
    assert raw.call("EXISTS", "m1") == 0


@pytest.mark.parametrize("count,expected", [(10, 10), (1000, 1008)])
def test_pfcount_estimates(r, count, expected):
    assert r.pfadd("h", *elements("e", count)) == 1
    assert r.pfcount("h") == expected


def test_pfcount_of_100000_elements_pipelined(r):
    pipe = r.pipeline(transaction=False)
    for start in range(0, 100000, 5000):
        pipe.pfadd("big", *elements("e", 5000, start))
    pipe.execute()
    assert r.pfcount("big") == 100853
    assert r.execute_command("PFDEBUG", "ENCODING", "big") == b"dense"


def test_sparse_promotes_to_dense(raw):
    raw.call("PFADD", "h", *elements("x", 200))
    assert raw.call("PFDEBUG", "ENCODING", "h") == Simple("sparse")
    raw.call("PFADD", "h", *elements("x", 3000, 200))
    assert raw.call("PFDEBUG", "ENCODING", "h") == Simple("dense")
    assert len(raw.call("GET", "h")) == 16 + 12288


def test_hll_sparse_max_bytes_is_honoured(raw):
    raw.call("CONFIG", "SET", "hll-sparse-max-bytes", 100)
    try:
        raw.call("PFADD", "h", *elements("x", 60))
        assert raw.call("PFDEBUG", "ENCODING", "h") == Simple("dense")
    finally:
        raw.call("CONFIG", "SET", "hll-sparse-max-bytes", 3000)


def test_pfcount_union(raw):
    raw.call("PFADD", "a", *elements("x", 100))
    raw.call("PFADD", "b", *elements("x", 100, 50))
    assert raw.call("PFCOUNT", "a", "b", "missing") == 148
    assert raw.call("GET", "missing") is None


def test_pfadd_keeps_ttl(r):
    r.pfadd("h", "a")
    r.expire("h", 100)
    r.pfadd("h", "b")
    r.pfcount("h")
    assert 0 < r.ttl("h") <= 100


# -- PFMERGE ---------------------------------------------------------------------------

def test_pfmerge_sparse_and_dense(raw):
    raw.call("PFADD", "a", "1", "2", "3")
    raw.call("PFADD", "b", "3", "4")
    assert raw.call("PFMERGE", "d", "a", "b") == Simple("OK")
    assert raw.call("PFCOUNT", "d") == 4
    assert raw.call("PFDEBUG", "ENCODING", "d") == Simple("sparse")
    raw.call("PFADD", "dense", *elements("y", 5000))
    assert raw.call("PFMERGE", "d", "dense") == Simple("OK")
    assert raw.call("PFDEBUG", "ENCODING", "d") == Simple("dense")
    assert raw.call("PFCOUNT", "d") == raw.call("PFCOUNT", "a", "b", "dense")


def test_pfmerge_without_sources_creates_empty(raw):
    assert raw.call("PFMERGE", "d") == Simple("OK")
    assert raw.call("GET", "d") == HEADER_SPARSE + bytes(7) + b"\x80\x7f\xff"
    assert raw.call("PFMERGE", "e", "m1", "m2") == Simple("OK")
    assert raw.call("PFCOUNT", "e") == 0


# -- errors ----------------------------------------------------------------------------

def test_type_errors(raw):
    raw.call("SET", "s", "not an hll")
    raw.call("LPUSH", "l", "a")
    for command in (("PFADD", "s", "x"), ("PFCOUNT", "s"), ("PFCOUNT", "s", "l"),
                    ("PFMERGE", "d", "s"), ("PFDEBUG", "ENCODING", "s")):
        assert raw.call(*command) == NOT_HLL
    for command in (("PFADD", "l", "x"), ("PFCOUNT", "l"), ("PFMERGE", "l"), ("PFCOUNT", "h", "l")):
        assert raw.call(*command) == WRONGTYPE
    # A dense header needs the exact dense length.
    raw.call("SET", "d", b"HYLL\x00" + bytes(11) + bytes(100))
    assert raw.call("PFCOUNT", "d") == NOT_HLL


def test_corrupted_sparse_values(raw):
    short = HEADER_SPARSE + bytes(8) + b"\x7f\xfe"        # covers 16383 registers
    raw.call("SET", "c", short)
    assert raw.call("PFCOUNT", "c") == 0                 # a valid cache is trusted
    raw.call("SET", "c", HEADER_SPARSE + bytes(7) + b"\x80\x7f\xfe")
    assert raw.call("PFCOUNT", "c") == CORRUPTED
    assert raw.call("PFCOUNT", "c", "other") == CORRUPTED
    assert raw.call("PFMERGE", "d", "c") == CORRUPTED
    assert raw.call("PFDEBUG", "GETREG", "c") == CORRUPTED
    overflow = HEADER_SPARSE + bytes(8) + b"\x7f\xff\x80"   # a VAL past the end
    raw.call("SET", "c", overflow)
    assert raw.call("PFMERGE", "d", "c") == CORRUPTED
    assert raw.call("PFDEBUG", "TODENSE", "c") == CORRUPTED
    assert raw.call("GET", "c") == overflow


# -- PFDEBUG / PFSELFTEST --------------------------------------------------------------

def test_pfdebug(raw):
    raw.call("PFADD", "h", "a", "b", "c")
    assert raw.call("PFDEBUG", "DECODE", "h") == b"Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"
    assert raw.call("PFDEBUG", "encoding", "h") == Simple("sparse")
    assert raw.call("PFDEBUG", "TODENSE", "h") == 1
    assert raw.call("PFDEBUG", "TODENSE", "h") == 0
    assert raw.call("PFDEBUG", "ENCODING", "h") == Simple("dense")
    assert raw.call("PFDEBUG", "DECODE", "h") == Error("ERR HLL encoding is not sparse")
    registers = raw.call("PFDEBUG", "GETREG", "h")
    assert len(registers) == 16384
    assert (registers[8436], registers[12711], registers[15780]) == (1, 2, 1)
    assert sum(registers) == 4
    assert raw.call("PFCOUNT", "h") == 3
    assert raw.call("PFDEBUG", "FOO", "h") == Error("ERR Unknown PFDEBUG subcommand 'FOO'")
    assert raw.call("PFDEBUG", "GETREG", "missing") == Error("ERR The specified key does not exist")


def test_pfdebug_getreg_converts_to_dense(raw):
    raw.call("PFADD", "h", "a")
    raw.call("PFDEBUG", "GETREG", "h")
    assert raw.call("PFDEBUG", "ENCODING", "h") == Simple("dense")


def test_pfselftest(raw):
    assert raw.call("PFSELFTEST") == Simple("OK")


# -- byte-exact against real Redis, and values exchanged between the servers ------------



@pytest.fixture
def redis_and_ferrous(ferrous, real_redis):
    clients = (redis.Redis(port=ferrous.port), redis.Redis(port=real_redis.port))
    yield clients
    for client in clients:
        client.close()


def _same_on_both(clients, *command):
    replies = [client.execute_command(*command) for client in clients]
    assert replies[0] == replies[1], command
    return replies[0]


def test_values_are_byte_identical_with_redis(redis_and_ferrous):
    clients = redis_and_ferrous
    for client in clients:
        client.delete("h1", "h2", "h3", "m")
    rng = random.Random(42)
    for step in range(120):
        key = rng.choice(["h1", "h2", "h3"])
        batch = [b"%d" % rng.getrandbits(rng.choice([6, 12, 40]))
                 for _ in range(rng.choice([1, 5, 40, 300]))]
        _same_on_both(clients, "PFADD", key, *batch)
        if step % 7 == 0:
            _same_on_both(clients, "PFCOUNT", key)
        if step % 11 == 0:
            _same_on_both(clients, "PFMERGE", "m", "h1", "h2")
        for name in ("h1", "h2", "h3", "m"):
            _same_on_both(clients, "GET", name)


def test_values_move_between_servers(redis_and_ferrous):
    ours, real = redis_and_ferrous
    for size in (10, 1000, 20000):
        for source, target in ((ours, real), (real, ours)):
            source.delete("x")
            target.delete("y")
            source.pfadd("x", *elements("v", size))
            target.set("y", source.get("x"))
            assert target.pfcount("y") == source.pfcount("x")
            assert target.get("y") == source.get("x")
