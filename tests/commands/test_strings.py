"""The string group (t_string.c) against Ferrous and real Redis 7.0, RESP2 and RESP3."""
from __future__ import annotations

import random
import time

import pytest
import redis
from resp_client import Error, RespMap, Simple

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
OVERFLOW = "ERR increment or decrement would overflow"
NAN_OR_INF = "ERR increment would produce NaN or Infinity"
TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)


def invalid_expire(command: str) -> Error:
    return Error(f"ERR invalid expire time in '{command}' command")


def arity(command: str) -> Error:
    return Error(f"ERR wrong number of arguments for '{command}' command")


def make_set(raw, key="s"):
    """A key of another type (a set) for WRONGTYPE checks."""
    raw.call("SADD", key, "member")


# -- GET / SET ------------------------------------------------------------------------

def test_get_missing_and_existing(raw):
    assert raw.call("GET", "k") is None
    assert raw.call("SET", "k", "v") == Simple("OK")
    assert raw.call("GET", "k") == b"v"


def test_set_get_binary_values(r):
    value = b"\x00\xff\r\n binary \x00"
    assert r.set("k", value) is True
    assert r.get("k") == value
    assert r.set("empty", b"") is True
    assert r.get("empty") == b""


def test_get_wrongtype(raw):
    make_set(raw)
    assert raw.call("GET", "s") == Error(WRONGTYPE)


def test_get_set_arity(raw):
    assert raw.call("GET") == arity("get")
    assert raw.call("GET", "a", "b") == arity("get")
    assert raw.call("SET", "k") == arity("set")


def test_set_replaces_other_types(raw):
    make_set(raw)
    assert raw.call("SET", "s", "v") == Simple("OK")
    assert raw.call("GET", "s") == b"v"


def test_set_clears_ttl(r):
    r.set("k", "v", ex=100)
    r.set("k", "w")
    assert r.ttl("k") == -1


def test_set_nx(raw):
    assert raw.call("SET", "k", "v", "NX") == Simple("OK")
    assert raw.call("SET", "k", "w", "NX") is None
    assert raw.call("GET", "k") == b"v"


def test_set_xx(raw):
    assert raw.call("SET", "k", "v", "XX") is None
    assert raw.call("GET", "k") is None
    raw.call("SET", "k", "v")
    assert raw.call("SET", "k", "w", "xx") == Simple("OK")
    assert raw.call("GET", "k") == b"w"


def test_set_nx_counts_other_types_as_existing(raw):
    make_set(raw)
    assert raw.call("SET", "s", "v", "NX") is None
    assert raw.call("SET", "s", "v", "XX") == Simple("OK")


@pytest.mark.parametrize("options", [
    ["NX", "XX"], ["XX", "NX"], ["EX", "10", "PX", "100"], ["PX", "100", "EX", "10"],
    ["EX", "10", "EXAT", "2000000000"], ["PXAT", "2000000000000", "EXAT", "2000000000"],
    ["KEEPTTL", "EX", "10"], ["EX", "10", "KEEPTTL"], ["PX", "10", "KEEPTTL"],
    ["KEEPTTL", "PXAT", "1"], ["EX"], ["PX"], ["EXAT"], ["PXAT"], ["NX", "EX"],
    ["PERSIST"], ["FOO"], ["GET", "FOO"], ["EX", "10", "10"], ["NXX"],
])
def test_set_syntax_errors(raw, options):
    assert raw.call("SET", "k", "v", *options) == Error(SYNTAX)
    assert raw.call("GET", "k") is None


def test_set_repeated_options_are_allowed(r, raw):
    assert raw.call("SET", "k", "v", "NX", "NX") == Simple("OK")
    assert raw.call("SET", "k", "v", "XX", "XX", "KEEPTTL", "KEEPTTL") == Simple("OK")
    assert raw.call("SET", "k", "v2", "GET", "GET") == b"v"
    assert raw.call("SET", "k", "v", "EX", "10", "EX", "1000") == Simple("OK")
    assert 990 <= r.ttl("k") <= 1000


def test_set_options_are_case_insensitive(r, raw):
    assert raw.call("SET", "k", "v", "nx", "Ex", "100") == Simple("OK")
    assert raw.call("SET", "k", "w", "xX", "keepttl", "gEt") == b"v"
    assert 90 <= r.ttl("k") <= 100


def test_set_option_ends_at_nul_byte(raw):
    # Redis compares options as C strings: "NX\0zz" reads as NX.
    assert raw.call("SET", "k", "v", "NX\x00zz") == Simple("OK")
    assert raw.call("SET", "k", "w", "nx\x00") is None
    assert raw.call("GET", "k") == b"v"


def test_set_get_option(raw):
    assert raw.call("SET", "k", "v", "GET") is None
    assert raw.call("GET", "k") == b"v"
    assert raw.call("SET", "k", "w", "GET") == b"v"
    assert raw.call("GET", "k") == b"w"


def test_set_get_option_wrongtype(raw):
    make_set(raw)
    assert raw.call("SET", "s", "v", "GET") == Error(WRONGTYPE)
    assert raw.call("SET", "s", "v", "NX", "GET") == Error(WRONGTYPE)
    assert raw.call("GET", "s") == Error(WRONGTYPE)


def test_set_get_with_nx_and_xx(raw):
    assert raw.call("SET", "k", "v", "NX", "GET") is None
    assert raw.call("GET", "k") == b"v"
    assert raw.call("SET", "k", "w", "NX", "GET") == b"v"
    assert raw.call("GET", "k") == b"v"
    assert raw.call("SET", "m", "v", "XX", "GET") is None
    assert raw.call("GET", "m") is None
    assert raw.call("SET", "k", "x", "XX", "GET") == b"v"
    assert raw.call("GET", "k") == b"x"


def test_set_ex_px(r, raw):
    assert raw.call("SET", "k", "v", "EX", "100") == Simple("OK")
    assert 99 <= r.ttl("k") <= 100
    assert raw.call("SET", "k", "v", "PX", "100000") == Simple("OK")
    assert 99000 <= r.pttl("k") <= 100000


def test_set_exat_pxat(r, raw):
    now = int(time.time())
    assert raw.call("SET", "k", "v", "EXAT", str(now + 100)) == Simple("OK")
    assert 95 <= r.ttl("k") <= 100
    assert raw.call("SET", "k", "v", "PXAT", str((now + 200) * 1000)) == Simple("OK")
    assert 195 <= r.ttl("k") <= 200


def test_set_exat_in_the_past(r, raw):
    # The reply stays OK; the key is gone as soon as anything looks at it.
    assert raw.call("SET", "k", "v", "EXAT", "1") == Simple("OK")
    assert raw.call("GET", "k") is None
    assert raw.call("SET", "k", "v", "PXAT", "1000") == Simple("OK")
    assert r.exists("k") == 0


def test_set_pxat_largest_time(r, raw):
    assert raw.call("SET", "k", "v", "PXAT", str(LLONG_MAX)) == Simple("OK")
    assert r.get("k") == b"v"


def test_set_keepttl(r, raw):
    r.set("k", "v", ex=100)
    assert raw.call("SET", "k", "w", "KEEPTTL") == Simple("OK")
    assert raw.call("GET", "k") == b"w"
    assert 99 <= r.ttl("k") <= 100
    assert raw.call("SET", "new", "v", "KEEPTTL") == Simple("OK")
    assert r.ttl("new") == -1


@pytest.mark.parametrize("unit, amount", [
    ("EX", "0"), ("EX", "-1"), ("PX", "0"), ("PX", "-100"), ("EXAT", "0"), ("PXAT", "0"),
    ("EXAT", "-5"), ("EX", "9223372036854776"), ("EX", "9223372036854775"),
    ("PX", str(LLONG_MAX)), ("EXAT", "9223372036854776"),
])
def test_set_invalid_expire(raw, unit, amount):
    assert raw.call("SET", "k", "v", unit, amount) == invalid_expire("set")
    assert raw.call("GET", "k") is None


@pytest.mark.parametrize("amount", ["abc", "1.5", "", " 1", "9223372036854775808"])
def test_set_expire_not_integer(raw, amount):
    assert raw.call("SET", "k", "v", "EX", amount) == Error(NOT_INTEGER)


def test_set_error_precedence(raw):
    make_set(raw)
    # Syntax errors come first, then the expire time, then the type of the old value.
    assert raw.call("SET", "s", "v", "GET", "EX", "0", "FOO") == Error(SYNTAX)
    assert raw.call("SET", "s", "v", "GET", "EX", "0") == invalid_expire("set")
    assert raw.call("SET", "s", "v", "GET", "EX", "x") == Error(NOT_INTEGER)
    assert raw.call("SET", "s", "v", "GET", "EX", "10") == Error(WRONGTYPE)


def test_set_all_options_together(r, raw):
    assert raw.call("SET", "k", "v", "NX", "GET", "PX", "50000") is None
    assert 49000 <= r.pttl("k") <= 50000
    assert raw.call("SET", "k", "w", "XX", "GET", "KEEPTTL") == b"v"
    assert 49000 <= r.pttl("k") <= 50000


def test_set_expiry_happens(raw):
    assert raw.call("SET", "k", "v", "PX", "1") == Simple("OK")
    deadline = time.monotonic() + 5
    while raw.call("GET", "k") is not None:
        assert time.monotonic() < deadline
        time.sleep(0.005)


# -- SETNX / SETEX / PSETEX -----------------------------------------------------------

def test_setnx(raw):
    assert raw.call("SETNX", "k", "v") == 1
    assert raw.call("SETNX", "k", "w") == 0
    assert raw.call("GET", "k") == b"v"
    make_set(raw)
    assert raw.call("SETNX", "s", "v") == 0
    assert raw.call("SETNX", "k") == arity("setnx")


def test_setex_psetex(r, raw):
    assert raw.call("SETEX", "k", "100", "v") == Simple("OK")
    assert raw.call("GET", "k") == b"v"
    assert 99 <= r.ttl("k") <= 100
    assert raw.call("PSETEX", "p", "100000", "v") == Simple("OK")
    assert 99000 <= r.pttl("p") <= 100000
    make_set(raw)
    assert raw.call("SETEX", "s", "100", "v") == Simple("OK")
    assert raw.call("GET", "s") == b"v"


@pytest.mark.parametrize("command", ["SETEX", "PSETEX"])
@pytest.mark.parametrize("amount", ["0", "-1", "-9223372036854775808"])
def test_setex_invalid_expire(raw, command, amount):
    assert raw.call(command, "k", amount, "v") == invalid_expire(command.lower())
    assert raw.call("GET", "k") is None


def test_setex_overflowing_expire(raw):
    assert raw.call("SETEX", "k", "9223372036854776", "v") == invalid_expire("setex")
    assert raw.call("SETEX", "k", "9223372036854775", "v") == invalid_expire("setex")
    assert raw.call("PSETEX", "k", str(LLONG_MAX), "v") == invalid_expire("psetex")


def test_setex_errors(raw):
    assert raw.call("SETEX", "k", "abc", "v") == Error(NOT_INTEGER)
    assert raw.call("PSETEX", "k", "1.5", "v") == Error(NOT_INTEGER)
    assert raw.call("SETEX", "k", "10") == arity("setex")
    assert raw.call("PSETEX", "k", "10", "v", "x") == arity("psetex")


# -- GETEX ----------------------------------------------------------------------------

def test_getex_without_options_keeps_ttl(r, raw):
    r.set("k", "v", ex=100)
    assert raw.call("GETEX", "k") == b"v"
    assert 99 <= r.ttl("k") <= 100
    assert raw.call("GETEX", "missing") is None


def test_getex_sets_expiry(r, raw):
    r.set("k", "v")
    assert raw.call("GETEX", "k", "EX", "100") == b"v"
    assert 99 <= r.ttl("k") <= 100
    assert raw.call("GETEX", "k", "px", "200000") == b"v"
    assert 199000 <= r.pttl("k") <= 200000
    now = int(time.time())
    assert raw.call("GETEX", "k", "EXAT", str(now + 300)) == b"v"
    assert 295 <= r.ttl("k") <= 300
    assert raw.call("GETEX", "k", "PXAT", str((now + 400) * 1000)) == b"v"
    assert 395 <= r.ttl("k") <= 400


def test_getex_persist(r, raw):
    r.set("k", "v", ex=100)
    assert raw.call("GETEX", "k", "PERSIST") == b"v"
    assert r.ttl("k") == -1
    assert raw.call("GETEX", "k", "persist") == b"v"
    assert r.ttl("k") == -1


def test_getex_past_absolute_time_deletes(r, raw):
    r.set("k", "v")
    assert raw.call("GETEX", "k", "EXAT", "1") == b"v"
    assert r.exists("k") == 0
    r.set("k", "v")
    assert raw.call("GETEX", "k", "PXAT", str(int(time.time() * 1000) - 1000)) == b"v"
    assert raw.call("GET", "k") is None


@pytest.mark.parametrize("options", [
    ["EX", "10", "PERSIST"], ["PERSIST", "EX", "10"], ["PX", "10", "EXAT", "10"],
    ["KEEPTTL"], ["NX"], ["XX"], ["GET"], ["EX"], ["PXAT"], ["FOO"], ["EX", "10", "10"],
])
def test_getex_syntax_errors(r, raw, options):
    r.set("k", "v", ex=100)
    assert raw.call("GETEX", "k", *options) == Error(SYNTAX)
    assert raw.call("GETEX", "missing", *options) == Error(SYNTAX)
    assert 99 <= r.ttl("k") <= 100


@pytest.mark.parametrize("unit, amount", [
    ("EX", "0"), ("PX", "-1"), ("EXAT", "0"), ("PXAT", "-1"), ("EX", "9223372036854775"),
])
def test_getex_invalid_expire(r, raw, unit, amount):
    r.set("k", "v")
    assert raw.call("GETEX", "k", unit, amount) == invalid_expire("getex")
    assert raw.call("GETEX", "k", unit, "abc") == Error(NOT_INTEGER)
    assert r.ttl("k") == -1


def test_getex_missing_key_or_wrongtype_come_before_expire_check(raw):
    assert raw.call("GETEX", "missing", "EX", "0") is None
    assert raw.call("GETEX", "missing", "EX", "abc") is None
    make_set(raw)
    assert raw.call("GETEX", "s") == Error(WRONGTYPE)
    assert raw.call("GETEX", "s", "EX", "0") == Error(WRONGTYPE)
    assert raw.call("GETEX") == arity("getex")


def test_getex_repeated_expire_last_wins(r, raw):
    r.set("k", "v")
    assert raw.call("GETEX", "k", "EX", "10", "EX", "500") == b"v"
    assert 495 <= r.ttl("k") <= 500
    assert raw.call("GETEX", "k", "PERSIST", "PERSIST") == b"v"
    assert r.ttl("k") == -1


# -- GETDEL / GETSET ------------------------------------------------------------------

def test_getdel(r, raw):
    r.set("k", "v", ex=100)
    assert raw.call("GETDEL", "k") == b"v"
    assert raw.call("GET", "k") is None
    assert raw.call("GETDEL", "k") is None
    make_set(raw)
    assert raw.call("GETDEL", "s") == Error(WRONGTYPE)
    assert r.exists("s") == 1
    assert raw.call("GETDEL", "a", "b") == arity("getdel")


def test_getset(r, raw):
    assert raw.call("GETSET", "k", "v") is None
    assert raw.call("GET", "k") == b"v"
    r.expire("k", 100)
    assert raw.call("GETSET", "k", "w") == b"v"
    assert raw.call("GET", "k") == b"w"
    assert r.ttl("k") == -1
    make_set(raw)
    assert raw.call("GETSET", "s", "v") == Error(WRONGTYPE)
    assert r.exists("s") == 1
    assert raw.call("GETSET", "k") == arity("getset")


# -- MGET / MSET / MSETNX -------------------------------------------------------------

def test_mget(raw):
    raw.call("SET", "a", "1")
    raw.call("SET", "c", "3")
    make_set(raw)
    # A key of another type reads as nil, not as an error.
    assert raw.call("MGET", "a", "b", "c", "s", "a") == [b"1", None, b"3", None, b"1"]
    assert raw.call("MGET", "b") == [None]
    assert raw.call("MGET") == arity("mget")


def test_mset(r, raw):
    r.set("a", "old", ex=100)
    make_set(raw)
    assert raw.call("MSET", "a", "1", "b", "2", "s", "3") == Simple("OK")
    assert raw.call("MGET", "a", "b", "s") == [b"1", b"2", b"3"]
    assert r.ttl("a") == -1
    assert raw.call("MSET", "a", "x", "a", "y") == Simple("OK")
    assert raw.call("GET", "a") == b"y"


def test_mset_wrong_number_of_arguments(raw):
    assert raw.call("MSET", "a") == arity("mset")
    assert raw.call("MSET", "a", "1", "b") == arity("mset")
    assert raw.call("MSETNX", "a", "1", "b") == arity("msetnx")
    assert raw.call("MSETNX", "a") == arity("msetnx")
    assert raw.call("MGET", "a", "b") == [None, None]


def test_msetnx_all_or_nothing(raw):
    assert raw.call("MSETNX", "a", "1", "b", "2") == 1
    assert raw.call("MSETNX", "c", "3", "b", "x") == 0
    assert raw.call("MGET", "a", "b", "c") == [b"1", b"2", None]
    make_set(raw)
    assert raw.call("MSETNX", "d", "4", "s", "x") == 0
    assert raw.call("GET", "d") is None
    assert raw.call("MSETNX", "p", "1", "p", "2") == 1
    assert raw.call("GET", "p") == b"2"


# -- INCR / DECR / INCRBY / DECRBY ----------------------------------------------------

def test_incr_decr(raw):
    assert raw.call("INCR", "n") == 1
    assert raw.call("INCR", "n") == 2
    assert raw.call("DECR", "n") == 1
    assert raw.call("DECR", "m") == -1
    assert raw.call("INCRBY", "n", "100") == 101
    assert raw.call("INCRBY", "n", "-200") == -99
    assert raw.call("DECRBY", "n", "-9") == -90
    assert raw.call("DECRBY", "n", "10") == -100
    assert raw.call("GET", "n") == b"-100"
    assert raw.call("INCRBY", "z", "0") == 0
    assert raw.call("GET", "z") == b"0"


def test_incr_parses_stored_text(raw):
    raw.call("SET", "n", "9223372036854775806")
    assert raw.call("INCR", "n") == LLONG_MAX
    raw.call("SET", "n", "-41")
    assert raw.call("INCRBY", "n", "42") == 1
    raw.call("APPEND", "n", "0")
    assert raw.call("INCR", "n") == 11


def test_incr_keeps_ttl(r, raw):
    r.set("n", "1", ex=100)
    assert raw.call("INCR", "n") == 2
    assert raw.call("DECRBY", "n", "5") == -3
    assert 99 <= r.ttl("n") <= 100


@pytest.mark.parametrize("value", [
    " 1", "1 ", "01", "-0", "+1", "1.0", "1e3", "abc", "", "0x10", "9223372036854775808",
    "-9223372036854775809", "99999999999999999999", "1\x00",
])
def test_incr_value_not_integer(raw, value):
    raw.call("SET", "n", value)
    for command in (["INCR", "n"], ["DECR", "n"], ["INCRBY", "n", "1"], ["DECRBY", "n", "1"]):
        assert raw.call(*command) == Error(NOT_INTEGER)
    assert raw.call("GET", "n") == value.encode()


@pytest.mark.parametrize("increment", ["abc", "1.5", " 1", "+1", "", "9223372036854775808"])
def test_incrby_increment_not_integer(raw, increment):
    assert raw.call("INCRBY", "n", increment) == Error(NOT_INTEGER)
    assert raw.call("DECRBY", "n", increment) == Error(NOT_INTEGER)
    assert raw.call("GET", "n") is None


def test_incr_overflow(raw):
    raw.call("SET", "n", str(LLONG_MAX))
    assert raw.call("INCR", "n") == Error(OVERFLOW)
    assert raw.call("INCRBY", "n", "1") == Error(OVERFLOW)
    assert raw.call("DECRBY", "n", "-1") == Error(OVERFLOW)
    assert raw.call("INCRBY", "n", str(LLONG_MIN)) == -1
    raw.call("SET", "n", str(LLONG_MIN))
    assert raw.call("DECR", "n") == Error(OVERFLOW)
    assert raw.call("INCRBY", "n", "-1") == Error(OVERFLOW)
    assert raw.call("GET", "n") == str(LLONG_MIN).encode()
    assert raw.call("INCRBY", "n", str(LLONG_MAX)) == -1


def test_decrby_llong_min(raw):
    assert raw.call("DECRBY", "n", str(LLONG_MIN)) == Error("ERR decrement would overflow")
    assert raw.call("DECRBY", "n", str(LLONG_MAX)) == -LLONG_MAX
    assert raw.call("DECR", "n") == LLONG_MIN


def test_incr_wrongtype_and_argument_order(raw):
    make_set(raw)
    for command in (["INCR", "s"], ["DECR", "s"], ["INCRBY", "s", "1"], ["DECRBY", "s", "1"]):
        assert raw.call(*command) == Error(WRONGTYPE)
    # The increment is parsed before the key is looked up.
    assert raw.call("INCRBY", "s", "x") == Error(NOT_INTEGER)
    assert raw.call("DECRBY", "s", str(LLONG_MIN)) == Error("ERR decrement would overflow")
    assert raw.call("INCR", "a", "b") == arity("incr")
    assert raw.call("INCRBY", "a") == arity("incrby")


# -- INCRBYFLOAT ----------------------------------------------------------------------

# (stored value or None, increment, reply): every reply is Redis 7.0's own, which
# prints an x87 long double with "%.17Lf" and trims the trailing zeros.
INCRBYFLOAT_CASES = [
    (None, "10.5", "10.5"),
    ("10.5", "0.1", "10.6"),
    ("3.0e3", "200", "3200"),
    ("5.0e3", "2.0e3", "7000"),
    ("1", "1.1", "2.1"),
    ("0.1", "0.2", "0.3"),
    ("-5", "5", "0"),
    ("1.5", "-3", "-1.5"),
    ("10", "-0.0001", "9.9999"),
    (None, "1e-17", "0.00000000000000001"),
    (None, "1e-18", "0"),
    (None, "-1e-18", "0"),
    ("1e20", "1", "100000000000000000000"),
    ("12345678901234567890", "0.5", "12345678901234567890"),
    ("1.1e-5", "0", "0.000011"),
    ("0x10", "0.5", "16.5"),
    ("0X1.8P+1", "0", "3"),
    ("+.5", "5.", "5.5"),
    ("-0", "-0", "0"),
    ("3.14159265358979323846", "0", "3.14159265358979324"),
    ("9223372036854775807", "1", "9223372036854775808"),
    ("0.000003814697265625", "0", "0.00000381469726562"),
    ("1.000011444091796875", "0", "1.00001144409179688"),
    ("0x1p-16445", "0", "0"),
    ("123456789.123456789", "987654321.987654321", "1111111111.11111110995989293"),
    ("17179869184", "0.1", "17179869184.09999999962747097"),
    ("2.5e-10", "1e10", "10000000000"),
    ("1e100", "0", "99999999999999999996693535322073426194986990198284960792713915417520186694826443"
                   "24418977840117055488"),
]


@pytest.mark.parametrize("stored, increment, expected", INCRBYFLOAT_CASES)
def test_incrbyfloat_values(raw, stored, increment, expected):
    if stored is not None:
        raw.call("SET", "f", stored)
    # A bulk string in both protocols, never a RESP3 double.
    assert raw.call("INCRBYFLOAT", "f", increment) == expected.encode()
    assert raw.call("GET", "f") == expected.encode()


def test_incrbyfloat_huge_exponents(raw):
    raw.call("SET", "f", "1.18973149535723176502e+4932")
    reply = raw.call("INCRBYFLOAT", "f", "0")
    assert len(reply) == 4933 and reply.startswith(b"11897314953572317650212638530309702051690633")
    assert raw.call("INCRBYFLOAT", "f", "1e4932") == Error(NAN_OR_INF)
    raw.call("SET", "g", "1e400")
    reply = raw.call("INCRBYFLOAT", "g", "-1e399")
    assert len(reply) == 400 and reply.startswith(b"900000000000000000025369261555282786312")
    assert reply.endswith(b"4358678761325709359247687199752192")
    assert raw.call("INCRBYFLOAT", "g", "1e-4940") == reply


@pytest.mark.parametrize("text", [
    "abc", "", " 1", "1 ", "1e", "1e+", ".", "+", "-", "nan", "NaN", "-nan", "0x", "0x1p",
    "1,5", "1_0", "1\x002", "1e5000", "-1e5000", "1e-5000", "0x1p-16446", "1e-4951", "1" * 5120,
])
def test_incrbyfloat_invalid_float(raw, text):
    assert raw.call("INCRBYFLOAT", "f", text) == Error(NOT_FLOAT)
    raw.call("SET", "f", text)
    assert raw.call("INCRBYFLOAT", "f", "1") == Error(NOT_FLOAT)
    assert raw.call("GET", "f") == text.encode()


def test_incrbyfloat_accepted_edge_inputs(raw):
    assert raw.call("INCRBYFLOAT", "f", "0e99999999999") == b"0"
    assert raw.call("INCRBYFLOAT", "f", "1e+0000000000000000000002") == b"100"
    assert raw.call("INCRBYFLOAT", "f", "-0x.8p1") == b"99"
    assert raw.call("INCRBYFLOAT", "f", "0." + "0" * 3000 + "1e3000") == b"99.1"


@pytest.mark.parametrize("stored, increment", [
    ("inf", "0"), ("0", "inf"), ("1", "-Infinity"), ("-inf", "+INF"), ("1.1e4932", "1.1e4932"),
    ("-1.1e4932", "-1.1e4932"),
])
def test_incrbyfloat_nan_or_infinity(raw, stored, increment):
    raw.call("SET", "f", stored)
    assert raw.call("INCRBYFLOAT", "f", increment) == Error(NAN_OR_INF)
    assert raw.call("GET", "f") == stored.encode()


def test_incrbyfloat_keeps_ttl_and_types(r, raw):
    r.set("f", "1", ex=100)
    assert raw.call("INCRBYFLOAT", "f", "0.5") == b"1.5"
    assert 99 <= r.ttl("f") <= 100
    make_set(raw)
    assert raw.call("INCRBYFLOAT", "s", "1") == Error(WRONGTYPE)
    # The type is checked before either number is parsed.
    assert raw.call("INCRBYFLOAT", "s", "x") == Error(WRONGTYPE)
    assert raw.call("INCRBYFLOAT", "f") == arity("incrbyfloat")


def test_incrbyfloat_result_is_usable_by_incr(raw):
    assert raw.call("INCRBYFLOAT", "f", "5.0") == b"5"
    assert raw.call("INCR", "f") == 6
    assert raw.call("INCRBYFLOAT", "f", "1.25") == b"7.25"
    assert raw.call("INCR", "f") == Error(NOT_INTEGER)


def test_incrbyfloat_client_api(r):
    assert r.incrbyfloat("f", 2.5) == 2.5
    assert r.incrbyfloat("f", -0.5) == 2.0
    assert r.get("f") == b"2"


# -- APPEND / STRLEN ------------------------------------------------------------------

def test_append(r, raw):
    assert raw.call("APPEND", "k", "Hello") == 5
    assert raw.call("APPEND", "k", " World") == 11
    assert raw.call("GET", "k") == b"Hello World"
    assert raw.call("APPEND", "k", "") == 11
    r.expire("k", 100)
    assert raw.call("APPEND", "k", "\x00!") == 13
    assert raw.call("GET", "k") == b"Hello World\x00!"
    assert 99 <= r.ttl("k") <= 100


def test_append_empty_to_missing_key_creates_it(r, raw):
    assert raw.call("APPEND", "k", "") == 0
    assert r.exists("k") == 1
    assert raw.call("GET", "k") == b""


def test_append_to_integer_and_wrongtype(raw):
    raw.call("SET", "n", "10")
    raw.call("INCR", "n")
    assert raw.call("APPEND", "n", "5") == 3
    assert raw.call("GET", "n") == b"115"
    make_set(raw)
    assert raw.call("APPEND", "s", "x") == Error(WRONGTYPE)
    assert raw.call("APPEND", "s") == arity("append")


def test_strlen(raw):
    assert raw.call("STRLEN", "k") == 0
    raw.call("SET", "k", "Hello\x00")
    assert raw.call("STRLEN", "k") == 6
    raw.call("SET", "n", "-12345")
    assert raw.call("STRLEN", "n") == 6
    make_set(raw)
    assert raw.call("STRLEN", "s") == Error(WRONGTYPE)
    assert raw.call("STRLEN", "a", "b") == arity("strlen")


# -- SETRANGE -------------------------------------------------------------------------

def test_setrange_overwrite_and_extend(raw):
    raw.call("SET", "k", "Hello World")
    assert raw.call("SETRANGE", "k", "6", "Redis") == 11
    assert raw.call("GET", "k") == b"Hello Redis"
    assert raw.call("SETRANGE", "k", "8", "dis!!") == 13
    assert raw.call("GET", "k") == b"Hello Redis!!"
    assert raw.call("SETRANGE", "k", "15", "x") == 16
    assert raw.call("GET", "k") == b"Hello Redis!!\x00\x00x"
    assert raw.call("SETRANGE", "k", "0", "J") == 16
    assert raw.call("GET", "k") == b"Jello Redis!!\x00\x00x"


def test_setrange_missing_key(r, raw):
    assert raw.call("SETRANGE", "k", "3", "ab") == 5
    assert raw.call("GET", "k") == b"\x00\x00\x00ab"
    assert raw.call("SETRANGE", "m", "0", "x") == 1
    assert raw.call("GET", "m") == b"x"
    # Writing nothing on a missing key returns 0 and creates nothing.
    assert raw.call("SETRANGE", "none", "5", "") == 0
    assert r.exists("none") == 0


def test_setrange_empty_value_on_existing_key(raw):
    raw.call("SET", "k", "abc")
    assert raw.call("SETRANGE", "k", "100", "") == 3
    assert raw.call("GET", "k") == b"abc"
    raw.call("SET", "e", "")
    assert raw.call("SETRANGE", "e", "0", "") == 0
    assert raw.call("EXISTS", "e") == 1


def test_setrange_keeps_ttl(r, raw):
    r.set("k", "abc", ex=100)
    assert raw.call("SETRANGE", "k", "1", "X") == 3
    assert raw.call("GET", "k") == b"aXc"
    assert 99 <= r.ttl("k") <= 100


def test_setrange_on_integer_value(raw):
    raw.call("SET", "n", "1234")
    raw.call("INCR", "n")
    assert raw.call("SETRANGE", "n", "1", "9") == 4
    assert raw.call("GET", "n") == b"1935"


def test_setrange_errors(r, raw):
    assert raw.call("SETRANGE", "k", "-1", "x") == Error("ERR offset is out of range")
    assert raw.call("SETRANGE", "k", "x", "x") == Error(NOT_INTEGER)
    assert raw.call("SETRANGE", "k", "9223372036854775808", "x") == Error(NOT_INTEGER)
    make_set(raw)
    assert raw.call("SETRANGE", "s", "0", "x") == Error(WRONGTYPE)
    assert raw.call("SETRANGE", "s", "0", "") == Error(WRONGTYPE)
    # The offset is checked before the key's type.
    assert raw.call("SETRANGE", "s", "-1", "x") == Error("ERR offset is out of range")
    assert raw.call("SETRANGE", "k", "0") == arity("setrange")
    assert r.exists("k") == 0


def test_setrange_size_limit(r, raw):
    # 512MB is proto-max-bulk-len's default; the check runs before any allocation.
    assert raw.call("SETRANGE", "k", "536870911", "ab") == Error(TOO_LONG)
    assert raw.call("SETRANGE", "k", str(LLONG_MAX), "ab") == Error(TOO_LONG)
    assert r.exists("k") == 0
    raw.call("SET", "k", "abc")
    assert raw.call("SETRANGE", "k", "536870912", "x") == Error(TOO_LONG)
    assert raw.call("GET", "k") == b"abc"


# -- GETRANGE / SUBSTR ----------------------------------------------------------------

@pytest.mark.parametrize("start, end, expected", [
    (0, 4, b"Hello"), (0, -1, b"Hello World"), (-5, -1, b"World"), (-3, -1, b"rld"),
    (6, 100, b"World"), (0, 1000, b"Hello World"), (100, 1000, b""), (5, 3, b""),
    (-1, -5, b""), (-100, 2, b"Hel"), (10, 10, b"d"), (11, 11, b""), (-1, -1, b"d"),
    # Redis 7.0 clamps a too-negative end to 0 instead of returning nothing.
    (0, -100, b"H"), (-100, -100, b"H"), (-100, -50, b"H"), (-50, -100, b""),
    (LLONG_MIN, LLONG_MAX, b"Hello World"), (LLONG_MAX, LLONG_MIN, b""),
])
def test_getrange(raw, start, end, expected):
    raw.call("SET", "k", "Hello World")
    assert raw.call("GETRANGE", "k", str(start), str(end)) == expected
    assert raw.call("SUBSTR", "k", str(start), str(end)) == expected


def test_getrange_missing_empty_and_integer(raw):
    assert raw.call("GETRANGE", "missing", "0", "-1") == b""
    raw.call("SET", "e", "")
    assert raw.call("GETRANGE", "e", "0", "-1") == b""
    assert raw.call("GETRANGE", "e", "-1", "-1") == b""
    raw.call("SET", "n", "12345")
    raw.call("INCR", "n")
    assert raw.call("GETRANGE", "n", "1", "3") == b"234"


def test_getrange_errors(raw):
    make_set(raw)
    for command in ("GETRANGE", "SUBSTR"):
        assert raw.call(command, "s", "0", "1") == Error(WRONGTYPE)
        # The indexes are parsed before the key is looked up.
        assert raw.call(command, "s", "x", "1") == Error(NOT_INTEGER)
        assert raw.call(command, "missing", "0", "1.5") == Error(NOT_INTEGER)
        assert raw.call(command, "k", "0", "9223372036854775808") == Error(NOT_INTEGER)
        assert raw.call(command, "k", "0") == arity(command.lower())


# -- LCS ------------------------------------------------------------------------------

def idx_reply(protocol, matches, length):
    """LCS IDX's reply: a map in RESP3, a flat array in RESP2."""
    if protocol == 3:
        return RespMap(((b"matches", matches), (b"len", length)))
    return [b"matches", matches, b"len", length]


def test_lcs_string_and_len(raw):
    raw.call("MSET", "a", "ohmytext", "b", "mynewtext")
    assert raw.call("LCS", "a", "b") == b"mytext"
    assert raw.call("LCS", "a", "b", "LEN") == 6
    assert raw.call("LCS", "a", "b", "len", "LEN") == 6
    assert raw.call("LCS", "b", "a") == b"mytext"
    assert raw.call("LCS", "a", "a") == b"ohmytext"


def test_lcs_idx(raw, protocol):
    raw.call("MSET", "a", "ohmytext", "b", "mynewtext")
    assert raw.call("LCS", "a", "b", "IDX") == idx_reply(
        protocol, [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], 6)
    assert raw.call("LCS", "a", "b", "IDX", "WITHMATCHLEN") == idx_reply(
        protocol, [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]], 6)
    assert raw.call("LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN") == idx_reply(
        protocol, [[[4, 7], [5, 8], 4]], 6)
    assert raw.call("LCS", "a", "b", "idx", "minmatchlen", "-5") == idx_reply(
        protocol, [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], 6)
    assert raw.call("LCS", "a", "b", "IDX", "MINMATCHLEN", "7") == idx_reply(protocol, [], 6)


def test_lcs_options_without_idx_are_ignored(raw):
    raw.call("MSET", "a", "ohmytext", "b", "mynewtext")
    assert raw.call("LCS", "a", "b", "WITHMATCHLEN", "MINMATCHLEN", "3") == b"mytext"
    assert raw.call("LCS", "a", "b", "LEN", "WITHMATCHLEN") == 6


def test_lcs_missing_keys(raw, protocol):
    raw.call("SET", "a", "abc")
    assert raw.call("LCS", "a", "missing") == b""
    assert raw.call("LCS", "missing", "other", "LEN") == 0
    assert raw.call("LCS", "missing", "a", "IDX") == idx_reply(protocol, [], 0)


def test_lcs_errors(raw):
    raw.call("SET", "a", "abc")
    make_set(raw)
    not_strings = Error("ERR The specified keys must contain string values")
    assert raw.call("LCS", "a", "s") == not_strings
    assert raw.call("LCS", "s", "missing") == not_strings
    # The key types are checked before the options.
    assert raw.call("LCS", "s", "a", "FOO") == not_strings
    assert raw.call("LCS", "a", "b", "LEN", "IDX") == Error(
        "ERR If you want both the length and indexes, please just use IDX.")
    assert raw.call("LCS", "a", "b", "LEN", "IDX", "FOO") == Error(SYNTAX)
    assert raw.call("LCS", "a", "b", "MINMATCHLEN") == Error(SYNTAX)
    assert raw.call("LCS", "a", "b", "MINMATCHLEN", "x", "LEN", "IDX") == Error(NOT_INTEGER)
    assert raw.call("LCS", "a", "b", "LEN\x00x") == 0
    assert raw.call("LCS", "a") == arity("lcs")


def test_lcs_table_size_limit(raw):
    # Redis refuses when its (len+1)^2 table of 4-byte cells exceeds proto-max-bulk-len.
    raw.call("MSET", "a", "x" * 11585, "b", "y" * 11585)
    assert raw.call("LCS", "a", "b", "LEN") == Error(
        "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")


def _reference_lcs(a: bytes, b: bytes, min_len: int):
    """lcsCommand's table and backtracking, written plainly, for random comparisons."""
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    i, j, out, ranges, current = len(a), len(b), bytearray(), [], None
    while i > 0 and j > 0:
        if a[i - 1] == b[j - 1]:
            out.append(a[i - 1])
            current = [i - 1, current[1] if current else i - 1, j - 1, current[3] if current else j - 1]
            i, j = i - 1, j - 1
            done = current[0] == 0 or current[2] == 0
        else:
            if table[i - 1][j] > table[i][j - 1]:
                i -= 1
            else:
                j -= 1
            done = current is not None
        if done and current:
            length = current[1] - current[0] + 1
            if length >= min_len:
                ranges.append([[current[0], current[1]], [current[2], current[3]], length])
            current = None
    return bytes(reversed(out)), ranges, table[-1][-1]


def test_lcs_random_strings(raw, protocol):
    rng = random.Random(7)
    for _ in range(25):
        a = bytes(rng.choice(b"abcd") for _ in range(rng.randrange(0, 30)))
        b = bytes(rng.choice(b"abcde") for _ in range(rng.randrange(0, 30)))
        raw.call("MSET", "a", a, "b", b)
        text, ranges, length = _reference_lcs(a, b, 2)
        assert raw.call("LCS", "a", "b") == text
        assert raw.call("LCS", "a", "b", "LEN") == length
        assert raw.call("LCS", "a", "b", "IDX", "MINMATCHLEN", "2", "WITHMATCHLEN") == \
            idx_reply(protocol, ranges, length)


def test_lcs_client_api(r):
    r.mset({"a": "ohmytext", "b": "mynewtext"})
    assert r.lcs("a", "b") == b"mytext"
    assert r.lcs("a", "b", len=True) == 6


# -- round trips through redis-py -------------------------------------------------------------

def test_client_api_string_commands(r):
    assert r.set("k", "v", nx=True, ex=100) is True
    assert r.set("k", "w", nx=True) is None
    assert r.set("k", "w", xx=True, get=True) == b"v"
    assert r.getex("k", px=50000) == b"w"
    assert r.getdel("k") == b"w"
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.msetnx({"a": "x", "c": "3"}) is False
    assert r.mget("a", "b", "c") == [b"1", b"2", None]
    assert r.incr("a", 5) == 6
    assert r.decr("a", 2) == 4
    assert r.append("a", "0") == 2
    assert r.strlen("a") == 2
    assert r.setrange("a", 3, "x") == 4
    assert r.getrange("a", 0, -1) == b"40\x00x"
    assert r.getset("a", "new") == b"40\x00x"
    assert r.setnx("a", "z") is False
    with pytest.raises(redis.ResponseError, match="wrong kind of value"):
        r.sadd("set", "m")
        r.get("set")
