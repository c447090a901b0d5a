"""The list group (t_list.c) against Ferrous and real Redis 7.0, RESP2 and RESP3.

Blocking behaviour (clients parked and woken) is in test_blocking.py; here the
blocking commands are only exercised on their immediate paths and argument errors.
"""
from __future__ import annotations

import pytest
from resp_client import Error, Simple, encode_command

WRONGTYPE = Error("WRONGTYPE Operation against a key holding the wrong kind of value")
SYNTAX = Error("ERR syntax error")
NOT_INTEGER = Error("ERR value is not an integer or out of range")
MUST_BE_POSITIVE = Error("ERR value is out of range, must be positive")
NUMKEYS = Error("ERR numkeys should be greater than 0")
COUNT_POSITIVE = Error("ERR count should be greater than 0")
TIMEOUT_NOT_FLOAT = Error("ERR timeout is not a float or out of range")
TIMEOUT_NEGATIVE = Error("ERR timeout is negative")
RANK_ZERO = Error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
                  "or use negative to start from the end of the list")
LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)


def arity(name: str) -> Error:
    return Error(f"ERR wrong number of arguments for '{name}' command")


def wire(raw, *args) -> bytes:
    """The first line of the reply as sent: tells `*-1` (null array) from `$-1`."""
    raw.send_raw(encode_command(*args))
    return raw._line()


def proto(raw) -> int:
    """The connection's protocol, from HELLO without arguments (a map in RESP3)."""
    reply = raw.call("HELLO")
    pairs = reply.items if hasattr(reply, "items") else list(zip(reply[::2], reply[1::2]))
    return dict(pairs)[b"proto"]


def make_list(raw, key, *values):
    raw.call("DEL", key)
    if values:
        raw.call("RPUSH", key, *values)


def elements(raw, key) -> list:
    return raw.call("LRANGE", key, "0", "-1")


# -- LPUSH / RPUSH / LPUSHX / RPUSHX ---------------------------------------------------

def test_push_order_and_length(raw):
    assert raw.call("LPUSH", "l", "a", "b", "c") == 3
    assert raw.call("RPUSH", "l", "x", "y") == 5
    assert elements(raw, "l") == [b"c", b"b", b"a", b"x", b"y"]


def test_push_binary_and_empty_elements(r):
    assert r.rpush("l", b"\x00\xff\r\n", b"", b"12345678901234567890") == 3
    assert r.lrange("l", 0, -1) == [b"\x00\xff\r\n", b"", b"12345678901234567890"]


def test_pushx_only_on_existing_lists(raw):
    assert raw.call("LPUSHX", "l", "a") == 0
    assert raw.call("RPUSHX", "l", "a", "b") == 0
    assert raw.call("EXISTS", "l") == 0
    raw.call("RPUSH", "l", "m")
    assert raw.call("LPUSHX", "l", "a", "b") == 3
    assert raw.call("RPUSHX", "l", "y", "z") == 5
    assert elements(raw, "l") == [b"b", b"a", b"m", b"y", b"z"]


def test_push_wrongtype_and_arity(raw):
    raw.call("SET", "s", "v")
    for name in ("LPUSH", "RPUSH", "LPUSHX", "RPUSHX"):
        assert raw.call(name, "s", "a") == WRONGTYPE
        assert raw.call(name, "l") == arity(name.lower())
    assert raw.call("GET", "s") == b"v"


def test_push_keeps_ttl(r):
    r.rpush("l", "a")
    r.expire("l", 100)
    r.lpush("l", "b")
    r.rpushx("l", "c")
    assert 0 < r.ttl("l") <= 100


def test_type_and_encoding(r):
    r.rpush("l", "a")
    assert r.type("l") == b"list"
    assert r.object("encoding", "l") == b"quicklist"   # 7.0: always a quicklist
    r.rpush("big", *[b"x" * 100] * 200)
    assert r.object("encoding", "big") == b"quicklist"


# -- LLEN / LINDEX / LRANGE -----------------------------------------------------------

def test_llen(raw):
    assert raw.call("LLEN", "l") == 0
    make_list(raw, "l", "a", "b")
    assert raw.call("LLEN", "l") == 2
    raw.call("SET", "s", "v")
    assert raw.call("LLEN", "s") == WRONGTYPE


def test_lindex(raw):
    make_list(raw, "l", "a", "b", "c")
    assert [raw.call("LINDEX", "l", i) for i in ("0", "2", "3", "-1", "-3", "-4")] == \
        [b"a", b"c", None, b"c", b"a", None]
    assert raw.call("LINDEX", "l", str(LLONG_MAX)) is None
    assert raw.call("LINDEX", "l", str(LLONG_MIN)) is None


def test_lindex_checks_key_before_index(raw):
    assert raw.call("LINDEX", "missing", "abc") is None
    make_list(raw, "l", "a")
    assert raw.call("LINDEX", "l", "abc") == NOT_INTEGER
    assert raw.call("LINDEX", "l", "1.5") == NOT_INTEGER
    raw.call("SET", "s", "v")
    assert raw.call("LINDEX", "s", "abc") == WRONGTYPE


RANGE_VALUES = [b"v%d" % i for i in range(7)]
RANGE_CASES = [(0, -1), (0, 0), (2, 4), (-3, -1), (-100, 100), (5, 2), (6, 6), (7, 10),
               (-1, -2), (-7, -7), (-8, 0), (3, LLONG_MAX), (LLONG_MIN, LLONG_MAX), (1, -5)]


def _expected_range(start, end, values):
    n = len(values)
    start = start + n if start < 0 else start
    end = end + n if end < 0 else end
    start = max(start, 0)
    if start > end or start >= n:
        return []
    return values[start:min(end, n - 1) + 1]


@pytest.mark.parametrize("start,end", RANGE_CASES)
def test_lrange(raw, start, end):
    make_list(raw, "l", *RANGE_VALUES)
    assert raw.call("LRANGE", "l", str(start), str(end)) == _expected_range(start, end, RANGE_VALUES)


def test_lrange_missing_wrongtype_and_bad_indexes(raw):
    assert raw.call("LRANGE", "missing", "0", "-1") == []
    assert raw.call("LRANGE", "missing", "a", "1") == NOT_INTEGER   # numbers first
    make_list(raw, "l", "a")
    assert raw.call("LRANGE", "l", "0", "x") == NOT_INTEGER
    assert raw.call("LRANGE", "l", "0", str(LLONG_MAX + 1)) == NOT_INTEGER
    raw.call("SET", "s", "v")
    assert raw.call("LRANGE", "s", "0", "1") == WRONGTYPE
    assert raw.call("LRANGE", "s", "x", "1") == NOT_INTEGER


def test_lrange_long_list_from_both_ends(r):
    values = [str(i).encode() for i in range(1000)]
    r.rpush("l", *values)
    assert r.lrange("l", 990, 995) == values[990:996]
    assert r.lrange("l", -5, -1) == values[-5:]
    assert r.lrange("l", 3, 7) == values[3:8]
    assert r.lrange("l", 0, -1) == values


# -- LSET / LINSERT / LREM / LTRIM -----------------------------------------------------

def test_lset(raw):
    make_list(raw, "l", "a", "b", "c")
    assert raw.call("LSET", "l", "0", "A") == Simple("OK")
    assert raw.call("LSET", "l", "-1", "C") == Simple("OK")
    assert elements(raw, "l") == [b"A", b"b", b"C"]
    assert raw.call("LSET", "l", "3", "x") == Error("ERR index out of range")
    assert raw.call("LSET", "l", "-4", "x") == Error("ERR index out of range")
    assert raw.call("LSET", "l", "abc", "x") == NOT_INTEGER


def test_lset_errors_order(raw):
    assert raw.call("LSET", "missing", "0", "x") == Error("ERR no such key")
    assert raw.call("LSET", "missing", "abc", "x") == Error("ERR no such key")
    raw.call("SET", "s", "v")
    assert raw.call("LSET", "s", "0", "x") == WRONGTYPE


def test_linsert(raw):
    make_list(raw, "l", "a", "b", "a")
    assert raw.call("LINSERT", "l", "BEFORE", "a", "x") == 4
    assert raw.call("LINSERT", "l", "after", "a", "y") == 5
    assert elements(raw, "l") == [b"x", b"a", b"y", b"b", b"a"]
    assert raw.call("LINSERT", "l", "AfTeR", "a", "z") == 6          # first pivot from the head
    assert elements(raw, "l") == [b"x", b"a", b"z", b"y", b"b", b"a"]
    assert raw.call("LINSERT", "l", "BEFORE", "nope", "q") == -1
    assert raw.call("LLEN", "l") == 6


def test_linsert_errors(raw):
    assert raw.call("LINSERT", "missing", "BEFORE", "a", "x") == 0
    assert raw.call("EXISTS", "missing") == 0
    assert raw.call("LINSERT", "missing", "middle", "a", "x") == SYNTAX
    make_list(raw, "l", "a")
    assert raw.call("LINSERT", "l", "middle", "a", "x") == SYNTAX
    raw.call("SET", "s", "v")
    assert raw.call("LINSERT", "s", "BEFORE", "a", "x") == WRONGTYPE
    assert raw.call("LINSERT", "l", "BEFORE", "a") == arity("linsert")


@pytest.mark.parametrize("count,left", [
    ("0", [b"b", b"c"]),
    ("1", [b"b", b"a", b"c", b"a"]),
    ("2", [b"b", b"c", b"a"]),
    ("-1", [b"a", b"b", b"a", b"c"]),
    ("-2", [b"a", b"b", b"c"]),
    ("10", [b"b", b"c"]),
    ("-10", [b"b", b"c"]),
])
def test_lrem(raw, count, left):
    make_list(raw, "l", "a", "b", "a", "c", "a")
    removed = raw.call("LREM", "l", count, "a")
    assert removed == 5 - len(left)
    assert elements(raw, "l") == left


def test_lrem_deletes_emptied_list_and_errors(raw):
    make_list(raw, "l", "a", "a")
    assert raw.call("LREM", "l", "0", "zz") == 0
    assert raw.call("LREM", "l", "0", "a") == 2
    assert raw.call("EXISTS", "l") == 0
    assert raw.call("LREM", "missing", "1", "a") == 0
    assert raw.call("LREM", "missing", "x", "a") == NOT_INTEGER
    raw.call("SET", "s", "v")
    assert raw.call("LREM", "s", "1", "a") == WRONGTYPE


@pytest.mark.parametrize("start,end", RANGE_CASES)
def test_ltrim(raw, start, end):
    make_list(raw, "l", *RANGE_VALUES)
    assert raw.call("LTRIM", "l", str(start), str(end)) == Simple("OK")
    kept = _expected_range(start, end, RANGE_VALUES)
    assert elements(raw, "l") == kept
    assert raw.call("EXISTS", "l") == (1 if kept else 0)


def test_ltrim_long_list(r):
    values = [str(i).encode() for i in range(1000)]
    r.rpush("l", *values)
    assert r.ltrim("l", 10, -10)
    assert r.lrange("l", 0, -1) == values[10:-9]
    assert r.ltrim("l", 900, 2000)
    assert r.lrange("l", 0, -1) == values[910:991]


def test_ltrim_errors(raw):
    assert raw.call("LTRIM", "missing", "0", "1") == Simple("OK")
    assert raw.call("LTRIM", "missing", "a", "1") == NOT_INTEGER
    raw.call("SET", "s", "v")
    assert raw.call("LTRIM", "s", "0", "1") == WRONGTYPE


# -- LPOP / RPOP ---------------------------------------------------------------------

def test_pop_single(raw):
    make_list(raw, "l", "a", "b", "c")
    assert raw.call("LPOP", "l") == b"a"
    assert raw.call("RPOP", "l") == b"c"
    assert raw.call("RPOP", "l") == b"b"
    assert raw.call("EXISTS", "l") == 0
    assert raw.call("LPOP", "l") is None
    assert wire(raw, "LPOP", "l") in (b"$-1", b"_")


def test_pop_with_count(raw):
    make_list(raw, "l", "a", "b", "c", "d", "e")
    assert raw.call("LPOP", "l", "2") == [b"a", b"b"]
    assert raw.call("RPOP", "l", "2") == [b"e", b"d"]
    assert raw.call("RPOP", "l", "10") == [b"c"]
    assert raw.call("EXISTS", "l") == 0


def test_pop_count_zero_and_missing_key(raw):
    make_list(raw, "l", "a")
    assert raw.call("LPOP", "l", "0") == []
    assert raw.call("RPOP", "l", "0") == []
    assert raw.call("LLEN", "l") == 1
    null_array, null = (b"_", b"_") if proto(raw) == 3 else (b"*-1", b"$-1")
    assert wire(raw, "LPOP", "missing", "0") == null_array
    assert wire(raw, "RPOP", "missing", "3") == null_array
    assert wire(raw, "RPOP", "missing") == null


def test_pop_errors(raw):
    make_list(raw, "l", "a")
    for name in ("LPOP", "RPOP"):
        assert raw.call(name, "l", "-1") == MUST_BE_POSITIVE
        assert raw.call(name, "l", "abc") == MUST_BE_POSITIVE
        assert raw.call(name, "missing", "-1") == MUST_BE_POSITIVE
        assert raw.call(name, "l", "1", "2") == arity(name.lower())
        assert raw.call(name) == arity(name.lower())
    raw.call("SET", "s", "v")
    assert raw.call("LPOP", "s") == WRONGTYPE
    assert raw.call("RPOP", "s", "0") == WRONGTYPE


# -- LPOS -----------------------------------------------------------------------------

LPOS_LIST = [b"a", b"b", b"c", b"1", b"2", b"3", b"c", b"c"]


@pytest.mark.parametrize("args,expected", [
    ((), 2),
    (("RANK", "1"), 2),
    (("RANK", "2"), 6),
    (("RANK", "4"), None),
    (("RANK", "-1"), 7),
    (("RANK", "-2"), 6),
    (("RANK", "-4"), None),
    (("COUNT", "0"), [2, 6, 7]),
    (("COUNT", "1"), [2]),
    (("COUNT", "2"), [2, 6]),
    (("COUNT", "100"), [2, 6, 7]),
    (("RANK", "2", "COUNT", "0"), [6, 7]),
    (("RANK", "-1", "COUNT", "2"), [7, 6]),
    (("RANK", "-3", "COUNT", "0"), [2]),
    (("MAXLEN", "2"), None),
    (("MAXLEN", "3"), 2),
    (("COUNT", "0", "MAXLEN", "7"), [2, 6]),
    (("RANK", "-1", "COUNT", "0", "MAXLEN", "1"), [7]),
    (("RANK", "-1", "COUNT", "0", "MAXLEN", "0"), [7, 6, 2]),
    (("rank", "1", "rank", "2"), 6),
    (("RANK", str(LLONG_MAX)), None),
    (("RANK", str(LLONG_MIN)), 7),
    (("RANK", str(LLONG_MIN), "COUNT", "1"), [7, 6, 2]),
])
def test_lpos(raw, args, expected):
    make_list(raw, "l", *LPOS_LIST)
    assert raw.call("LPOS", "l", "c", *args) == expected


def test_lpos_missing_key_and_no_match(raw):
    assert raw.call("LPOS", "missing", "a") is None
    assert raw.call("LPOS", "missing", "a", "COUNT", "0") == []
    make_list(raw, "l", "a")
    assert raw.call("LPOS", "l", "zz") is None
    assert raw.call("LPOS", "l", "zz", "COUNT", "5") == []


def test_lpos_errors(raw):
    make_list(raw, "l", "a")
    assert raw.call("LPOS", "l", "a", "RANK", "0") == RANK_ZERO
    assert raw.call("LPOS", "missing", "a", "RANK", "0") == RANK_ZERO
    assert raw.call("LPOS", "l", "a", "RANK", "x") == NOT_INTEGER
    assert raw.call("LPOS", "l", "a", "COUNT", "-1") == Error("ERR COUNT can't be negative")
    assert raw.call("LPOS", "l", "a", "COUNT", "x") == Error("ERR COUNT can't be negative")
    assert raw.call("LPOS", "l", "a", "MAXLEN", "-1") == Error("ERR MAXLEN can't be negative")
    assert raw.call("LPOS", "l", "a", "MAXLEN", "x") == Error("ERR MAXLEN can't be negative")
    assert raw.call("LPOS", "l", "a", "RANK") == SYNTAX
    assert raw.call("LPOS", "l", "a", "FOO", "1") == SYNTAX
    assert raw.call("LPOS", "l") == arity("lpos")
    raw.call("SET", "s", "v")
    assert raw.call("LPOS", "s", "a") == WRONGTYPE
    assert raw.call("LPOS", "s", "a", "RANK", "0") == RANK_ZERO      # options are parsed first


# -- LMOVE / RPOPLPUSH ---------------------------------------------------------------

@pytest.mark.parametrize("wherefrom,whereto,moved,src_left,dst", [
    ("LEFT", "LEFT", b"a", [b"b", b"c"], [b"a", b"x"]),
    ("LEFT", "RIGHT", b"a", [b"b", b"c"], [b"x", b"a"]),
    ("RIGHT", "LEFT", b"c", [b"a", b"b"], [b"c", b"x"]),
    ("right", "right", b"c", [b"a", b"b"], [b"x", b"c"]),
])
def test_lmove_directions(raw, wherefrom, whereto, moved, src_left, dst):
    make_list(raw, "src", "a", "b", "c")
    make_list(raw, "dst", "x")
    assert raw.call("LMOVE", "src", "dst", wherefrom, whereto) == moved
    assert elements(raw, "src") == src_left
    assert elements(raw, "dst") == dst


def test_lmove_creates_destination_and_deletes_source(r):
    r.rpush("src", "only")
    r.expire("src", 100)
    assert r.lmove("src", "dst", "LEFT", "RIGHT") == b"only"
    assert r.exists("src") == 0
    assert r.lrange("dst", 0, -1) == [b"only"]
    assert r.ttl("dst") == -1


def test_lmove_same_list_rotates(raw):
    make_list(raw, "l", "a", "b", "c")
    assert raw.call("LMOVE", "l", "l", "LEFT", "RIGHT") == b"a"
    assert elements(raw, "l") == [b"b", b"c", b"a"]
    assert raw.call("RPOPLPUSH", "l", "l") == b"a"
    assert elements(raw, "l") == [b"a", b"b", b"c"]
    make_list(raw, "one", "x")
    assert raw.call("LMOVE", "one", "one", "RIGHT", "LEFT") == b"x"
    assert elements(raw, "one") == [b"x"]


def test_rpoplpush(raw):
    make_list(raw, "src", "a", "b")
    assert raw.call("RPOPLPUSH", "src", "dst") == b"b"
    assert raw.call("RPOPLPUSH", "src", "dst") == b"a"
    assert raw.call("RPOPLPUSH", "src", "dst") is None
    assert elements(raw, "dst") == [b"a", b"b"]
    assert raw.call("EXISTS", "src") == 0


def test_lmove_errors(raw):
    assert raw.call("LMOVE", "missing", "dst", "LEFT", "LEFT") is None
    assert raw.call("EXISTS", "dst") == 0
    make_list(raw, "l", "a")
    raw.call("SET", "s", "v")
    assert raw.call("LMOVE", "l", "l2", "UP", "LEFT") == SYNTAX
    assert raw.call("LMOVE", "l", "l2", "LEFT", "DOWN") == SYNTAX
    assert raw.call("LMOVE", "missing", "l2", "UP", "LEFT") == SYNTAX
    assert raw.call("LMOVE", "s", "l", "LEFT", "LEFT") == WRONGTYPE
    assert raw.call("LMOVE", "l", "s", "LEFT", "LEFT") == WRONGTYPE
    assert raw.call("RPOPLPUSH", "l", "s") == WRONGTYPE
    assert raw.call("LMOVE", "missing", "s", "LEFT", "LEFT") is None   # no source: type unchecked
    assert elements(raw, "l") == [b"a"]                                # nothing popped
    assert raw.call("LMOVE", "l", "l2", "LEFT") == arity("lmove")


# -- LMPOP ----------------------------------------------------------------------------

def test_lmpop(raw):
    make_list(raw, "a", "1", "2", "3")
    make_list(raw, "b", "x", "y")
    assert raw.call("LMPOP", "2", "missing", "a", "LEFT") == [b"a", [b"1"]]
    assert raw.call("LMPOP", "2", "a", "b", "RIGHT", "COUNT", "10") == [b"a", [b"3", b"2"]]
    assert raw.call("EXISTS", "a") == 0
    assert raw.call("LMPOP", "3", "a", "b", "a", "left", "count", "1") == [b"b", [b"x"]]
    assert raw.call("LMPOP", "1", "missing", "LEFT") is None
    assert wire(raw, "LMPOP", "1", "missing", "LEFT") in (b"*-1", b"_")


def test_lmpop_errors(raw):
    make_list(raw, "l", "a", "b")
    raw.call("SET", "s", "v")
    assert raw.call("LMPOP", "0", "l", "LEFT") == NUMKEYS
    assert raw.call("LMPOP", "-1", "l", "LEFT") == NUMKEYS
    assert raw.call("LMPOP", "x", "l", "LEFT") == NUMKEYS
    assert raw.call("LMPOP", "5", "l", "LEFT") == SYNTAX
    assert raw.call("LMPOP", "1", "l", "MIDDLE") == SYNTAX
    assert raw.call("LMPOP", "1", "l", "LEFT", "COUNT", "0") == COUNT_POSITIVE
    assert raw.call("LMPOP", "1", "l", "LEFT", "COUNT", "x") == COUNT_POSITIVE
    assert raw.call("LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "2") == SYNTAX
    assert raw.call("LMPOP", "1", "l", "LEFT", "COUNT") == SYNTAX
    assert raw.call("LMPOP", "1", "l", "LEFT", "EXTRA") == SYNTAX
    assert raw.call("LMPOP", "1", "l") == arity("lmpop")
    assert raw.call("LMPOP", "2", "s", "l", "LEFT") == WRONGTYPE
    assert raw.call("LMPOP", "2", "l", "s", "LEFT") == [b"l", [b"a"]]    # stops at the first list


def test_mpop_getkeys(raw):
    assert raw.call("COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT") == [b"a", b"b"]
    assert raw.call("COMMAND", "GETKEYS", "BLMPOP", "0", "1", "a", "RIGHT", "COUNT", "2") == [b"a"]
    assert raw.call("COMMAND", "GETKEYS", "BLPOP", "a", "b", "0") == [b"a", b"b"]
    assert raw.call("COMMAND", "GETKEYS", "BLMOVE", "a", "b", "LEFT", "LEFT", "0") == [b"a", b"b"]


# -- blocking commands when they need not block -----------------------------------------

def test_blpop_brpop_pop_immediately(raw):
    make_list(raw, "b", "1", "2")
    assert raw.call("BLPOP", "a", "b", "0") == [b"b", b"1"]
    assert raw.call("BRPOP", "a", "b", "1") == [b"b", b"2"]
    assert raw.call("EXISTS", "b") == 0


def test_blmpop_blmove_brpoplpush_immediately(raw):
    make_list(raw, "a", "1", "2", "3")
    assert raw.call("BLMPOP", "0", "2", "x", "a", "RIGHT", "COUNT", "2") == [b"a", [b"3", b"2"]]
    assert raw.call("BLMOVE", "a", "d", "LEFT", "RIGHT", "0") == b"1"
    assert raw.call("BRPOPLPUSH", "d", "e", "0.5") == b"1"
    assert elements(raw, "e") == [b"1"]


def test_blocking_wrongtype(raw):
    raw.call("SET", "s", "v")
    make_list(raw, "l", "a")
    assert raw.call("BLPOP", "s", "0") == WRONGTYPE
    assert raw.call("BRPOP", "missing", "s", "l", "0") == WRONGTYPE
    assert raw.call("BLMPOP", "0", "1", "s", "LEFT") == WRONGTYPE
    assert raw.call("BLMOVE", "s", "l", "LEFT", "LEFT", "0") == WRONGTYPE
    assert raw.call("BLMOVE", "l", "s", "LEFT", "LEFT", "0") == WRONGTYPE
    assert raw.call("BRPOPLPUSH", "l", "s", "0") == WRONGTYPE
    assert elements(raw, "l") == [b"a"]


@pytest.mark.parametrize("timeout,error", [
    ("-1", TIMEOUT_NEGATIVE),
    ("-0.5", TIMEOUT_NEGATIVE),
    ("abc", TIMEOUT_NOT_FLOAT),
    ("", TIMEOUT_NOT_FLOAT),
    (" 1", TIMEOUT_NOT_FLOAT),
    ("1 ", TIMEOUT_NOT_FLOAT),
    ("nan", TIMEOUT_NOT_FLOAT),
    ("1_0", TIMEOUT_NOT_FLOAT),
    ("1e5000", TIMEOUT_NOT_FLOAT),
    ("inf", TIMEOUT_NEGATIVE),
    ("-inf", TIMEOUT_NEGATIVE),
    ("1e400", TIMEOUT_NEGATIVE),          # fits a long double, not a long long
    ("99999999999999999", TIMEOUT_NEGATIVE),
])
def test_blocking_timeout_errors(raw, timeout, error):
    make_list(raw, "l", "a")
    assert raw.call("BLPOP", "l", timeout) == error
    assert raw.call("BRPOP", "l", timeout) == error
    assert raw.call("BLMOVE", "l", "d", "LEFT", "LEFT", timeout) == error
    assert raw.call("BRPOPLPUSH", "l", "d", timeout) == error
    assert raw.call("BLMPOP", timeout, "1", "l", "LEFT") == error
    assert elements(raw, "l") == [b"a"]


def test_blocking_argument_errors_order(raw):
    make_list(raw, "l", "a")
    # BLMPOP parses numkeys, direction and COUNT before the timeout.
    assert raw.call("BLMPOP", "x", "0", "l", "LEFT") == NUMKEYS
    assert raw.call("BLMPOP", "-1", "1", "l", "UP") == SYNTAX
    assert raw.call("BLMPOP", "0", "2", "l", "LEFT") == SYNTAX
    assert raw.call("BLMPOP", "0", "1", "l", "LEFT", "COUNT", "0") == COUNT_POSITIVE
    # BLMOVE parses both directions before the timeout.
    assert raw.call("BLMOVE", "l", "d", "UP", "LEFT", "x") == SYNTAX
    assert raw.call("BLPOP", "l") == arity("blpop")
    assert raw.call("BLMPOP", "0", "1", "l") == arity("blmpop")
    assert raw.call("BRPOPLPUSH", "l", "d") == arity("brpoplpush")


def test_valid_timeout_spellings(raw):
    make_list(raw, "l", *"abcdefghij")
    for timeout in ("0", "1.5", ".5", "5.", "+1", "1e-1", "0x10", "-0", "-0.0001", "0.0001"):
        assert raw.call("BLPOP", "l", timeout)[0] == b"l"


# -- WATCH-style change signalling and dirty counting -----------------------------------

def test_changes_bump_dirty(r):
    before = r.info("persistence")["rdb_changes_since_last_save"]
    r.rpush("l", "a", "b", "c")              # 3
    r.lset("l", 0, "x")                       # 1
    r.linsert("l", "AFTER", "x", "y")         # 1
    r.lrem("l", 0, "y")                       # 1
    r.ltrim("l", 0, 1)                        # 1 (c trimmed)
    r.lpop("l")                               # 1
    r.lmove("l", "m", "LEFT", "LEFT")         # 1
    after = r.info("persistence")["rdb_changes_since_last_save"]
    assert after - before == 9
