"""OBJECT ENCODING of strings, as Redis 7.0 reports it.

SET-like commands store what tryObjectEncoding makes of the content (int, embstr up
to 44 bytes, raw beyond). Commands that edit a string in place go through
dbUnshareStringValue and leave a "raw" object even for short values; INCRBYFLOAT
stores an embstr even when the result reads as an integer. RENAME, MOVE and COPY keep
the object's encoding; overwriting the key, RESTORE and reloading go back to the
content's encoding.
"""
from __future__ import annotations

import time

import pytest
import redis

from servers import KINDS, ServerProcess


def enc(client, key) -> bytes:
    return client.object("encoding", key)


def raw_string(r, key, value=b"hello"):
    """A short string edited in place: raw although its content reads as embstr."""
    r.set(key, value[:-1])
    r.append(key, value[-1:])
    assert enc(r, key) == b"raw"


def small_hll(r, key=b"hll-source") -> bytes:
    """The bytes of a one-element sparse HLL: short enough to be an embstr."""
    r.pfadd(key, "a")
    value = r.get(key)
    assert len(value) <= 44
    r.delete(key)
    return value


# ---------------------------------------------------------------------------
# Stored by SET and friends: the content decides
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (b"123", b"int"), (b"-9223372036854775808", b"int"), (b"9223372036854775808", b"embstr"),
    (b"0123", b"embstr"), (b" 1", b"embstr"), (b"hello", b"embstr"), (b"x" * 44, b"embstr"),
    (b"x" * 45, b"raw"), (b"", b"embstr"),
])
def test_set_encoding_follows_content(r, value, expected):
    r.set("k", value)
    assert enc(r, "k") == expected


def test_append_creating_the_key_follows_content(r):
    r.append("k", "x")
    assert enc(r, "k") == b"embstr"
    r.append("n", "123")
    assert enc(r, "n") == b"int"
    r.append("long", "x" * 50)
    assert enc(r, "long") == b"raw"


# ---------------------------------------------------------------------------
# In-place edits: raw
# ---------------------------------------------------------------------------

def test_append_to_existing_key_is_raw(r):
    r.set("k", "hello")
    r.append("k", "x")
    assert enc(r, "k") == b"raw"


def test_append_to_int_is_raw_and_refcount_one(r):
    r.set("k", "12")
    r.append("k", "3")
    assert enc(r, "k") == b"raw"
    assert r.object("refcount", "k") == 1    # no longer a shared integer


def test_append_empty_tail_still_unshares(r):
    r.set("k", "12")
    assert r.append("k", "") == 2
    assert enc(r, "k") == b"raw"


def test_setrange_existing_is_raw(r):
    r.set("k", "hello")
    r.setrange("k", 0, "H")
    assert enc(r, "k") == b"raw"
    r.set("n", "123")
    r.setrange("n", 0, "4")
    assert enc(r, "n") == b"raw"


def test_setrange_missing_key_is_raw(r):
    r.setrange("k", 0, "H")
    assert enc(r, "k") == b"raw"
    r.setrange("k2", 2, "1")
    assert enc(r, "k2") == b"raw"


def test_setrange_empty_value_changes_nothing(r):
    r.set("k", "hello")
    r.setrange("k", 0, "")
    r.setrange("k", 10, "")
    assert enc(r, "k") == b"embstr"
    r.set("n", "123")
    r.setrange("n", 0, "")
    assert enc(r, "n") == b"int"


def test_setbit_is_raw(r):
    r.set("k", "hello")
    r.setbit("k", 1, 1)
    assert enc(r, "k") == b"raw"
    r.setbit("new", 1, 1)
    assert enc(r, "new") == b"raw"


def test_setbit_unchanged_bit_still_unshares(r):
    r.set("k", "123")
    assert r.setbit("k", 0, 0) == 0
    assert r.get("k") == b"123"
    assert enc(r, "k") == b"raw"


def test_bitfield_get_only_keeps_encoding(r):
    r.set("k", "hello")
    r.set("n", "123")
    r.bitfield("k").get("u8", 0).execute()
    r.bitfield_ro("n", "u8", 0)
    assert enc(r, "k") == b"embstr"
    assert enc(r, "n") == b"int"


def test_bitfield_write_is_raw(r):
    r.set("k", "hello")
    r.bitfield("k").set("u8", 0, 104).execute()       # same byte: still unshared
    assert r.get("k") == b"hello"
    assert enc(r, "k") == b"raw"
    r.bitfield("new").incrby("u8", 0, 1).execute()
    assert enc(r, "new") == b"raw"


def test_bitfield_failed_overflow_still_unshares(r):
    r.set("k", "123")
    assert r.bitfield("k").overflow("FAIL").incrby("u2", 0, 10).execute() == [None]
    assert enc(r, "k") == b"raw"


def test_bitfield_argument_error_keeps_encoding(r):
    r.set("k", "hello")
    with pytest.raises(redis.ResponseError):
        r.bitfield("k").incrby("u2", 100000000000, 1).execute()
    assert enc(r, "k") == b"embstr"


def test_bitop_destination_is_raw(r):
    r.set("a", "x")
    r.set("b", "y")
    r.bitop("AND", "d", "a", "b")
    assert enc(r, "d") == b"raw"
    r.set("one", "1")
    r.bitop("NOT", "d2", "one")
    assert enc(r, "d2") == b"raw"
    r.set("d3", "hello")
    r.bitop("OR", "d3", "one")
    assert enc(r, "d3") == b"raw"
    assert enc(r, "a") == b"embstr"     # sources are only read


# ---------------------------------------------------------------------------
# HyperLogLog: strings that the HLL commands unshare
# ---------------------------------------------------------------------------

def test_pfadd_creates_raw(r):
    r.pfadd("k", "a")
    assert enc(r, "k") == b"raw"
    r.pfadd("empty")
    assert enc(r, "empty") == b"raw"


def test_set_hll_bytes_is_embstr_until_pfadd(r):
    r.set("k", small_hll(r))
    assert enc(r, "k") == b"embstr"
    assert r.pfadd("k") == 0        # nothing added, still unshared
    assert enc(r, "k") == b"raw"
    r.set("k2", small_hll(r))
    assert r.pfadd("k2", "a") == 0
    assert enc(r, "k2") == b"raw"


def test_pfcount_single_key_unshares(r):
    r.set("k", small_hll(r))
    assert r.pfcount("k") == 1      # the cached count is valid
    assert enc(r, "k") == b"raw"
    stale = bytearray(small_hll(r))
    stale[15] |= 0x80               # invalidate the cached cardinality
    r.set("k2", bytes(stale))
    assert r.pfcount("k2") == 1
    assert enc(r, "k2") == b"raw"


def test_pfcount_several_keys_only_reads(r):
    r.set("k", small_hll(r))
    r.pfadd("other", "b")
    assert r.pfcount("k", "other") == 2
    assert enc(r, "k") == b"embstr"


def test_pfcount_and_pfadd_on_non_hll_keep_encoding(r):
    r.set("k", "notanhll")
    for call in (lambda: r.pfadd("k", "x"), lambda: r.pfcount("k")):
        with pytest.raises(redis.ResponseError, match="not a valid HyperLogLog"):
            call()
    assert enc(r, "k") == b"embstr"


def test_pfmerge_destination_is_raw_sources_kept(r):
    r.set("src", small_hll(r))
    r.pfmerge("dest", "src")
    assert enc(r, "dest") == b"raw"
    assert enc(r, "src") == b"embstr"
    r.set("self", small_hll(r))
    r.pfmerge("self")
    assert enc(r, "self") == b"raw"


def test_pfadd_corrupted_hll_still_unshares(r):
    r.set("k", b"HYLL\x01" + b"\x00" * 11 + b"\xff")   # sparse with a bad opcode
    with pytest.raises(redis.ResponseError, match="Corrupted HLL"):
        r.pfadd("k", "x")
    assert enc(r, "k") == b"raw"


# ---------------------------------------------------------------------------
# Counters
# ---------------------------------------------------------------------------

def test_incr_family_is_int(r):
    r.set("k", "5")
    r.incr("k")
    assert enc(r, "k") == b"int"
    r.set("big", "10000000")
    r.decrby("big", 3)
    assert enc(r, "big") == b"int"


def test_incr_on_raw_integer_is_int(r):
    raw_string(r, "k", b"123")
    r.incr("k")
    assert enc(r, "k") == b"int"


def test_incrbyfloat_is_embstr_even_for_integers(r):
    r.set("k", "1.5")
    r.incrbyfloat("k", 1)
    assert enc(r, "k") == b"embstr"
    r.set("n", "1")
    assert r.incrbyfloat("n", 1) == 2.0
    assert r.get("n") == b"2"
    assert enc(r, "n") == b"embstr"
    assert r.object("refcount", "n") == 1
    r.incrbyfloat("new", 3)
    assert enc(r, "new") == b"embstr"


def test_incrbyfloat_on_raw_is_embstr(r):
    raw_string(r, "k", b"1.50")
    r.incrbyfloat("k", 1)
    assert enc(r, "k") == b"embstr"


# ---------------------------------------------------------------------------
# Commands that keep the object, and those that replace it
# ---------------------------------------------------------------------------

def test_reads_and_ttl_changes_keep_raw(r):
    raw_string(r, "k")
    r.get("k")
    r.getrange("k", 0, 1)
    r.strlen("k")
    r.lcs("k", "k")
    r.expire("k", 100)
    r.persist("k")
    r.getex("k", ex=100)
    r.getex("k", persist=True)
    assert enc(r, "k") == b"raw"


def test_failed_conditional_sets_keep_raw(r):
    raw_string(r, "k")
    assert not r.setnx("k", "z")
    assert r.set("k", "z", nx=True) is None
    assert not r.msetnx({"k": "a", "other": "b"})
    assert enc(r, "k") == b"raw"


@pytest.mark.parametrize("overwrite", [
    lambda r: r.set("k", "hi"),
    lambda r: r.set("k", "hi", xx=True),
    lambda r: r.set("k", "hi", keepttl=True),
    lambda r: r.set("k", "hi", get=True),
    lambda r: r.getset("k", "hi"),
    lambda r: r.mset({"k": "hi"}),
    lambda r: r.execute_command("SETEX", "k", 100, "hi"),
    lambda r: r.psetex("k", 100000, "hi"),
], ids=["set", "set-xx", "set-keepttl", "set-get", "getset", "mset", "setex", "psetex"])
def test_overwriting_a_raw_key_follows_content(r, overwrite):
    raw_string(r, "k")
    overwrite(r)
    assert enc(r, "k") == b"embstr"
    raw_string(r, "n", b"42")
    r.set("n", "42")
    assert enc(r, "n") == b"int"


def test_deleted_and_recreated_key_follows_content(r):
    raw_string(r, "k")
    r.delete("k")
    r.set("k", "hello")
    assert enc(r, "k") == b"embstr"
    raw_string(r, "g")
    assert r.getdel("g") == b"hello"
    r.append("g", "hello")
    assert enc(r, "g") == b"embstr"


def test_expired_and_recreated_key_follows_content(r):
    raw_string(r, "k")
    r.pexpire("k", 1)
    deadline = time.monotonic() + 5
    while r.exists("k"):            # poll until it is gone
        assert time.monotonic() < deadline
    r.set("k", "hello")
    assert enc(r, "k") == b"embstr"


def test_flush_forgets_raw_marks(r):
    raw_string(r, "k")
    r.flushdb()
    r.set("k", "hello")
    assert enc(r, "k") == b"embstr"


def test_rename_keeps_encoding(r):
    raw_string(r, "k")
    r.rename("k", "k2")
    assert enc(r, "k2") == b"raw"
    raw_string(r, "a")
    r.renamenx("a", "b")
    assert enc(r, "b") == b"raw"
    r.rename("b", "b")
    assert enc(r, "b") == b"raw"
    r.set("f", "1")
    r.incrbyfloat("f", 1)
    r.rename("f", "f2")
    assert enc(r, "f2") == b"embstr"


def test_rename_over_raw_target_takes_source_encoding(r):
    raw_string(r, "target")
    r.set("src", "hello")
    r.rename("src", "target")
    assert enc(r, "target") == b"embstr"


def test_copy_keeps_encoding(r):
    raw_string(r, "k")
    assert r.copy("k", "k2")
    assert enc(r, "k2") == b"raw"
    assert enc(r, "k") == b"raw"
    r.set("f", "1")
    r.incrbyfloat("f", 1)
    r.copy("f", "f2")
    assert enc(r, "f2") == b"embstr"
    raw_string(r, "dst")
    r.set("plain", "hello")
    r.copy("plain", "dst", replace=True)
    assert enc(r, "dst") == b"embstr"


def test_copy_and_move_to_another_db_keep_encoding(r, server, protocol):
    other = redis.Redis(port=server.port, db=1, protocol=protocol)
    try:
        raw_string(r, "k")
        r.copy("k", "c", destination_db=1)
        assert enc(other, "c") == b"raw"
        r.move("k", 1)
        assert enc(other, "k") == b"raw"
    finally:
        other.close()


def test_swapdb_keeps_encoding(r, server, protocol):
    other = redis.Redis(port=server.port, db=1, protocol=protocol)
    try:
        raw_string(r, "k")
        r.swapdb(0, 1)
        assert enc(other, "k") == b"raw"
    finally:
        other.close()


def test_restore_follows_content(r):
    raw_string(r, "k")
    r.restore("k2", 0, r.dump("k"))
    assert enc(r, "k2") == b"embstr"
    raw_string(r, "n", b"1234567890123")    # too long for the RDB's int encoding
    r.restore("n2", 0, r.dump("n"))
    assert enc(r, "n2") == b"int"
    r.set("f", "1")
    r.incrbyfloat("f", 1)
    r.restore("f2", 0, r.dump("f"))
    assert enc(r, "f2") == b"int"
    raw_string(r, "over")
    r.restore("over", 0, r.dump("f2"), replace=True)
    assert enc(r, "over") == b"int"


def test_raw_mark_in_transaction_and_script(r):
    r.set("k", "hello")
    pipe = r.pipeline(transaction=True)
    pipe.append("k", "x")
    pipe.object("encoding", "k")
    assert pipe.execute() == [6, b"raw"]
    r.set("s", "hello")
    assert r.eval("redis.call('setrange', KEYS[1], 0, 'H') "
                  "return redis.call('object', 'encoding', KEYS[1])", 1, "s") == b"raw"


# ---------------------------------------------------------------------------
# DEBUG RELOAD and DEBUG OBJECT (their own servers: the DEBUG command is enabled)
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module", params=KINDS)
def debug_server(request):
    proc = ServerProcess(request.param, args=["--enable-debug-command", "yes"])
    yield proc
    proc.stop()


@pytest.fixture
def dr(debug_server, protocol):
    client = redis.Redis(port=debug_server.port, protocol=protocol, socket_timeout=20)
    client.flushall()
    yield client
    client.close()


def test_debug_reload_follows_content(dr):
    raw_string(dr, "k")
    raw_string(dr, "n", b"1234567890123")
    dr.set("f", "1")
    dr.incrbyfloat("f", 1)
    dr.pfadd("h", "a")
    dr.expire("k", 100)
    assert dr.execute_command("DEBUG", "RELOAD")
    assert [enc(dr, key) for key in ("k", "n", "f", "h")] == [b"embstr", b"int", b"int", b"embstr"]


def test_debug_object_reports_the_encoding(dr):
    raw_string(dr, "k", b"12")
    assert b"encoding:raw " in dr.execute_command("DEBUG", "OBJECT", "k")
    dr.set("f", "1")
    dr.incrbyfloat("f", 1)
    assert b"encoding:embstr " in dr.execute_command("DEBUG", "OBJECT", "f")
    dr.set("f", "2")
    assert b"encoding:int " in dr.execute_command("DEBUG", "OBJECT", "f")


def test_pfdebug_unshares_for_every_subcommand(dr):
    value = small_hll(dr)
    for sub in ("ENCODING", "DECODE", "GETREG", "TODENSE"):
        dr.set("k", value)
        dr.execute_command("PFDEBUG", sub, "k")
        assert enc(dr, "k") == b"raw", sub
    dr.set("k", value)
    with pytest.raises(redis.ResponseError, match="Unknown PFDEBUG subcommand"):
        dr.execute_command("PFDEBUG", "NOSUCH", "k")
    assert enc(dr, "k") == b"raw"
