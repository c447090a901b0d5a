"""Sorted set group: every test runs on Ferrous and real Redis 7.0, over RESP2 and RESP3.

Scores are doubles: RESP2 sends them as bulk strings in Redis's "%.17g" text, RESP3 as
doubles (the raw client reads those back as Python floats)."""
import pytest
from resp_client import Error

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def score(text: bytes, protocol):
    """What the raw client returns for a score Redis prints as `text`."""
    return text if protocol == 2 else float(text)


def pairs(protocol, *flat):
    """A WITHSCORES reply: flat in RESP2, [member, score] arrays in RESP3."""
    members, scores = flat[0::2], [score(s, protocol) for s in flat[1::2]]
    if protocol == 2:
        return [x for pair in zip(members, scores) for x in pair]
    return [[m, s] for m, s in zip(members, scores)]


def encoding(raw, key):
    return raw.call("OBJECT", "ENCODING", key)


# -- ZADD / ZINCRBY -----------------------------------------------------------------------

def test_zadd_counts_added_and_changed(raw):
    assert raw.call("ZADD", "z", "1", "a", "2", "b") == 2
    assert raw.call("ZADD", "z", "1", "a", "3", "b", "4", "c") == 1
    assert raw.call("ZADD", "z", "CH", "1", "a", "5", "b", "6", "d") == 2
    assert raw.call("ZADD", "z", "1", "a", "2", "a") == 0    # the last pair wins
    assert raw.call("ZSCORE", "z", "a") in (b"2", 2.0)


def test_zadd_nx_xx_gt_lt(raw, protocol):
    raw.call("ZADD", "z", "5", "a")
    assert raw.call("ZADD", "z", "NX", "1", "a", "1", "b") == 1
    assert raw.call("ZADD", "z", "XX", "1", "c", "7", "a") == 0
    assert raw.call("ZSCORE", "z", "c") is None
    assert raw.call("ZADD", "z", "GT", "CH", "6", "a", "9", "b") == 1    # a stays 7
    assert raw.call("ZADD", "z", "LT", "CH", "8", "a", "2", "b") == 1    # b 9 -> 2
    assert raw.call("ZADD", "z", "XX", "GT", "CH", "10", "a", "10", "new") == 1
    assert raw.call("ZRANGE", "z", "0", "-1", "WITHSCORES") == pairs(protocol, b"b", b"2", b"a", b"10")
    assert raw.call("ZADD", "nokey", "XX", "1", "a") == 0
    assert raw.call("EXISTS", "nokey") == 0


def test_zadd_option_errors(raw):
    assert raw.call("ZADD", "z", "XX", "NX", "1", "a") == Error("ERR XX and NX options at the same time are not compatible")
    for combo in (("GT", "LT"), ("NX", "GT"), ("LT", "NX")):
        assert raw.call("ZADD", "z", *combo, "1", "a") == Error(
            "ERR GT, LT, and/or NX options at the same time are not compatible")
    assert raw.call("ZADD", "z", "INCR", "1", "a", "2", "b") == Error(
        "ERR INCR option supports a single increment-element pair")
    assert raw.call("ZADD", "z", "1", "a", "2") == Error("ERR syntax error")
    assert raw.call("ZADD", "z", "NX", "XX", "GT", "LT") == Error("ERR syntax error")
    assert raw.call("ZADD", "z", "1") == Error("ERR wrong number of arguments for 'zadd' command")
    assert raw.call("EXISTS", "z") == 0


@pytest.mark.parametrize("text", ["abc", "nan", "1e400", "1e-400", " 1", "1 ", "", "1.2.3", "0x"])
def test_zadd_rejects_bad_scores(raw, text):
    assert raw.call("ZADD", "z", text, "a") == Error("ERR value is not a valid float")
    assert raw.call("EXISTS", "z") == 0


def test_zadd_accepts_what_strtod_accepts(raw, protocol):
    raw.call("ZADD", "z", "0x10", "hex", "inf", "i", "-Infinity", "ni", "1e3", "e", ".5", "half", "0e-400", "zero")
    assert raw.call("ZRANGE", "z", "0", "-1", "WITHSCORES") == pairs(
        protocol, b"ni", b"-inf", b"zero", b"0", b"half", b"0.5", b"hex", b"16", b"e", b"1000", b"i", b"inf")


def test_zadd_incr_and_zincrby(raw, protocol):
    assert raw.call("ZINCRBY", "z", "1.1", "a") == score(b"1.1000000000000001", protocol)
    assert raw.call("ZADD", "z", "INCR", "2", "a") == score(b"3.1000000000000001", protocol)
    assert raw.call("ZADD", "z", "INCR", "GT", "-1", "a") is None     # not applied: nil
    assert raw.call("ZADD", "z", "INCR", "NX", "1", "a") is None
    assert raw.call("ZADD", "z", "INCR", "XX", "1", "missing") is None
    assert raw.call("ZADD", "nokey", "INCR", "XX", "1", "a") is None
    assert raw.call("ZADD", "z", "INCR", "0", "a") == score(b"3.1000000000000001", protocol)
    assert raw.call("ZINCRBY", "z", "abc", "a") == Error("ERR value is not a valid float")
    assert raw.call("ZINCRBY", "z", "nx", "a") == Error("ERR syntax error")   # parsed as ZADD options
    assert raw.call("ZINCRBY", "z", "1", "nx") == score(b"1", protocol)


def test_nan_results_are_errors(raw, protocol):
    raw.call("ZADD", "z", "inf", "a")
    assert raw.call("ZINCRBY", "z", "-inf", "a") == Error("ERR resulting score is not a number (NaN)")
    assert raw.call("ZADD", "z", "INCR", "-inf", "a") == Error("ERR resulting score is not a number (NaN)")
    assert raw.call("ZSCORE", "z", "a") == score(b"inf", protocol)


def test_score_text_is_percent_17g(raw, protocol):
    raw.call("ZADD", "z", "1.1", "a", "0.1", "b", "3.141592653589793", "pi", "-1.5e+20", "neg", "1e-300", "tiny",
             "123456789012345678", "big")
    assert raw.call("ZSCORE", "z", "a") == score(b"1.1000000000000001", protocol)
    assert raw.call("ZMSCORE", "z", "b", "pi", "neg", "tiny", "big", "nope") == [
        score(b"0.10000000000000001", protocol), score(b"3.1415926535897931", protocol),
        score(b"-1.5e+20", protocol), score(b"1e-300", protocol), score(b"1.2345678901234568e+17", protocol), None]


def test_negative_zero_is_kept_only_outside_a_listpack(raw, protocol):
    raw.call("ZADD", "small", "-0", "a")
    assert raw.call("ZSCORE", "small", "a") == score(b"0", protocol)
    assert raw.call("ZINCRBY", "small", "-0", "b") == score(b"-0", protocol)  # the reply is the computed score
    assert raw.call("ZSCORE", "small", "b") == score(b"0", protocol)
    raw.call("ZADD", "big", "-0", "x" * 65)
    assert encoding(raw, "big") == b"skiplist"
    assert raw.call("ZSCORE", "big", "x" * 65) == score(b"-0", protocol)


def test_wrongtype(raw):
    raw.call("SET", "s", "x")
    for args in (("ZADD", "s", "1", "a"), ("ZSCORE", "s", "a"), ("ZRANGE", "s", "0", "-1"), ("ZCARD", "s"),
                 ("ZPOPMIN", "s"), ("ZUNION", "1", "s"), ("ZRANGESTORE", "d", "s", "0", "-1"),
                 ("ZSCAN", "s", "0"), ("ZRANDMEMBER", "s"), ("ZMSCORE", "s", "a")):
        assert raw.call(*args) == Error(WRONGTYPE), args


def test_options_end_at_a_nul_byte_like_c_strings(raw, protocol):
    raw.call("ZADD", "z", "CH\0junk", "1", "a", "2", "b")
    assert raw.call("ZRANGE", "z", "0", "-1", "WITHSCORES\0x") == pairs(protocol, b"a", b"1", b"b", b"2")
    assert raw.call("ZRANGEBYSCORE", "z", "(1\0x", "2") == [b"b"]           # strtod stops at the NUL
    assert raw.call("ZRANGEBYLEX", "z", "-\0x", "+") == [b"a", b"b"]
    assert raw.call("ZADD", "z", "1\0", "c") == Error("ERR value is not a valid float")   # but scores don't


def test_ttl_kept_by_changes_and_dropped_by_store(r):
    r.zadd("z", {"a": 1, "b": 2})
    r.expire("z", 100)
    r.zadd("z", {"c": 3})
    r.zpopmin("z")
    assert 0 < r.ttl("z") <= 100
    r.zunionstore("z", ["z"])
    assert r.ttl("z") == -1


# -- reads --------------------------------------------------------------------------------

def test_zcard_zscore_zmscore_zrank(raw):
    raw.call("ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert raw.call("ZCARD", "z") == 3
    assert raw.call("ZCARD", "nokey") == 0
    assert raw.call("ZSCORE", "nokey", "a") is None
    assert raw.call("ZMSCORE", "nokey", "a", "b") == [None, None]
    assert raw.call("ZRANK", "z", "a") == 0
    assert raw.call("ZRANK", "z", "c") == 2
    assert raw.call("ZREVRANK", "z", "c") == 0
    assert raw.call("ZRANK", "z", "nope") is None
    assert raw.call("ZREVRANK", "nokey", "a") is None


def test_zcount_and_score_range_syntax(raw):
    raw.call("ZADD", "z", "1", "a", "2", "b", "3", "c", "inf", "i")
    assert raw.call("ZCOUNT", "z", "-inf", "+inf") == 4
    assert raw.call("ZCOUNT", "z", "(1", "3") == 2
    assert raw.call("ZCOUNT", "z", "(1", "(3") == 1
    assert raw.call("ZCOUNT", "z", "3", "1") == 0
    assert raw.call("ZCOUNT", "z", "(3", "inf") == 1
    assert raw.call("ZCOUNT", "z", " 1", "0x2") == 2     # strtod skips spaces and reads hex
    assert raw.call("ZCOUNT", "z", "(", "1") == 1         # "(" alone is an open 0
    assert raw.call("ZCOUNT", "nokey", "0", "1") == 0
    for low, high in (("a", "1"), ("1", "2 "), ("nan", "1"), ("(nan", "1"), ("1", "((2")):
        assert raw.call("ZCOUNT", "z", low, high) == Error("ERR min or max is not a float")


def test_lex_ranges(raw):
    raw.call("ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e")
    assert raw.call("ZRANGEBYLEX", "l", "-", "+") == [b"a", b"b", b"c", b"d", b"e"]
    assert raw.call("ZRANGEBYLEX", "l", "[b", "(d") == [b"b", b"c"]
    assert raw.call("ZRANGEBYLEX", "l", "(b", "[d") == [b"c", b"d"]
    assert raw.call("ZRANGEBYLEX", "l", "(b", "(b") == []
    assert raw.call("ZRANGEBYLEX", "l", "+", "-") == []
    assert raw.call("ZRANGEBYLEX", "l", "-", "+", "LIMIT", "1", "2") == [b"b", b"c"]
    assert raw.call("ZREVRANGEBYLEX", "l", "+", "-", "LIMIT", "1", "2") == [b"d", b"c"]
    assert raw.call("ZREVRANGEBYLEX", "l", "[d", "(a") == [b"d", b"c", b"b"]
    assert raw.call("ZLEXCOUNT", "l", "[b", "+") == 4
    assert raw.call("ZLEXCOUNT", "l", "[", "(") == 0
    assert raw.call("ZLEXCOUNT", "nokey", "-", "+") == 0
    for low, high in (("a", "[b"), ("[a", "b"), ("-a", "+"), ("", "+")):
        assert raw.call("ZLEXCOUNT", "l", low, high) == Error("ERR min or max not valid string range item")
    assert raw.call("ZRANGEBYLEX", "l", "-", "+", "WITHSCORES") == Error(
        "ERR syntax error, WITHSCORES not supported in combination with BYLEX")


def test_lex_ranges_over_different_scores_walk_the_listpack_as_redis_does(raw):
    # Undefined by the documentation; Redis checks that the last member is >= min and
    # the first <= max, then walks the listpack in score order: the first member >= min
    # (reversed: the last <= max) must be inside too, and the walk goes on while the
    # members stay inside.
    raw.call("ZADD", "z", "1", "a", "2", "b", "3", "c", "inf", "d", "-inf", "e", "0", "f",
             "5", "aa", "4", "zz")
    assert raw.call("ZRANGE", "z", "[a", "[c", "BYLEX") == []              # e comes first
    assert raw.call("ZRANGE", "z", "[b", "[e", "BYLEX") == [b"e"]
    assert raw.call("ZRANGE", "z", "[zz", "(a", "BYLEX", "REV") == [b"d", b"aa", b"zz", b"c", b"b"]
    assert raw.call("ZREVRANGEBYLEX", "z", "[f", "[a") == [b"d", b"aa", b"zz", b"c", b"b", b"a", b"f", b"e"]
    assert raw.call("ZRANGE", "z", "[f", "[b", "BYLEX", "REV", "LIMIT", "1", "2") == []
    assert raw.call("ZLEXCOUNT", "z", "[e", "[zz") == 0                   # the last, d, < e
    assert raw.call("ZLEXCOUNT", "z", "[a", "[zz") == 8
    assert raw.call("ZRANGESTORE", "d", "z", "[zz", "[a", "BYLEX", "REV") == 8
    raw.call("ZADD", "y", "1", "m", "2", "c", "3", "x", "4", "b")
    assert raw.call("ZRANGE", "y", "[b", "[y", "BYLEX") == [b"m", b"c", b"x", b"b"]
    assert raw.call("ZRANGE", "y", "[n", "[b", "BYLEX", "REV") == [b"b", b"x", b"c", b"m"]
    assert raw.call("ZREMRANGEBYLEX", "y", "[b", "[n") == 2
    assert raw.call("ZRANGE", "y", "0", "-1") == [b"x", b"b"]


# -- ZRANGE family --------------------------------------------------------------------------

@pytest.fixture
def z(raw):
    raw.call("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "5", "f")
    return raw


def test_zrange_by_rank(z, protocol):
    assert z.call("ZRANGE", "z", "0", "-1") == [b"a", b"b", b"c", b"d", b"e", b"f"]
    assert z.call("ZRANGE", "z", "-2", "-1", "WITHSCORES") == pairs(protocol, b"e", b"5", b"f", b"5")
    assert z.call("ZRANGE", "z", "-100", "1") == [b"a", b"b"]
    assert z.call("ZRANGE", "z", "4", "2") == []
    assert z.call("ZRANGE", "z", "10", "20") == []
    assert z.call("ZRANGE", "z", "0", "1", "REV") == [b"f", b"e"]
    assert z.call("ZREVRANGE", "z", "1", "2", "WITHSCORES") == pairs(protocol, b"e", b"5", b"d", b"4")
    assert z.call("ZRANGE", "nokey", "0", "-1") == []
    assert z.call("ZRANGE", "z", "a", "1") == Error("ERR value is not an integer or out of range")


def test_zrange_by_score(z, protocol):
    assert z.call("ZRANGE", "z", "(1", "3", "BYSCORE", "WITHSCORES") == pairs(protocol, b"b", b"2", b"c", b"3")
    assert z.call("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "2", "2") == [b"c", b"d"]
    assert z.call("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "4", "-1") == [b"e", b"f"]
    assert z.call("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2") == []   # negative offset
    assert z.call("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "0") == []
    assert z.call("ZRANGE", "z", "+inf", "(2", "BYSCORE", "REV", "LIMIT", "1", "2") == [b"e", b"d"]
    assert z.call("ZRANGEBYSCORE", "z", "4", "5", "WITHSCORES", "LIMIT", "1", "5") == pairs(
        protocol, b"e", b"5", b"f", b"5")
    assert z.call("ZREVRANGEBYSCORE", "z", "2", "-inf") == [b"b", b"a"]
    assert z.call("ZREVRANGEBYSCORE", "z", "-inf", "2") == []


def test_zrange_errors(z):
    assert z.call("ZRANGE", "z", "0", "-1", "LIMIT", "0", "1") == Error(
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    assert z.call("ZRANGE", "z", "[a", "[b", "BYLEX", "WITHSCORES") == Error(
        "ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    for extra in (("BYSCORE", "BYLEX"), ("REV", "REV"), ("LIMIT", "1"), ("FOO",)):
        assert z.call("ZRANGE", "z", "0", "-1", *extra) == Error("ERR syntax error"), extra
    assert z.call("ZRANGEBYSCORE", "z", "0", "1", "BYSCORE") == Error("ERR syntax error")
    assert z.call("ZREVRANGE", "z", "0", "1", "REV") == Error("ERR syntax error")
    assert z.call("ZRANGEBYSCORE", "z", "0", "1", "LIMIT", "a", "1") == Error(
        "ERR value is not an integer or out of range")
    assert z.call("ZRANGE", "z", "x", "1", "BYSCORE") == Error("ERR min or max is not a float")


def test_zrangestore(z, protocol):
    assert z.call("ZRANGESTORE", "dst", "z", "1", "2") == 2
    assert z.call("ZRANGE", "dst", "0", "-1", "WITHSCORES") == pairs(protocol, b"b", b"2", b"c", b"3")
    assert z.call("ZRANGESTORE", "dst", "z", "5", "(3", "BYSCORE", "REV", "LIMIT", "0", "2") == 2
    assert z.call("ZRANGE", "dst", "0", "-1") == [b"e", b"f"]
    assert z.call("ZRANGESTORE", "dst", "z", "[b", "[c", "BYLEX") == 2
    assert z.call("ZRANGESTORE", "dst", "z", "(f", "+", "BYLEX") == 0     # empty: dst is deleted
    assert z.call("EXISTS", "dst") == 0
    z.call("SET", "dst", "old")
    assert z.call("ZRANGESTORE", "dst", "nokey", "0", "-1") == 0
    assert z.call("EXISTS", "dst") == 0
    assert z.call("ZRANGESTORE", "dst", "z", "0", "-1", "WITHSCORES") == Error("ERR syntax error")


# -- removals ------------------------------------------------------------------------------

def test_zrem_deletes_empty_key(z):
    assert z.call("ZREM", "z", "a", "nope", "a") == 1
    assert z.call("ZREM", "nokey", "a") == 0
    assert z.call("ZREM", "z", "b", "c", "d", "e", "f", "g") == 5
    assert z.call("EXISTS", "z") == 0


def test_zremrangeby(z):
    assert z.call("ZREMRANGEBYSCORE", "z", "(4", "5") == 2
    assert z.call("ZREMRANGEBYRANK", "z", "-1", "-1") == 1
    assert z.call("ZREMRANGEBYRANK", "z", "5", "10") == 0
    assert z.call("ZRANGE", "z", "0", "-1") == [b"a", b"b", b"c"]
    z.call("ZADD", "l", "0", "a", "0", "b", "0", "c")
    assert z.call("ZREMRANGEBYLEX", "l", "[a", "(c") == 2
    assert z.call("ZREMRANGEBYLEX", "l", "-", "+") == 1
    assert z.call("EXISTS", "l") == 0
    assert z.call("ZREMRANGEBYRANK", "z", "0", "b") == Error("ERR value is not an integer or out of range")
    assert z.call("ZREMRANGEBYSCORE", "z", "a", "1") == Error("ERR min or max is not a float")
    assert z.call("ZREMRANGEBYLEX", "z", "a", "b") == Error("ERR min or max not valid string range item")
    assert z.call("ZREMRANGEBYRANK", "nokey", "0", "-1") == 0


# -- pops ------------------------------------------------------------------------------------

def test_zpopmin_zpopmax_shapes(z, protocol):
    assert z.call("ZPOPMIN", "z") == [b"a", score(b"1", protocol)]           # flat in both protocols
    assert z.call("ZPOPMAX", "z", "2") == pairs(protocol, b"f", b"5", b"e", b"5")
    assert z.call("ZPOPMIN", "z", "1") == pairs(protocol, b"b", b"2")          # a count nests in RESP3
    assert z.call("ZPOPMIN", "z", "0") == []
    assert z.call("ZPOPMIN", "nokey") == []
    assert z.call("ZPOPMAX", "z", "10") == pairs(protocol, b"d", b"4", b"c", b"3")
    assert z.call("EXISTS", "z") == 0


def test_zpop_errors(raw):
    assert raw.call("ZPOPMIN", "z", "-1") == Error("ERR value is out of range, must be positive")
    assert raw.call("ZPOPMIN", "z", "x") == Error("ERR value is out of range, must be positive")
    assert raw.call("ZPOPMAX", "z", "1", "2") == Error("ERR syntax error")


def test_zmpop(z, protocol):
    assert z.call("ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "2") == [
        b"z", [[b"f", score(b"5", protocol)], [b"e", score(b"5", protocol)]]]
    assert z.call("ZMPOP", "1", "z", "min") == [b"z", [[b"a", score(b"1", protocol)]]]
    assert z.call("ZMPOP", "1", "z", "MIN", "COUNT", "10") == [
        b"z", [[m, score(s, protocol)] for m, s in ((b"b", b"2"), (b"c", b"3"), (b"d", b"4"))]]
    assert z.call("EXISTS", "z") == 0
    assert z.call("ZMPOP", "2", "z", "nokey", "MIN") is None


def test_zmpop_errors(raw):
    raw.call("SET", "s", "x")
    assert raw.call("ZMPOP", "1", "s", "MIN") == Error(WRONGTYPE)
    assert raw.call("ZMPOP", "0", "z", "MIN") == Error("ERR numkeys should be greater than 0")
    assert raw.call("ZMPOP", "a", "z", "MIN") == Error("ERR numkeys should be greater than 0")
    assert raw.call("ZMPOP", "2", "z", "MIN") == Error("ERR syntax error")
    assert raw.call("ZMPOP", "1", "z", "SIDEWAYS") == Error("ERR syntax error")
    assert raw.call("ZMPOP", "1", "z", "MIN", "COUNT", "0") == Error("ERR count should be greater than 0")
    assert raw.call("ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "1") == Error("ERR syntax error")
    assert raw.call("ZMPOP", "1", "z", "MIN", "COUNT") == Error("ERR syntax error")


# -- ZRANDMEMBER -----------------------------------------------------------------------------

def test_zrandmember(z, protocol):
    members = {b"a", b"b", b"c", b"d", b"e", b"f"}
    assert z.call("ZRANDMEMBER", "z") in members
    assert z.call("ZRANDMEMBER", "nokey") is None
    assert z.call("ZRANDMEMBER", "nokey", "3") == []
    assert z.call("ZRANDMEMBER", "z", "0") == []
    picked = z.call("ZRANDMEMBER", "z", "4")
    assert len(picked) == 4 and len(set(picked)) == 4 and set(picked) <= members
    repeated = z.call("ZRANDMEMBER", "z", "-20")
    assert len(repeated) == 20 and set(repeated) <= members
    # A count covering the set returns all of it, highest first (Redis's iterator order).
    assert z.call("ZRANDMEMBER", "z", "10", "WITHSCORES") == pairs(
        protocol, b"f", b"5", b"e", b"5", b"d", b"4", b"c", b"3", b"b", b"2", b"a", b"1")
    with_scores = z.call("ZRANDMEMBER", "z", "-3", "WITHSCORES")
    assert len(with_scores) == (6 if protocol == 2 else 3)


def test_zrandmember_errors(raw):
    assert raw.call("ZRANDMEMBER", "z", "x") == Error("ERR value is not an integer or out of range")
    assert raw.call("ZRANDMEMBER", "z", "1", "FOO") == Error("ERR syntax error")
    assert raw.call("ZRANDMEMBER", "z", "1", "WITHSCORES", "x") == Error("ERR syntax error")
    assert raw.call("ZRANDMEMBER", "z", "-9223372036854775808") == Error(
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    assert raw.call("ZRANDMEMBER", "z", "-4611686018427387904", "WITHSCORES") == Error("ERR value is out of range")
    assert raw.call("ZRANDMEMBER", "z", "4611686018427387904", "WITHSCORES") == Error("ERR value is out of range")
    assert raw.call("ZRANDMEMBER", "z", "-4611686018427387903", "WITHSCORES") == []


# -- ZUNION / ZINTER / ZDIFF -----------------------------------------------------------------

@pytest.fixture
def abc(raw):
    raw.call("ZADD", "a", "1", "x", "2", "y", "3", "z", "inf", "i")
    raw.call("ZADD", "b", "10", "y", "20", "z", "30", "w", "-inf", "i")
    raw.call("ZADD", "c", "0.1", "z", "0.2", "x")
    return raw


def test_zunion(abc, protocol):
    assert abc.call("ZUNION", "2", "a", "b", "WITHSCORES") == pairs(
        protocol, b"i", b"0", b"x", b"1", b"y", b"12", b"z", b"23", b"w", b"30")   # inf + -inf is 0
    assert abc.call("ZUNION", "2", "a", "b", "WEIGHTS", "2", "0.5", "WITHSCORES") == pairs(
        protocol, b"i", b"0", b"x", b"2", b"y", b"9", b"w", b"15", b"z", b"16")
    assert abc.call("ZUNION", "2", "a", "b", "AGGREGATE", "MIN", "WITHSCORES") == pairs(
        protocol, b"i", b"-inf", b"x", b"1", b"y", b"2", b"z", b"3", b"w", b"30")
    assert abc.call("ZUNION", "3", "a", "b", "c", "WEIGHTS", "1", "0", "-1", "WITHSCORES") == pairs(
        protocol, b"w", b"0", b"x", b"0.80000000000000004", b"y", b"2", b"z", b"2.8999999999999999", b"i", b"inf")
    assert abc.call("ZUNION", "2", "a", "nokey") == [b"x", b"y", b"z", b"i"]


def test_zinter_and_zintercard(abc, protocol):
    assert abc.call("ZINTER", "3", "a", "b", "c", "WITHSCORES") == pairs(protocol, b"z", b"23.100000000000001")
    assert abc.call("ZINTER", "2", "a", "b", "AGGREGATE", "MAX", "WEIGHTS", "1", "2", "WITHSCORES") == pairs(
        protocol, b"y", b"20", b"z", b"40", b"i", b"inf")
    assert abc.call("ZINTER", "2", "a", "a") == [b"x", b"y", b"z", b"i"]
    assert abc.call("ZINTER", "2", "a", "nokey") == []
    assert abc.call("ZINTERCARD", "2", "a", "b") == 3
    assert abc.call("ZINTERCARD", "2", "a", "b", "LIMIT", "2") == 2
    assert abc.call("ZINTERCARD", "2", "a", "b", "LIMIT", "0") == 3


def test_zdiff(abc, protocol):
    assert abc.call("ZDIFF", "2", "a", "b", "WITHSCORES") == pairs(protocol, b"x", b"1")
    assert abc.call("ZDIFF", "2", "a", "a") == []
    assert abc.call("ZDIFF", "1", "nokey") == []
    assert abc.call("ZDIFF", "2", "b", "c") == [b"i", b"y", b"w"]


def test_store_variants(abc, protocol):
    assert abc.call("ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2") == 5
    assert abc.call("ZRANGE", "d", "0", "-1", "WITHSCORES") == pairs(
        protocol, b"i", b"0", b"x", b"1", b"y", b"22", b"z", b"43", b"w", b"60")
    assert abc.call("ZINTERSTORE", "d", "2", "a", "b", "AGGREGATE", "MIN") == 3
    assert abc.call("ZRANGE", "d", "0", "-1") == [b"i", b"y", b"z"]
    assert abc.call("ZDIFFSTORE", "d", "2", "a", "b") == 1
    assert abc.call("ZDIFFSTORE", "d", "2", "a", "a") == 0
    assert abc.call("EXISTS", "d") == 0
    assert abc.call("ZUNIONSTORE", "a", "2", "a", "b") == 5    # the destination may be a source


def test_set_operations_read_plain_sets(abc, protocol):
    abc.call("SADD", "s", "x", "w", "q")
    assert abc.call("ZUNION", "2", "s", "c", "WITHSCORES") == pairs(
        protocol, b"z", b"0.10000000000000001", b"q", b"1", b"w", b"1", b"x", b"1.2")
    assert abc.call("ZINTER", "2", "a", "s", "WITHSCORES") == pairs(protocol, b"x", b"2")
    assert abc.call("ZDIFF", "2", "s", "a", "WITHSCORES") == pairs(protocol, b"q", b"1", b"w", b"1")


def test_set_operation_errors(abc):
    for command in ("ZUNION", "ZINTER", "ZDIFF", "ZINTERCARD"):
        assert abc.call(command, "0", "a") == Error(f"ERR at least 1 input key is needed for '{command.lower()}' command")
    assert abc.call("ZUNIONSTORE", "d", "-1", "a") == Error("ERR at least 1 input key is needed for 'zunionstore' command")
    assert abc.call("ZINTER", "x", "a") == Error("ERR value is not an integer or out of range")
    assert abc.call("ZINTER", "3", "a", "b") == Error("ERR syntax error")
    assert abc.call("ZUNION", "1", "a", "WEIGHTS", "x") == Error("ERR weight value is not a float")
    assert abc.call("ZUNION", "1", "a", "WEIGHTS", "nan") == Error("ERR weight value is not a float")
    assert abc.call("ZUNION", "1", "a", "WEIGHTS", "1", "2") == Error("ERR syntax error")
    assert abc.call("ZUNION", "1", "a", "AGGREGATE", "AVG") == Error("ERR syntax error")
    assert abc.call("ZDIFF", "1", "a", "WEIGHTS", "1") == Error("ERR syntax error")
    assert abc.call("ZUNIONSTORE", "d", "1", "a", "WITHSCORES") == Error("ERR syntax error")
    assert abc.call("ZINTERCARD", "1", "a", "WITHSCORES") == Error("ERR syntax error")
    assert abc.call("ZINTERCARD", "1", "a", "LIMIT", "-1") == Error("ERR LIMIT can't be negative")
    abc.call("SET", "str", "x")
    assert abc.call("ZINTER", "2", "a", "str", "FOO") == Error(WRONGTYPE)   # keys are checked first


def test_store_deletes_destination_on_empty_result(raw):
    raw.call("SET", "d", "old")
    assert raw.call("ZUNIONSTORE", "d", "1", "nokey") == 0
    assert raw.call("EXISTS", "d") == 0


# -- ZSCAN -----------------------------------------------------------------------------------

def test_zscan_listpack_returns_everything_at_once(raw):
    raw.call("ZADD", "z", "1", "a", "2.5", "b", "1e17", "big", "123456789012345678", "big2", "1e20", "huge")
    assert raw.call("ZSCAN", "z", "0", "COUNT", "1") == [b"0", [
        b"a", b"1", b"b", b"2.5", b"big", b"100000000000000000", b"big2", b"123456789012345680",
        b"huge", b"1e+20"]]
    assert raw.call("ZSCAN", "z", "0", "MATCH", "b*") == [b"0", [
        b"b", b"2.5", b"big", b"100000000000000000", b"big2", b"123456789012345680"]]
    assert raw.call("ZSCAN", "nokey", "0") == [b"0", []]


def test_zscan_skiplist_visits_every_member(raw):
    members = {b"m%d" % i: i for i in range(300)}
    raw.call("ZADD", "z", *[x for m, s in members.items() for x in (str(s), m)])
    assert encoding(raw, "z") == b"skiplist"
    seen, cursor = {}, b"0"
    while True:
        cursor, flat = raw.call("ZSCAN", "z", cursor, "COUNT", "20", "MATCH", "m1*")
        seen.update(zip(flat[0::2], flat[1::2]))
        if cursor == b"0":
            break
    assert seen == {m: b"%d" % s for m, s in members.items() if m.startswith(b"m1")}


def test_zscan_errors(raw):
    raw.call("ZADD", "z", "1", "a")
    assert raw.call("ZSCAN", "z", "x") == Error("ERR invalid cursor")
    assert raw.call("ZSCAN", "z", " 1") == Error("ERR invalid cursor")
    assert raw.call("ZSCAN", "z", "18446744073709551616") == Error("ERR invalid cursor")
    assert raw.call("ZSCAN", "z", "") == [b"0", [b"a", b"1"]]       # strtoul reads "" as 0
    assert raw.call("ZSCAN", "z", "0", "COUNT", "0") == Error("ERR syntax error")
    assert raw.call("ZSCAN", "z", "0", "COUNT", "x") == Error("ERR value is not an integer or out of range")
    assert raw.call("ZSCAN", "z", "0", "TYPE", "zset") == Error("ERR syntax error")
    assert raw.call("ZSCAN", "z", "0", "MATCH") == Error("ERR syntax error")
    assert raw.call("ZSCAN", "nokey", "0", "COUNT", "0") == [b"0", []]


# -- encodings -------------------------------------------------------------------------------

def test_encoding_follows_listpack_limits(raw):
    raw.call("ZADD", "z", *[x for i in range(128) for x in (str(i), "m%d" % i)])
    assert encoding(raw, "z") == b"listpack"
    raw.call("ZADD", "z", "128", "m128")
    assert encoding(raw, "z") == b"skiplist"
    raw.call("ZREMRANGEBYRANK", "z", "0", "120")
    assert encoding(raw, "z") == b"skiplist"            # never converted back
    raw.call("ZADD", "long", "1", "x" * 64)
    assert encoding(raw, "long") == b"listpack"
    raw.call("ZADD", "long", "1", "y" * 65)
    assert encoding(raw, "long") == b"skiplist"


def test_store_results_pick_encoding_by_size(raw):
    raw.call("ZADD", "z", *[x for i in range(130) for x in (str(i), "m%d" % i)])
    raw.call("ZRANGESTORE", "r", "z", "0", "9")
    assert encoding(raw, "r") == b"listpack"
    raw.call("ZUNIONSTORE", "u", "1", "r")
    assert encoding(raw, "u") == b"listpack"
    raw.call("ZRANGESTORE", "r", "z", "0", "-1")
    assert encoding(raw, "r") == b"skiplist"
    raw.call("ZADD", "long", "1", "y" * 65)
    raw.call("ZUNIONSTORE", "u", "1", "long")
    assert encoding(raw, "u") == b"skiplist"
