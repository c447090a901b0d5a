"""Set group: every test runs on Ferrous and real Redis 7.0, over RESP2 and RESP3.

Redis defines the iteration order of intsets (ascending integers) but not of
hashtable sets: those replies are compared as sets."""
from collections import Counter

import pytest
from resp_client import Error, RespMap, RespSet

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def items(reply):
    """The elements of an array or RESP3 set reply, in wire order."""
    return list(reply.items) if isinstance(reply, RespSet) else list(reply)


def assert_set_reply(reply, protocol):
    """SMEMBERS, SINTER, SUNION, SDIFF and SPOP with a count reply with a RESP3 set."""
    assert isinstance(reply, RespSet) if protocol == 3 else isinstance(reply, list)


def encoding(raw, key):
    return raw.call("OBJECT", "ENCODING", key)


def config_get(raw, name):
    reply = raw.call("CONFIG", "GET", name)      # a map in RESP3, a flat array in RESP2
    return dict(reply.items)[name.encode()] if isinstance(reply, RespMap) else reply[1]


# -- SADD / SREM / SCARD / SISMEMBER / SMISMEMBER --------------------------------------

def test_sadd_srem_scard(r):
    assert r.sadd("s", "a", "b", "a", "c") == 3
    assert r.sadd("s", "a", "d") == 1
    assert r.scard("s") == 4
    assert r.srem("s", "a", "zz", "a") == 1
    assert r.srem("nokey", "a") == 0
    assert r.scard("nokey") == 0
    assert r.srem("s", "b", "c", "d") == 3
    assert r.exists("s") == 0          # a set never exists empty


def test_sismember_smismember(raw):
    raw.call("SADD", "s", "a", "1")
    assert raw.call("SISMEMBER", "s", "a") == 1
    assert raw.call("SISMEMBER", "s", "b") == 0
    assert raw.call("SISMEMBER", "nokey", "a") == 0
    assert raw.call("SMISMEMBER", "s", "a", "b", "1") == [1, 0, 1]
    assert raw.call("SMISMEMBER", "nokey", "a", "b") == [0, 0]
    assert raw.call("SMISMEMBER", "s") == Error("ERR wrong number of arguments for 'smismember' command")


def test_sadd_keeps_ttl(r):
    r.sadd("s", "a")
    r.expire("s", 100)
    r.sadd("s", "b")
    r.srem("s", "a")
    assert 0 < r.ttl("s") <= 100


# -- SMEMBERS and encodings -------------------------------------------------------------

def test_smembers_intset_is_sorted(raw, protocol):
    raw.call("SADD", "s", "5", "-3", "100", "0", "7", "-9223372036854775808", "9223372036854775807")
    reply = raw.call("SMEMBERS", "s")
    assert_set_reply(reply, protocol)
    assert items(reply) == [b"-9223372036854775808", b"-3", b"0", b"5", b"7", b"100", b"9223372036854775807"]
    assert encoding(raw, "s") == b"intset"
    assert items(raw.call("SMEMBERS", "nokey")) == []


def test_smembers_hashtable(raw, protocol):
    raw.call("SADD", "s", "b", "a", "1")
    reply = raw.call("SMEMBERS", "s")
    assert_set_reply(reply, protocol)
    assert sorted(items(reply)) == [b"1", b"a", b"b"]
    assert encoding(raw, "s") == b"hashtable"


@pytest.mark.parametrize("member", ["01", "-0", "+1", " 1", "1.0", "9223372036854775808",
                                    "-9223372036854775809", "a"])
def test_non_integer_members_convert_to_hashtable(raw, member):
    raw.call("SADD", "s", "1", "2")
    assert encoding(raw, "s") == b"intset"
    raw.call("SADD", "s", member)
    assert encoding(raw, "s") == b"hashtable"
    raw.call("SREM", "s", member)
    assert encoding(raw, "s") == b"hashtable"      # one-way


def test_intset_size_limit(raw):
    raw.call("SADD", "s", *range(512))
    assert encoding(raw, "s") == b"intset"
    raw.call("SADD", "s", "512")
    assert encoding(raw, "s") == b"hashtable"
    raw.call("SREM", "s", *range(500))
    assert encoding(raw, "s") == b"hashtable"
    assert sorted(int(x) for x in items(raw.call("SMEMBERS", "s"))) == list(range(500, 513))


def test_new_set_encoding_from_first_member(raw):
    raw.call("SADD", "a", "x", "1")
    raw.call("SADD", "b", "1", "x")
    assert encoding(raw, "a") == encoding(raw, "b") == b"hashtable"


# -- WRONGTYPE ----------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("SADD", "str", "a"), ("SREM", "str", "a"), ("SCARD", "str"), ("SISMEMBER", "str", "a"),
    ("SMISMEMBER", "str", "a"), ("SMEMBERS", "str"), ("SPOP", "str"), ("SPOP", "str", "2"),
    ("SRANDMEMBER", "str"), ("SRANDMEMBER", "str", "2"), ("SSCAN", "str", "0"),
    ("SINTER", "s", "str"), ("SINTER", "nokey", "str"), ("SUNION", "str", "s"),
    ("SDIFF", "s", "str"), ("SDIFF", "nokey", "str"), ("SINTERSTORE", "d", "s", "str"),
    ("SUNIONSTORE", "d", "str"), ("SDIFFSTORE", "d", "s", "str"), ("SINTERCARD", "2", "s", "str"),
    ("SMOVE", "str", "s", "a"), ("SMOVE", "s", "str", "a"), ("SMOVE", "s", "str", "zz"),
])
def test_wrongtype(raw, args):
    raw.call("SET", "str", "x")
    raw.call("SADD", "s", "a")
    assert raw.call(*args) == Error(WRONGTYPE)
    assert raw.call("GET", "str") == b"x"
    assert raw.call("EXISTS", "d") == 0


def test_set_is_wrongtype_for_other_commands(raw):
    raw.call("SADD", "s", "a")
    assert raw.call("HSET", "s", "a", "1") == Error(WRONGTYPE)
    assert raw.call("GET", "s") == Error(WRONGTYPE)
    assert raw.call("TYPE", "s").text == "set"


# -- SMOVE --------------------------------------------------------------------------------

def test_smove(raw):
    raw.call("SADD", "src", "a", "b")
    raw.call("SADD", "dst", "c")
    assert raw.call("SMOVE", "src", "dst", "a") == 1
    assert raw.call("SMOVE", "src", "dst", "zz") == 0
    assert raw.call("SMOVE", "nokey", "dst", "a") == 0
    assert sorted(items(raw.call("SMEMBERS", "dst"))) == [b"a", b"c"]
    # Moving a member the destination already has still removes it from the source.
    raw.call("SADD", "src", "c")
    assert raw.call("SMOVE", "src", "dst", "c") == 1
    assert items(raw.call("SMEMBERS", "src")) == [b"b"]
    # The last member: the source disappears, a new destination is created.
    assert raw.call("SMOVE", "src", "new", "b") == 1
    assert raw.call("EXISTS", "src") == 0
    assert items(raw.call("SMEMBERS", "new")) == [b"b"]
    # Same key: a no-op that reports membership.
    assert raw.call("SMOVE", "new", "new", "b") == 1
    assert raw.call("SMOVE", "new", "new", "x") == 0
    # A missing source wins over a wrong-typed destination.
    raw.call("SET", "str", "x")
    assert raw.call("SMOVE", "nokey", "str", "a") == 0


def test_smove_encodings(raw):
    raw.call("SADD", "ints", "1", "2")
    raw.call("SADD", "src", "a", "5")
    assert raw.call("SMOVE", "src", "fresh", "5") == 1
    assert encoding(raw, "fresh") == b"intset"
    assert raw.call("SMOVE", "src", "ints", "a") == 1
    assert encoding(raw, "ints") == b"hashtable"


# -- SPOP ---------------------------------------------------------------------------------

def test_spop_single(raw):
    assert raw.call("SPOP", "nokey") is None
    raw.call("SADD", "s", "a", "b", "c")
    popped = {raw.call("SPOP", "s") for _ in range(3)}
    assert popped == {b"a", b"b", b"c"}
    assert raw.call("EXISTS", "s") == 0


@pytest.mark.parametrize("members", [[str(i) for i in range(50)], ["m%d" % i for i in range(50)]])
@pytest.mark.parametrize("count", [1, 3, 40, 49])
def test_spop_with_count(raw, protocol, members, count):
    raw.call("SADD", "s", *members)
    reply = raw.call("SPOP", "s", str(count))
    assert_set_reply(reply, protocol)
    popped = items(reply)
    assert len(popped) == len(set(popped)) == count
    remaining = items(raw.call("SMEMBERS", "s"))
    assert sorted(popped + remaining) == sorted(m.encode() for m in members)


def test_spop_with_count_whole_set(raw, protocol):
    raw.call("SADD", "s", "3", "1", "2")
    reply = raw.call("SPOP", "s", "10")
    assert_set_reply(reply, protocol)
    assert items(reply) == [b"1", b"2", b"3"]          # SUNION of an intset: sorted
    assert raw.call("EXISTS", "s") == 0
    raw.call("SADD", "s", "a", "b")
    assert sorted(items(raw.call("SPOP", "s", "2"))) == [b"a", b"b"]
    assert raw.call("EXISTS", "s") == 0


def test_spop_count_edge_cases(raw, protocol):
    raw.call("SADD", "s", "a")
    for reply in [raw.call("SPOP", "s", "0"), raw.call("SPOP", "nokey", "5")]:
        assert_set_reply(reply, protocol)
        assert items(reply) == []
    assert raw.call("SPOP", "s", "-1") == Error("ERR value is out of range, must be positive")
    assert raw.call("SPOP", "s", "x") == Error("ERR value is out of range, must be positive")
    assert raw.call("SPOP", "s", "1", "2") == Error("ERR syntax error")
    assert raw.call("SCARD", "s") == 1


def test_spop_many_from_hashtable_can_become_intset(raw):
    # Popping nearly everything makes Redis rebuild the rest as a new set.
    raw.call("SADD", "s", "a", *range(20))
    raw.call("SREM", "s", "a")
    assert encoding(raw, "s") == b"hashtable"
    raw.call("SPOP", "s", "19")
    assert encoding(raw, "s") == b"intset"


# -- SRANDMEMBER ----------------------------------------------------------------------------

@pytest.mark.parametrize("members", [[str(i) for i in range(30)], ["m%d" % i for i in range(700)]])
def test_srandmember_counts(raw, members):
    raw.call("SADD", "s", *members)
    size, all_members = len(members), {m.encode() for m in members}
    assert raw.call("SRANDMEMBER", "s") in all_members
    assert raw.call("SRANDMEMBER", "s", "0") == []
    for count in [1, 2, size // 2, size - 1]:
        got = raw.call("SRANDMEMBER", "s", str(count))
        assert isinstance(got, list)                      # an array, even in RESP3
        assert len(got) == len(set(got)) == count
        assert set(got) <= all_members
    got = raw.call("SRANDMEMBER", "s", str(size + 10))
    assert sorted(got) == sorted(all_members)
    got = raw.call("SRANDMEMBER", "s", "-100")
    assert len(got) == 100 and set(got) <= all_members


def test_srandmember_whole_intset_is_sorted(raw):
    raw.call("SADD", "s", "10", "-1", "3")
    assert raw.call("SRANDMEMBER", "s", "3") == [b"-1", b"3", b"10"]
    assert raw.call("SRANDMEMBER", "s", "100") == [b"-1", b"3", b"10"]


def test_srandmember_negative_count_repeats(r):
    r.sadd("s", "a", "b", "c")
    counts = Counter(r.srandmember("s", -3000))
    assert set(counts) == {b"a", b"b", b"c"}
    assert min(counts.values()) > 700


def test_srandmember_errors_and_missing_key(raw):
    assert raw.call("SRANDMEMBER", "nokey") is None
    assert raw.call("SRANDMEMBER", "nokey", "5") == []
    assert raw.call("SRANDMEMBER", "nokey", "-5") == []
    raw.call("SADD", "s", "a")
    assert raw.call("SRANDMEMBER", "s", "x") == Error("ERR value is not an integer or out of range")
    assert raw.call("SRANDMEMBER", "s", "1", "2") == Error("ERR syntax error")
    assert raw.call("SRANDMEMBER", "s", "-9223372036854775808") == Error(
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    assert raw.call("SRANDMEMBER", "s", "9223372036854775807") == [b"a"]


# -- SINTER / SUNION / SDIFF and their STORE forms ---------------------------------------------

@pytest.fixture
def three_sets(raw):
    raw.call("SADD", "a", "1", "2", "3", "4", "x")
    raw.call("SADD", "b", "2", "3", "x", "y")
    raw.call("SADD", "c", "3", "x", "z")
    return raw


def test_sinter_sunion_sdiff(three_sets, protocol):
    raw = three_sets
    cases = [
        (("SINTER", "a", "b", "c"), [b"3", b"x"]),
        (("SINTER", "a"), [b"1", b"2", b"3", b"4", b"x"]),
        (("SINTER", "a", "nokey"), []),
        (("SUNION", "a", "b", "c", "nokey"), [b"1", b"2", b"3", b"4", b"x", b"y", b"z"]),
        (("SUNION", "nokey"), []),
        (("SDIFF", "a", "b", "c"), [b"1", b"4"]),
        (("SDIFF", "a", "nokey"), [b"1", b"2", b"3", b"4", b"x"]),
        (("SDIFF", "nokey", "a"), []),
        (("SDIFF", "a", "a"), []),
    ]
    for args, expected in cases:
        reply = raw.call(*args)
        assert_set_reply(reply, protocol)
        assert sorted(items(reply)) == expected, args


def test_intset_results_are_sorted(raw):
    raw.call("SADD", "i1", "9", "3", "-5", "7", "1")
    raw.call("SADD", "i2", "7", "3", "100", "-5")
    assert items(raw.call("SINTER", "i1", "i2")) == [b"-5", b"3", b"7"]
    assert items(raw.call("SUNION", "i1", "i2")) == [b"-5", b"1", b"3", b"7", b"9", b"100"]
    assert items(raw.call("SDIFF", "i1", "i2")) == [b"1", b"9"]


@pytest.mark.parametrize("command", ["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"])
def test_store_overwrites_any_type_and_clears_ttl(raw, command):
    raw.call("SADD", "a", "1", "2")
    raw.call("SET", "dst", "string")
    raw.call("EXPIRE", "dst", "100")
    assert raw.call(command, "dst", "a") == 2
    assert raw.call("TYPE", "dst").text == "set"
    assert raw.call("TTL", "dst") == -1
    assert items(raw.call("SMEMBERS", "dst")) == [b"1", b"2"]


@pytest.mark.parametrize("args", [
    ("SINTERSTORE", "dst", "a", "nokey"), ("SINTERSTORE", "dst", "a", "b"),
    ("SUNIONSTORE", "dst", "nokey"), ("SDIFFSTORE", "dst", "a", "a"), ("SDIFFSTORE", "dst", "nokey"),
])
def test_store_empty_result_deletes_destination(raw, args):
    raw.call("SADD", "a", "1")
    raw.call("SADD", "b", "2")
    raw.call("SET", "dst", "old")
    assert raw.call(*args) == 0
    assert raw.call("EXISTS", "dst") == 0


def test_store_results(three_sets):
    raw = three_sets
    assert raw.call("SINTERSTORE", "d1", "a", "b") == 3
    assert raw.call("SUNIONSTORE", "d2", "b", "c") == 5
    assert raw.call("SDIFFSTORE", "d3", "a", "b") == 2
    assert sorted(items(raw.call("SMEMBERS", "d1"))) == [b"2", b"3", b"x"]
    assert sorted(items(raw.call("SMEMBERS", "d2"))) == [b"2", b"3", b"x", b"y", b"z"]
    assert items(raw.call("SMEMBERS", "d3")) == [b"1", b"4"]
    # The destination may be one of the sources.
    assert raw.call("SINTERSTORE", "a", "a", "c") == 2
    assert sorted(items(raw.call("SMEMBERS", "a"))) == [b"3", b"x"]


def test_store_result_encodings(three_sets):
    raw = three_sets
    raw.call("SINTERSTORE", "d1", "a", "b")       # {2, 3, x}
    raw.call("SDIFFSTORE", "d2", "a", "b")        # {1, 4}: only integers
    raw.call("SUNIONSTORE", "d3", "d2")
    assert encoding(raw, "d1") == b"hashtable"
    assert encoding(raw, "d2") == b"intset"
    assert encoding(raw, "d3") == b"intset"
    raw.call("SADD", "big", *range(600))
    raw.call("SUNIONSTORE", "d4", "big")
    assert encoding(raw, "d4") == b"hashtable"
    raw.call("SINTERSTORE", "d5", "big", "d2")
    assert encoding(raw, "d5") == b"intset"


def test_sdiffstore_encoding_follows_redis_algorithm(raw):
    # When the first set is big next to the others, Redis copies it whole and then
    # removes (its "algorithm 2"), so the result is a hashtable whenever the first
    # set alone would be one...
    raw.call("SADD", "big", *range(600))
    raw.call("SADD", "p1", *range(1, 201))
    raw.call("SADD", "p2", *range(201, 401))
    raw.call("SADD", "p3", *range(401, 600))
    raw.call("SDIFFSTORE", "d1", "big", "p1", "p2", "p3")
    assert items(raw.call("SMEMBERS", "d1")) == [b"0"]
    assert encoding(raw, "d1") == b"hashtable"
    raw.call("SADD", "mixed", "0", "1", "2", "a")
    raw.call("SADD", "q1", "a")
    raw.call("SADD", "q2", "1")
    raw.call("SADD", "q3", "2")
    raw.call("SDIFFSTORE", "d2", "mixed", "q1", "q2", "q3")
    assert items(raw.call("SMEMBERS", "d2")) == [b"0"]
    assert encoding(raw, "d2") == b"hashtable"
    # ...otherwise it checks each member of the first set and adds the survivors.
    raw.call("SDIFFSTORE", "d3", "big", "p1")
    assert encoding(raw, "d3") == b"intset"
    raw.call("SDIFFSTORE", "d4", "mixed", "q1")
    assert encoding(raw, "d4") == b"intset"
    assert items(raw.call("SMEMBERS", "d4")) == [b"0", b"1", b"2"]


# -- SINTERCARD ------------------------------------------------------------------------------

def test_sintercard(three_sets):
    raw = three_sets
    assert raw.call("SINTERCARD", "3", "a", "b", "c") == 2
    assert raw.call("SINTERCARD", "1", "a") == 5
    assert raw.call("SINTERCARD", "2", "a", "b", "LIMIT", "2") == 2
    assert raw.call("SINTERCARD", "2", "a", "b", "limit", "0") == 3
    assert raw.call("SINTERCARD", "2", "a", "b", "LIMIT", "100") == 3
    assert raw.call("SINTERCARD", "2", "a", "b", "LIMIT", "1", "LIMIT", "5") == 3
    assert raw.call("SINTERCARD", "2", "a", "nokey") == 0
    assert raw.call("SINTERCARD", "1", "nokey") == 0


def test_sintercard_errors(raw):
    raw.call("SADD", "s", "a")
    assert raw.call("SINTERCARD", "0", "s") == Error("ERR numkeys should be greater than 0")
    assert raw.call("SINTERCARD", "-1", "s") == Error("ERR numkeys should be greater than 0")
    assert raw.call("SINTERCARD", "abc", "s") == Error("ERR numkeys should be greater than 0")
    assert raw.call("SINTERCARD", "3", "s") == Error("ERR Number of keys can't be greater than number of args")
    assert raw.call("SINTERCARD", "1", "s", "LIMIT", "-1") == Error("ERR LIMIT can't be negative")
    assert raw.call("SINTERCARD", "1", "s", "LIMIT", "x") == Error("ERR LIMIT can't be negative")
    assert raw.call("SINTERCARD", "1", "s", "LIMIT") == Error("ERR syntax error")
    assert raw.call("SINTERCARD", "1", "s", "FOO", "1") == Error("ERR syntax error")
    assert raw.call("SINTERCARD", "1") == Error("ERR wrong number of arguments for 'sintercard' command")
    assert raw.call("SINTERCARD", "1", "s", "limit\x00x", "1") == 1


def test_sintercard_getkeys(raw):
    assert raw.call("COMMAND", "GETKEYS", "SINTERCARD", "2", "a", "b", "LIMIT", "1") == [b"a", b"b"]


# -- SSCAN ---------------------------------------------------------------------------------

def test_sscan_intset_in_one_call(raw):
    raw.call("SADD", "s", "10", "2", "-7", "15", "1")
    assert raw.call("SSCAN", "s", "0") == [b"0", [b"-7", b"1", b"2", b"10", b"15"]]
    assert raw.call("SSCAN", "s", "0", "COUNT", "1") == [b"0", [b"-7", b"1", b"2", b"10", b"15"]]
    assert raw.call("SSCAN", "s", "0", "MATCH", "1*") == [b"0", [b"1", b"10", b"15"]]
    assert raw.call("SSCAN", "s", "0", "MATCH", "-*", "MATCH", "2") == [b"0", [b"2"]]
    assert raw.call("SSCAN", "s", "99") == raw.call("SSCAN", "s", "0")
    assert raw.call("SSCAN", "nokey", "0") == [b"0", []]


def test_sscan_errors(raw):
    raw.call("SADD", "s", "1")
    assert raw.call("SSCAN", "s", "abc") == Error("ERR invalid cursor")
    assert raw.call("SSCAN", "s", "1 ") == Error("ERR invalid cursor")
    assert raw.call("SSCAN", "s", "0", "COUNT", "0") == Error("ERR syntax error")
    assert raw.call("SSCAN", "s", "0", "COUNT", "-1") == Error("ERR syntax error")
    assert raw.call("SSCAN", "s", "0", "COUNT", "x") == Error("ERR value is not an integer or out of range")
    assert raw.call("SSCAN", "s", "0", "COUNT") == Error("ERR syntax error")
    assert raw.call("SSCAN", "s", "0", "NOVALUES") == Error("ERR syntax error")
    assert raw.call("SSCAN", "nokey", "0", "COUNT", "0") == [b"0", []]
    assert raw.call("SSCAN", "s", "0", "count\x00x", "5") == [b"0", [b"1"]]


def _full_sscan(raw, key, *options):
    cursor, seen = b"0", []
    for _ in range(10000):
        cursor, found = raw.call("SSCAN", key, cursor, *options)
        seen.extend(found)
        if cursor == b"0":
            return seen
    raise AssertionError("SSCAN did not finish")


def test_sscan_big_set(raw):
    members = {b"m%d" % i for i in range(1500)}
    raw.call("SADD", "s", *members)
    assert set(_full_sscan(raw, "s", "COUNT", "30")) == members
    assert set(_full_sscan(raw, "s", "MATCH", "m1?", "COUNT", "100")) == {b"m%d" % i for i in range(10, 20)}
    raw.call("SADD", "ints", *range(2000))
    assert {int(x) for x in _full_sscan(raw, "ints")} == set(range(2000))


def test_sscan_returns_members_present_for_the_whole_scan(raw):
    raw.call("SADD", "s", *[b"m%d" % i for i in range(1000)])
    cursor, seen, step = b"0", set(), 0
    while True:
        cursor, found = raw.call("SSCAN", "s", cursor, "COUNT", "20")
        seen.update(found)
        step += 1
        raw.call("SREM", "s", b"m%d" % (step * 2))
        raw.call("SADD", "s", *[b"new%d-%d" % (step, j) for j in range(5)])
        if cursor == b"0":
            break
    stable = {b"m%d" % i for i in range(1000)} - {b"m%d" % (s * 2) for s in range(1, step + 1)}
    assert stable <= seen


def test_encoding_follows_configured_limit(raw):
    old = config_get(raw, "set-max-intset-entries")
    try:
        raw.call("CONFIG", "SET", "set-max-intset-entries", "2")
        raw.call("SADD", "s", "1", "2")
        assert encoding(raw, "s") == b"intset"
        raw.call("SADD", "s", "3")
        assert encoding(raw, "s") == b"hashtable"
        raw.call("SUNIONSTORE", "d", "s")
        assert encoding(raw, "d") == b"hashtable"
    finally:
        raw.call("CONFIG", "SET", "set-max-intset-entries", old)
