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


# -- regressions: hllSparseSet's exact steps (each found by the bitmap/HLL/geo model) ---

def _xzero(length: int) -> bytes:
    return bytes((0x40 | ((length - 1) >> 8), (length - 1) & 0xFF))


def _val(value: int, length: int) -> bytes:
    return bytes((0x80 | ((value - 1) << 2) | (length - 1),))


def test_sparse_merge_counts_each_merge_as_one_of_its_five_steps(raw):
    # "e0" sets register 1318 to 1. Step 4 then scans five opcodes from the one before
    # it: two merges use two of them, so the v:4,1 pair further right stays unmerged.
    body = (_xzero(1317) + _val(2, 1) + b"\x00" + _val(1, 1) + _val(3, 1) + _val(3, 1)
            + _val(4, 1) + _val(4, 1) + _xzero(16384 - 1318 - 6))
    raw.call("SET", "h", HEADER_SPARSE + bytes(8) + body)
    assert raw.call("PFADD", "h", "e0") == 1
    assert raw.call("PFDEBUG", "DECODE", "h") == b"Z:1317 v:2,1 v:1,2 v:3,2 v:4,1 v:4,1 Z:15060"
    assert raw.call("GET", "h") == (HEADER_SPARSE + bytes(7) + b"\x80" + _xzero(1317) + _val(2, 1)
                                    + _val(1, 2) + _val(3, 2) + _val(4, 1) + _val(4, 1) + _xzero(15060))


def test_pfadd_on_a_corrupt_value_keeps_the_registers_it_set_before_the_error(raw):
    # The opcodes cover 16383 registers: "a" and "b" (registers 12711 and 15780) are
    # set in place before "x8784" (register 16383) finds no opcode. Redis keeps them.
    short = HEADER_SPARSE + bytes(7) + b"\x80" + _xzero(16383)
    raw.call("SET", "h", short)
    raw.call("EXPIRE", "h", 1000)
    assert raw.call("PFADD", "h", "a", "b", "x8784", "c") == CORRUPTED
    assert raw.call("GET", "h") == (HEADER_SPARSE + bytes(7) + b"\x80" + _xzero(12711) + _val(2, 1)
                                    + _xzero(3068) + _val(1, 1) + _xzero(602))
    assert raw.call("TTL", "h") > 0
    assert raw.call("PFADD", "h", "a", "b") == 0            # already set
    raw.call("SET", "h", short)
    assert raw.call("PFADD", "h", "x8784") == CORRUPTED
    assert raw.call("GET", "h") == short                    # nothing set: unchanged


def test_pfadd_into_an_hll_damaged_by_bitfield_matches_redis(redis_and_ferrous):
    # The model's first falsifying sequence: 300 elements, a BITFIELD write over the
    # header and first opcodes, then 2000 elements fill the sparse value up to
    # hll-sparse-max-bytes before the corruption is met.
    clients = redis_and_ferrous
    for client in clients:
        client.delete("h")
    _same_on_both(clients, "PFADD", "h", *elements("m", 300, 455784))
    _same_on_both(clients, "BITFIELD", "h", "INCRBY", "u63", "99", "112")
    replies = []
    for client in clients:
        with pytest.raises(redis.ResponseError) as excinfo:
            client.pfadd("h", *elements("m", 2000))
        replies.append(str(excinfo.value))
    assert replies == ["INVALIDOBJ Corrupted HLL object detected"] * 2
    assert len(_same_on_both(clients, "GET", "h")) == 3000
    _same_on_both(clients, "PFDEBUG", "ENCODING", "h")


def test_value_ending_in_half_an_xzero_matches_redis(redis_and_ferrous):
    # A corrupt value whose last byte starts an XZERO: Redis reads the byte past the
    # end as its second byte. Splitting that XZERO leaves the last byte of the new
    # opcodes there (written after the sds terminator), and later commands read it.
    clients = redis_and_ferrous
    for client in clients:
        client.delete("h")
        client.set("h", HEADER_SPARSE + bytes(8) + b"\x7f")
    outcomes = []
    # "a" splits the XZERO at register 12711; "g528" (register 16095) is covered only
    # through the byte read past the end; then more, some past the covered registers.
    for command in (("PFADD", "h", "a"), ("PFADD", "h", "g528"),
                    ("PFADD", "h", *elements("w", 300)), ("PFDEBUG", "DECODE", "h"),
                    ("PFCOUNT", "h"), ("PFMERGE", "d", "h"), ("PFDEBUG", "TODENSE", "h")):
        replies = [_reply_or_error(client, *command) for client in clients]
        assert replies[0] == replies[1], command
        outcomes.append(replies[0])
        _same_on_both(clients, "GET", "h")
    assert outcomes[0] == 1 and outcomes[1] == 1    # the ghost byte keeps registers covered


def _reply_or_error(client, *command):
    try:
        return client.execute_command(*command)
    except redis.ResponseError as exc:
        return f"error: {exc}"


@pytest.mark.parametrize("max_bytes", [0, 64, 300, 1000, 3000, 8000])
def test_sparse_to_dense_promotion_at_hll_sparse_max_bytes_matches_redis(redis_and_ferrous, max_bytes):
    clients = redis_and_ferrous
    for client in clients:
        client.delete("a", "b", "m")
        client.config_set("hll-sparse-max-bytes", max_bytes)
    try:
        for start, count in ((0, 1), (0, 40), (100, 300), (5000, 700), (9000, 2000)):
            _same_on_both(clients, "PFADD", "a", *elements("m", count, start))
            _same_on_both(clients, "PFADD", "b", *elements("n", count // 2, start))
            for name in ("a", "b"):
                _same_on_both(clients, "GET", name)
                _same_on_both(clients, "PFDEBUG", "ENCODING", name)
            # PFMERGE into an existing sparse destination promotes half way, as
            # hllSparseSet does, unless a source is dense (then dense from the start).
            _same_on_both(clients, "PFMERGE", "m", "a", "b")
            _same_on_both(clients, "GET", "m")
            _same_on_both(clients, "PFCOUNT", "m")
            _same_on_both(clients, "PFCOUNT", "a", "b", "m")
            _same_on_both(clients, "GET", "m")
    finally:
        for client in clients:
            client.config_set("hll-sparse-max-bytes", 3000)


def test_cache_bytes_after_each_command_match_redis(redis_and_ferrous):
    clients = redis_and_ferrous
    for client in clients:
        client.delete("a", "b", "m")
    steps = [("PFADD", "a", *elements("x", 50)), ("PFCOUNT", "a"), ("PFADD", "a", "x1"),
             ("PFADD", "a", "new"), ("PFCOUNT", "a"), ("PFMERGE", "m", "a"), ("PFCOUNT", "m"),
             ("PFMERGE", "m"), ("PFADD", "b", *elements("y", 4000)), ("PFCOUNT", "b"),
             ("PFMERGE", "m", "b"), ("PFCOUNT", "m", "a"), ("PFCOUNT", "m"), ("PFADD", "b", "y1"),
             ("PFDEBUG", "TODENSE", "a"), ("PFCOUNT", "a")]
    for step in steps:
        _same_on_both(clients, *step)
        for name in ("a", "b", "m"):
            _same_on_both(clients, "GET", name)


# -- whole register files: PFCOUNT of several keys, PFMERGE, GETREG --------------------

def test_pfcount_union_while_sparse_values_grow_into_dense_matches_redis(redis_and_ferrous):
    """Redis's hyperloglog.tcl loop (PFADD to three keys, PFCOUNT of the three, 10000
    times) shortened: the values grow through big sparse encodings into dense ones."""
    replies = []
    for client in redis_and_ferrous:
        client.delete("u1", "u2", "u3")
        pipe = client.pipeline(transaction=False)
        for x in range(0, 2200, 4):
            for name in ("u1", "u2", "u3"):
                pipe.pfadd(name, *(f"{name}-{i}" for i in range(x, x + 4)))
            pipe.pfcount("u1", "u2", "u3")
        pipe.execute_command("PFDEBUG", "ENCODING", "u1")
        replies.append(pipe.execute())
    ours, real = replies
    assert ours == real
    assert ours[-1] == b"dense"
    assert abs(ours[-2] - 3 * 2200) < 3 * 2200 * 0.05


def _dense_value(registers: bytes) -> bytes:
    """A dense HLL string (cache flagged invalid) holding these 6-bit registers."""
    packed = bytearray()
    for i in range(0, len(registers), 4):
        word = registers[i] | registers[i + 1] << 6 | registers[i + 2] << 12 | registers[i + 3] << 18
        packed += word.to_bytes(3, "little")
    return b"HYLL\x00\x00\x00\x00" + bytes(7) + b"\x80" + bytes(packed)


def test_dense_registers_of_every_value_match_redis(redis_and_ferrous):
    rng = random.Random(7)
    registers = bytes(rng.choice((0, rng.randrange(64), rng.randrange(8))) for _ in range(16384))
    clients = redis_and_ferrous
    for client in clients:
        client.delete("d", "s", "m")
        client.set("d", _dense_value(registers))
        client.pfadd("s", *elements("s", 300))
    assert _same_on_both(clients, "PFDEBUG", "GETREG", "d") == list(registers)
    _same_on_both(clients, "PFCOUNT", "d")
    _same_on_both(clients, "GET", "d")                 # the cardinality cached
    _same_on_both(clients, "PFCOUNT", "d", "s")
    _same_on_both(clients, "PFMERGE", "m", "s", "d")   # sparse destination turned dense
    _same_on_both(clients, "GET", "m")
    _same_on_both(clients, "PFMERGE", "s", "d")
    _same_on_both(clients, "GET", "s")
    _same_on_both(clients, "PFDEBUG", "GETREG", "s")
