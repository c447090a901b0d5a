"""The generic (keyspace) group against Ferrous and real Redis 7.0, RESP2 and RESP3:
DEL, UNLINK, EXISTS, TOUCH, TYPE, the EXPIRE/TTL families, PERSIST, KEYS, SCAN,
RANDOMKEY, RENAME, RENAMENX, MOVE, COPY, OBJECT."""
from __future__ import annotations

import itertools
import json
import os
import random
import time

import pytest
from resp_client import Error, RawClient, Simple, encode_command
from storage.test_glob import stringmatchlen

SYNTAX = Error("ERR syntax error")
NOT_INTEGER = Error("ERR value is not an integer or out of range")
NO_SUCH_KEY = Error("ERR no such key")
SAME_OBJECT = Error("ERR source and destination objects are the same")
DB_OUT_OF_RANGE = Error("ERR DB index is out of range")
INVALID_CURSOR = Error("ERR invalid cursor")
NX_CONFLICT = Error("ERR NX and XX, GT or LT options at the same time are not compatible")
GT_LT_CONFLICT = Error("ERR GT and LT options at the same time are not compatible")
FREQ_NOT_LFU = Error(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some time "
    "to adjust.")
LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)


def invalid_expire(command: str) -> Error:
    return Error(f"ERR invalid expire time in '{command}' command")


def arity(command: str) -> Error:
    return Error(f"ERR wrong number of arguments for '{command}' command")


def now_ms() -> int:
    return int(time.time() * 1000)


def poll(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def full_scan(raw, *options) -> list:
    cursor, seen = b"0", []
    while True:
        cursor, keys = raw.call("SCAN", cursor, *options)
        seen.extend(keys)
        if cursor == b"0":
            return seen


# -- DEL, UNLINK, EXISTS, TOUCH, TYPE ------------------------------------------------

@pytest.mark.parametrize("command", ["DEL", "UNLINK"])
def test_delete_counts_removed_keys(raw, command):
    raw.call("SET", "a", "1")
    raw.call("SET", "b", "2")
    raw.call("SADD", "s", "m")
    assert raw.call(command, "a", "a", "missing", "s") == 2
    assert raw.call("EXISTS", "a", "b", "s") == 1
    assert raw.call(command, "a") == 0
    assert raw.call(command) == arity(command.lower())


def test_delete_of_expired_key_counts_nothing(raw):
    raw.call("SET", "k", "v", "PX", "1")
    poll(lambda: raw.call("DEL", "k") == 0)


def test_exists_counts_every_mention(raw):
    raw.call("SET", "a", "1")
    assert raw.call("EXISTS", "a", "a", "b", "a") == 3
    assert raw.call("EXISTS", "nothing") == 0
    assert raw.call("EXISTS") == arity("exists")


def test_touch_counts_existing(raw):
    raw.call("SET", "a", "1")
    raw.call("HSET", "h", "f", "v")
    assert raw.call("TOUCH", "a", "h", "missing", "a") == 3
    assert raw.call("TOUCH") == arity("touch")


def test_type_of_each_kind(raw):
    raw.call("SET", "str", "v")
    raw.call("SET", "num", "12")
    raw.call("SADD", "set", "m")
    raw.call("HSET", "hash", "f", "v")
    raw.call("RPUSH", "list", "a")
    raw.call("ZADD", "zset", "1", "m")
    assert raw.call("TYPE", "list") == Simple("list")
    assert raw.call("TYPE", "zset") == Simple("zset")
    assert raw.call("TYPE", "str") == Simple("string")
    assert raw.call("TYPE", "num") == Simple("string")
    assert raw.call("TYPE", "set") == Simple("set")
    assert raw.call("TYPE", "hash") == Simple("hash")
    assert raw.call("TYPE", "missing") == Simple("none")
    assert raw.call("TYPE") == arity("type")


def test_type_with_redis_py(r):
    r.set("k", "v")
    assert r.type("k") == b"string"
    assert r.type("nope") == b"none"


# -- EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT ----------------------------------------------

def test_expire_and_ttl(raw):
    raw.call("SET", "k", "v")
    assert raw.call("TTL", "k") == -1
    assert raw.call("PTTL", "k") == -1
    assert raw.call("EXPIRE", "k", "100") == 1
    assert 99 <= raw.call("TTL", "k") <= 100
    assert 99_000 <= raw.call("PTTL", "k") <= 100_000
    assert raw.call("PEXPIRE", "k", "50000") == 1
    assert 49_000 <= raw.call("PTTL", "k") <= 50_000
    assert raw.call("TTL", "missing") == -2
    assert raw.call("PTTL", "missing") == -2


def test_expire_on_missing_key(raw):
    for command in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        assert raw.call(command, "missing", "100") == 0
    assert raw.call("EXISTS", "missing") == 0


def test_expireat_and_expiretime(raw):
    raw.call("SET", "k", "v")
    at = int(time.time()) + 1000
    assert raw.call("EXPIREAT", "k", at) == 1
    assert raw.call("EXPIRETIME", "k") == at
    assert raw.call("PEXPIRETIME", "k") == at * 1000
    assert raw.call("PEXPIREAT", "k", at * 1000 + 499) == 1
    assert raw.call("EXPIRETIME", "k") == at
    assert raw.call("PEXPIREAT", "k", at * 1000 + 500) == 1
    assert raw.call("EXPIRETIME", "k") == at + 1  # rounded, like TTL
    assert raw.call("PEXPIRETIME", "k") == at * 1000 + 500


def test_expiretime_without_deadline(raw):
    raw.call("SET", "k", "v")
    assert raw.call("EXPIRETIME", "k") == -1
    assert raw.call("PEXPIRETIME", "k") == -1
    assert raw.call("EXPIRETIME", "missing") == -2
    assert raw.call("PEXPIRETIME", "missing") == -2


def test_ttl_rounds_to_nearest_second(raw):
    raw.call("SET", "k", "v")
    raw.call("PEXPIRE", "k", "10400")
    assert raw.call("TTL", "k") == 10
    raw.call("PEXPIRE", "k", "10900")
    assert raw.call("TTL", "k") == 11


@pytest.mark.parametrize("command,when", [
    ("EXPIRE", "-1"), ("PEXPIRE", "-1"), ("EXPIRE", "0"), ("PEXPIRE", "0"),
    ("EXPIREAT", "1"), ("PEXPIREAT", "1"), ("EXPIREAT", "-100"),
    ("EXPIRE", str(-(LLONG_MAX // 1000))),
])
def test_expire_in_the_past_deletes(raw, command, when):
    raw.call("SET", "k", "v")
    assert raw.call(command, "k", when) == 1
    assert raw.call("EXISTS", "k") == 0
    assert raw.call("TTL", "k") == -2


def test_expire_in_the_past_deletes_other_types(raw):
    raw.call("SADD", "s", "a")
    assert raw.call("PEXPIREAT", "s", now_ms() - 10) == 1
    assert raw.call("TYPE", "s") == Simple("none")


@pytest.mark.parametrize("command,when", [
    ("EXPIRE", str(LLONG_MAX)), ("EXPIRE", str(LLONG_MAX // 1000)),
    ("EXPIRE", str(LLONG_MIN)), ("EXPIRE", str(-(LLONG_MAX // 1000) - 1)),
    ("PEXPIRE", str(LLONG_MAX)), ("PEXPIRE", str(LLONG_MAX - 1000)),
    ("EXPIREAT", str(LLONG_MAX // 1000 + 1)), ("EXPIREAT", str(LLONG_MIN)),
])
def test_expire_overflow(raw, command, when):
    raw.call("SET", "k", "v")
    assert raw.call(command, "k", when) == invalid_expire(command.lower())
    assert raw.call("TTL", "k") == -1


def test_expire_at_the_extremes(raw):
    raw.call("SET", "k", "v")
    assert raw.call("PEXPIREAT", "k", str(LLONG_MAX)) == 1
    assert raw.call("PEXPIRETIME", "k") == LLONG_MAX
    assert raw.call("EXPIRETIME", "k") == (LLONG_MAX + 500) // 1000
    assert raw.call("EXPIREAT", "k", str(LLONG_MAX // 1000)) == 1
    assert raw.call("EXPIRETIME", "k") == LLONG_MAX // 1000


@pytest.mark.parametrize("command", ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"])
def test_expire_not_an_integer(raw, command):
    raw.call("SET", "k", "v")
    for bad in ("abc", "1.5", " 1", "", "99999999999999999999"):
        assert raw.call(command, "k", bad) == NOT_INTEGER
    assert raw.call(command, "k") == arity(command.lower())


def test_expire_nx_xx_gt_lt(raw):
    raw.call("SET", "k", "v")
    assert raw.call("EXPIRE", "k", "100", "XX") == 0          # no TTL yet
    assert raw.call("EXPIRE", "k", "100", "GT") == 0          # none counts as infinite
    assert raw.call("TTL", "k") == -1
    assert raw.call("EXPIRE", "k", "100", "NX") == 1
    assert raw.call("EXPIRE", "k", "200", "NX") == 0
    assert raw.call("EXPIRE", "k", "200", "xx") == 1
    assert raw.call("EXPIRE", "k", "100", "gt") == 0
    assert raw.call("EXPIRE", "k", "300", "GT") == 1
    at = now_ms() + 500_000
    assert raw.call("PEXPIREAT", "k", at, "GT") == 1
    assert raw.call("PEXPIREAT", "k", at, "GT") == 0          # equal is not greater
    assert raw.call("PEXPIREAT", "k", at, "LT") == 0          # nor less
    assert raw.call("PEXPIREAT", "k", at, "XX") == 1
    assert raw.call("EXPIRE", "k", "600", "LT") == 0
    assert raw.call("EXPIRE", "k", "50", "Lt") == 1
    assert raw.call("EXPIRE", "k", "60", "XX", "LT") == 0
    assert raw.call("EXPIRE", "k", "40", "XX", "LT") == 1
    assert 39 <= raw.call("TTL", "k") <= 40
    assert raw.call("PERSIST", "k") == 1
    assert raw.call("EXPIRE", "k", "10", "LT") == 1           # anything is below infinite
    assert raw.call("EXPIRE", "k", "20", "NX", "NX") == 0


def test_expire_condition_failing_keeps_key(raw):
    raw.call("SET", "k", "v")
    raw.call("EXPIRE", "k", "100")
    assert raw.call("EXPIRE", "k", "-1", "NX") == 0
    assert raw.call("EXPIRE", "k", "-1", "GT") == 0
    assert raw.call("EXISTS", "k") == 1
    assert raw.call("EXPIRE", "k", "-1", "LT") == 1
    assert raw.call("EXISTS", "k") == 0


@pytest.mark.parametrize("flags,error", [
    (("NX", "XX"), NX_CONFLICT), (("NX", "GT"), NX_CONFLICT), (("lt", "nx"), NX_CONFLICT),
    (("GT", "LT"), GT_LT_CONFLICT), (("XX", "gt", "LT"), GT_LT_CONFLICT),
    (("NX", "XX", "GT", "LT"), NX_CONFLICT),
    (("FOO",), Error("ERR Unsupported option FOO")),
    (("NX", "bar"), Error("ERR Unsupported option bar")),
])
def test_expire_flag_errors(raw, flags, error):
    raw.call("SET", "k", "v")
    assert raw.call("EXPIRE", "k", "10", *flags) == error
    assert raw.call("PEXPIREAT", "k", "10", *flags) == error
    # Flags are checked before the time and before the key.
    assert raw.call("EXPIRE", "k", "abc", *flags) == error
    assert raw.call("EXPIRE", "missing", "10", *flags) == error
    assert raw.call("TTL", "k") == -1


def test_expired_key_disappears(raw):
    raw.call("SET", "k", "v")
    assert raw.call("PEXPIRE", "k", "1") == 1
    poll(lambda: raw.call("EXISTS", "k") == 0)
    assert raw.call("GET", "k") is None
    assert raw.call("TTL", "k") == -2


def test_set_clears_ttl_and_expire_with_redis_py(r):
    r.set("k", "v")
    assert r.expire("k", 100) is True
    assert r.ttl("k") in (99, 100)
    r.set("k", "w")
    assert r.ttl("k") == -1
    assert r.pexpire("k", 5000, nx=True) is True
    assert r.pexpire("k", 9000, lt=True) is False


# -- PERSIST ---------------------------------------------------------------------------

def test_persist(raw):
    raw.call("SET", "k", "v")
    assert raw.call("PERSIST", "k") == 0
    raw.call("EXPIRE", "k", "100")
    assert raw.call("PERSIST", "k") == 1
    assert raw.call("TTL", "k") == -1
    assert raw.call("PERSIST", "k") == 0
    assert raw.call("PERSIST", "missing") == 0
    assert raw.call("PERSIST") == arity("persist")


# -- KEYS ------------------------------------------------------------------------------

def test_keys_patterns(raw):
    for key in ("hello", "hallo", "hxllo", "hllo", "heeeello", "other", "h[e]llo"):
        raw.call("SET", key, "1")
    assert sorted(raw.call("KEYS", "h?llo")) == [b"hallo", b"hello", b"hxllo"]
    assert sorted(raw.call("KEYS", "h*llo")) == [b"h[e]llo", b"hallo", b"heeeello", b"hello", b"hllo", b"hxllo"]
    assert sorted(raw.call("KEYS", "h[ae]llo")) == [b"hallo", b"hello"]
    assert sorted(raw.call("KEYS", "h[^e]llo")) == [b"hallo", b"hxllo"]
    assert sorted(raw.call("KEYS", "h[a-f]llo")) == [b"hallo", b"hello"]
    assert raw.call("KEYS", "h\\[e\\]llo") == [b"h[e]llo"]
    assert raw.call("KEYS", "nothing*") == []
    assert len(raw.call("KEYS", "*")) == 7


def test_keys_empty_key_and_star_quirk(raw):
    raw.call("SET", "", "empty")
    raw.call("SET", "a", "1")
    assert sorted(raw.call("KEYS", "*")) == [b"", b"a"]
    assert raw.call("KEYS", "**") == [b"a"]      # stringmatchlen('**', '') is false
    assert raw.call("KEYS", "") == [b""]


def test_keys_skips_expired_and_other_dbs(raw):
    raw.call("SET", "live", "1")
    raw.call("SET", "dying", "1", "PX", "1")
    raw.call("SELECT", "1")
    raw.call("SET", "elsewhere", "1")
    raw.call("SELECT", "0")
    poll(lambda: raw.call("KEYS", "*") == [b"live"])


def test_keys_arity(raw):
    assert raw.call("KEYS") == arity("keys")
    assert raw.call("KEYS", "a", "b") == arity("keys")


ALPHABET = [b"a", b"b", b"A", b"-", b"]", b"[", b"\\", b"^", b"*", b"?", b"\xff", b"\x80"]


def test_keys_matches_stringmatchlen(r):
    """Differential: KEYS over every key of up to 2 symbols, for random patterns,
    against the port of stringmatchlen in tests/storage/test_glob.py."""
    keys = {b"".join(t) for n in (1, 2) for t in itertools.product(ALPHABET, repeat=n)}
    pipe = r.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, 1)
    pipe.execute()
    rng = random.Random(7)
    patterns = {b"".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 6))) for _ in range(250)}
    patterns |= {b"[", b"[^", b"\\", b"[a-\xff]", b"[\xff-a]", b"[]", b"[^]", b"[a-]", b"*\\"}
    patterns = sorted(patterns)
    pipe = r.pipeline(transaction=False)
    for pattern in patterns:
        pipe.keys(pattern)
    for pattern, found in zip(patterns, pipe.execute()):
        expected = {key for key in keys if stringmatchlen(pattern, key)}
        assert set(found) == expected, pattern


# -- SCAN ------------------------------------------------------------------------------

def test_scan_small_db_in_one_call(raw):
    for key in ("a", "b", "c"):
        raw.call("SET", key, "1")
    cursor, keys = raw.call("SCAN", "0")
    assert cursor == b"0"
    assert sorted(keys) == [b"a", b"b", b"c"]


def test_scan_empty_db(raw):
    assert raw.call("SCAN", "0") == [b"0", []]


def test_scan_returns_every_key_once_without_changes(raw):
    keys = {b"key:%d" % i for i in range(1000)}
    raw.call("MSET", *itertools.chain.from_iterable((key, b"1") for key in keys))
    for count in ("10", "1", "100", "5000"):
        seen = full_scan(raw, "COUNT", count)
        assert set(seen) == keys
        assert len(seen) == len(keys)


def test_scan_count_is_roughly_honoured(raw):
    raw.call("MSET", *itertools.chain.from_iterable((f"k{i}", "1") for i in range(500)))
    cursor, keys = raw.call("SCAN", "0", "COUNT", "20")
    assert cursor != b"0"
    assert 10 <= len(keys) <= 60
    cursor, keys = raw.call("SCAN", "0", "COUNT", "1000")
    assert cursor == b"0" and len(keys) == 500


def test_scan_match(raw):
    for i in range(200):
        raw.call("SET", f"user:{i}", "1")
        raw.call("SET", f"item:{i}", "1")
    seen = full_scan(raw, "MATCH", "user:1*", "COUNT", "50")
    assert sorted(seen) == sorted(b"user:%d" % i for i in range(200) if str(i).startswith("1"))
    assert len(full_scan(raw, "MATCH", "*")) == 400
    assert full_scan(raw, "MATCH", "zzz*") == []


def test_scan_type(raw):
    for i in range(30):
        raw.call("SET", f"s{i}", "1")
        raw.call("SADD", f"set{i}", "m")
        raw.call("HSET", f"h{i}", "f", "v")
    assert sorted(full_scan(raw, "TYPE", "set")) == sorted(b"set%d" % i for i in range(30))
    assert sorted(full_scan(raw, "TYPE", "STRING")) == sorted(b"s%d" % i for i in range(30))
    assert sorted(full_scan(raw, "type", "Hash", "MATCH", "h1*")) == sorted(
        b"h%d" % i for i in range(30) if str(i).startswith("1"))
    assert full_scan(raw, "TYPE", "nosuchtype") == []
    assert full_scan(raw, "TYPE", "none") == []


def test_scan_skips_expired_keys(raw):
    raw.call("SET", "live", "1")
    for i in range(20):
        raw.call("SET", f"dying{i}", "1", "PX", "1")
    poll(lambda: full_scan(raw) == [b"live"])


def test_scan_empty_key_and_match_star_quirk(raw):
    raw.call("SET", "", "1")
    raw.call("SET", "x", "1")
    assert sorted(full_scan(raw)) == [b"", b"x"]
    assert sorted(full_scan(raw, "MATCH", "*")) == [b"", b"x"]
    assert full_scan(raw, "MATCH", "**") == [b"x"]


@pytest.mark.parametrize("cursor", ["", "+0", "-0", "007", "18446744073709551615", "-1",
                                    "-18446744073709551615", "123456789"])
def test_scan_accepts_what_strtoul_accepts(raw, cursor):
    raw.call("SET", "k", "v")
    next_cursor, keys = raw.call("SCAN", cursor)
    assert int(next_cursor) < 2**64
    assert keys in ([], [b"k"])


@pytest.mark.parametrize("cursor", [" 1", "1 ", "abc", "1a", "0x10", "-", "+", "1.0",
                                    "18446744073709551616", "-18446744073709551616",
                                    "99999999999999999999999"])
def test_scan_invalid_cursor(raw, cursor):
    assert raw.call("SCAN", cursor) == INVALID_CURSOR
    assert raw.call("SCAN", cursor, "COUNT", "0") == INVALID_CURSOR  # cursor first


@pytest.mark.parametrize("options,error", [
    (("COUNT", "0"), SYNTAX), (("COUNT", "-1"), SYNTAX), (("COUNT", "abc"), NOT_INTEGER),
    (("COUNT", "9223372036854775808"), NOT_INTEGER), (("COUNT",), SYNTAX), (("MATCH",), SYNTAX),
    (("TYPE",), SYNTAX), (("FOO", "bar"), SYNTAX), (("MATCH", "*", "COUNT"), SYNTAX),
    (("COUNT", "10", "BAR"), SYNTAX),
])
def test_scan_option_errors(raw, options, error):
    assert raw.call("SCAN", "0", *options) == error


def test_scan_arity(raw):
    assert raw.call("SCAN") == arity("scan")


def test_scan_guarantee_with_keys_added_and_removed(raw):
    """Every key present for the whole scan is returned, while other keys come and
    go between calls (enough of them to make the tables grow and shrink)."""
    stable = {b"stable:%d" % i for i in range(300)}
    for key in stable:
        raw.call("SET", key, "1")
    churn = [b"churn:%d" % i for i in range(300)]
    for key in churn:
        raw.call("SET", key, "1")
    rng = random.Random(11)
    added = itertools.count()
    cursor, seen, calls = b"0", set(), 0
    while True:
        cursor, keys = raw.call("SCAN", cursor, "COUNT", "7")
        seen.update(keys)
        if cursor == b"0":
            break
        calls += 1
        grow = calls < 40  # grow first, then shrink, so both resize directions happen
        for _ in range(30):
            if churn and (not grow or rng.random() < 0.3):
                raw.call("DEL", churn.pop(rng.randrange(len(churn))))
            else:
                key = b"new:%d" % next(added)
                churn.append(key)
                raw.call("SET", key, "1")
    assert stable <= seen
    assert seen <= stable | {b"churn:%d" % i for i in range(300)} | {
        b"new:%d" % i for i in range(next(added))}


def test_scan_with_redis_py(r):
    r.mset({f"k{i}": i for i in range(100)})
    assert sorted(r.scan_iter(match="k1*", count=5)) == sorted(
        f"k{i}".encode() for i in range(100) if str(i).startswith("1"))
    assert len(list(r.scan_iter(_type="string"))) == 100


# -- RANDOMKEY -------------------------------------------------------------------------

def test_randomkey_empty(raw):
    assert raw.call("RANDOMKEY") is None


def test_randomkey_returns_each_key(raw):
    keys = {b"a", b"b", b"c", b"d", b""}
    for key in keys:
        raw.call("SET", key, "1")
    seen = {raw.call("RANDOMKEY") for _ in range(300)}
    assert seen == keys
    assert raw.call("RANDOMKEY", "extra") == arity("randomkey")


def test_randomkey_skips_expired(raw):
    raw.call("SET", "live", "1")
    for i in range(30):
        raw.call("SET", f"dying{i}", "1", "PX", "1")
    poll(lambda: all(raw.call("RANDOMKEY") == b"live" for _ in range(40)))


def test_randomkey_after_mass_delete(raw):
    keys = [f"k{i}" for i in range(2000)]
    for key in keys:
        raw.call("SET", key, "1")
    raw.call("RANDOMKEY")
    raw.call("DEL", *keys[1:])
    assert raw.call("RANDOMKEY") == b"k0"


# -- RENAME, RENAMENX ------------------------------------------------------------------

def test_rename(raw):
    raw.call("SET", "a", "1")
    assert raw.call("RENAME", "a", "b") == Simple("OK")
    assert raw.call("GET", "a") is None
    assert raw.call("GET", "b") == b"1"


def test_rename_missing_and_same(raw):
    assert raw.call("RENAME", "missing", "x") == NO_SUCH_KEY
    assert raw.call("RENAME", "missing", "missing") == NO_SUCH_KEY
    assert raw.call("RENAMENX", "missing", "x") == NO_SUCH_KEY
    raw.call("SET", "a", "1")
    raw.call("EXPIRE", "a", "100")
    assert raw.call("RENAME", "a", "a") == Simple("OK")
    assert raw.call("RENAMENX", "a", "a") == 0
    assert raw.call("GET", "a") == b"1"
    assert raw.call("TTL", "a") in (99, 100)


def test_rename_overwrites_and_carries_ttl(raw):
    raw.call("SET", "src", "new")
    raw.call("PEXPIRE", "src", "100000")
    raw.call("SADD", "dst", "old")
    raw.call("EXPIRE", "dst", "5")
    assert raw.call("RENAME", "src", "dst") == Simple("OK")
    assert raw.call("GET", "dst") == b"new"
    assert 99_000 <= raw.call("PTTL", "dst") <= 100_000
    assert raw.call("EXISTS", "src") == 0


def test_rename_drops_target_ttl_when_source_has_none(raw):
    raw.call("SET", "src", "v")
    raw.call("SET", "dst", "old", "EX", "100")
    raw.call("RENAME", "src", "dst")
    assert raw.call("TTL", "dst") == -1


def test_rename_other_types(raw):
    raw.call("HSET", "h", "f", "v")
    assert raw.call("RENAME", "h", "h2") == Simple("OK")
    assert raw.call("HGET", "h2", "f") == b"v"
    assert raw.call("TYPE", "h") == Simple("none")


def test_renamenx(raw):
    raw.call("SET", "a", "1")
    raw.call("SET", "b", "2")
    assert raw.call("RENAMENX", "a", "b") == 0
    assert raw.call("GET", "a") == b"1" and raw.call("GET", "b") == b"2"
    raw.call("EXPIRE", "a", "100")
    assert raw.call("RENAMENX", "a", "c") == 1
    assert raw.call("GET", "c") == b"1"
    assert raw.call("TTL", "c") in (99, 100)
    assert raw.call("EXISTS", "a") == 0


def test_rename_arity(raw):
    assert raw.call("RENAME", "a") == arity("rename")
    assert raw.call("RENAMENX", "a", "b", "c") == arity("renamenx")


def _blocked_clients(raw) -> int:
    info = raw.call("INFO", "clients")
    text = info.text if hasattr(info, "text") else info
    text = text.decode() if isinstance(text, bytes) else text
    return int(text.split("blocked_clients:")[1].split()[0])


@pytest.mark.parametrize("write", [
    ("RENAME", "src", "dst"), ("RENAMENX", "src", "dst"), ("COPY", "src", "dst"),
    ("COPY", "src", "dst", "DB", "0"),
])
def test_writes_that_create_a_list_wake_blocked_clients(raw, server, write):
    waiting = RawClient(port=server.port)
    try:
        waiting.send_raw(encode_command("BLPOP", "dst", "5"))
        poll(lambda: _blocked_clients(raw) == 1)
        raw.call("RPUSH", "src", "a", "b")
        raw.call(*write)
        assert waiting.read_reply() == [b"dst", b"a"]
        assert raw.call("LRANGE", "dst", "0", "-1") == [b"b"]
    finally:
        waiting.close()


def test_move_wakes_clients_blocked_in_the_target_db(raw, server):
    waiting = RawClient(port=server.port)
    try:
        waiting.call("SELECT", "5")
        waiting.send_raw(encode_command("BLPOP", "k", "5"))
        poll(lambda: _blocked_clients(raw) == 1)
        raw.call("RPUSH", "k", "v")
        assert raw.call("MOVE", "k", "5") == 1
        assert waiting.read_reply() == [b"k", b"v"]
    finally:
        waiting.close()


def test_rename_of_a_string_leaves_blocked_clients_waiting(raw, server):
    waiting = RawClient(port=server.port)
    try:
        waiting.send_raw(encode_command("BLPOP", "dst", "5"))
        poll(lambda: _blocked_clients(raw) == 1)
        raw.call("SET", "src", "string")
        raw.call("RENAME", "src", "dst")
        assert _blocked_clients(raw) == 1
        raw.call("DEL", "dst")
        raw.call("RPUSH", "dst", "x")
        assert waiting.read_reply() == [b"dst", b"x"]
    finally:
        waiting.close()


# -- MOVE ------------------------------------------------------------------------------

def test_move(raw):
    raw.call("SET", "k", "v")
    raw.call("EXPIRE", "k", "100")
    assert raw.call("MOVE", "k", "1") == 1
    assert raw.call("EXISTS", "k") == 0
    raw.call("SELECT", "1")
    assert raw.call("GET", "k") == b"v"
    assert raw.call("TTL", "k") in (99, 100)
    raw.call("SELECT", "0")


def test_move_target_exists_or_source_missing(raw):
    raw.call("SET", "k", "here")
    raw.call("SELECT", "2")
    raw.call("SET", "k", "there")
    raw.call("SELECT", "0")
    assert raw.call("MOVE", "k", "2") == 0
    assert raw.call("GET", "k") == b"here"
    assert raw.call("MOVE", "missing", "2") == 0


def test_move_errors(raw):
    raw.call("SET", "k", "v")
    assert raw.call("MOVE", "k", "0") == SAME_OBJECT
    assert raw.call("MOVE", "missing", "0") == SAME_OBJECT  # checked before the key
    assert raw.call("MOVE", "k", "16") == DB_OUT_OF_RANGE
    assert raw.call("MOVE", "k", "-1") == DB_OUT_OF_RANGE
    assert raw.call("MOVE", "k", "abc") == NOT_INTEGER
    assert raw.call("MOVE", "k", "4294967296") == Error(
        "ERR value is out of range, value must between -2147483648 and 2147483647")
    assert raw.call("MOVE", "k") == arity("move")
    assert raw.call("GET", "k") == b"v"


# -- COPY ------------------------------------------------------------------------------

def test_copy_string_with_ttl(raw):
    raw.call("SET", "src", "v")
    raw.call("PEXPIRE", "src", "100000")
    assert raw.call("COPY", "src", "dst") == 1
    assert raw.call("GET", "dst") == b"v"
    assert 99_000 <= raw.call("PTTL", "dst") <= 100_000
    assert raw.call("GET", "src") == b"v"


def test_copy_existing_target(raw):
    raw.call("SET", "src", "new")
    raw.call("SET", "dst", "old", "EX", "100")
    assert raw.call("COPY", "src", "dst") == 0
    assert raw.call("GET", "dst") == b"old"
    assert raw.call("COPY", "src", "dst", "REPLACE") == 1
    assert raw.call("GET", "dst") == b"new"
    assert raw.call("TTL", "dst") == -1
    assert raw.call("COPY", "missing", "dst", "REPLACE") == 0
    assert raw.call("GET", "dst") == b"new"


def test_copy_is_independent(raw):
    raw.call("SADD", "s", "a", "b")
    raw.call("HSET", "h", "f", "v")
    assert raw.call("COPY", "s", "s2") == 1
    assert raw.call("COPY", "h", "h2") == 1
    raw.call("RPUSH", "l", "x")
    raw.call("ZADD", "z", "1", "m")
    assert raw.call("COPY", "l", "l2") == 1
    assert raw.call("COPY", "z", "z2") == 1
    raw.call("RPUSH", "l2", "y")
    raw.call("ZADD", "z2", "5", "m")
    assert raw.call("LRANGE", "l", "0", "-1") == [b"x"]
    assert raw.call("ZSCORE", "z", "m") in (b"1", 1.0)
    raw.call("SADD", "s2", "c")
    raw.call("HSET", "h2", "f", "changed")
    assert raw.call("SCARD", "s") == 2
    assert raw.call("SISMEMBER", "s", "c") == 0
    assert raw.call("SCARD", "s2") == 3
    assert raw.call("HGET", "h", "f") == b"v"


def test_copy_to_other_db(raw):
    raw.call("SET", "k", "v")
    assert raw.call("COPY", "k", "k", "DB", "3") == 1
    assert raw.call("COPY", "k", "k", "db", "3") == 0
    assert raw.call("COPY", "k", "k", "DB", "3", "replace") == 1
    raw.call("SELECT", "3")
    assert raw.call("GET", "k") == b"v"
    raw.call("SELECT", "0")
    assert raw.call("GET", "k") == b"v"


def test_copy_errors(raw):
    raw.call("SET", "k", "v")
    assert raw.call("COPY", "k", "k") == SAME_OBJECT
    assert raw.call("COPY", "k", "k", "DB", "0") == SAME_OBJECT
    assert raw.call("COPY", "missing", "missing") == SAME_OBJECT
    assert raw.call("COPY", "k", "x", "DB") == SYNTAX
    assert raw.call("COPY", "k", "x", "FOO") == SYNTAX
    assert raw.call("COPY", "k", "x", "REPLACE", "DB") == SYNTAX
    assert raw.call("COPY", "k", "x", "DB", "16") == DB_OUT_OF_RANGE
    assert raw.call("COPY", "k", "x", "DB", "-1") == DB_OUT_OF_RANGE
    assert raw.call("COPY", "k", "x", "DB", "abc") == NOT_INTEGER
    assert raw.call("COPY", "k") == arity("copy")
    assert raw.call("EXISTS", "x") == 0


def test_copy_last_db_option_wins(raw):
    raw.call("SET", "k", "v")
    assert raw.call("COPY", "k", "k2", "DB", "1", "DB", "2") == 1
    raw.call("SELECT", "2")
    assert raw.call("EXISTS", "k2") == 1
    raw.call("SELECT", "1")
    assert raw.call("EXISTS", "k2") == 0
    raw.call("SELECT", "0")


# -- OBJECT ----------------------------------------------------------------------------

OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
]


def test_object_help(raw):
    assert raw.call("OBJECT", "HELP") == [Simple(line) for line in OBJECT_HELP]
    assert raw.call("object", "help") == [Simple(line) for line in OBJECT_HELP]


@pytest.mark.parametrize("value,encoding,refcount", [
    ("0", "int", 2147483647), ("9999", "int", 2147483647), ("10000", "int", 1),
    ("-1", "int", 1), (str(LLONG_MAX), "int", 1), (str(LLONG_MIN), "int", 1),
    (str(LLONG_MAX + 1), "embstr", 1), ("99999999999999999999", "embstr", 1),
    ("01", "embstr", 1), ("+1", "embstr", 1), (" 1", "embstr", 1), ("-0", "embstr", 1),
    ("1.5", "embstr", 1), ("", "embstr", 1), ("a" * 44, "embstr", 1), ("a" * 45, "raw", 1),
    ("1" * 45, "raw", 1),
])
def test_object_encoding_and_refcount_of_strings(raw, value, encoding, refcount):
    raw.call("SET", "k", value)
    assert raw.call("OBJECT", "ENCODING", "k") == encoding.encode()
    assert raw.call("OBJECT", "REFCOUNT", "k") == refcount


def test_object_encoding_after_incr(raw):
    raw.call("INCR", "n")
    assert raw.call("OBJECT", "ENCODING", "n") == b"int"
    assert raw.call("OBJECT", "REFCOUNT", "n") == 2147483647


def test_object_encoding_of_other_types(raw):
    raw.call("SADD", "ints", "1", "2")
    raw.call("SADD", "strs", "a")
    raw.call("HSET", "h", "f", "v")
    assert raw.call("OBJECT", "ENCODING", "ints") == b"intset"
    assert raw.call("OBJECT", "ENCODING", "strs") == b"hashtable"
    assert raw.call("OBJECT", "ENCODING", "h") == b"listpack"
    assert raw.call("OBJECT", "REFCOUNT", "h") == 1


def test_object_missing_key(raw):
    for sub in ("ENCODING", "REFCOUNT", "IDLETIME", "FREQ"):
        assert raw.call("OBJECT", sub, "missing") is None


def test_object_freq_needs_lfu_policy(raw):
    raw.call("SET", "k", "v")
    assert raw.call("OBJECT", "FREQ", "k") == FREQ_NOT_LFU


def test_object_under_lfu_policy(raw):
    assert raw.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu") == Simple("OK")
    try:
        raw.call("SET", "k", "v")  # a new key (an overwrite would keep the old counter)
        assert raw.call("OBJECT", "FREQ", "k") == 5  # LFU_INIT_VAL: not accessed since
        assert raw.call("OBJECT", "IDLETIME", "k") == Error(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that "
            "when switching between policies at runtime LRU and LFU data will take some time to "
            "adjust.")
        assert raw.call("OBJECT", "IDLETIME", "missing") is None
    finally:
        raw.call("CONFIG", "SET", "maxmemory-policy", "noeviction")


@pytest.mark.parametrize("maxmemory,policy,refcount", [
    ("0", "allkeys-lru", 2147483647), ("100mb", "allkeys-lru", 1), ("100mb", "volatile-lfu", 1),
    ("100mb", "allkeys-random", 2147483647), ("100mb", "noeviction", 2147483647),
])
def test_object_refcount_of_shared_integers_depends_on_policy(raw, maxmemory, policy, refcount):
    raw.call("CONFIG", "SET", "maxmemory", maxmemory, "maxmemory-policy", policy)
    try:
        raw.call("SET", "k", "100")
        assert raw.call("OBJECT", "REFCOUNT", "k") == refcount
        assert raw.call("OBJECT", "ENCODING", "k") == b"int"
    finally:
        raw.call("CONFIG", "SET", "maxmemory", "0", "maxmemory-policy", "noeviction")


def test_object_errors(raw):
    assert raw.call("OBJECT") == arity("object")
    assert raw.call("OBJECT", "FOO") == Error("ERR unknown subcommand 'FOO'. Try OBJECT HELP.")
    assert raw.call("OBJECT", "foo", "k") == Error("ERR unknown subcommand 'foo'. Try OBJECT HELP.")
    assert raw.call("OBJECT", "ENCODING") == arity("object|encoding")
    assert raw.call("OBJECT", "encoding", "a", "b") == arity("object|encoding")
    assert raw.call("OBJECT", "HELP", "x") == arity("object|help")
    assert raw.call("OBJECT", "IDLETIME") == arity("object|idletime")


def test_object_idletime(raw):
    raw.call("MSET", "k", "v", "other", "v")
    assert raw.call("OBJECT", "IDLETIME", "k") in (0, 1)
    poll(lambda: raw.call("OBJECT", "IDLETIME", "k") >= 2)
    # Reads flagged LOOKUP_NOTOUCH do not count as an access...
    raw.call("TTL", "k")
    raw.call("TYPE", "k")
    raw.call("EXISTS", "k")
    raw.call("OBJECT", "ENCODING", "k")
    assert raw.call("OBJECT", "IDLETIME", "k") >= 2
    # ... while GET and TOUCH do.
    raw.call("GET", "k")
    assert raw.call("OBJECT", "IDLETIME", "k") in (0, 1)
    assert raw.call("OBJECT", "IDLETIME", "other") >= 1
    raw.call("TOUCH", "other")
    assert raw.call("OBJECT", "IDLETIME", "other") in (0, 1)


# -- The command table -----------------------------------------------------------------

GENERIC_COMMANDS = ["copy", "del", "exists", "expire", "expireat", "expiretime", "keys", "move",
                    "object", "persist", "pexpire", "pexpireat", "pexpiretime", "pttl",
                    "randomkey", "rename", "renamenx", "scan", "touch", "ttl", "type", "unlink"]
REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "reference",
                         "redis-7.0-commands.json")


def _declared(cmd) -> dict:
    return {"arity": cmd.arity, "flags": sorted(cmd.flags),
            "keys": [cmd.first_key, cmd.last_key, cmd.step],
            "acl": sorted("@" + c for c in cmd.categories)}


def _reference(entry: dict) -> dict:
    return {"arity": entry["arity"], "flags": sorted(entry["flags"]),
            "keys": [entry["first_key"], entry["last_key"], entry["step"]],
            "acl": sorted(entry["acl_categories"])}


def test_declarations_match_redis():
    from ferrous.commands import registry
    registry.load_all()
    with open(REFERENCE) as fh:
        reference = {c["name"]: c for c in json.load(fh)["commands"]}
    for name in GENERIC_COMMANDS:
        cmd = registry.TABLE[name.encode()]
        assert _declared(cmd) == _reference(reference[name]), name
        assert cmd.group == "generic"
        for sub in reference[name]["subcommands"]:
            declared = cmd.subcommands[sub["name"].split("|")[1].encode()]
            assert _declared(declared) == _reference(sub), sub["name"]
    for name in ("keys", "scan", "randomkey"):
        assert registry.TABLE[name.encode()].lock == registry.LOCK_ALL
