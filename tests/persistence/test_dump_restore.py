"""DUMP and RESTORE on one server (both kinds, both protocols): options, errors, TTLs."""
from __future__ import annotations

import time

import pytest
import redis

from dataset import read_key


def _error(callable_, *args) -> str:
    with pytest.raises(redis.ResponseError) as info:
        callable_(*args)
    return str(info.value)


def test_dump_missing_key_is_nil(r):
    assert r.dump("nokey") is None


def test_dump_payload_footer(r):
    r.set("k", "hello")
    payload = r.dump("k")
    assert payload[:7] == b"\x00\x05hello"
    assert payload[7:9] == b"\x0a\x00"          # RDB version 10, little endian
    assert len(payload) == 7 + 2 + 8            # then the CRC64


@pytest.mark.parametrize("setup", ["string", "int", "long", "list", "set", "intset", "hash", "zset",
                                   "bighash", "bigzset"])
def test_restore_round_trip(r, setup):
    build = {
        "string": lambda: r.set("k", "v"),
        "int": lambda: r.set("k", "-12345"),
        "long": lambda: r.set("k", b"xyz" * 300),
        "list": lambda: r.rpush("k", "a", 1, "b" * 100),
        "set": lambda: r.sadd("k", "a", "b"),
        "intset": lambda: r.sadd("k", 1, 2, 3),
        "hash": lambda: r.hset("k", mapping={"a": 1, "b": "x"}),
        "zset": lambda: r.zadd("k", {"a": 1.5, "b": -2}),
        "bighash": lambda: r.hset("k", mapping={f"f{i}": i for i in range(600)}),
        "bigzset": lambda: r.zadd("k", {f"m{i}": i for i in range(200)}),
    }[setup]
    build()
    payload = r.dump("k")
    encoding = r.object("encoding", "k")
    assert encoding == {"set": b"hashtable", "intset": b"intset", "bighash": b"hashtable",
                        "bigzset": b"skiplist", "hash": b"listpack", "zset": b"listpack",
                        "list": b"quicklist"}.get(setup, encoding)
    assert r.restore("k2", 0, payload) == b"OK"
    assert read_key(r, b"k2") == read_key(r, b"k")
    if encoding not in (b"hashtable",):       # a hash table's order is rebuilt on load
        assert r.dump("k2") == payload
    assert r.ttl("k2") == -1


def test_restore_busykey_and_replace(r):
    r.set("a", "1")
    r.set("b", "2")
    payload = r.dump("a")
    assert _error(r.restore, "b", 0, payload) == "BUSYKEY Target key name already exists."
    assert r.restore("b", 0, payload, replace=True) == b"OK"
    assert r.get("b") == b"1"


def test_restore_ttl_relative_and_absolute(r):
    r.set("a", "1")
    payload = r.dump("a")
    r.restore("rel", 100_000, payload)
    assert 90_000 < r.pttl("rel") <= 100_000
    deadline = int(time.time() * 1000) + 200_000
    r.restore("abs", deadline, payload, absttl=True)
    assert 190_000 < r.pttl("abs") <= 200_000


def test_restore_already_expired_ttl(r):
    r.set("a", "1")
    payload = r.dump("a")
    assert r.restore("gone", 1, payload, absttl=True) == b"OK"
    assert r.exists("gone") == 0
    r.set("old", "x")
    assert r.restore("old", 1, payload, absttl=True, replace=True) == b"OK"
    assert r.exists("old") == 0


def test_restore_idletime_and_freq_options(r):
    r.set("a", "1")
    payload = r.dump("a")
    assert r.execute_command("RESTORE", "i", 0, payload, "IDLETIME", 1000) == b"OK"
    assert r.object("idletime", "i") >= 1000
    assert r.execute_command("RESTORE", "f", 0, payload, "FREQ", 100) == b"OK"


def test_restore_errors(r):
    r.set("a", "1")
    payload = r.dump("a")
    cmd = r.execute_command
    assert _error(cmd, "RESTORE", "x", -1, payload) == "Invalid TTL value, must be >= 0"
    assert _error(cmd, "RESTORE", "x", "abc", payload) == "value is not an integer or out of range"
    assert _error(cmd, "RESTORE", "x", 0, b"garbage") == "DUMP payload version or checksum are wrong"
    assert _error(cmd, "RESTORE", "x", 0, payload, "IDLETIME", -1) == "Invalid IDLETIME value, must be >= 0"
    assert _error(cmd, "RESTORE", "x", 0, payload, "FREQ", 256) == "Invalid FREQ value, must be >= 0 and <= 255"
    assert _error(cmd, "RESTORE", "x", 0, payload, "FREQ", 1, "IDLETIME", 2) == "syntax error"
    assert _error(cmd, "RESTORE", "x", 0, payload, "IDLETIME") == "syntax error"
    assert _error(cmd, "RESTORE", "x", 0, payload, "BOGUS") == "syntax error"
    assert _error(cmd, "RESTORE", "x", 0, payload, "IDLETIME", "abc") == "value is not an integer or out of range"
    # a version from the future
    assert _error(cmd, "RESTORE", "x", 0, payload[:-10] + b"\x0b\x00" + payload[-8:]) == \
        "DUMP payload version or checksum are wrong"
    # options are checked before the key, the key before the TTL and the payload
    assert _error(cmd, "RESTORE", "a", -1, b"junk") == "BUSYKEY Target key name already exists."


def test_restore_bad_data_with_valid_checksum(r):
    from ferrous.persistence.crc64 import crc64
    body = b"\x0e\x05junk!" + b"\x0a\x00"        # a v1 quicklist type with nonsense inside
    payload = body + crc64(0, body).to_bytes(8, "little")
    assert _error(r.execute_command, "RESTORE", "x", 0, payload) == "Bad data format"
    assert r.exists("x") == 0


def test_dump_restore_wrong_arity(raw):
    reply = raw.call("RESTORE", "k", "0")
    assert reply.text == "ERR wrong number of arguments for 'restore' command"


# Payloads from Redis 7.0's integration/corrupt-dump.tcl. With deep sanitization
# (sanitize-dump-payload yes) every listpack entry's back-length and a stream node's
# lp-count and entry count are checked; a consumer named twice is refused always.
_STREAM_DUPLICATE_CONSUMERS = (
    b"\x0F\x00\x00\x00\x00\x01\x07\x6D\x79\x67\x72\x6F\x75\x70\x00\x00\x00\x02\x04\x6E\x61\x6D\x65\x2A\x4C"
    b"\xAA\x9A\x7D\x01\x00\x00\x00\x04\x6E\x61\x6D\x65\x2B\x4C\xAA\x9A\x7D\x01\x00\x00\x00\x0A\x00\xCC\xED"
    b"\x8C\xA7\x62\xEE\xC7\xC8")
_STREAM_BAD_BACKLEN = (
    b"\x0F\x01\x10\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x02\x40\x55\x55\x00\x00\x00"
    b"\x0F\x00\x01\x01\x00\x15\x02\x01\x88\x31\x00\x00\x00\x00\x00\x00\x00\x09\x88\x32\x00\x00\x00\x00\x00"
    b"\x00\x00\x09\x00\x01\x00\x01\x00\x01\x00\x01\x02\x02\x88\x31\x00\x00\x00\x00\x00\x00\x00\x09\x88\x61"
    b"\x00\x00\x00\x00\x00\x00\x00\x09\x88\x32\x00\x00\x00\x00\x00\x00\x00\x09\x88\x62\x00\x00\x00\x00\x00"
    b"\x00\x00\x09\x08\x01\xFF\x0A\x01\x00\x00\x09\x00\x06\xFB\x44\x24\x0A\x8E\x75\xEA")
_STREAM_BAD_LP_COUNT = (
    b"\x0F\x01\x10\x00\x00\x01\x73\xDE\xDF\x7D\x9B\x00\x00\x00\x00\x00\x00\x00\x00\x40\x42\x42\x00\x00\x00"
    b"\x18\x00\x03\x01\x00\x01\x02\x01\x84\x69\x74\x65\x6D\x05\x85\x76\x61\x6C\x75\x65\x06\x00\x01\x02\x01"
    b"\x00\x01\x00\x01\x01\x01\x00\x01\x56\x01\x02\x01\x22\x01\x00\x01\x01\x01\x82\x5F\x31\x03\x05\x01\x02"
    b"\x01\x2C\x01\x00\x01\x01\x01\x02\x01\x05\x01\xFF\x03\x81\x00\x00\x01\x73\xDE\xDF\x7D\xC7\x00\x01\x07"
    b"\x6D\x79\x67\x72\x6F\x75\x70\x81\x00\x00\x01\x73\xDE\xDF\x7D\x9B\x00\x01\x00\x00\x01\x73\xDE\xDF\x7D"
    b"\x9B\x00\x00\x00\x00\x00\x00\x00\x00\xF9\x7D\xDF\xDE\x73\x01\x00\x00\x01\x01\x05\x41\x6C\x69\x63\x65"
    b"\xEB\x7D\xDF\xDE\x73\x01\x00\x00\x01\x00\x00\x01\x73\xDE\xDF\x7D\x9B\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x09\x00\xB2\xA8\xA7\x5F\x1B\x61\x72\xD5")


def _with_valid_crc(payload: bytes) -> bytes:
    from ferrous.persistence.crc64 import crc64
    body = payload[:-8]
    return body + crc64(0, body).to_bytes(8, "little")


@pytest.fixture
def deep_sanitization(r):
    r.config_set("sanitize-dump-payload", "yes")
    yield
    r.config_set("sanitize-dump-payload", "no")


def test_restore_refuses_a_stream_consumer_named_twice(r):
    payload = _with_valid_crc(_STREAM_DUPLICATE_CONSUMERS)
    assert _error(r.execute_command, "RESTORE", "key", 0, payload) == "Bad data format"
    assert r.exists("key") == 0


@pytest.mark.parametrize("payload", [_STREAM_BAD_BACKLEN, _STREAM_BAD_LP_COUNT], ids=["backlen", "lp_count"])
def test_deep_sanitization_refuses_a_corrupt_stream_listpack(r, deep_sanitization, payload):
    assert _error(r.execute_command, "RESTORE", "key", 0, _with_valid_crc(payload)) == "Bad data format"
    assert r.exists("key") == 0
    assert r.ping()


def test_deep_sanitization_accepts_what_dump_writes(r, deep_sanitization):
    r.xadd("s", {"a": 1, "b": 2}, id="1-1")
    r.xadd("s", {"a": 3, "c": "x" * 300}, id="2-1")
    r.xgroup_create("s", "g", id="0")
    r.xreadgroup("g", "alice", {"s": ">"}, count=1)
    r.xreadgroup("g", "bob", {"s": ">"}, count=1)
    r.hset("h", mapping={"f": "v", "long": "y" * 200, "n": 12345})
    r.zadd("z", {"m": 1.5, "n": -2})
    r.rpush("l", "a", 1, "b" * 500)
    for key in ("s", "h", "z", "l"):
        assert r.restore(key + "2", 0, r.dump(key)) == b"OK"
        assert read_key(r, (key + "2").encode()) == read_key(r, key.encode())
