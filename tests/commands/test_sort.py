"""SORT and SORT_RO (sort.c), checked against Ferrous and real Redis 7.0."""
from __future__ import annotations

import time

import pytest
import redis

from resp_client import Error, RawClient, encode_command

SCORES_ERR = "One or more scores can't be converted into double"


def _error(r, *args) -> str:
    with pytest.raises(redis.ResponseError) as info:
        r.execute_command(*args)
    return str(info.value)


# -- numeric and alpha ordering ---------------------------------------------------------
def test_numeric_list(r):
    r.rpush("l", 3, 1, 2, "-1.5", "1e1")
    assert r.execute_command("SORT", "l") == [b"-1.5", b"1", b"2", b"3", b"1e1"]
    assert r.execute_command("SORT", "l", "DESC") == [b"1e1", b"3", b"2", b"1", b"-1.5"]
    assert r.execute_command("SORT_RO", "l", "ASC") == [b"-1.5", b"1", b"2", b"3", b"1e1"]


def test_numeric_ties_break_by_binary_compare(r):
    r.rpush("n", "1.0", "01", "1", " 1", "1\0x")
    assert r.execute_command("SORT", "n") == [b" 1", b"01", b"1", b"1\0x", b"1.0"]
    assert r.execute_command("SORT", "n", "DESC") == [b"1.0", b"1\0x", b"1", b"01", b" 1"]


def test_strtod_forms(r):
    r.rpush("l", "", " 5", "0x10", "-inf", "2", "+3")
    assert r.execute_command("SORT", "l") == [b"-inf", b"", b"2", b"+3", b" 5", b"0x10"]


@pytest.mark.parametrize("bad", ["5x", "5 ", "nan", "1e400", "1e-400", "1e-310", "abc"])
def test_scores_not_double(r, bad):
    r.rpush("l", "1", bad)
    assert _error(r, "SORT", "l") == SCORES_ERR
    assert _error(r, "SORT", "l", "STORE", "dst") == SCORES_ERR
    assert r.exists("dst") == 0


def test_alpha(r):
    r.rpush("l", "b", "a", "C", "aa", "10", "9")
    assert r.execute_command("SORT", "l", "ALPHA") == [b"10", b"9", b"C", b"a", b"aa", b"b"]
    assert r.execute_command("SORT", "l", "ALPHA", "DESC") == [b"b", b"aa", b"a", b"C", b"9", b"10"]
    assert _error(r, "SORT", "l") == SCORES_ERR


def test_alpha_store_compares_binary(r):
    r.rpush("l", "a\0c", "a\0b", "b")
    assert r.execute_command("SORT", "l", "ALPHA", "STORE", "d") == 3
    assert r.lrange("d", 0, -1) == [b"a\0b", b"a\0c", b"b"]


def test_set_and_zset(r):
    r.sadd("s", 5, 3, 10)
    assert r.execute_command("SORT", "s") == [b"3", b"5", b"10"]
    r.sadd("hs", "b", "a", "c")
    assert r.execute_command("SORT", "hs", "ALPHA") == [b"a", b"b", b"c"]
    r.zadd("z", {"b": 1, "a": 2, "c": 3})
    assert r.execute_command("SORT", "z", "ALPHA") == [b"a", b"b", b"c"]
    r.zadd("zn", {"30": 1, "10": 2, "20": 3})
    assert r.execute_command("SORT", "zn") == [b"10", b"20", b"30"]


def test_missing_key_is_empty(r, raw):
    assert r.execute_command("SORT", "nokey") == []
    assert raw.call("SORT", "nokey", "LIMIT", "0", "5", "GET", "#") == []
    assert r.execute_command("SORT", "nokey", "STORE", "d") == 0


def test_wrongtype(r):
    r.set("str", "x")
    r.hset("h", "f", "v")
    for key in ("str", "h"):
        assert _error(r, "SORT", key).startswith("WRONGTYPE")
        assert _error(r, "SORT_RO", key).startswith("WRONGTYPE")
    # A syntax error is reported before the type check.
    assert _error(r, "SORT", "str", "bogus") == "syntax error"


# -- LIMIT ---------------------------------------------------------------------------------
@pytest.mark.parametrize("limit,expected", [
    ((0, 2), [b"1", b"2"]),
    ((1, 2), [b"2", b"3"]),
    ((-5, 2), [b"1", b"2"]),
    ((2, -1), [b"3", b"4", b"5"]),
    ((3, 100), [b"4", b"5"]),
    ((5, 1), []),
    ((100, 3), []),
    ((0, 0), []),
    ((0, 2**63 - 1), [b"1", b"2", b"3", b"4", b"5"]),
    ((3, 2**63 - 1), [b"4", b"5"]),
    ((2**63 - 1, 1), []),
    ((-2**63, 2), [b"1", b"2"]),
])
def test_limit(r, limit, expected):
    r.rpush("l", 5, 3, 1, 4, 2)
    assert r.execute_command("SORT", "l", "LIMIT", *limit) == expected


def test_limit_errors(r):
    r.rpush("l", 1)
    assert _error(r, "SORT", "l", "LIMIT", "a", "1") == "value is not an integer or out of range"
    assert _error(r, "SORT", "l", "LIMIT", "0", "1.5") == "value is not an integer or out of range"
    assert _error(r, "SORT", "l", "LIMIT", "0") == "syntax error"


# -- BY ------------------------------------------------------------------------------------------
def test_by_pattern(r):
    r.rpush("l", "a", "b", "c", "d")
    r.mset({"w_a": 3, "w_b": 1, "w_c": 2})
    # d has no weight: it scores 0.
    assert r.execute_command("SORT", "l", "BY", "w_*") == [b"d", b"b", b"c", b"a"]
    assert r.execute_command("SORT", "l", "BY", "w_*", "DESC") == [b"a", b"c", b"b", b"d"]
    assert r.execute_command("SORT", "l", "BY", "w_*", "LIMIT", 1, 2) == [b"b", b"c"]


def test_by_hash_field(r):
    r.rpush("l", "1", "2", "3")
    r.hset("h1", "w", 30)
    r.hset("h2", "w", 10)
    r.hset("h3", "x", 5)          # no field w: scores 0
    assert r.execute_command("SORT", "l", "BY", "h*->w") == [b"3", b"2", b"1"]
    # A pattern ending in '->' has no field: it names a string key.
    r.set("h1->", 9)
    assert r.execute_command("SORT", "l", "BY", "h*->") == [b"2", b"3", b"1"]


def test_by_wrong_type_and_bad_value(r):
    r.rpush("l", "1", "2")
    r.rpush("w_1", "x")           # a list: treated as missing
    r.set("w_2", "-1")
    assert r.execute_command("SORT", "l", "BY", "w_*") == [b"2", b"1"]
    r.set("w_1", "nope")
    assert _error(r, "SORT", "l", "BY", "w_*") == SCORES_ERR


def test_by_alpha(r):
    r.rpush("l", "1", "2", "3")
    r.mset({"n_1": "banana", "n_2": "apple"})
    # A missing BY value sorts first.
    assert r.execute_command("SORT", "l", "BY", "n_*", "ALPHA") == [b"3", b"2", b"1"]
    assert r.execute_command("SORT", "l", "BY", "n_*", "ALPHA", "DESC") == [b"1", b"2", b"3"]


def test_by_nosort_list_and_zset_keep_order(r):
    r.rpush("l", 3, 1, 2, 5)
    assert r.execute_command("SORT", "l", "BY", "nosort") == [b"3", b"1", b"2", b"5"]
    assert r.execute_command("SORT", "l", "BY", "nosort", "DESC") == [b"5", b"2", b"1", b"3"]
    assert r.execute_command("SORT", "l", "BY", "nosort", "LIMIT", 1, 2) == [b"1", b"2"]
    assert r.execute_command("SORT", "l", "BY", "nosort", "DESC", "LIMIT", 1, 2) == [b"2", b"1"]
    assert r.execute_command("SORT", "l", "BY", "nosort", "LIMIT", 9, 2) == []
    r.zadd("z", {"a": 3, "b": 1, "c": 2, "d": 4})
    assert r.execute_command("SORT", "z", "BY", "nosort") == [b"b", b"c", b"a", b"d"]
    assert r.execute_command("SORT", "z", "BY", "nosort", "DESC") == [b"d", b"a", b"c", b"b"]
    assert r.execute_command("SORT", "z", "BY", "nosort", "DESC", "LIMIT", 1, 2) == [b"a", b"c"]
    assert r.execute_command("SORT", "z", "BY", "nosort", "LIMIT", 1, -1) == [b"c", b"a", b"d"]
    # No bad scores are noticed when nothing is sorted.
    assert r.execute_command("SORT", "z", "BY", "constant", "LIMIT", 0, 1) == [b"b"]


def test_by_nosort_set(r):
    r.sadd("s", 3, 1, 2)          # an intset iterates in integer order
    assert r.execute_command("SORT", "s", "BY", "nosort") == [b"1", b"2", b"3"]
    r.sadd("hs", "b", "a", "d", "c")
    assert sorted(r.execute_command("SORT", "hs", "BY", "nosort")) == [b"a", b"b", b"c", b"d"]
    # With STORE a set is sorted ALPHA so the stored result is deterministic.
    assert r.execute_command("SORT", "hs", "BY", "nosort", "STORE", "d") == 4
    assert r.lrange("d", 0, -1) == [b"a", b"b", b"c", b"d"]
    assert r.execute_command("SORT", "hs", "BY", "nosort", "DESC", "LIMIT", 0, 2, "STORE", "d") == 2
    assert r.lrange("d", 0, -1) == [b"d", b"c"]



def test_by_without_star_disables_sorting_for_good(r):
    r.rpush("l", 3, 1, 2)
    r.mset({"w_1": 3, "w_2": 2, "w_3": 1})
    # '#' has no '*': nothing is sorted, and a later BY with a '*' does not undo it.
    assert r.execute_command("SORT", "l", "BY", "#") == [b"3", b"1", b"2"]
    assert r.execute_command("SORT", "l", "BY", "nosort", "BY", "w_*") == [b"3", b"1", b"2"]
    assert r.execute_command("SORT", "l", "BY", "w_*", "BY", "nosort") == [b"3", b"1", b"2"]


def test_alpha_by_ties_with_limit_follow_redis_pqsort(r):
    """BY with a LIMIT window sorts with Redis's (unstable) pqsort: equal BY values
    come out in its order, which is deterministic for a list."""
    r.rpush("l", 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, "a", "b")
    r.mset({"w_3": "x", "w_7": "x"})
    assert r.execute_command("SORT", "l", "BY", "w_*", "ALPHA") == [
        b"9", b"8", b"6", b"5", b"4", b"2", b"1", b"0", b"a", b"b", b"7", b"3"]
    assert r.execute_command("SORT", "l", "BY", "w_*", "ALPHA", "LIMIT", 2, 5) == [
        b"a", b"b", b"6", b"5", b"4"]
    assert r.execute_command("SORT", "l", "BY", "w_*", "ALPHA", "DESC", "LIMIT", 0, 4) == [
        b"3", b"7", b"6", b"5"]

# -- GET ------------------------------------------------------------------------------------------
def test_get_patterns(r, raw):
    r.rpush("l", "2", "1", "3")
    r.mset({"name_1": "one", "name_2": "two"})
    r.hset("obj_1", "color", "red")
    reply = raw.call("SORT", "l", "GET", "#", "GET", "name_*", "GET", "obj_*->color", "GET", "fixed")
    assert reply == [b"1", b"one", b"red", None,
                     b"2", b"two", None, None,
                     b"3", None, None, None]
    assert r.execute_command("SORT", "l", "GET", "name_*", "LIMIT", 0, 1) == [b"one"]


def test_get_with_by_and_alpha(r):
    r.rpush("l", "x", "y", "z")
    r.mset({"w_x": 2, "w_y": 3, "w_z": 1, "v_x": "X", "v_y": "Y"})
    assert r.execute_command("SORT", "l", "BY", "w_*", "GET", "v_*", "GET", "#") == [
        None, b"z", b"X", b"x", b"Y", b"y"]


def test_store(r):
    r.rpush("l", 3, 1, 2)
    r.set("dst", "old")
    r.expire("dst", 100)
    assert r.execute_command("SORT", "l", "STORE", "dst") == 3
    assert r.type("dst") == b"list"
    assert r.lrange("dst", 0, -1) == [b"1", b"2", b"3"]
    assert r.ttl("dst") == -1
    # Storing the sorted key into itself.
    assert r.execute_command("SORT", "l", "DESC", "STORE", "l") == 3
    assert r.lrange("l", 0, -1) == [b"3", b"2", b"1"]


def test_store_get_missing_is_empty_string(r):
    r.rpush("l", 1, 2)
    r.set("v_1", "a")
    assert r.execute_command("SORT", "l", "GET", "v_*", "GET", "#", "STORE", "d") == 4
    assert r.lrange("d", 0, -1) == [b"a", b"1", b"", b"2"]


def test_store_empty_deletes_destination(r):
    r.set("dst", "x")
    assert r.execute_command("SORT", "nokey", "STORE", "dst") == 0
    assert r.exists("dst") == 0
    r.rpush("l", 1)
    r.set("dst", "x")
    assert r.execute_command("SORT", "l", "LIMIT", 5, 1, "STORE", "dst") == 0
    assert r.exists("dst") == 0


def test_last_store_wins(r):
    r.rpush("l", 1)
    assert r.execute_command("SORT", "l", "STORE", "a", "STORE", "b") == 1
    assert r.exists("a") == 0 and r.lrange("b", 0, -1) == [b"1"]


# -- syntax and SORT_RO -----------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("bogus",), ("BY",), ("GET",), ("STORE",), ("LIMIT", "0"), ("ASC", "x"),
])
def test_syntax_errors(r, args):
    r.rpush("l", 1)
    assert _error(r, "SORT", "l", *args) == "syntax error"


def test_sort_ro_rejects_store(r, raw):
    r.rpush("l", 2, 1)
    assert raw.call("SORT_RO", "l", "STORE", "d") == Error("ERR syntax error")
    assert r.exists("d") == 0
    assert r.execute_command("SORT_RO", "l", "BY", "nosort", "GET", "#") == [b"2", b"1"]


def test_case_insensitive_options(r):
    r.rpush("l", "b", "a")
    assert r.execute_command("SORT", "l", "alpha", "desc", "limit", 0, 1, "Store", "d") == 1
    assert r.lrange("d", 0, -1) == [b"b"]


def test_arity(r):
    assert "wrong number of arguments" in _error(r, "SORT")
    assert "wrong number of arguments" in _error(r, "SORT_RO")


def test_command_getkeys(raw):
    def getkeys(*args):
        return raw.call("COMMAND", "GETKEYS", *args)
    assert getkeys("SORT", "l") == [b"l"]
    assert getkeys("SORT", "l", "STORE", "d", "STORE", "e") == [b"l", b"e"]
    assert getkeys("SORT", "l", "LIMIT", "store", "d") == [b"l"]
    assert getkeys("SORT", "l", "BY", "w_*", "GET", "#", "STORE", "d") == [b"l", b"d"]
    assert getkeys("SORT", "l", "STORE", "limit", "x", "y") == [b"l", b"limit"]
    assert getkeys("SORT_RO", "l", "STORE", "x") == [b"l"]



def test_store_keyspace_events(r, server, protocol):
    sub = RawClient(port=server.port)
    old = r.config_get("notify-keyspace-events")["notify-keyspace-events"]
    try:
        if protocol == 3:
            sub.call("HELLO", "3")
        sub.call("PSUBSCRIBE", "__keyevent@*__:*")
        r.config_set("notify-keyspace-events", "Elg")
        r.rpush("l", 1)
        r.execute_command("SORT", "l", "STORE", "dst")
        r.execute_command("SORT", "nokey", "STORE", "dst")
        r.execute_command("SORT", "nokey", "STORE", "dst")     # nothing to delete: no event
        r.config_set("notify-keyspace-events", "")
        seen = []
        for _ in range(3):
            message = sub.read_reply()
            items = list(getattr(message, "items", message))
            seen.append((items[2].split(b":", 1)[1], items[3]))
        assert seen == [(b"rpush", b"l"), (b"sortstore", b"dst"), (b"del", b"dst")]
    finally:
        r.config_set("notify-keyspace-events", old)
        sub.close()


def test_store_serves_blocked_client(r, server):
    """STORE creating a list wakes a client blocked on it (dbAdd signals the key)."""
    waiter = RawClient(port=server.port)
    try:
        waiter.send_raw(encode_command("BLPOP", "dst", "5"))
        deadline = time.monotonic() + 5
        while b"cmd=blpop" not in r.execute_command("CLIENT", "LIST"):
            assert time.monotonic() < deadline, "BLPOP never blocked"
            time.sleep(0.01)
        r.rpush("l", 2, 1)
        assert r.execute_command("SORT", "l", "STORE", "dst") == 2
        assert waiter.read_reply() == [b"dst", b"1"]
        assert r.lrange("dst", 0, -1) == [b"2"]
    finally:
        waiter.close()


def test_by_and_get_patterns_need_access_to_every_key(r, server):
    # sortCommandGeneric: a BY pattern with '*' and any GET read keys the patterns
    # name, so they need a selector with the command and %R~* (or ~*).
    r.set("v1", 1)
    r.lpush("mylist", 1)
    user = redis.Redis(port=server.port, protocol=r.get_connection_kwargs().get("protocol", 2))
    by_denied = "BY option of SORT denied due to insufficient ACL permissions."
    get_denied = "GET option of SORT denied due to insufficient ACL permissions."
    try:
        for rules in (["~mylist"], ["~mylist", "~v*"], ["~mylist", "%W~*"]):
            r.execute_command("ACL", "SETUSER", "sorter", "reset", "on", ">pw", "+sort", "+sort_ro",
                              *rules)
            user.auth("pw", "sorter")
            with pytest.raises(redis.ResponseError, match=f"^{by_denied}$"):
                user.sort("mylist", by="v*")
            with pytest.raises(redis.ResponseError, match=f"^{get_denied}$"):
                user.sort("mylist", get="v*")
            with pytest.raises(redis.ResponseError, match=f"^{get_denied}$"):
                user.execute_command("SORT_RO", "mylist", "GET", "#")
            assert user.sort("mylist", by="nosort") == [b"1"]       # a constant BY reads nothing
        r.execute_command("ACL", "SETUSER", "sorter", "reset", "on", ">pw", "+sort", "~mylist", "%R~*")
        user.auth("pw", "sorter")
        assert user.sort("mylist", by="v*", get=["#", "v*"]) == [b"1", b"1"]
        r.execute_command("ACL", "SETUSER", "sorter", "reset", "on", ">pw", "+sort", "~mylist",
                          "(+sort ~*)")
        user.auth("pw", "sorter")
        assert user.sort("mylist", by="v*") == [b"1"]
    finally:
        user.close()
        r.acl_deluser("sorter")
