"""The bitmap group (bitops.c) against Ferrous and real Redis 7.0, RESP2 and RESP3."""
from __future__ import annotations

import random

import pytest
from resp_client import Error

WRONGTYPE = Error("WRONGTYPE Operation against a key holding the wrong kind of value")
SYNTAX = Error("ERR syntax error")
NOT_INTEGER = Error("ERR value is not an integer or out of range")
BAD_OFFSET = Error("ERR bit offset is not an integer or out of range")
BAD_BIT = Error("ERR bit is not an integer or out of range")
BAD_TYPE = Error("ERR Invalid bitfield type. Use something like i16 u8. "
                 "Note that u64 is not supported but i64 is.")


# -- SETBIT / GETBIT -------------------------------------------------------------------

def test_setbit_getbit_grow_the_string(raw):
    assert raw.call("SETBIT", "k", 7, 1) == 0
    assert raw.call("GET", "k") == b"\x01"
    assert raw.call("SETBIT", "k", 7, 1) == 1
    assert raw.call("SETBIT", "k", 20, 1) == 0
    assert raw.call("GET", "k") == b"\x01\x00\x08"
    assert raw.call("SETBIT", "k", 7, 0) == 1
    assert [raw.call("GETBIT", "k", i) for i in (7, 20, 21, 1000)] == [0, 1, 0, 0]
    assert raw.call("GETBIT", "missing", 3) == 0


def test_setbit_keeps_ttl(r):
    r.set("k", "a", ex=100)
    r.setbit("k", 100, 1)
    assert 0 < r.ttl("k") <= 100


def test_setbit_getbit_errors(raw):
    assert raw.call("SETBIT", "k", -1, 1) == BAD_OFFSET
    assert raw.call("SETBIT", "k", "x", 1) == BAD_OFFSET
    assert raw.call("SETBIT", "k", 4294967296, 1) == BAD_OFFSET
    assert raw.call("SETBIT", "k", 1, 2) == BAD_BIT
    assert raw.call("SETBIT", "k", 1, -1) == BAD_BIT
    assert raw.call("SETBIT", "k", 1, "x") == BAD_BIT
    assert raw.call("GETBIT", "k", -1) == BAD_OFFSET
    assert raw.call("EXISTS", "k") == 0
    raw.call("LPUSH", "l", "a")
    assert raw.call("SETBIT", "l", 0, 1) == WRONGTYPE
    assert raw.call("GETBIT", "l", 0) == WRONGTYPE


def test_setbit_offset_limited_by_proto_max_bulk_len(raw):
    raw.call("CONFIG", "SET", "proto-max-bulk-len", 1024 * 1024)
    try:
        assert raw.call("SETBIT", "k", 8 * 1024 * 1024, 1) == BAD_OFFSET
        assert raw.call("SETBIT", "k", 8 * 1024 * 1024 - 1, 1) == 0
        assert raw.call("STRLEN", "k") == 1024 * 1024
    finally:
        raw.call("CONFIG", "SET", "proto-max-bulk-len", 512 * 1024 * 1024)


# -- BITCOUNT --------------------------------------------------------------------------

def test_bitcount_ranges(raw):
    raw.call("SET", "k", "foobar")
    assert raw.call("BITCOUNT", "k") == 26
    assert raw.call("BITCOUNT", "k", 0, 0) == 4
    assert raw.call("BITCOUNT", "k", 1, 1) == 6
    assert raw.call("BITCOUNT", "k", 1, 1, "BYTE") == 6
    assert raw.call("BITCOUNT", "k", 5, 30, "BIT") == 17
    assert raw.call("BITCOUNT", "k", -3, -1) == 10
    assert raw.call("BITCOUNT", "k", 0, -100) == 4      # end clamps to byte 0
    assert raw.call("BITCOUNT", "k", -100, 100) == 26
    assert raw.call("BITCOUNT", "k", -1, -2) == 0     # Redis 7.0's early exit
    assert raw.call("BITCOUNT", "k", 3, 1) == 0
    assert raw.call("BITCOUNT", "missing") == 0
    raw.call("SET", "empty", "")
    assert raw.call("BITCOUNT", "empty") == 0


def test_bitcount_errors(raw):
    raw.call("SET", "k", "foobar")
    assert raw.call("BITCOUNT", "k", 0) == SYNTAX
    assert raw.call("BITCOUNT", "k", 0, 1, "BITS") == SYNTAX
    assert raw.call("BITCOUNT", "k", 0, 1, "BIT", "x") == SYNTAX
    assert raw.call("BITCOUNT", "k", "a", 1) == NOT_INTEGER
    # Redis 7.0 looks the key up first: a missing key answers 0 whatever follows.
    assert raw.call("BITCOUNT", "missing", "a", "b") == 0
    raw.call("LPUSH", "l", "a")
    assert raw.call("BITCOUNT", "l") == WRONGTYPE


# -- BITPOS ----------------------------------------------------------------------------

def test_bitpos_basic(raw):
    raw.call("SET", "k", b"\xff\xf0\x00")
    assert raw.call("BITPOS", "k", 0) == 12
    assert raw.call("BITPOS", "k", 1) == 0
    assert raw.call("BITPOS", "k", 1, 2) == -1
    assert raw.call("BITPOS", "k", 0, 2, -1) == 16
    assert raw.call("BITPOS", "k", 1, 7, 15, "BIT") == 7
    assert raw.call("BITPOS", "k", 0, 7, 15, "BIT") == 12
    assert raw.call("BITPOS", "k", 1, 2, 1) == -1
    assert raw.call("BITPOS", "missing", 0) == 0
    assert raw.call("BITPOS", "missing", 1) == -1


def test_bitpos_clear_bit_in_all_ones(raw):
    """Without an end the string is padded with zeroes; with an end it is not."""
    raw.call("SET", "k", b"\xff\xff\xff")
    assert raw.call("BITPOS", "k", 0) == 24
    assert raw.call("BITPOS", "k", 0, 1) == 24
    assert raw.call("BITPOS", "k", 0, 1, -1) == -1
    assert raw.call("BITPOS", "k", 0, 0, 20, "BIT") == -1
    assert raw.call("BITPOS", "k", 1, 30, 40, "BIT") == -1
    raw.call("SET", "empty", "")
    assert raw.call("BITPOS", "empty", 0) == -1
    assert raw.call("BITPOS", "empty", 1) == -1


def test_bitpos_errors(raw):
    raw.call("SET", "k", "a")
    assert raw.call("BITPOS", "k", 2) == Error("ERR The bit argument must be 1 or 0.")
    assert raw.call("BITPOS", "k", "x") == NOT_INTEGER
    assert raw.call("BITPOS", "k", 1, "x") == NOT_INTEGER
    assert raw.call("BITPOS", "k", 1, 0, 1, "BITS") == SYNTAX
    assert raw.call("BITPOS", "k", 1, 0, 1, "BIT", "x") == SYNTAX
    raw.call("LPUSH", "l", "a")
    assert raw.call("BITPOS", "l", 1) == WRONGTYPE


def test_bitpos_matches_a_bit_by_bit_scan(r):
    """Compare BITPOS with a direct scan over random strings and ranges."""
    rng = random.Random(7)
    for _ in range(60):
        value = bytes(rng.choice([0, 255, rng.getrandbits(8)]) for _ in range(rng.randint(1, 6)))
        r.set("k", value)
        bits = "".join(f"{b:08b}" for b in value)
        start, end = sorted(rng.randint(0, len(bits) - 1) for _ in range(2))
        for bit in "01":
            window = bits[start:end + 1]
            expected = start + window.index(bit) if bit in window else -1
            assert r.bitpos("k", int(bit), start, end, "BIT") == expected


# -- BITOP -----------------------------------------------------------------------------

def test_bitop_operations(raw):
    raw.call("SET", "a", b"\xf0\x0f\xff")
    raw.call("SET", "b", b"\x3c")
    assert raw.call("BITOP", "AND", "d", "a", "b") == 3
    assert raw.call("GET", "d") == b"\x30\x00\x00"
    assert raw.call("BITOP", "or", "d", "a", "b") == 3
    assert raw.call("GET", "d") == b"\xfc\x0f\xff"
    assert raw.call("BITOP", "XOR", "d", "a", "b", "missing") == 3
    assert raw.call("GET", "d") == b"\xcc\x0f\xff"
    assert raw.call("BITOP", "NOT", "d", "a") == 3
    assert raw.call("GET", "d") == b"\x0f\xf0\x00"


def test_bitop_empty_result_deletes_target(raw):
    raw.call("SET", "d", "x")
    assert raw.call("BITOP", "AND", "d", "nx1", "nx2") == 0
    assert raw.call("EXISTS", "d") == 0


def test_bitop_errors(raw):
    assert raw.call("BITOP", "NOT", "d", "a", "b") == \
        Error("ERR BITOP NOT must be called with a single source key.")
    assert raw.call("BITOP", "NAND", "d", "a") == SYNTAX
    raw.call("LPUSH", "l", "a")
    assert raw.call("BITOP", "AND", "d", "l") == WRONGTYPE


# -- BITFIELD --------------------------------------------------------------------------

def test_bitfield_get_set_incrby(raw):
    assert raw.call("BITFIELD", "k", "SET", "i8", 0, 100, "GET", "u4", 0, "INCRBY", "u2", 100, 1) == [0, 6, 1]
    assert raw.call("GET", "k")[:1] == b"\x64"
    assert raw.call("STRLEN", "k") == 13
    assert raw.call("BITFIELD", "k", "SET", "u8", "#1", 255, "GET", "u8", 8, "GET", "i8", "#1") == [0, 255, -1]
    assert raw.call("BITFIELD", "k", "INCRBY", "i64", 0, 1) == [0x64FF000000000001]


def test_bitfield_overflow_modes(raw):
    assert raw.call("BITFIELD", "k", "SET", "u8", 0, 255, "INCRBY", "u8", 0, 10) == [0, 9]
    assert raw.call("BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "u8", 0, 300, "INCRBY", "i8", 0, -300) == [255, -128]
    assert raw.call("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "i8", 0, -1, "GET", "i8", 0) == [None, -128]
    assert raw.call("BITFIELD", "k", "OVERFLOW", "WRAP", "INCRBY", "i8", 0, -1) == [127]
    assert raw.call("BITFIELD", "k", "SET", "u4", 0, -1) == [7]
    assert raw.call("BITFIELD", "k", "GET", "u4", 0) == [15]
    # Redis checks `max - value` in wrapping int64: the most negative SET saturates up.
    assert raw.call("BITFIELD", "k", "OVERFLOW", "SAT", "SET", "i5", 0, -2**63, "GET", "i5", 0) == [-1, 15]
    assert raw.call("BITFIELD", "w", "SET", "i64", 0, 2**63 - 1, "INCRBY", "i64", 0, 1) == [0, -2**63]
    assert raw.call("BITFIELD", "w", "OVERFLOW", "SAT", "INCRBY", "i64", 0, -1) == [-2**63]


def test_bitfield_fail_still_creates_the_key(raw):
    assert raw.call("BITFIELD", "k", "OVERFLOW", "FAIL", "SET", "u2", 0, 9) == [None]
    assert raw.call("GET", "k") == b"\x00"


def test_bitfield_reads_missing_key_and_no_ops(raw):
    assert raw.call("BITFIELD", "missing", "GET", "u8", 100) == [0]
    assert raw.call("EXISTS", "missing") == 0
    assert raw.call("BITFIELD", "missing") == []
    assert raw.call("BITFIELD_RO", "missing") == []


def test_bitfield_errors(raw):
    assert raw.call("BITFIELD", "k", "GET", "u64", 0) == BAD_TYPE
    assert raw.call("BITFIELD", "k", "GET", "i65", 0) == BAD_TYPE
    assert raw.call("BITFIELD", "k", "GET", "i0", 0) == BAD_TYPE
    assert raw.call("BITFIELD", "k", "GET", "x8", 0) == BAD_TYPE
    assert raw.call("BITFIELD", "k", "GET", "i8", -1) == BAD_OFFSET
    assert raw.call("BITFIELD", "k", "GET", "i8", "#-1") == BAD_OFFSET
    assert raw.call("BITFIELD", "k", "GET", "i8") == SYNTAX
    assert raw.call("BITFIELD", "k", "FOO") == SYNTAX
    assert raw.call("BITFIELD", "k", "SET", "i8", 0, "x") == NOT_INTEGER
    assert raw.call("BITFIELD", "k", "OVERFLOW", "BAD", "GET", "i8", 0) == \
        Error("ERR Invalid OVERFLOW type specified")
    raw.call("LPUSH", "l", "a")
    assert raw.call("BITFIELD", "l", "GET", "i8", 0) == WRONGTYPE
    assert raw.call("BITFIELD", "l", "SET", "i8", 0, 1) == WRONGTYPE


def test_bitfield_ro(raw):
    raw.call("SET", "k", b"\x81")
    assert raw.call("BITFIELD_RO", "k", "GET", "i8", 0, "GET", "u1", "#7") == [-127, 1]
    ro_only = Error("ERR BITFIELD_RO only supports the GET subcommand")
    assert raw.call("BITFIELD_RO", "k", "SET", "i8", 0, 1) == ro_only
    assert raw.call("BITFIELD_RO", "k", "GET", "i8", 0, "INCRBY", "i8", 0, 1) == ro_only
    assert raw.call("BITFIELD_RO", "k", "GET", "u64", 0) == BAD_TYPE
    assert raw.call("GET", "k") == b"\x81"


@pytest.mark.parametrize("width", [1, 7, 13, 32, 63])
def test_bitfield_roundtrip_unsigned(r, width):
    rng = random.Random(width)
    for _ in range(10):
        value, offset = rng.getrandbits(width), rng.randint(0, 50)
        r.execute_command("BITFIELD", "k", "SET", f"u{width}", offset, value)
        assert r.execute_command("BITFIELD_RO", "k", "GET", f"u{width}", offset) == [value]
